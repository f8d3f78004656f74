# SPDX-License-Identifier: MIT
"""Slowloris-style HTTP and half-open WebSockets (issue 6).

The timeouts that exist, as observed with libwebsockets 4.1.6 and daemon/server.c:
- HTTP request headers not complete within lws `timeout_secs` (10 s): the
  connection is closed (no answer), whatever the dribble rate.
- WebSocket without hello: closed 4001 after `hello_timeout` (default 5 s).
- After the daemon sends its own close frame (4001, 1009, ...) it lingers
  CLOSE_LINGER_S (3 s) for the client's close, then ends TCP; after a framing
  error lws ends TCP after its 5 s close-ack timeout.
- An authenticated WebSocket that goes silent (half-open) has NO idle timeout:
  no lws ws ping/pong interval is configured, so it stays open until its
  session expires (`session_ttl`, 600 s by default, counted from the last
  activity of ANY client of the session) or is ended. The tests below assert
  that such a socket does not hurt anyone else and that session expiry does
  close it; the missing idle timeout is reported as a gap, not failed.
"""
import json
import socket
import struct
import threading
import time

import sbtest
from sbtest import SLOW, EAN13
from test_ws_edge import RawWS, Closed, OP_TEXT, OP_CLOSE, OP_PING, OP_PONG

DRIBBLE = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + b"s" * 400


def timed_health(d, limit=1.0):
    t = time.monotonic()
    st, _, body = sbtest.http_request(d.port, "GET", "/healthz", timeout=5)
    dt = time.monotonic() - t
    assert st == 200 and body["status"] == "ok", (st, body)
    assert dt < limit * SLOW, f"/healthz took {dt:.2f}s"
    return dt


def drain(sock):
    """Non-blocking: reads what is buffered. (closed, data): closed when the peer
    ended the connection (EOF or reset) after that data."""
    data = b""
    sock.setblocking(False)
    try:
        while True:
            try:
                c = sock.recv(65536)
            except BlockingIOError:
                return False, data
            except (ConnectionResetError, BrokenPipeError):
                return True, data
            if not c:
                return True, data
            data += c
    finally:
        sock.setblocking(True)


class Dribbler:
    """A socket sending one byte of an endless request header per tick."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.i = 0
        self.closed_at = None
        self.answer = b""

    def tick(self, now):
        if self.closed_at is not None:
            return
        try:
            self.sock.send(DRIBBLE[self.i:self.i + 1])
            self.i += 1
        except OSError:
            self.closed_at = now
            return
        closed, data = drain(self.sock)
        self.answer += data
        if closed:
            self.closed_at = now

    def close(self):
        self.sock.close()


def test_dribbled_headers_are_closed_within_timeout(daemon):
    """One header byte every 0.5 s: closed by lws's 10 s timeout (asserted
    between 5 and 15 s), never answered; meanwhile other requests are served
    promptly — the daemon is not blocked by the slow client."""
    d = daemon
    sl = Dribbler(d.port)
    t0 = time.monotonic()
    served = []
    try:
        while sl.closed_at is None and time.monotonic() - t0 < 16 * SLOW:
            sl.tick(time.monotonic())
            if sl.i in (2, 6, 12, 18):
                served.append(timed_health(d))
                s = d.session(scanners=0)   # a REST write as well
                assert s.sid
            time.sleep(0.5)
        assert sl.closed_at is not None, "dribbling client not closed within 16 s"
        took = sl.closed_at - t0
        assert 5.0 <= took <= 15.0 * SLOW, f"closed after {took:.1f}s (lws timeout_secs is 10)"
        assert b"HTTP/1.1 200" not in sl.answer, f"an incomplete request was answered: {sl.answer!r}"
        assert len(served) >= 4
        timed_health(d)
    finally:
        sl.close()


def test_twenty_parallel_slowloris_do_not_starve_healthz(daemon):
    d = daemon
    sls = [Dribbler(d.port) for _ in range(20)]
    t0 = time.monotonic()
    worst = 0.0
    checks = 0
    try:
        next_tick = t0
        while any(s.closed_at is None for s in sls) and time.monotonic() - t0 < 16 * SLOW:
            now = time.monotonic()
            if now >= next_tick:
                for s in sls:
                    s.tick(now)
                next_tick = now + 0.5
            worst = max(worst, timed_health(d))
            checks += 1
            time.sleep(0.2)
        open_left = [i for i, s in enumerate(sls) if s.closed_at is None]
        assert not open_left, f"slowloris connections {open_left} still open after 16 s"
        last = max(s.closed_at for s in sls) - t0
        assert last <= 15.0 * SLOW, f"last slowloris closed after {last:.1f}s"
        assert checks >= 20, checks
        assert all(b"HTTP/1.1 200" not in s.answer for s in sls)
        timed_health(d)
    finally:
        for s in sls:
            s.close()


def test_silent_websocket_is_closed_4001_after_hello_timeout(daemon_factory):
    """Upgraded, never says hello: close 4001 after --hello-timeout 1; a client
    that answers the close gets TCP ended at once, one that does not answer
    after the daemon's CLOSE_LINGER_S (3 s)."""
    d = daemon_factory("--hello-timeout", "1")
    answering, silent = RawWS(d.port), RawWS(d.port)
    t0 = time.monotonic()
    try:
        for r in (answering, silent):
            code, reason = r.expect_close(5 * SLOW)
            took = time.monotonic() - t0
            assert code == 4001, (code, reason)
            assert 0.8 <= took <= 3.0 * SLOW, f"closed after {took:.2f}s with --hello-timeout 1"
        t1 = time.monotonic()
        answering.wait_eof(2 * SLOW)   # answers the close: the server ends TCP at once
        assert time.monotonic() - t1 < 1.0 * SLOW
        timed_health(d)
        silent.wait_eof(6 * SLOW, reply=False)
        took = time.monotonic() - t1
        assert took <= 4.5 * SLOW, f"TCP ended {took:.2f}s after an unanswered close frame"
    finally:
        answering.close()
        silent.close()


def test_half_open_authenticated_websocket_does_not_block_others(daemon):
    """A desktop says hello, then neither reads nor writes (socket kept open).
    Others keep working: a scanner's scans are acked promptly (they are also
    queued to the silent desktop) and /healthz answers fast. Observed: the silent
    socket is NOT closed (no idle timeout for authenticated sockets while the
    session lives) — a gap, reported, not failed."""
    d = daemon
    s = d.session(scanners=1)
    silent = RawWS(d.port)
    try:
        silent.hello(s.desktop_token)
        silent.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        t0 = time.monotonic()

        async def body():
            sc, _ = await sbtest.open_scanner(d, s.scanner["token"])
            for i in range(30):
                t = time.monotonic()
                await sc.send(sbtest.scan_msg(f"ho-{i}", "x" * 400))
                ack = await sc.expect("ack", timeout=2 * SLOW)
                assert ack["id"] == f"ho-{i}" and ack["seq"] == i + 1, ack
                assert time.monotonic() - t < 1.0 * SLOW
                if i % 10 == 0:
                    timed_health(d)
                await sbtest.asyncio.sleep(0.05)
            # another session is unaffected too
            s2 = d.session(scanners=0)
            ws, _ = await sbtest.open_desktop(d, s2.desktop_token)
            await ws.barrier()
        sbtest.run(body(), timeout=30 * SLOW)
        time.sleep(max(0.0, 2.0 - (time.monotonic() - t0)))
        timed_health(d)
        # documented gap: still open after hello + a few seconds of silence
        closed, _ = drain(silent.s)
        assert not closed, "the half-open socket was closed (a timeout now exists: update the docs)"
    finally:
        silent.close()
    timed_health(d)


def test_half_open_websocket_closed_when_its_session_expires(daemon_factory):
    """The one bound on a silent authenticated socket today: session expiry.
    With --session-ttl 2 and nobody active, the silent desktop (it never writes;
    the test reads only to observe) gets session_expired + close 4004, and TCP
    ends although it never answers the close."""
    d = daemon_factory("--session-ttl", "2", "--cleanup-interval", "1")
    s = d.session(scanners=0)
    r = RawWS(d.port)
    try:
        r.hello(s.desktop_token)
        t0 = time.monotonic()
        msgs, code = [], None
        deadline = t0 + 8 * SLOW
        while code is None:
            op, _, p = r.recv_frame(max(0.01, deadline - time.monotonic()))
            if op == OP_CLOSE:
                code = struct.unpack("!H", p[:2])[0]
            else:
                msgs.append(json.loads(p)["type"])
        took = time.monotonic() - t0
        assert msgs == ["session_expired"] and code == 4004, (msgs, code)
        assert 1.5 <= took <= 6 * SLOW, f"expired after {took:.1f}s with a 2 s ttl"
        r.wait_eof(6 * SLOW, reply=False)
        assert time.monotonic() - t0 <= 10 * SLOW
    finally:
        r.close()
    timed_health(d)
