# SPDX-License-Identifier: MIT
"""Another process holds the database's write lock (a backup, the sqlite3
shell: here python's sqlite3 with BEGIN IMMEDIATE). The loop must never wait
for it: /healthz and reads answer at once, writes wait off the loop and go
through once the lock is back, or are answered 503 / `error` `unavailable`
with nothing changed once the daemon's deadline (BATCH_LOCK_DEADLINE_MS,
3 s) passes. Nothing is acknowledged before its COMMIT, a refused scan sent
again is stored once, and a DELETE answers 204 only once it is stored.

The last test fails a desktop ack's COMMIT with the EIO shim
(tests/fault/eio.c) and checks the desktop hears `error` `unavailable`."""
import asyncio
import os
import sqlite3
import time

import pytest

from sbtest import (EAN13, SANITIZE, SLOW, V1, Background, Daemon, assert_error,
                    open_desktop, open_scanner, run, scan_msg)

DEADLINE = 3.0      # the daemon's BATCH_LOCK_DEADLINE_MS
PROMPT = 0.5 * SLOW  # /healthz under a held lock


@pytest.fixture
def d():
    daemon = Daemon()
    daemon.start()
    yield daemon
    try:
        daemon.stop()
    finally:
        daemon.cleanup()


class Lock:
    """The database's write lock, held by this (test) process."""

    def __init__(self, d):
        self.con = sqlite3.connect(d.db_path, isolation_level=None, timeout=5)
        self.con.execute("BEGIN IMMEDIATE")
        self.t0 = time.monotonic()

    def release(self):
        if self.con is not None:
            self.con.execute("ROLLBACK")
            self.con.close()
            self.con = None
        return time.monotonic()


def healthz_prompt(d, n=3):
    """/healthz answers within PROMPT, n times; returns the slowest."""
    worst = 0.0
    for _ in range(n):
        t = time.monotonic()
        r = d.api("GET", "/healthz", timeout=10)
        worst = max(worst, time.monotonic() - t)
        assert r.status in (200, 503) and r.body["db"] == "ok", r
    assert worst < PROMPT, f"/healthz took {worst:.3f}s while the lock was held"
    return worst


def timed(fn, *a, **kw):
    t = time.monotonic()
    r = fn(*a, **kw)
    return r, time.monotonic() - t


def scans_of(d, s):
    r = d.api("GET", f"{V1}/sessions/{s.sid}/scans?after=0&limit=500", token=s.desktop_token)
    assert r.status == 200, r
    return r.body["scans"]


def test_healthz_and_reads_answer_while_a_write_waits(d):
    s = d.session(scanners=1)
    lock = Lock(d)
    try:
        bg = Background(d.post_scan, s.sid, s.scanner["token"], "w-1")
        time.sleep(0.2)                      # the scan has met the lock
        healthz_prompt(d, n=5)
        r, took = timed(d.api, "GET", f"{V1}/sessions/{s.sid}", token=s.desktop_token)
        assert r.status == 200 and r.body["last_seq"] == 0, r
        assert took < PROMPT, f"a read took {took:.3f}s while the lock was held"
        assert bg.t_end is None, "the scan was answered while the lock was held"
    finally:
        lock.release()
    r = bg.result()
    assert r.status == 201 and r.body["seq"] == 1, r


def test_scan_during_short_hold_is_acked_after_release(d):
    s = d.session(scanners=1)
    lock = Lock(d)
    try:
        bg = Background(d.post_scan, s.sid, s.scanner["token"], "short-1")
        time.sleep(1.0)
        healthz_prompt(d)
        assert bg.t_end is None, f"answered during the hold: {bg.value}"
    finally:
        released = lock.release()
    r = bg.result()
    assert r.status == 201 and r.body == {"seq": 1, "id": "short-1", "duplicate": False}, r
    assert bg.t_end >= released
    assert bg.t_end - released < 1.0 * SLOW, "the retry came late"
    assert [x["id"] for x in scans_of(d, s)] == ["short-1"]


def test_scan_during_long_hold_is_refused_and_not_stored(d):
    s = d.session(scanners=1)
    lock = Lock(d)
    try:
        bg = Background(d.post_scan, s.sid, s.scanner["token"], "long-1")
        time.sleep(0.3)
        healthz_prompt(d)
        r = bg.result(timeout=DEADLINE + 5)
        took = bg.t_end - lock.t0
        assert_error(r, 503, "unavailable")
        assert took < DEADLINE + 1.5 * SLOW, f"refused only after {took:.2f}s"
        h = d.api("GET", "/healthz")
        assert h.status == 503 and h.body["writes"] == "failing", h
    finally:
        lock.release()
    assert scans_of(d, s) == []
    r = d.post_scan(s.sid, s.scanner["token"], "long-1")      # the phone resends
    assert r.status == 201 and r.body["seq"] == 1 and r.body["duplicate"] is False, r
    r = d.post_scan(s.sid, s.scanner["token"], "long-1")
    assert r.status == 200 and r.body["seq"] == 1 and r.body["duplicate"] is True, r
    assert [x["id"] for x in scans_of(d, s)] == ["long-1"]
    deadline = time.monotonic() + 2
    while d.api("GET", "/healthz").status != 200:             # writes work again
        assert time.monotonic() < deadline, "healthz stayed degraded"
        time.sleep(0.05)


def test_delete_during_long_hold_answers_503_and_changes_nothing(d):
    s = d.session(scanners=1)

    async def body():
        desk, _ = await open_desktop(d, s.desktop_token)
        lock = Lock(d)
        try:
            bg = Background(d.api, "DELETE", f"{V1}/sessions/{s.sid}", token=s.desktop_token)
            await asyncio.sleep(0.3)
            healthz_prompt(d)
            while bg.t_end is None:
                await asyncio.sleep(0.05)
                assert time.monotonic() - lock.t0 < DEADLINE + 5, "DELETE never answered"
            assert_error(bg.result(), 503, "unavailable")
            took = bg.t_end - lock.t0
            assert took < DEADLINE + 1.5 * SLOW, f"answered only after {took:.2f}s"
        finally:
            lock.release()
        await desk.barrier()                 # no session_ended, still open
        r = d.api("GET", f"{V1}/sessions/{s.sid}", token=s.desktop_token)
        assert r.status == 200, r
        r = d.post_scan(s.sid, s.scanner["token"], "after-1")
        assert r.status == 201 and r.body["seq"] == 1, r
        m = await desk.expect("scan", id="after-1", seq=1)
        assert m["code"] == EAN13
    run(body())


def test_delete_during_short_hold_answers_204_after_release(d):
    s = d.session(scanners=1)

    async def body():
        desk, _ = await open_desktop(d, s.desktop_token)
        lock = Lock(d)
        try:
            bg = Background(d.api, "DELETE", f"{V1}/sessions/{s.sid}", token=s.desktop_token)
            await asyncio.sleep(1.0)
            healthz_prompt(d)
            assert bg.t_end is None, f"answered during the hold: {bg.value}"
            await desk.barrier()             # not ended before it is stored
        finally:
            released = lock.release()
        while bg.t_end is None:
            await asyncio.sleep(0.02)
            assert time.monotonic() - released < 5, "DELETE never answered"
        r = bg.result()
        assert r.status == 204, r
        await desk.expect("session_ended", reason="deleted")
        await desk.expect_close(4004)
        assert_error(d.api("GET", f"{V1}/sessions/{s.sid}", token=s.desktop_token),
                     401, "unauthorized")
        assert_error(d.post_scan(s.sid, s.scanner["token"], "x-1"), 401, "unauthorized")
    run(body())


def test_ws_scan_waits_for_the_lock_or_is_refused(d):
    s = d.session(scanners=1)

    async def body():
        sc, _ = await open_scanner(d, s.scanner["token"])
        desk, _ = await open_desktop(d, s.desktop_token)
        lock = Lock(d)
        try:
            await sc.send(scan_msg("ws-1"))
            await sc.send(scan_msg("ws-2"))
            await asyncio.sleep(0.5)
            healthz_prompt(d)
            await sc.barrier()               # nothing acked during the hold
        finally:
            lock.release()
        await sc.expect("ack", id="ws-1", seq=1, duplicate=False)
        await sc.expect("ack", id="ws-2", seq=2, duplicate=False)
        await desk.expect("scan", id="ws-1", seq=1)
        await desk.expect("scan", id="ws-2", seq=2)

        lock = Lock(d)
        try:
            await sc.send(scan_msg("ws-3"))
            m = await sc.recv(timeout=DEADLINE + 2 * SLOW)
            assert m["type"] == "error" and m["code"] == "unavailable" and m["id"] == "ws-3", m
            assert time.monotonic() - lock.t0 < DEADLINE + 1.5 * SLOW
        finally:
            lock.release()
        await sc.send(scan_msg("ws-3"))
        await sc.expect("ack", id="ws-3", seq=3, duplicate=False)
        await desk.expect("scan", id="ws-3", seq=3)
    run(body())


def test_desktop_ack_during_long_hold_gets_unavailable(d):
    s = d.session(scanners=1)

    async def body():
        sc, _ = await open_scanner(d, s.scanner["token"])
        desk, _ = await open_desktop(d, s.desktop_token)
        await sc.send(scan_msg("a-1"))
        await sc.expect("ack", id="a-1", seq=1)
        await desk.expect("scan", id="a-1", seq=1)
        lock = Lock(d)
        try:
            await desk.send({"type": "ack", "seq": 1})
            await asyncio.sleep(0.3)
            healthz_prompt(d)
            m = await desk.recv(timeout=DEADLINE + 2 * SLOW)
            assert m["type"] == "error" and m["code"] == "unavailable", m
            assert time.monotonic() - lock.t0 < DEADLINE + 1.5 * SLOW
        finally:
            lock.release()
        assert d.get_session(s.sid, s.desktop_token)["delivered_seq"] == 0
        await desk.send({"type": "ack", "seq": 1})         # it resends
        await sc.expect("delivered", id="a-1", seq=1)
        assert d.get_session(s.sid, s.desktop_token)["delivered_seq"] == 1
    run(body())


SHIM = os.environ.get("SB_FAULT_SHIM", "")


@pytest.mark.skipif(SANITIZE or not os.path.isfile(SHIM),
                    reason="needs the fault shim, and a build without ASan")
def test_desktop_ack_whose_commit_fails_gets_unavailable(tmp_path):
    flag = str(tmp_path / "fail-now")
    d = Daemon(env={"LD_PRELOAD": SHIM, "SB_FAULT_FLAG": flag})
    d.start()
    try:
        s = d.session(scanners=1)

        async def body():
            sc, _ = await open_scanner(d, s.scanner["token"])
            desk, _ = await open_desktop(d, s.desktop_token)
            await sc.send(scan_msg("c-1"))
            await sc.expect("ack", id="c-1", seq=1)
            await desk.expect("scan", id="c-1", seq=1)
            open(flag, "w").close()                        # the COMMIT fails
            await desk.send({"type": "ack", "seq": 1})
            m = await desk.recv(timeout=5)
            assert m["type"] == "error" and m["code"] == "unavailable", m
            await sc.barrier()                             # no receipt
            os.unlink(flag)
            assert d.get_session(s.sid, s.desktop_token)["delivered_seq"] == 0
            await desk.send({"type": "ack", "seq": 1})     # it resends
            await sc.expect("delivered", id="c-1", seq=1)
        run(body())
        d.stop()
    finally:
        d.cleanup()
