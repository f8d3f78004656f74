# SPDX-License-Identifier: MIT
"""Expiry with short TTLs: sessions (idle, kept alive, max age), pair codes,
scan retention and the id -> seq mapping that outlives purged content."""
import asyncio
import time

import websockets.exceptions

from sbtest import (SLOW, V1, WS, Background, assert_error, jwt_parts, now_ms, open_desktop,
                    open_scanner, run, scan_msg)

TTL = ("--session-ttl", "3", "--cleanup-interval", "1")


def test_idle_session_expires(daemon_factory):
    d = daemon_factory(*TTL)

    async def body():
        s = d.session()
        t0 = time.monotonic()
        desk, w = await open_desktop(d, s.desktop_token)
        assert abs(w["expires_at"] - (now_ms() + 3000)) < 1000, w
        sc, _ = await open_scanner(d, s.scanner["token"])
        await desk.expect("scanner_joined")
        await desk.expect("session_expired", timeout=6 * SLOW)
        elapsed = time.monotonic() - t0
        assert elapsed >= 2.5, f"expired after {elapsed:.2f}s with a 3 s TTL"
        await desk.expect_close(4004)
        await sc.expect("session_expired", timeout=2)
        await sc.expect_close(4004)
        assert_error(d.api("GET", f"{V1}/sessions/{s.sid}", token=s.desktop_token), 410, "session_expired")
        assert_error(d.post_scan(s.sid, s.scanner["token"], "late"), 410, "session_expired")
        again = await WS.open(d)
        await again.send({"type": "hello", "token": s.desktop_token})
        await again.expect_close(4004)
    run(body())


def test_ping_keeps_session_alive(daemon_factory):
    d = daemon_factory(*TTL)

    async def body():
        s = d.session()
        desk, _ = await open_desktop(d, s.desktop_token)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 6.0:
            await asyncio.sleep(1.0)
            await desk.send({"type": "ping"})
            await desk.expect("pong")     # and never session_expired
        info = d.get_session(s.sid, s.desktop_token)
        assert abs(info["expires_at"] - (now_ms() + 3000)) < 1000, info
        await desk.barrier()
    run(body())


def test_scanner_ping_keeps_session_alive(daemon_factory):
    d = daemon_factory(*TTL)

    async def body():
        s = d.session()
        sc, _ = await open_scanner(d, s.scanner["token"])
        t0 = time.monotonic()
        while time.monotonic() - t0 < 4.5:
            await asyncio.sleep(1.0)
            await sc.barrier()
        await sc.send(scan_msg("alive", "x"))
        await sc.expect("ack", id="alive", seq=1)
    run(body())


def test_protocol_ping_frames_are_not_activity(daemon_factory):
    d = daemon_factory(*TTL)

    async def body():
        s = d.session()
        desk, _ = await open_desktop(d, s.desktop_token)
        t0 = time.monotonic()
        got = None
        while time.monotonic() - t0 < 7.0 * SLOW:
            try:
                pong_waiter = await desk.conn.ping()
                await asyncio.wait_for(asyncio.shield(pong_waiter), 0.5)
            except asyncio.TimeoutError:
                pass
            except websockets.exceptions.ConnectionClosed:
                # the expiry closed it while we pinged or waited for the
                # pong: the session_expired message is queued before the close
                got = await desk.recv(timeout=2.0)
                break
            try:
                got = await desk.recv(timeout=0.01)
                break
            except AssertionError as e:
                if "no message" not in str(e):
                    raise
        assert got is not None and got["type"] == "session_expired", got
        assert time.monotonic() - t0 >= 2.5
        await desk.expect_close(4004)
    run(body())


def test_rest_calls_keep_session_alive(daemon_factory):
    d = daemon_factory(*TTL)
    s = d.session()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 4.5:
        time.sleep(1.0)
        assert d.get_session(s.sid, s.desktop_token)["session"] == s.sid
    # the scanner's REST calls count too
    assert d.post_scan(s.sid, s.scanner["token"], "alive").status == 201
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3.5:
        time.sleep(1.0)
        r = d.api("GET", f"{V1}/sessions/{s.sid}/scans/alive", token=s.scanner["token"])
        assert r.status == 200 and r.body["seq"] == 1, r
    assert d.get_session(s.sid, s.desktop_token)["session"] == s.sid


def test_expires_at_moves_with_activity(daemon_factory):
    d = daemon_factory(*TTL)
    c = d.create_session()
    e0 = c["expires_at"]
    assert abs(e0 - (now_ms() + 3000)) < 1000, c
    time.sleep(1.2)
    e1 = d.get_session(c["session"], c["desktop_token"])["expires_at"]
    assert e1 - e0 >= 900, (e0, e1)
    assert abs(e1 - (now_ms() + 3000)) < 1000


def test_session_max_age_ends_a_session_without_connections(daemon_factory):
    """Active over REST but with no open socket, a session still ends at its
    maximum age (one with open sockets is renewed instead: test_cashier.py)."""
    d = daemon_factory("--session-ttl", "60", "--session-max-age", "3", "--cleanup-interval", "1")
    c = d.create_session()
    created = now_ms()
    assert abs(c["expires_at"] - (created + 3000)) < 1000, c   # min(ttl, max age)
    _, claims = jwt_parts(c["desktop_token"])
    assert abs(claims["exp"] - (claims["iat"] + 3)) <= 1, claims
    t0 = time.monotonic()
    while True:
        assert time.monotonic() - t0 < 6 * SLOW, "session outlived session_max_age"
        r = d.api("GET", f"{V1}/sessions/{c['session']}", token=c["desktop_token"])  # activity
        if r.status != 200:
            break
        time.sleep(0.5)
    assert time.monotonic() - t0 >= 2.0
    assert_error(r, 410, "session_expired")
    assert d.metric("scanbridge_sessions_renewed_total") == 0


def test_pair_code_expires(daemon_factory):
    d = daemon_factory("--pair-code-ttl", "1")
    c = d.create_session()
    sid, tok = c["session"], c["desktop_token"]
    time.sleep(1.5)
    assert_error(d.api("POST", f"{V1}/pair", json={"pair_code": c["pair_code"], "name": "late"}),
                 404, "pair_code_invalid")
    assert_error(d.api("GET", f"{V1}/sessions/{sid}/qr.svg", token=tok), 404, "pair_code_invalid")
    n = d.new_pair_code(sid, tok)
    assert abs(n["expires_at"] - (now_ms() + 1000)) < 700, n
    r = d.api("GET", f"{V1}/sessions/{sid}/qr.svg", token=tok)
    assert r.status == 200, r
    p = d.pair(n["pair_code"], "in time")
    assert p["session"] == sid
    assert d.get_session(sid, tok)["scanners"][0]["name"] == "in time"


def test_scan_retention_purges_content_but_keeps_id_to_seq(daemon_factory):
    d = daemon_factory("--scan-retention", "1", "--cleanup-interval", "1")

    async def body():
        s = d.session()
        desk, _ = await open_desktop(d, s.desktop_token)
        sc, _ = await open_scanner(d, s.scanner["token"])
        await desk.expect("scanner_joined")
        for i in (1, 2):
            await sc.send(scan_msg(f"k{i}", f"K{i}"))
            await sc.expect("ack", id=f"k{i}", seq=i)
            await desk.expect("scan", seq=i)
        await desk.send({"type": "ack", "seq": 1})
        await sc.expect("delivered", id="k1", seq=1)
        await asyncio.sleep(2.5)
        # hello last_seq 0 replays only what is not purged: the undelivered seq 2
        d2, w = await open_desktop(d, s.desktop_token, last_seq=0, label="desktop-2")
        assert w["last_seq"] == 2 and w["delivered_seq"] == 1, w
        await d2.expect("scan", seq=2, id="k2", code="K2")
        await d2.barrier()
        r = d.api("GET", f"{V1}/sessions/{s.sid}/scans?after=0", token=s.desktop_token)
        assert [x["seq"] for x in r.body["scans"]] == [2] and r.body["last_seq"] == 2, r.body
        # the id -> seq mapping survives the purge
        await sc.send(scan_msg("k1", "K1"))
        await sc.expect("ack", id="k1", seq=1, duplicate=True)
        r = d.post_scan(s.sid, s.scanner["token"], "k1", "K1", None)
        assert r.status == 200 and r.body["seq"] == 1 and r.body["duplicate"] is True, r
        r = d.api("GET", f"{V1}/sessions/{s.sid}/scans/k1", token=s.scanner["token"])
        assert r.status == 200 and r.body["seq"] == 1 and r.body["delivered"] is True, r
        await desk.barrier()
        await d2.barrier()
        await sc.send(scan_msg("k3", "K3"))
        await sc.expect("ack", id="k3", seq=3, duplicate=False)
    run(body())


def test_parked_long_poll_gets_410_on_expiry(daemon_factory):
    d = daemon_factory("--session-ttl", "2", "--cleanup-interval", "1")
    s = d.session()
    t0 = time.monotonic()
    poll = Background(d.api, "GET", f"{V1}/sessions/{s.sid}/scans?after=0&wait=10",
                      token=s.desktop_token, timeout=20)
    r = poll.result()
    assert_error(r, 410, "session_expired")
    assert poll.t_end - t0 < 5.0 * SLOW, f"parked long-poll answered after {poll.t_end - t0:.1f}s"
