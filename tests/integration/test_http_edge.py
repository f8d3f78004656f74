# SPDX-License-Identifier: MIT
"""HTTP edge cases over raw sockets, against the real daemon (issue 12).

Pipelined requests in every order (the first is answered, then the
connection closes; the daemon never hangs or spins), chunked and malformed
framing, uploads refused from their headers before any body is buffered (with
the daemon's peak RSS measured), the shared image budget, DNS rebinding (only
the box's own host names are served) and per-IP limits behind a trusted
reverse proxy."""
import json
import os
import re
import socket
import threading
import time

import pytest

from sbtest import BIN, SANITIZE, SLOW, V1, WS, assert_error, free_port, run, run_cli


# ----------------------------------------------------------------- raw HTTP
def host(d):
    return f"127.0.0.1:{d.port}".encode()


def req(d, method, path, body=b"", headers=(), host_value=None, length=True):
    """One request as bytes; Content-Length added for a body unless length=False."""
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + (host_value or host(d))]
    lines += [h.encode() if isinstance(h, str) else h for h in headers]
    if body and length:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def exchange(port, data, timeout=5.0):
    """Sends data in one send() and reads until the server closes. Returns
    (bytes, seconds until closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    t0 = time.monotonic()
    out = b""
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    return out, time.monotonic() - t0


def responses(raw):
    """[(status, headers dict, body bytes)] parsed from a byte stream."""
    out = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, f"truncated response: {raw[:200]!r}"
        lines = head.split(b"\r\n")
        m = re.match(rb"HTTP/1\.1 (\d{3})", lines[0])
        assert m, f"not a status line: {lines[0]!r}"
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            hdrs[k.strip().lower().decode()] = v.strip().decode()
        n = int(hdrs.get("content-length", len(rest)))
        out.append((int(m.group(1)), hdrs, rest[:n]))
        raw = rest[n:]
    return out


def one_answer(raw):
    """Exactly one well-formed answer that closes the connection."""
    rs = responses(raw)
    assert len(rs) == 1, f"{len(rs)} answers: {raw[:400]!r}"
    status, hdrs, body = rs[0]
    assert hdrs.get("connection") == "close" or hdrs.get("content-type", "").startswith("text/"), hdrs
    return status, hdrs, body


def json_error(raw, status, code):
    st, hdrs, body = one_answer(raw)
    assert st == status, (st, body)
    assert hdrs["content-type"].startswith("application/json"), hdrs
    err = json.loads(body)["error"]
    assert err["code"] == code and err["message"], err
    return err


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(key)


def assert_idle(d, seconds=0.6):
    """The loop is not spinning: ~no CPU while nothing happens."""
    before = cpu_seconds(d.proc.pid)
    time.sleep(seconds)
    used = cpu_seconds(d.proc.pid) - before
    assert used < 0.25 * seconds * SLOW, f"daemon used {used:.2f} s CPU in {seconds} s idle"


def assert_serves_others(d):
    t0 = time.monotonic()
    assert d.health().status == 200
    assert time.monotonic() - t0 < 1.0 * SLOW


POST_SESSION = ("POST", f"{V1}/sessions", b"{}")
GET_HEALTH = ("GET", "/healthz", b"")
GET_PAGE = ("GET", "/", b"")
GET_SCRIPT = ("GET", "/client/scanbridge.js", b"")
HEAD_PHONE = ("HEAD", "/p", b"")
HEAD_PAGE = ("HEAD", "/", b"")


# ------------------------------------------------------------- pipelining
@pytest.mark.parametrize("first,second", [
    (GET_HEALTH, GET_HEALTH), (POST_SESSION, POST_SESSION), (POST_SESSION, GET_HEALTH),
    (GET_HEALTH, POST_SESSION), (GET_PAGE, GET_HEALTH), (GET_HEALTH, GET_SCRIPT),
    (GET_SCRIPT, POST_SESSION), (HEAD_PHONE, GET_HEALTH), (HEAD_PAGE, GET_HEALTH)],
    ids=["get-get", "post-post", "post-get", "get-post", "page-get", "get-script", "script-post",
         "head-phone-get", "head-page-get"])
def test_pipelined_requests_answer_the_first_and_close(daemon, first, second):
    data = req(daemon, *first[:2], first[2]) + req(daemon, *second[:2], second[2])
    raw, took = exchange(daemon.port, data)
    status, hdrs, body = one_answer(raw)
    assert status == (201 if first[0] == "POST" else 200), raw[:300]
    assert took < 2.0 * SLOW
    assert_idle(daemon)
    assert_serves_others(daemon)


def test_many_pipelined_requests_in_pieces(daemon):
    data = (req(daemon, *POST_SESSION[:2], b"{}") + req(daemon, "GET", "/healthz")) * 20
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
    try:
        for i in range(0, len(data), 37):
            try:
                s.sendall(data[i:i + 37])
            except (BrokenPipeError, ConnectionResetError):
                break
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    except ConnectionResetError:
        pass
    finally:
        s.close()
    assert one_answer(raw)[0] == 201
    assert_idle(daemon)
    assert_serves_others(daemon)


def test_a_long_poll_with_a_request_behind_it_does_not_spin(daemon):
    s = daemon.session(scanners=1)
    poll = req(daemon, "GET", f"{V1}/sessions/{s.sid}/scans?after=0&wait=3",
               headers=[f"Authorization: Bearer {s.desktop_token}"])
    result = {}
    t = threading.Thread(target=lambda: result.update(
        out=exchange(daemon.port, poll + req(daemon, *POST_SESSION[:2], b"{}"), timeout=10)))
    t.start()
    time.sleep(0.3)
    assert_idle(daemon, 1.0)            # the loop waits; it does not spin on the buffered POST
    assert_serves_others(daemon)
    assert daemon.post_scan(s.sid, s.scanner["token"], "lp1").status == 201
    t.join(10)
    raw, took = result["out"]
    status, _, body = one_answer(raw)
    assert status == 200 and [x["id"] for x in json.loads(body)["scans"]] == ["lp1"], body


def test_keep_alive_clients_get_one_answer_per_connection(daemon):
    """http.client-style clients reconnect after connection: close."""
    for _ in range(3):
        assert daemon.health().status == 200
        assert daemon.api("POST", f"{V1}/sessions").status == 201


# ---------------------------------------------------------------- framing
def test_chunked_body_gets_411(daemon):
    data = req(daemon, "POST", f"{V1}/sessions", b"2\r\n{}\r\n0\r\n\r\n",
               headers=["Transfer-Encoding: chunked"], length=False)
    json_error(exchange(daemon.port, data)[0], 411, "invalid_request")
    assert_serves_others(daemon)


@pytest.mark.parametrize("value", [b"-2", b"abc", b"2, 2", b" 2x", b"99999999999999999999",
                                   b"0x10", b"+2"])
def test_malformed_content_length_gets_400(daemon, value):
    data = req(daemon, "POST", f"{V1}/sessions", b"{}", headers=[b"Content-Length: " + value],
               length=False)
    json_error(exchange(daemon.port, data)[0], 400, "invalid_request")


def test_two_content_lengths_get_400(daemon):
    data = req(daemon, "POST", f"{V1}/sessions", b"{}",
               headers=["Content-Length: 2", "Content-Length: 2"], length=False)
    json_error(exchange(daemon.port, data)[0], 400, "invalid_request")


def test_post_without_content_length_is_answered_and_closed(daemon):
    raw, took = exchange(daemon.port, req(daemon, "POST", f"{V1}/sessions"))
    assert one_answer(raw)[0] == 201 and took < 2.0 * SLOW


# ----------------------------------------------- uploads refused early
def decode_headers(d, length, token=None, ctype="image/png"):
    hdrs = [f"Content-Type: {ctype}", f"Content-Length: {length}"]
    if token:
        hdrs.append(f"Authorization: Bearer {token}")
    return req(d, "POST", f"{V1}/decode", headers=hdrs, length=False)


def refused_before_body(d, head, status, code):
    """Sends only the headers: the answer must come without the body."""
    s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    try:
        s.sendall(head)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    finally:
        s.close()
    json_error(raw, status, code)


def test_unauthenticated_upload_is_refused_from_its_headers(daemon):
    refused_before_body(daemon, decode_headers(daemon, 8 * 1024 * 1024), 401, "unauthorized")
    refused_before_body(daemon, decode_headers(daemon, 1000, token="not.a.token"), 401,
                        "unauthorized")


def test_desktop_token_and_wrong_type_are_refused_from_the_headers(daemon):
    s = daemon.session(scanners=1)
    refused_before_body(daemon, decode_headers(daemon, 5000, token=s.desktop_token), 403,
                        "forbidden")
    refused_before_body(daemon, decode_headers(daemon, 5000, token=s.scanner["token"],
                                               ctype="text/plain"), 415, "unsupported_media_type")
    refused_before_body(daemon, decode_headers(daemon, 9 * 1024 * 1024, token=s.scanner["token"]),
                        413, "too_large")
    refused_before_body(daemon, req(daemon, "POST", f"{V1}/sessions",
                                    headers=["Content-Length: 70000"], length=False),
                        413, "too_large")


def test_unauthenticated_uploads_do_not_grow_memory(daemon):
    """12 × 8 MiB without a token took peak RSS from 9 to ~105 MB: now each is
    refused from its headers and its body is never buffered."""
    pid = daemon.proc.pid
    daemon.session()
    base = proc_kib(pid, "VmHWM")
    body = b"\x89PNG\r\n\x1a\n" + b"\0" * (8 * 1024 * 1024 - 8)

    def upload(out, i):
        s = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
        try:
            s.sendall(decode_headers(daemon, len(body)))
            try:
                s.sendall(body)
            except (BrokenPipeError, ConnectionResetError):
                pass
            raw = b""
            try:
                while chunk := s.recv(65536):
                    raw += chunk
            except ConnectionResetError:
                pass
            out[i] = raw
        finally:
            s.close()

    out = [None] * 12
    threads = [threading.Thread(target=upload, args=(out, i)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    grown = proc_kib(pid, "VmHWM") - base
    answered = [r for r in out if r]
    assert answered, "no upload got an answer"
    for r in answered:
        json_error(r, 401, "unauthorized")
    assert grown < 16 * 1024, f"peak RSS grew by {grown} KiB"
    assert_serves_others(daemon)


# ---------------------------------------------------- the image budget
def png_bytes(size):
    return b"\x89PNG\r\n\x1a\n" + os.urandom(size - 8)


def test_uploads_beyond_the_image_budget_get_busy(daemon_factory):
    d = daemon_factory("--max-image-bytes", "1500000", "--max-image-bytes-buffered", "2000000")
    s = d.session(scanners=1)
    tok = s.scanner["token"]
    holder = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    try:
        body = png_bytes(1_200_000)
        holder.sendall(decode_headers(d, len(body), token=tok) + body[:1000])
        time.sleep(0.3)   # its 1.2 MB are taken from the 2 MB budget
        r = d.api("POST", f"{V1}/decode", token=tok, body=png_bytes(1_000_000),
                  headers={"Content-Type": "image/png"})
        assert_error(r, 503, "busy")
        assert r.headers.get("Retry-After") == "1"
        holder.sendall(body[1000:])
        raw = b""
        while chunk := holder.recv(65536):
            raw += chunk
        assert one_answer(raw)[0] in (200, 400), raw[:200]   # decoded or "corrupt": answered
    finally:
        holder.close()
    # the budget came back
    r = d.api("POST", f"{V1}/decode", token=tok, body=png_bytes(1_000_000),
              headers={"Content-Type": "image/png"})
    assert r.status in (200, 400), r


def test_a_websocket_image_beyond_the_budget_gets_busy_and_the_socket_lives(daemon_factory):
    d = daemon_factory("--max-image-bytes", "1500000", "--max-image-bytes-buffered", "2000000")
    s = d.session(scanners=1)
    tok = s.scanner["token"]
    holder = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    body = png_bytes(1_400_000)
    holder.sendall(decode_headers(d, len(body), token=tok) + body[:1000])
    time.sleep(0.3)

    async def go():
        ws = await WS.open(d, label="scanner")
        await ws.send({"type": "hello", "token": tok})
        await ws.expect("welcome")
        await ws.send(png_bytes(1_000_000))
        err = await ws.expect("error")
        assert err["code"] == "busy", err
        await ws.send({"type": "scan", "id": "after-busy", "code": "4006381333931"})
        ack = await ws.expect("ack")
        assert ack["id"] == "after-busy"
        await ws.conn.close()

    try:
        run(go())
    finally:
        holder.close()


# ------------------------------------------------------- DNS rebinding
def test_foreign_host_names_are_refused(daemon):
    evil = f"evil.example:{daemon.port}".encode()
    origin = f"Origin: http://evil.example:{daemon.port}"
    for method, path, body in (POST_SESSION, GET_HEALTH, GET_PAGE, ("GET", "/metrics", b"")):
        raw, _ = exchange(daemon.port, req(daemon, method, path, body, host_value=evil,
                                           headers=[origin]))
        json_error(raw, 403, "forbidden")
    assert daemon.metric("scanbridge_sessions") == 0


def test_websocket_upgrade_from_a_rebound_name_is_refused(daemon):
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    for origin in ([f"Origin: http://evil.example:{daemon.port}"], []):
        data = req(daemon, "GET", "/ws", host_value=f"evil.example:{daemon.port}".encode(),
                   headers=["Upgrade: websocket", "Connection: Upgrade",
                            f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
                            "Sec-WebSocket-Protocol: scanbridge.v1"] + origin)
        raw, _ = exchange(daemon.port, data)
        # lws writes an upgrade's refusal as HTTP/1.0; the body is our JSON
        assert re.match(rb"HTTP/1\.[01] 403 ", raw), raw[:200]
        assert json.loads(raw.partition(b"\r\n\r\n")[2])["error"]["code"] == "forbidden"


def test_the_box_own_names_are_served(daemon_factory):
    d = daemon_factory("--allowed-hosts", "till.example", "--public-url", "http://box.lan:9999")
    name = socket.gethostname().lower()
    for h in ("localhost", "127.0.0.1", "127.0.0.2", name, name + ".local", "till.example",
              "box.lan", "app.localhost"):
        raw, _ = exchange(d.port, req(d, "GET", "/healthz", host_value=f"{h}:{d.port}".encode()))
        assert one_answer(raw)[0] == 200, (h, raw[:200])
    raw, _ = exchange(d.port, req(d, "GET", "/healthz", host_value=b"box.lan.evil.example"))
    json_error(raw, 403, "forbidden")


def test_allowed_hosts_star_turns_the_check_off(daemon_factory):
    d = daemon_factory("--allowed-hosts", "*")
    raw, _ = exchange(d.port, req(d, "GET", "/healthz", host_value=b"anything.example"))
    assert one_answer(raw)[0] == 200


# ------------------------------------------------ behind a reverse proxy
def post_session_from(d, header):
    raw, _ = exchange(d.port, req(d, "POST", f"{V1}/sessions", headers=[header] if header else []))
    return one_answer(raw)[0]


def test_trusted_proxy_clients_get_their_own_budget(daemon_factory):
    d = daemon_factory("--sessions-per-ip-per-min", "2", "--trusted-proxies", "127.0.0.0/8 ::1")
    a, b = "X-Forwarded-For: 198.51.100.1", "X-Forwarded-For: 6.6.6.6, 198.51.100.2"
    assert [post_session_from(d, a) for _ in range(3)] == [201, 201, 429]
    assert [post_session_from(d, b) for _ in range(3)] == [201, 201, 429]
    fwd = 'Forwarded: for="[2001:db8::7]:4711";proto=http'
    assert [post_session_from(d, fwd) for _ in range(3)] == [201, 201, 429]


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(daemon_factory):
    d = daemon_factory("--sessions-per-ip-per-min", "2")
    got = [post_session_from(d, f"X-Forwarded-For: 198.51.100.{i}") for i in range(3)]
    assert got == [201, 201, 429]


def test_websocket_per_ip_cap_uses_the_forwarded_client(daemon_factory):
    d = daemon_factory("--max-connections-per-ip", "1", "--trusted-proxies", "127.0.0.1")
    key = "dGhlIHNhbXBsZSBub25jZQ=="

    def upgrade(client):
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        s.sendall(req(d, "GET", "/ws", headers=[
            "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: scanbridge.v1",
            f"X-Forwarded-For: {client}"]))
        got = b""
        while b"\r\n\r\n" not in got:
            got += s.recv(4096)
        head, _, rest = got.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head[:200]
        return s, rest

    def closed_4013(conn):
        s, data = conn
        s.settimeout(5)
        while len(data) < 4:
            data += s.recv(4096)
        return data[0] & 0x0f == 8 and int.from_bytes(data[2:4], "big") == 4013

    first = upgrade("198.51.100.1")
    second = upgrade("198.51.100.2")       # another client behind the same proxy: welcome
    third = upgrade("198.51.100.1")        # the same client again: over its cap
    try:
        assert closed_4013(third)
        assert second[1] == b""
        second[0].settimeout(0.5)
        with pytest.raises(socket.timeout):
            second[0].recv(16)             # still open, waiting for its hello
    finally:
        for s, _ in (first, second, third):
            s.close()


def test_a_malformed_trusted_proxies_list_stops_the_daemon(tmp_path):
    rc, _, err = run_cli(["--port", str(free_port()), "--data-dir", str(tmp_path / "d"),
                          "--trusted-proxies", "10.0.0.0/33"], timeout=15)
    assert rc != 0 and "trusted_proxies" in err and "10.0.0.0/33" in err, (rc, err)


# ------------------------------------------------------------------- CSP
def test_csp_connects_only_to_the_box_itself(daemon):
    raw, _ = exchange(daemon.port, req(daemon, "GET", "/"))
    csp = one_answer(raw)[1]["content-security-policy"]
    assert "connect-src 'self';" in csp and "ws:" not in csp, csp
