# SPDX-License-Identifier: MIT
"""Every REST row of PROTOCOL.md, with the behaviour fixed by docs/architecture.md."""
import re
import shutil
import threading
import time

from sbtest import (B64URL, EAN13, SCAN_FIELDS, SLOW, V1, WS, Background, assert_error,
                    gtin, jwt_parts, now_ms, open_desktop, open_scanner, run, scan_msg,
                    zbar_decode_svg, svg_to_modules)

TTL_MS = 600_000
PAIR_TTL_MS = 600_000
MAX_AGE_S = 86_400


def near(value, expected, slack=5000):
    return isinstance(value, int) and abs(value - expected) < slack


def assert_scan_item(item, seq, id, code, format, scanner):
    assert set(item) == SCAN_FIELDS, f"REST scan item keys {sorted(item)}"
    assert item["seq"] == seq and item["id"] == id and item["code"] == code, item
    assert item["format"] == format and item["scanner"] == scanner, item
    assert isinstance(item["received_at"], int), item


# -------------------------------------------------------------- sessions
def test_create_session(daemon):
    t0 = now_ms()
    r = daemon.api("POST", f"{V1}/sessions")
    assert r.status == 201, r
    assert "application/json" in r.headers.get("Content-Type", "")
    b = r.body
    assert set(b) >= {"session", "desktop_token", "pair_code", "pair_url", "expires_at"}, b
    assert B64URL.match(b["session"]) and len(b["session"]) >= 22, b
    assert B64URL.match(b["pair_code"]) and len(b["pair_code"]) >= 22, b
    assert b["pair_url"] == f"{daemon.url}/p#{b['pair_code']}", b
    assert b["pair_url"].endswith("/p#" + b["pair_code"])
    assert near(b["expires_at"], t0 + TTL_MS), b
    hdr, claims = jwt_parts(b["desktop_token"])
    assert hdr.get("alg") == "HS256", hdr
    assert claims["sid"] == b["session"] and claims["role"] == "desktop", claims
    assert claims["sub"] == "desktop", claims
    assert abs(claims["iat"] - t0 / 1000) < 5, claims
    assert abs(claims["exp"] - (claims["iat"] + MAX_AGE_S)) <= 1, claims   # creation + max age
    # a second session is different in every identifier; an empty JSON body is fine
    r2 = daemon.api("POST", f"{V1}/sessions", json={})
    assert r2.status == 201, r2
    assert r2.body["session"] != b["session"] and r2.body["pair_code"] != b["pair_code"]
    assert r2.body["desktop_token"] != b["desktop_token"]


def test_get_session(daemon):
    c = daemon.create_session()
    sid, tok = c["session"], c["desktop_token"]
    r = daemon.api("GET", f"{V1}/sessions/{sid}", token=tok)
    assert r.status == 200, r
    assert r.body["session"] == sid and r.body["last_seq"] == 0 and r.body["delivered_seq"] == 0, r.body
    assert r.body["scanners"] == [], r.body
    assert near(r.body["expires_at"], now_ms() + TTL_MS), r.body
    p = daemon.pair(c["pair_code"], "Counter")
    r = daemon.api("GET", f"{V1}/sessions/{sid}", token=tok)
    assert len(r.body["scanners"]) == 1, r.body
    sc = r.body["scanners"][0]
    assert sc["id"] == p["scanner"] and sc["name"] == "Counter" and sc["connected"] is False, sc


def test_new_pair_code_keeps_earlier_codes_valid(daemon):
    c = daemon.create_session()
    sid, tok = c["session"], c["desktop_token"]
    t0 = now_ms()
    r = daemon.api("POST", f"{V1}/sessions/{sid}/pair-code", token=tok)
    assert r.status == 201, r
    assert set(r.body) >= {"pair_code", "pair_url", "expires_at"}, r.body
    code2 = r.body["pair_code"]
    assert code2 != c["pair_code"] and B64URL.match(code2) and len(code2) >= 22
    assert r.body["pair_url"] == f"{daemon.url}/p#{code2}"
    assert near(r.body["expires_at"], t0 + PAIR_TTL_MS), r.body
    # issuing a new code does not revoke the unused earlier one
    p1 = daemon.pair(c["pair_code"], "first")
    p2 = daemon.pair(code2, "second")
    assert p1["session"] == sid and p2["session"] == sid and p1["scanner"] != p2["scanner"]


def test_qr_svg_encodes_latest_pair_url(daemon, tmp_path):
    c = daemon.create_session()
    sid, tok = c["session"], c["desktop_token"]
    r = daemon.api("GET", f"{V1}/sessions/{sid}/qr.svg", token=tok)
    assert r.status == 200, r
    assert r.headers.get("Content-Type", "").split(";")[0].strip() == "image/svg+xml", r.headers
    text = r.raw.decode()
    assert text.lstrip().startswith(("<svg", "<?xml")), text[:80]
    assert "<path" in text
    grid = svg_to_modules(text)
    assert len(grid) >= 21 + 8
    if shutil.which("zbarimg"):
        assert zbar_decode_svg(text, str(tmp_path)) == c["pair_url"]
        # after a new code, the QR shows the new URL
        n = daemon.new_pair_code(sid, tok)
        r = daemon.api("GET", f"{V1}/sessions/{sid}/qr.svg", token=tok)
        assert r.status == 200
        assert zbar_decode_svg(r.raw.decode(), str(tmp_path)) == n["pair_url"]


def test_qr_svg_after_code_used_is_pair_code_invalid(daemon):
    c = daemon.create_session()
    daemon.pair(c["pair_code"], "x")
    assert_error(daemon.api("GET", f"{V1}/sessions/{c['session']}/qr.svg", token=c["desktop_token"]),
                 404, "pair_code_invalid")
    # a new code makes it available again
    daemon.new_pair_code(c["session"], c["desktop_token"])
    r = daemon.api("GET", f"{V1}/sessions/{c['session']}/qr.svg", token=c["desktop_token"])
    assert r.status == 200, r


# -------------------------------------------------------------- pairing
def test_pair(daemon):
    c = daemon.create_session()
    r = daemon.api("POST", f"{V1}/pair", json={"pair_code": c["pair_code"], "name": "Phone A"})
    assert r.status == 200, r
    b = r.body
    assert set(b) >= {"session", "scanner", "scanner_token", "expires_at"}, b
    assert b["session"] == c["session"]
    assert B64URL.match(b["scanner"]) and len(b["scanner"]) >= 11, b   # >= 64 bits
    assert near(b["expires_at"], now_ms() + TTL_MS), b
    hdr, claims = jwt_parts(b["scanner_token"])
    assert hdr.get("alg") == "HS256"
    assert claims["sid"] == c["session"] and claims["role"] == "scanner", claims
    assert claims["sub"] == b["scanner"], claims
    # the name is optional
    code = daemon.new_pair_code(c["session"], c["desktop_token"])["pair_code"]
    r = daemon.api("POST", f"{V1}/pair", json={"pair_code": code})
    assert r.status == 200, r
    assert r.body["scanner"] != b["scanner"]


def test_pair_code_is_single_use(daemon):
    c = daemon.create_session()
    daemon.pair(c["pair_code"], "one")
    assert_error(daemon.api("POST", f"{V1}/pair", json={"pair_code": c["pair_code"], "name": "two"}),
                 404, "pair_code_invalid")


def test_pair_bad_code(daemon):
    daemon.create_session()
    for code in ["AAAAAAAAAAAAAAAAAAAAAA", "nope", "x" * 200]:
        assert_error(daemon.api("POST", f"{V1}/pair", json={"pair_code": code, "name": "p"}),
                     404, "pair_code_invalid")


def test_session_full_at_max_scanners(daemon_factory):
    d = daemon_factory("--max-scanners", "2")
    s = d.session(scanners=2)
    code = d.new_pair_code(s.sid, s.desktop_token)["pair_code"]
    assert_error(d.api("POST", f"{V1}/pair", json={"pair_code": code, "name": "third"}),
                 409, "session_full")
    assert len(d.get_session(s.sid, s.desktop_token)["scanners"]) == 2


# -------------------------------------------------------------- scans
def test_post_scan_is_idempotent(daemon):
    s = daemon.session()
    tok = s.scanner["token"]
    r = daemon.post_scan(s.sid, tok, "p-1", EAN13, "EAN_13", scanned_at=now_ms())
    assert r.status == 201, r
    assert r.body["seq"] == 1 and r.body["id"] == "p-1" and r.body["duplicate"] is False, r.body
    r = daemon.post_scan(s.sid, tok, "p-1", EAN13, "EAN_13")
    assert r.status == 200, r
    assert r.body["seq"] == 1 and r.body["id"] == "p-1" and r.body["duplicate"] is True, r.body
    r = daemon.post_scan(s.sid, tok, "p-2", "free text", None)
    assert r.status == 201 and r.body["seq"] == 2 and r.body["duplicate"] is False, r


def test_get_scans_after_and_limit(daemon):
    s = daemon.session()
    tok, dtok = s.scanner["token"], s.desktop_token
    codes = [gtin(f"40000000000{i}") for i in range(1, 6)]
    for i, code in enumerate(codes, 1):
        assert daemon.post_scan(s.sid, tok, f"g{i}", code, "EAN_13").status == 201
    base = f"{V1}/sessions/{s.sid}/scans"
    r = daemon.api("GET", f"{base}?after=0", token=dtok)
    assert r.status == 200 and r.body["last_seq"] == 5, r
    assert [x["seq"] for x in r.body["scans"]] == [1, 2, 3, 4, 5]
    for i, item in enumerate(r.body["scans"], 1):
        assert_scan_item(item, i, f"g{i}", codes[i - 1], "EAN_13", s.scanner["id"])
        assert item["scanned_at"] is None
    r = daemon.api("GET", base, token=dtok)   # after defaults to 0
    assert [x["seq"] for x in r.body["scans"]] == [1, 2, 3, 4, 5]
    r = daemon.api("GET", f"{base}?after=0&limit=2", token=dtok)
    assert [x["seq"] for x in r.body["scans"]] == [1, 2] and r.body["last_seq"] == 5, r.body
    r = daemon.api("GET", f"{base}?after=2&limit=2", token=dtok)
    assert [x["seq"] for x in r.body["scans"]] == [3, 4]
    r = daemon.api("GET", f"{base}?after=4", token=dtok)
    assert [x["id"] for x in r.body["scans"]] == ["g5"]
    t = time.monotonic()
    r = daemon.api("GET", f"{base}?after=5", token=dtok)
    assert r.status == 200 and r.body == {"scans": [], "last_seq": 5} or (
        r.status == 200 and r.body["scans"] == [] and r.body["last_seq"] == 5), r
    assert time.monotonic() - t < 1.0 * SLOW   # wait defaults to 0
    r = daemon.api("GET", f"{base}?after=0&limit=0", token=dtok)   # clamped to 1
    assert r.status == 200 and [x["seq"] for x in r.body["scans"]] == [1], r
    r = daemon.api("GET", f"{base}?after=0&limit=100000", token=dtok)  # clamped to 500
    assert r.status == 200 and len(r.body["scans"]) == 5, r


def test_get_scans_default_limit_100_and_max_500(daemon_factory):
    d = daemon_factory("--rate-burst", "2000", "--rate-per-sec", "2000")

    async def body():
        s = d.session()
        sc, _ = await open_scanner(d, s.scanner["token"])
        n = 505
        for i in range(n):
            await sc.send(scan_msg(f"m{i}", f"M{i}"))
        for i in range(n):
            await sc.expect("ack", seq=i + 1)
        base = f"{V1}/sessions/{s.sid}/scans"
        r = d.api("GET", f"{base}?after=0", token=s.desktop_token)
        assert [x["seq"] for x in r.body["scans"]] == list(range(1, 101)) and r.body["last_seq"] == n
        r = d.api("GET", f"{base}?after=0&limit=500", token=s.desktop_token)
        assert [x["seq"] for x in r.body["scans"]] == list(range(1, 501))
        r = d.api("GET", f"{base}?after=0&limit=501", token=s.desktop_token)
        assert len(r.body["scans"]) == 500
        r = d.api("GET", f"{base}?after=500&limit=500", token=s.desktop_token)
        assert [x["seq"] for x in r.body["scans"]] == [501, 502, 503, 504, 505]
    run(body())


def test_long_poll_wakes_when_a_scan_arrives(daemon):
    s = daemon.session()
    poll = Background(daemon.api, "GET", f"{V1}/sessions/{s.sid}/scans?after=0&wait=5",
                      token=s.desktop_token, timeout=15)
    time.sleep(0.7)
    assert poll.t_end is None, f"long-poll returned before any scan: {poll.value!r}"
    t_post = time.monotonic()
    r = daemon.post_scan(s.sid, s.scanner["token"], "lp-1", "woke", "CODE_128")
    assert r.status == 201, r
    res = poll.result()
    assert res.status == 200, res
    assert poll.t_end - t_post < 0.5 * SLOW, f"long-poll took {poll.t_end - t_post:.3f}s after the scan"
    assert [x["id"] for x in res.body["scans"]] == ["lp-1"] and res.body["last_seq"] == 1, res.body
    assert_scan_item(res.body["scans"][0], 1, "lp-1", "woke", "CODE_128", s.scanner["id"])


def test_long_poll_times_out_empty(daemon):
    s = daemon.session()
    t = time.monotonic()
    r = daemon.api("GET", f"{V1}/sessions/{s.sid}/scans?after=0&wait=1", token=s.desktop_token)
    el = time.monotonic() - t
    assert r.status == 200, r
    assert r.body["scans"] == [] and r.body["last_seq"] == 0, r.body
    assert 0.9 <= el < 3.0, f"wait=1 returned after {el:.2f}s"


def test_long_poll_wait_is_clamped(daemon):
    s = daemon.session()
    assert daemon.post_scan(s.sid, s.scanner["token"], "w-1").status == 201
    base = f"{V1}/sessions/{s.sid}/scans"
    t = time.monotonic()
    r = daemon.api("GET", f"{base}?after=0&wait=31", token=s.desktop_token)
    assert r.status == 200 and [x["seq"] for x in r.body["scans"]] == [1], r
    assert time.monotonic() - t < 1.0 * SLOW
    t = time.monotonic()
    r = daemon.api("GET", f"{base}?after=1&wait=-5", token=s.desktop_token)   # clamped to 0
    assert r.status == 200 and r.body["scans"] == [], r
    assert time.monotonic() - t < 1.0 * SLOW


def test_ack_marks_delivered(daemon):
    s = daemon.session()
    tok, dtok = s.scanner["token"], s.desktop_token
    daemon.post_scan(s.sid, tok, "d-1")
    daemon.post_scan(s.sid, tok, "d-2", "free", None)
    r = daemon.api("GET", f"{V1}/sessions/{s.sid}/scans/d-1", token=tok)
    assert r.status == 200 and r.body["id"] == "d-1" and r.body["seq"] == 1, r
    assert r.body["delivered"] is False, r.body
    r = daemon.api("POST", f"{V1}/sessions/{s.sid}/ack", token=dtok, json={"seq": 1})
    assert r.status == 204 and not r.raw, r
    r = daemon.api("GET", f"{V1}/sessions/{s.sid}/scans/d-1", token=tok)
    assert r.status == 200 and r.body["delivered"] is True, r.body
    r = daemon.api("GET", f"{V1}/sessions/{s.sid}/scans/d-2", token=tok)
    assert r.status == 200 and r.body["seq"] == 2 and r.body["delivered"] is False, r.body
    assert daemon.get_session(s.sid, dtok)["delivered_seq"] == 1
    # acking again, or lower, is accepted
    r = daemon.api("POST", f"{V1}/sessions/{s.sid}/ack", token=dtok, json={"seq": 1})
    assert r.status == 204, r


def test_get_scan_unknown_id_is_not_found(daemon):
    s = daemon.session()
    daemon.post_scan(s.sid, s.scanner["token"], "known")
    assert_error(daemon.api("GET", f"{V1}/sessions/{s.sid}/scans/unknown-id", token=s.scanner["token"]),
                 404, "not_found")


def test_delete_session(daemon):
    async def body():
        s = daemon.session()
        desk, _ = await open_desktop(daemon, s.desktop_token)
        sc, _ = await open_scanner(daemon, s.scanner["token"])
        await desk.expect("scanner_joined")
        spare = daemon.new_pair_code(s.sid, s.desktop_token)["pair_code"]
        poll = Background(daemon.api, "GET", f"{V1}/sessions/{s.sid}/scans?after=0&wait=10",
                          token=s.desktop_token, timeout=20)
        time.sleep(0.3)
        r = daemon.api("DELETE", f"{V1}/sessions/{s.sid}", token=s.desktop_token)
        assert r.status == 204 and not r.raw, r
        for ws in (desk, sc):
            await ws.expect("session_ended", reason="deleted")
            await ws.expect_close(4004)
        assert_error(poll.result(), 401, "unauthorized")   # parked long-poll
        assert_error(daemon.api("GET", f"{V1}/sessions/{s.sid}", token=s.desktop_token),
                     401, "unauthorized")
        assert_error(daemon.api("DELETE", f"{V1}/sessions/{s.sid}", token=s.desktop_token),
                     401, "unauthorized")
        assert_error(daemon.post_scan(s.sid, s.scanner["token"], "late"), 401, "unauthorized")
        assert_error(daemon.api("POST", f"{V1}/pair", json={"pair_code": spare}),
                     404, "pair_code_invalid")
        again = await WS.open(daemon, label="hello-after-delete")
        await again.send({"type": "hello", "token": s.desktop_token})
        await again.expect_close(4004)
    run(body())


def test_decode_image_without_a_code(daemon):
    """A valid 1x1 PNG holds no code: 200 with an empty list. (tests/integration/
    test_decode.py covers decoding itself.)"""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(b"\x00\xff")) + chunk(b"IEND", b""))
    s = daemon.session()
    r = daemon.api("POST", f"{V1}/decode", token=s.scanner["token"], body=png,
                   headers={"Content-Type": "image/png"})
    assert r.status == 200, r
    assert r.body["codes"] == [] and isinstance(r.body["ms"], (int, float)), r.body
    r = daemon.api("POST", f"{V1}/decode", token=s.scanner["token"], body=b"hello",
                   headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")


def test_healthz(daemon):
    r = daemon.api("GET", "/healthz")
    assert r.status == 200, r
    assert "application/json" in r.headers.get("Content-Type", "")
    b = r.body
    assert b["status"] == "ok" and b["db"] == "ok", b
    assert isinstance(b["version"], str) and re.match(r"^\d+\.\d+\.\d+", b["version"]), b
    assert isinstance(b["uptime_s"], int) and 0 <= b["uptime_s"] < 60, b


def test_metrics(daemon):
    r = daemon.api("GET", "/metrics")
    assert r.status == 200, r
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
    text = r.raw.decode()
    samples = [l for l in text.splitlines() if l and not l.startswith("#")]
    assert any(l.startswith("scanbridge_") for l in samples), text[:500]
    for l in samples:
        assert re.match(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)( \d+)?$", l), \
            f"not Prometheus text: {l!r}"


def test_public_url_sets_pair_url(daemon_factory):
    d = daemon_factory("--public-url", "https://scanbridge.local")
    c = d.create_session()
    assert c["pair_url"] == "https://scanbridge.local/p#" + c["pair_code"]


def test_long_poll_outlives_the_idle_timeout(daemon):
    """A wait longer than lws's 10 s idle timeout is still answered, and woken."""
    s = daemon.session(scanners=1)
    out = {}

    def poll():
        t0 = time.monotonic()
        out["r"] = daemon.api("GET", f"{V1}/sessions/{s.sid}/scans?after=0&wait=14",
                              token=s.desktop_token, timeout=30)
        out["dt"] = time.monotonic() - t0

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(11.0)
    r = daemon.api("POST", f"{V1}/sessions/{s.sid}/scans", token=s.scanner["token"],
                   json={"id": "late-1", "code": "4006381333931", "format": "EAN_13"})
    assert r.status == 201, r
    th.join(20)
    assert out["r"].status == 200, out["r"]
    assert [x["id"] for x in out["r"].body["scans"]] == ["late-1"]
    assert 10.9 <= out["dt"] < 13.0, out["dt"]
