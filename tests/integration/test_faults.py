# SPDX-License-Identifier: MIT
"""Storage faults: when the database refuses a commit, nothing is acknowledged
(WebSocket `error` unavailable, REST 503), no sequence number leaks to a
desktop, /healthz says degraded, and everything recovers once writes work
again. The fault is real SQLite behaviour, injected from a second connection:
a trigger inserts a row violating a deferred foreign key, which only COMMIT
checks, for scan ids starting with "boom"."""
import sqlite3

from sbtest import V1, open_desktop, open_scanner, run

INJECT = """
CREATE TABLE inj_parent(id INTEGER PRIMARY KEY);
CREATE TABLE inj_child(pid INTEGER REFERENCES inj_parent(id) DEFERRABLE INITIALLY DEFERRED);
CREATE TRIGGER inj AFTER INSERT ON scans WHEN NEW.client_id LIKE 'boom%'
BEGIN INSERT INTO inj_child VALUES(42); END;
"""


def db_exec(d, sql):
    con = sqlite3.connect(d.db_path, timeout=10)
    con.executescript(sql)
    con.close()


def health(d):
    r = d.api("GET", "/healthz")
    return r.status, r.body


def test_failed_commit_acks_nothing_degrades_health_and_recovers(daemon):
    async def body():
        s = daemon.session(scanners=1)
        desk, _ = await open_desktop(daemon, s.desktop_token)
        sc, _ = await open_scanner(daemon, s.scanner["token"])
        await sc.send({"type": "scan", "id": "ok1", "code": "A-1"})
        await sc.expect("ack", id="ok1", seq=1, duplicate=False)

        db_exec(daemon, INJECT)
        await sc.send({"type": "scan", "id": "boom1", "code": "A-2"})
        await sc.expect("error", code="unavailable", id="boom1")
        st, h = health(daemon)
        assert st == 503 and h["status"] == "degraded" and h["writes"] == "failing", (st, h)
        r = daemon.api("POST", f"{V1}/sessions/{s.sid}/scans", token=s.scanner["token"],
                       json={"id": "boom2", "code": "A-3"})
        assert r.status == 503 and r.body["error"]["code"] == "unavailable", r

        db_exec(daemon, "DROP TRIGGER inj;")       # the disk has room again
        await sc.send({"type": "scan", "id": "boom1", "code": "A-2"})
        await sc.expect("ack", id="boom1", seq=2, duplicate=False)
        st, h = health(daemon)
        assert st == 200 and h["status"] == "ok" and h["writes"] == "ok", (st, h)

        seqs = []
        while len(seqs) < 2:
            m = await desk.recv()
            if m["type"] == "scan":
                seqs.append((m["seq"], m["id"]))
        assert seqs == [(1, "ok1"), (2, "boom1")], seqs
        await desk.send({"type": "ping"})
        await desk.expect("pong")                  # nothing else was forwarded
    run(body())
    assert "storage writes recovered" in daemon.log()
