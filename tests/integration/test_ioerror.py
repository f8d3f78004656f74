# SPDX-License-Identifier: MIT
"""I/O errors on write: while an LD_PRELOAD shim (tests/fault/eio.c) makes
every write and sync of the database files fail with EIO, the daemon
acknowledges nothing (`error` unavailable), reports degraded, keeps serving,
and recovers by itself when the device works again; everything acknowledged
is stored once and the database passes integrity_check. Not under ASan (its
runtime must be the first library, and the shim would come first)."""
import os
import sqlite3

import pytest

from sbtest import SANITIZE, Daemon, open_scanner, run

SHIM = os.environ.get("SB_FAULT_SHIM", "")

pytestmark = pytest.mark.skipif(SANITIZE or not os.path.isfile(SHIM),
                                reason="needs the fault shim, and a build without ASan")


def test_eio_on_write_acks_nothing_and_recovers(tmp_path):
    flag = str(tmp_path / "fail-now")
    d = Daemon(extra=("--rate-burst", "100000", "--rate-per-sec", "100000"),
               env={"LD_PRELOAD": SHIM, "SB_FAULT_FLAG": flag})
    d.start()
    try:
        s = d.session(scanners=1)
        acked, refused = {}, []

        async def body():
            sc, _ = await open_scanner(d, s.scanner["token"])

            async def scan(sid):
                await sc.send({"type": "scan", "id": sid, "code": "4006381333931",
                               "format": "EAN_13"})
                return await sc.recv(timeout=10)

            for i in range(20):
                m = await scan(f"ok-{i}")
                assert m["type"] == "ack", m
                acked[m["id"]] = m["seq"]
            open(flag, "w").close()                        # the card starts failing
            for i in range(10):
                m = await scan(f"io-{i}")
                assert m["type"] == "error" and m["code"] == "unavailable", m
                refused.append(m["id"])
            h = d.api("GET", "/healthz")
            assert h.status == 503 and h.body["writes"] == "failing", h
            r = d.api("GET", f"/api/v1/sessions/{s.sid}/scans?after=0&limit=500",
                      token=s.desktop_token)
            assert r.status == 200 and len(r.body["scans"]) == 20, r   # reads still served
            os.unlink(flag)                                # and recovers
            for sid in refused:
                m = await scan(sid)
                assert m["type"] == "ack" and m["duplicate"] is False, m
                acked[sid] = m["seq"]
            h = d.api("GET", "/healthz")
            assert h.status == 200 and h.body["writes"] == "ok", h
        run(body(), timeout=90)
        assert sorted(acked.values()) == list(range(1, 31))
    finally:
        d.stop()
    con = sqlite3.connect(d.db_path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = dict(con.execute("SELECT client_id, seq FROM scans").fetchall())
    con.close()
    assert rows == acked
    d.cleanup()
