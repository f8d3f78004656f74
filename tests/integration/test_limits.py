# SPDX-License-Identifier: MIT
"""The limits of docs/security.md that no other file of the suite covers:
max_sessions, the long-poll waiter cap, the REST body and JSON depth caps on the
unauthenticated endpoints, the HTTP header cap, max_connections, pair-code
guessing on the defaults, forged tokens naming another session, slow consumers
(memory, the send queue and its 1008 close).

Covered elsewhere (not repeated here): per-connection token bucket and 4008,
acks exempt (test_errors); max_connections_per_ip 4013 (test_errors); text frame
1009 (test_errors); WS JSON depth 4000 (test_errors); max_scanners 409
(test_rest, test_errors); REST 413 on POST /scans (test_errors); image bytes,
pixels and decoder queue (test_decode); hello timeout 4001 (test_errors);
sessions_per_ip_per_min and a lowered pair_attempts_per_ip_per_min
(test_errors); a deleted session's scanner token → 401 and 4004 (test_rest,
test_errors); tokens and codes absent from the log (test_ops); slowloris headers and
half-open WebSockets (test_slowloris)."""
import asyncio
import json
import os
import resource
import re
import socket
import statistics
import threading
import time

import pytest

import sbtest
from sbtest import (SLOW, SUBPROTOCOL, V1, WS, Background, assert_error, make_jwt,
                    open_desktop, run)

JSON_H = {"Content-Type": "application/json"}


def forge(d, claims):
    return make_jwt(claims, d.secret())


def claims_for(sid, role="desktop", sub="desktop", exp_in=3600):
    now = int(time.time())
    return {"sid": sid, "role": role, "sub": sub, "iat": now, "exp": now + exp_in}


def healthy(d):
    r = d.health()
    assert r.status == 200 and r.body["status"] == "ok", r


# ------------------------------------------------------------------ max_sessions
def test_max_sessions_503_and_a_freed_slot_is_reusable(daemon_factory):
    d = daemon_factory("--max-sessions", "3")
    made = [d.create_session() for _ in range(3)]
    assert_error(d.api("POST", f"{V1}/sessions"), 503, "unavailable")
    assert_error(d.api("POST", f"{V1}/sessions"), 503, "unavailable")
    # the refused ones created nothing; ending one frees a slot
    r = d.api("DELETE", f"{V1}/sessions/{made[0]['session']}", token=made[0]["desktop_token"])
    assert r.status == 204, r
    d.create_session()
    assert_error(d.api("POST", f"{V1}/sessions"), 503, "unavailable")
    healthy(d)


# ------------------------------------------------------------------ long-poll waiters
def test_longpoll_waiter_cap_is_503_busy(daemon_factory):
    d = daemon_factory("--max-longpoll-waiters", "2")
    s = d.session()
    path = f"{V1}/sessions/{s.sid}/scans?after=0&wait=15"
    parked = [Background(d.api, "GET", path, token=s.desktop_token, timeout=30) for _ in range(2)]
    deadline = time.monotonic() + 5
    while d.metric("scanbridge_longpoll_waiters") < 2:
        assert time.monotonic() < deadline, "the two long-polls never parked"
        time.sleep(0.05)
    r = d.api("GET", path, token=s.desktop_token, timeout=5)
    assert_error(r, 503, "busy")
    assert all(p.thread.is_alive() for p in parked), "a parked long-poll was answered early"
    # a scan releases both parked requests with it
    assert d.post_scan(s.sid, s.scanner["token"], "lp-1").status == 201
    for p in parked:
        r = p.result(timeout=10)
        assert r.status == 200 and [x["id"] for x in r.body["scans"]] == ["lp-1"], r
    # and the slots are free again
    r = d.api("GET", f"{V1}/sessions/{s.sid}/scans?after=1&wait=1", token=s.desktop_token)
    assert r.status == 200 and r.body["scans"] == [], r


# ------------------------------------------------------------------ REST body 64 KiB
def test_rest_body_over_64k_is_413_on_unauthenticated_endpoints(daemon):
    big = json.dumps({"pair_code": "x", "name": "n", "pad": "y" * (64 * 1024)}).encode()
    assert len(big) > 64 * 1024
    for path in (f"{V1}/sessions", f"{V1}/pair"):
        assert_error(daemon.api("POST", path, body=big, headers=JSON_H), 413, "too_large")
    # also when the body is not even JSON
    junk = b"z" * (200 * 1024)
    assert_error(daemon.api("POST", f"{V1}/pair", body=junk, headers=JSON_H), 413, "too_large")
    # just under the cap is read and judged on its content
    under = json.dumps({"pair_code": "AAAAAAAAAAAAAAAAAAAAAA",
                        "pad": "y" * (60 * 1024)}).encode()
    assert len(under) < 64 * 1024
    assert_error(daemon.api("POST", f"{V1}/pair", body=under, headers=JSON_H),
                 404, "pair_code_invalid")
    healthy(daemon)
    daemon.session()   # still works


# ------------------------------------------------------------------ JSON depth in REST bodies
def nested(depth):
    """An object whose JSON nesting is exactly `depth` levels (the object is 1)."""
    return "[" * (depth - 1) + "1" + "]" * (depth - 1)


def test_rest_json_deeper_than_max_json_depth_is_400(daemon):
    s = daemon.session()
    base = f"{V1}/sessions/{s.sid}"
    too_deep = nested(9)    # 9 > default max_json_depth 8
    cases = [
        ("POST", f"{V1}/pair", None, '{"pair_code":"AAAAAAAAAAAAAAAAAAAAAA","x":%s}' % too_deep),
        ("POST", f"{V1}/sessions", None, '{"x":%s}' % too_deep),
        ("POST", f"{base}/scans", s.scanner["token"], '{"id":"deep","code":"x","x":%s}' % too_deep),
        ("POST", f"{base}/ack", s.desktop_token, '{"seq":0,"x":%s}' % too_deep),
    ]
    for method, path, tok, body in cases:
        assert_error(daemon.api(method, path, token=tok, body=body.encode(), headers=JSON_H),
                     400, "invalid_request")
    # exactly max_json_depth is not refused for its depth
    ok = '{"pair_code":"AAAAAAAAAAAAAAAAAAAAAA","x":%s}' % nested(8)
    assert_error(daemon.api("POST", f"{V1}/pair", body=ok.encode(), headers=JSON_H),
                 404, "pair_code_invalid")
    # a very deep body (no recursion blow-up) is a plain 400 too
    abyss = ("[" * 30000 + "]" * 30000).encode()
    assert_error(daemon.api("POST", f"{V1}/pair", body=abyss, headers=JSON_H), 400, "invalid_request")
    # the refused scan was not stored
    assert daemon.get_session(s.sid, s.desktop_token)["last_seq"] == 0
    healthy(daemon)


# ------------------------------------------------------------------ headers
def raw_http(port, data, timeout=5.0):
    """Sends bytes, returns whatever comes back until the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_until_closed(s)
    finally:
        s.close()


def read_until_closed(s):
    """Everything the server sends until it closes (or resets) the connection."""
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk


def big_header_request(size):
    return (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Big: "
            + b"a" * size + b"\r\n\r\n")


def assert_closed_unanswered(out, what):
    """lws 4.1 drops a request whose header section overflows its buffer from
    inside its parser; the daemon adds nothing (docs/security.md): the client
    sees the connection closed without an answer."""
    assert out == b"", (what, out[:200])


def test_header_section_within_the_buffer_is_served(daemon):
    out = raw_http(daemon.port, big_header_request(6000))   # under the 8 KiB default
    assert out.startswith(b"HTTP/1.1 200"), out[:200]


def test_oversized_header_section_is_closed_and_the_daemon_stays_healthy(daemon):
    for size in (8 * 1024, 64 * 1024, 1024 * 1024):
        assert_closed_unanswered(raw_http(daemon.port, big_header_request(size)), size)
    healthy(daemon)
    daemon.session()
    assert "Ran out of header data space" in daemon.log()


def test_max_header_bytes_is_configurable(daemon_factory):
    d = daemon_factory("--max-header-bytes", "16384")
    assert raw_http(d.port, big_header_request(12 * 1024)).startswith(b"HTTP/1.1 200")
    assert_closed_unanswered(raw_http(d.port, big_header_request(20 * 1024)),
                             "20 KiB over a 16 KiB buffer")


def test_oversized_headers_dribbled_are_closed(daemon):
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        try:
            for _ in range(12):
                s.sendall(b"a" * 1000)
                time.sleep(0.05)
            s.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass   # closed as soon as the buffer overflowed
        out = read_until_closed(s)
    finally:
        s.close()
    assert_closed_unanswered(out, "dribbled")
    healthy(daemon)


def test_an_overflow_never_answers_another_connection(daemon):
    """The 431 used to be written to whichever half-read connection had
    received most bytes: a neighbour mid-request could get it. Now no
    connection is written to but by its own request's answer."""
    mid = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
    try:
        # a large but legal header section, not finished yet
        mid.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"p" * 7000)
        time.sleep(0.1)
        assert_closed_unanswered(raw_http(daemon.port, big_header_request(64 * 1024)), "overflow")
        mid.sendall(b"\r\n\r\n")
        out = read_until_closed(mid)
    finally:
        mid.close()
    assert out.startswith(b"HTTP/1.1 200"), out[:200]


# ------------------------------------------------------------------ max_connections
def test_max_connections_total_closes_4013(daemon_factory):
    d = daemon_factory("--max-connections", "3")
    s = d.session(scanners=1)

    async def body():
        held = [await WS.open(d, label=f"held-{i}") for i in range(3)]
        extra = await WS.open(d, label="over")
        await extra.expect_close(4013)
        # the held ones are unaffected and can authenticate
        await held[0].send({"type": "hello", "token": s.desktop_token})
        await held[0].expect("welcome")
        for ws in held:
            await ws.conn.close()
        await asyncio.sleep(0.3)
        again, _ = await open_desktop(d, s.desktop_token, label="after")
        await again.conn.close()
    run(body())
    healthy(d)


# ------------------------------------------------------------------ pair-code guessing
def test_pair_guessing_on_defaults_31st_attempt_is_429(daemon):
    c = daemon.create_session()
    guesses = [f"guess{i:02d}{'A' * 15}" for i in range(31)]
    before = daemon.metric("scanbridge_errors_total")
    for g in guesses[:30]:
        assert_error(daemon.api("POST", f"{V1}/pair", json={"pair_code": g}), 404, "pair_code_invalid")
    r = daemon.api("POST", f"{V1}/pair", json={"pair_code": guesses[30]})
    assert_error(r, 429, "rate_limited")
    ra = r.headers.get("Retry-After")
    assert ra is not None and ra.strip().isdigit() and 1 <= int(ra) <= 60, f"Retry-After {ra!r}"
    # even the right code is refused for the rest of the window
    assert_error(daemon.api("POST", f"{V1}/pair", json={"pair_code": c["pair_code"]}),
                 429, "rate_limited")
    assert daemon.get_session(c["session"], c["desktop_token"])["scanners"] == []
    # the attempts are counted (errors by wire code)
    assert daemon.metric("scanbridge_errors_total") - before >= 32
    # other endpoints are not blocked for that IP
    assert daemon.api("POST", f"{V1}/sessions").status == 201
    daemon.stop()
    log = daemon.log()
    for g in guesses + [c["pair_code"]]:
        assert g not in log, f"a pair code appears in the log: {g}"


def test_pair_guessing_is_logged_without_the_codes(daemon):
    guesses = [f"guess{i:02d}{'B' * 15}" for i in range(31)]
    for g in guesses:
        daemon.api("POST", f"{V1}/pair", json={"pair_code": g})
    daemon.stop()
    log = daemon.log()
    for g in guesses:
        assert g not in log
    lines = [ln for ln in log.splitlines()
             if re.search(r"pair", ln, re.I) and "scanner paired" not in ln]
    assert any("127.0.0.1" in ln for ln in lines), \
        f"no log line records the refused pair attempts: {log[-1500:]}"
    assert any(re.search(r"rate|limit|429", ln, re.I) for ln in lines), \
        "no log line records the pair rate limit"


# ------------------------------------------------------------------ forged other-session tokens
def test_forged_token_naming_another_session(daemon):
    A = daemon.session()
    B = daemon.session()
    daemon.post_scan(A.sid, A.scanner["token"], "a-1")
    # correctly signed desktop token of B, used on A's resources → 403
    tok_b = forge(daemon, claims_for(B.sid))
    for method, path, body in (("GET", f"{V1}/sessions/{A.sid}", None),
                               ("GET", f"{V1}/sessions/{A.sid}/scans?after=0", None),
                               ("POST", f"{V1}/sessions/{A.sid}/ack", {"seq": 1}),
                               ("POST", f"{V1}/sessions/{A.sid}/pair-code", None),
                               ("DELETE", f"{V1}/sessions/{A.sid}", None)):
        assert_error(daemon.api(method, path, token=tok_b, json=body), 403, "forbidden")
    # a scanner token naming B but carrying A's scanner id: no such scanner in B
    tok_x = forge(daemon, claims_for(B.sid, role="scanner", sub=A.scanner["id"]))
    assert_error(daemon.post_scan(B.sid, tok_x, "x-1"), 401, "unauthorized")
    # the token is invalid in itself, so it is 401 on any path (authorization
    # comes before the session-of-the-path check)
    assert_error(daemon.post_scan(A.sid, tok_x, "x-2"), 401, "unauthorized")

    async def body():
        ws = await WS.open(daemon, label="forged-scanner")
        await ws.send({"type": "hello", "token": tok_x})
        await ws.expect_close(4001)
        # a forged token naming a session that never existed
        ghost = forge(daemon, claims_for("AAAAAAAAAAAAAAAAAAAAAA"))
        ws = await WS.open(daemon, label="ghost")
        await ws.send({"type": "hello", "token": ghost})
        code = await _close_code(ws)
        assert code in (4001, 4004), code
    run(body())
    assert_error(daemon.api("GET", f"{V1}/sessions/{A.sid}",
                            token=forge(daemon, claims_for("AAAAAAAAAAAAAAAAAAAAAA"))),
                 401, "unauthorized")
    # nothing leaked or changed
    a = daemon.get_session(A.sid, A.desktop_token)
    assert a["last_seq"] == 1 and a["delivered_seq"] == 0, a
    assert daemon.get_session(B.sid, B.desktop_token)["last_seq"] == 0


async def _close_code(ws, timeout=5.0):
    import websockets.exceptions
    try:
        m = await asyncio.wait_for(ws.conn.recv(), timeout)
        raise AssertionError(f"expected a close, got {m!r}")
    except websockets.exceptions.ConnectionClosed as e:
        return e.rcvd.code if e.rcvd is not None else 1006


# ------------------------------------------------------------------ slow consumers
def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def ws_frame(text):
    """A masked client text frame."""
    payload = text.encode()
    mask = os.urandom(4)
    n = len(payload)
    head = bytearray([0x81])
    if n < 126:
        head.append(0x80 | n)
    else:
        head.append(0x80 | 126)
        head += n.to_bytes(2, "big")
    return bytes(head) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def raw_desktop(port, token):
    """Completes the upgrade, sends hello, and never reads again (small receive
    buffer so the server's queue, not the kernel, takes the backlog)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {SUBPROTOCOL}\r\n\r\n")
              .encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(1)   # byte by byte: leave everything after the headers unread
        assert chunk, "closed during the upgrade"
        buf += chunk
    assert buf.startswith(b"HTTP/1.1 101"), buf[:200]
    s.sendall(ws_frame(json.dumps({"type": "hello", "token": token, "last_seq": 0})))
    return s


def test_slow_consumers_memory_bounded_and_others_served(daemon_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 and hard > soft:   # 1,000 sockets here and as many in the daemon
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    env = None
    if sbtest.SANITIZE:   # freed memory would sit in ASan's 256 MiB quarantine
        opts = os.environ.get("ASAN_OPTIONS", "")
        env = {"ASAN_OPTIONS": (opts + ":" if opts else "") + "quarantine_size_mb=0"}
    d = daemon_factory("--sessions-per-ip-per-min", "1000", "--pair-attempts-per-ip-per-min", "1000",
                       "--max-connections-per-ip", "2000", env=env)
    # 1,000 non-reading desktops (issue 6's figure), 250 per session so each
    # one's backlog outgrows the kernel's socket buffers
    n_sessions, per_session = 4, 250
    slow = [d.session() for _ in range(n_sessions)]
    socks = [raw_desktop(d.port, s.desktop_token) for s in slow for _ in range(per_session)]
    fast = d.session()
    time.sleep(0.5)
    rss0 = vm_rss_kib(d.proc.pid)
    code = "X" * 500                            # CODE_128, the longest allowed
    stop = threading.Event()
    posted = [0]
    errors = []

    def load(tag):
        i = 0
        while not stop.is_set():
            s = slow[i % n_sessions]
            r = d.post_scan(s.sid, s.scanner["token"], f"load-{tag}-{i}", code=code, format="CODE_128")
            if r.status != 201:
                errors.append(r)
                return
            posted[0] += 1
            i += 1

    loaders = [threading.Thread(target=load, args=(k,), daemon=True) for k in range(2)]
    for t in loaders:
        t.start()
    peak = [rss0]

    async def body():
        desk, _ = await open_desktop(d, fast.desktop_token, label="fast-desktop")
        loop = asyncio.get_running_loop()
        lat = []
        t_end = time.monotonic() + 10
        i = 0
        while time.monotonic() < t_end or i < 50:
            t0 = time.monotonic()
            r = await loop.run_in_executor(None, lambda: d.post_scan(
                fast.sid, fast.scanner["token"], f"fast-{i}"))
            assert r.status == 201, r
            m = await desk.expect("scan", timeout=5, id=f"fast-{i}")
            lat.append(time.monotonic() - t0)
            await desk.send({"type": "ack", "seq": m["seq"]})
            peak[0] = max(peak[0], vm_rss_kib(d.proc.pid))
            i += 1
            await asyncio.sleep(0.15)
        return lat

    try:
        lat = run(body(), timeout=60)
    finally:
        stop.set()
        for t in loaders:
            t.join(10)
    peak[0] = max(peak[0], vm_rss_kib(d.proc.pid))
    assert not errors, errors[:3]
    assert posted[0] > 500, f"load too light to mean anything: {posted[0]} scans"
    growth_mib = (peak[0] - rss0) / 1024
    # ASan adds redzones and its allocator keeps freed chunks cached
    bound = 64 * (2 if sbtest.SANITIZE else 1)
    assert growth_mib < bound, f"RSS grew {growth_mib:.1f} MiB under {posted[0]} scans"
    lat.sort()
    print(f"slow consumers: {posted[0]} scans, RSS {rss0 // 1024} -> {peak[0] // 1024} MiB, "
          f"closes {d.metric('scanbridge_slow_consumer_closes_total'):.0f}, "
          f"fast desktop median {statistics.median(lat) * 1000:.1f} ms max {lat[-1] * 1000:.1f} ms")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    # a functional bound (others are served, not starved) — not a speed target:
    # the suite runs in parallel on 2 cores; the figure is in docs/security.md
    assert p99 < 0.500 * SLOW, (f"p99 {p99 * 1000:.1f} ms, median "
                                f"{statistics.median(lat) * 1000:.1f} ms over {len(lat)} scans")
    healthy(d)
    for s in socks:
        s.close()


def read_frames(sock, timeout=5.0):
    """Reads server frames until a close frame or EOF: ([texts], close_code)."""
    sock.settimeout(timeout)
    buf = b""
    texts = []

    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise EOFError
            buf += chunk

    try:
        while True:
            need(2)
            op, ln = buf[0] & 0x0F, buf[1] & 0x7F
            hl = 2
            if ln == 126:
                need(4)
                ln, hl = int.from_bytes(buf[2:4], "big"), 4
            elif ln == 127:
                need(10)
                ln, hl = int.from_bytes(buf[2:10], "big"), 10
            need(hl + ln)
            payload, buf = buf[hl:hl + ln], buf[hl + ln:]
            if op == 0x8:
                return texts, int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if op == 0x1:
                texts.append(payload.decode())
    except (EOFError, ConnectionResetError):
        return texts, None


def overflow_a_desktop(d, s, max_scans=20000):
    """Posts 500-char scans until the daemon closes a non-reading desktop of
    session s for overflow. Returns (scans posted, [messages it got], close code)."""
    sock = raw_desktop(d.port, s.desktop_token)
    code = "Y" * 500
    n = 0
    while d.metric("scanbridge_slow_consumer_closes_total") < 1 and n < max_scans:
        for _ in range(250):
            r = d.post_scan(s.sid, s.scanner["token"], f"q-{n}", code=code, format="CODE_128")
            assert r.status == 201, r   # the scanner side never notices
            n += 1
    if d.metric("scanbridge_slow_consumer_closes_total") < 1:
        sock.close()
        return n, None, None
    texts, close = read_frames(sock)
    sock.close()
    return n, [json.loads(t) for t in texts], close


def test_send_queue_overflow_closes_1008(daemon_factory):
    d = daemon_factory("--send-queue-max", "64")
    s = d.session()
    n, msgs, close = overflow_a_desktop(d, s)
    assert msgs is not None, f"{n} scans and the non-reading desktop was never closed"
    assert close == 1008, f"closed with {close} after {len(msgs)} messages"
    assert msgs[0]["type"] == "welcome"
    seqs = [m["seq"] for m in msgs if m["type"] == "scan"]
    assert seqs == list(range(1, len(seqs) + 1)), "what it did get was not a gapless prefix"
    assert d.get_session(s.sid, s.desktop_token)["last_seq"] == n > len(seqs)
    healthy(d)


def test_send_queue_overflow_then_the_desktop_resumes(daemon_factory):
    d = daemon_factory("--send-queue-max", "64")
    s = d.session()
    n, msgs, close = overflow_a_desktop(d, s)
    assert close == 1008
    last = max([m["seq"] for m in msgs if m["type"] == "scan"] or [0])

    async def body():
        desk, w = await open_desktop(d, s.desktop_token, last_seq=last, label="resumed")
        assert w["last_seq"] == n
        m = await desk.expect("scan")
        assert m["seq"] == last + 1, m
    run(body())


def test_slow_desktop_is_closed_1008_on_the_defaults(daemon):
    s = daemon.session()
    n, msgs, close = overflow_a_desktop(daemon, s, max_scans=8000)
    assert msgs is not None, f"{n} scans (~{n * 0.75 / 1024:.1f} MiB) and the non-reading " \
        "desktop was never closed"
    assert close == 1008
