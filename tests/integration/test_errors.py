# SPDX-License-Identifier: MIT
"""Conformance of every error code and close code of PROTOCOL.md, with the
choices of docs/architecture.md."""
import asyncio
import json
import os
import time

import pytest

from sbtest import (EAN13, EAN8, ITF14, SLOW, UPCA, UPCE, V1, WS, assert_error, gtin,
                    make_jwt, now_ms, open_desktop, open_scanner, run, scan_msg, wrong_check)


def forge(d, claims, **kw):
    """A correctly signed token (the daemon's own secret) with chosen claims."""
    return make_jwt(claims, d.secret(), **kw)


def claims_for(sid, role="desktop", sub="desktop", exp_in=3600, **over):
    now = int(time.time())
    c = {"sid": sid, "role": role, "sub": sub, "iat": now, "exp": now + exp_in}
    c.update(over)
    return c


# ------------------------------------------------------------------ 4000
PROTOCOL_VIOLATIONS = {
    "not_json": "this is not json",
    "truncated_json": '{"type":"ping"',
    "json_array": '[{"type":"ping"}]',
    "json_string": '"ping"',
    "json_number": "42",
    "unknown_type": '{"type":"subscribe"}',
    "missing_type": '{"token":"x"}',
    "too_deep": '{"type":"ping","x":' + "[" * 12 + "1" + "]" * 12 + "}",
}


@pytest.mark.parametrize("case", sorted(PROTOCOL_VIOLATIONS))
def test_close_4000_after_hello(shared, case):
    d, s = shared

    async def body():
        ws, _ = await open_desktop(d, s.desktop_token)
        await ws.send(PROTOCOL_VIOLATIONS[case])
        await ws.expect_close(4000)
    run(body())


@pytest.mark.parametrize("case", ["not_json", "json_array", "unknown_type"])
def test_close_4000_before_hello(shared, case):
    d, _ = shared

    async def body():
        ws = await WS.open(d)
        await ws.send(PROTOCOL_VIOLATIONS[case])
        await ws.expect_close(4000)
    run(body())


# ------------------------------------------------------------------ 4001
def test_close_4001_no_hello_within_timeout(daemon_factory):
    d = daemon_factory("--hello-timeout", "1")

    async def body():
        ws = await WS.open(d)
        t = time.monotonic()
        await ws.expect_close(4001, timeout=4 * SLOW)
        assert time.monotonic() - t >= 0.8, "closed before the hello timeout"
    run(body())


def test_close_4001_first_message_not_hello(shared):
    d, s = shared

    async def body():
        for first in ({"type": "ping"}, scan_msg("early", "x"), {"type": "ack", "seq": 1}):
            ws = await WS.open(d)
            await ws.send(first)
            await ws.expect_close(4001)
    run(body())


def test_close_4001_bad_tokens(shared):
    d, s = shared
    other_key = os.urandom(32)
    claims = claims_for(s.sid)
    bad = {
        "garbage": "garbage",
        "empty": "",
        "not_a_string": 12345,
        "other_key": make_jwt(claims, other_key),
        "alg_none": make_jwt(claims, b"", alg="none"),
        "tampered": s.desktop_token[:-3] + ("AAA" if not s.desktop_token.endswith("AAA") else "BBB"),
        "unknown_role": forge(d, claims_for(s.sid, role="admin")),
        "missing_sub": forge(d, {k: v for k, v in claims.items() if k != "sub"}),
    }

    async def body():
        for name, tok in bad.items():
            ws = await WS.open(d, label=f"token-{name}")
            await ws.send({"type": "hello", "token": tok})
            await ws.expect_close(4001)
        ws = await WS.open(d, label="no-token")
        await ws.send({"type": "hello"})
        await ws.expect_close(4001)
        # the forged-token machinery itself is sound: a well-formed forged token works
        ws, w = await open_desktop(d, forge(d, claims_for(s.sid)))
        assert w["session"] == s.sid
    run(body())


def test_close_4001_binary_before_hello(shared):
    d, _ = shared

    async def body():
        ws = await WS.open(d)
        await ws.send(b"\x89PNG\r\n\x1a\n")
        await ws.expect_close(4001)
    run(body())


# ------------------------------------------------------------------ 4003 / 4004
def test_close_4003_kicked_scanner_hello(daemon):
    async def body():
        s = daemon.session()
        desk, _ = await open_desktop(daemon, s.desktop_token)
        await desk.send({"type": "kick", "scanner": s.scanner["id"]})
        await desk.expect("scanner_left", scanner=s.scanner["id"], reason="kicked")
        ws = await WS.open(daemon)
        await ws.send({"type": "hello", "token": s.scanner["token"]})
        await ws.expect_close(4003)
    run(body())


def test_close_4004_hello_with_deleted_session_token(daemon):
    async def body():
        s = daemon.session()
        r = daemon.api("DELETE", f"{V1}/sessions/{s.sid}", token=s.desktop_token)
        assert r.status == 204, r
        for tok in (s.desktop_token, s.scanner["token"]):
            ws = await WS.open(daemon)
            await ws.send({"type": "hello", "token": tok})
            await ws.expect_close(4004)   # no session_ended message first
    run(body())


def test_token_past_exp(daemon):
    """exp passed: REST 410 session_expired, WS close 4004 (architecture.md)."""
    s = daemon.session()
    tok = forge(daemon, claims_for(s.sid, exp_in=-10, iat=int(time.time()) - 100))
    assert_error(daemon.api("GET", f"{V1}/sessions/{s.sid}", token=tok), 410, "session_expired")

    async def body():
        ws = await WS.open(daemon)
        await ws.send({"type": "hello", "token": tok})
        await ws.expect_close(4004)
    run(body())
    assert daemon.get_session(s.sid, s.desktop_token)["session"] == s.sid


# ------------------------------------------------------------------ 4008 / 4013 / 1009
def test_close_4008_after_repeated_rate_limited(daemon_factory):
    d = daemon_factory("--rate-burst", "5", "--rate-per-sec", "1", "--rate-limit-close-after", "3")

    async def body():
        s = d.session()
        ws = await WS.open(d)
        await ws.send({"type": "hello", "token": s.desktop_token})
        for _ in range(20):
            try:
                await ws.send({"type": "ping"})
            except Exception:
                break
        msgs, code, reason = await ws.until_close(timeout=5)
        assert code == 4008, f"closed {code} {reason!r}; messages {msgs!r}"
        types = [m.get("type") for m in msgs]
        assert types[0] == "welcome", types
        pongs = types.count("pong")
        errors = [m for m in msgs if m.get("type") == "error"]
        assert 4 <= pongs <= 6, f"burst 5 (hello counted or not, one refill) allows 4-6 pongs: {types}"
        assert 2 <= len(errors) <= 3, f"close after 3 in a row: {types}"
        assert all(e["code"] == "rate_limited" for e in errors), errors
        first_err = types.index("error")
        assert all(t == "error" for t in types[first_err:]), f"errors must be consecutive: {types}"
    run(body())


def test_close_4013_at_max_connections_per_ip(daemon_factory):
    d = daemon_factory("--max-connections-per-ip", "2")
    s = d.session()

    async def body():
        await asyncio.sleep(0.2)   # let the REST connections close
        a, _ = await open_desktop(d, s.desktop_token, label="first")
        b, _ = await open_desktop(d, s.desktop_token, label="second")
        c = await WS.open(d, label="third")
        reason = await c.expect_close(4013)
        assert "capacity" in reason, reason
        await a.barrier()
        await b.barrier()
        await b.close()
        await asyncio.sleep(0.3)
        e, w = await open_desktop(d, s.desktop_token, label="after-a-slot-freed")
        assert w["session"] == s.sid
        await a.close()
        await e.close()
        await asyncio.sleep(0.2)
    run(body())


def test_close_1009_text_frame_over_16k(shared):
    d, s = shared

    async def body():
        ws, _ = await open_desktop(d, s.desktop_token)
        # exactly 16 KiB is allowed
        head = '{"type":"ping","pad":"'
        frame = head + "x" * (16384 - len(head) - 2) + '"}'
        assert len(frame) == 16384
        await ws.send(frame)
        await ws.expect("pong")
        big = head + "x" * (17 * 1024) + '"}'
        await ws.send(big)
        await ws.expect_close(1009)
    run(body())


# ------------------------------------------------------------------ error invalid_request
LONG_ID = "a" * 65
BAD_SCANS = [
    # (name, scan fields, expected error, error carries the id)
    ("id_with_space", {"id": "a b", "code": "x"}, "invalid_request", False),
    ("id_65_chars", {"id": LONG_ID, "code": "x"}, "invalid_request", False),
    ("id_empty", {"id": "", "code": "x"}, "invalid_request", False),
    ("id_missing", {"code": "x"}, "invalid_request", False),
    ("id_not_string", {"id": 17, "code": "x"}, "invalid_request", False),
    ("id_with_dot", {"id": "a.b", "code": "x"}, "invalid_request", False),
    ("code_empty", {"id": "{id}", "code": ""}, "invalid_request", True),
    ("code_missing", {"id": "{id}"}, "invalid_request", True),
    ("code_not_string", {"id": "{id}", "code": 4006381333931}, "invalid_request", True),
    ("code_513_code_points", {"id": "{id}", "code": "é" * 513}, "invalid_request", True),
    ("code_513_ascii", {"id": "{id}", "code": "x" * 513}, "invalid_request", True),
    ("code_soh", {"id": "{id}", "code": "ab\u0001cd"}, "invalid_request", True),
    ("code_nul", {"id": "{id}", "code": "ab\u0000cd"}, "invalid_request", True),
    ("code_newline", {"id": "{id}", "code": "ab\ncd"}, "invalid_request", True),
    ("code_del", {"id": "{id}", "code": "ab\u007fcd"}, "invalid_request", True),
    ("code_c1", {"id": "{id}", "code": "ab\u0085cd"}, "invalid_request", True),
    ("code_lone_surrogate", {"id": "{id}", "code": "ab\ud800cd"}, "invalid_request", True),
    ("format_EAN13", {"id": "{id}", "code": EAN13, "format": "EAN13"}, "invalid_request", True),
    ("format_lowercase", {"id": "{id}", "code": EAN13, "format": "ean_13"}, "invalid_request", True),
    ("format_not_string", {"id": "{id}", "code": EAN13, "format": 13}, "invalid_request", True),
    ("ean13_12_digits", {"id": "{id}", "code": EAN13[:12], "format": "EAN_13"}, "invalid_request", True),
    ("ean13_letter", {"id": "{id}", "code": EAN13[:12] + "X", "format": "EAN_13"}, "invalid_request", True),
    ("ean8_7_digits", {"id": "{id}", "code": EAN8[:7], "format": "EAN_8"}, "invalid_request", True),
    ("upca_11_digits", {"id": "{id}", "code": UPCA[:11], "format": "UPC_A"}, "invalid_request", True),
    ("upce_7_digits", {"id": "{id}", "code": UPCE[:7], "format": "UPC_E"}, "invalid_request", True),
    ("scanned_at_string", {"id": "{id}", "code": "x", "scanned_at": "2024-01-01T00:00:00Z"},
     "invalid_request", True),
    ("ean13_check_digit", {"id": "{id}", "code": "4006381333932", "format": "EAN_13"},
     "invalid_check_digit", True),
    ("ean8_check_digit", {"id": "{id}", "code": wrong_check(EAN8), "format": "EAN_8"},
     "invalid_check_digit", True),
    ("upca_check_digit", {"id": "{id}", "code": wrong_check(UPCA), "format": "UPC_A"},
     "invalid_check_digit", True),
    ("upce_check_digit", {"id": "{id}", "code": wrong_check(UPCE), "format": "UPC_E"},
     "invalid_check_digit", True),
    ("itf14_check_digit", {"id": "{id}", "code": wrong_check(ITF14), "format": "ITF"},
     "invalid_check_digit", True),
]


@pytest.mark.parametrize("name,fields,code,has_id", BAD_SCANS, ids=[c[0] for c in BAD_SCANS])
def test_ws_scan_field_errors(shared, name, fields, code, has_id):
    d, s = shared
    scan_id = "case-" + name.replace("_", "-")
    msg = {"type": "scan"}
    for k, v in fields.items():
        msg[k] = scan_id if v == "{id}" else v

    async def body():
        ws, w = await open_scanner(d, s.scanner["token"])
        head = w["last_seq"]
        await ws.send(json.dumps(msg))
        err = await ws.expect("error", code=code)
        assert isinstance(err["message"], str) and err["message"], err
        if has_id:
            assert err.get("id") == scan_id, f"error answering a scan must carry its id: {err}"
        await ws.barrier()                      # the socket stays open
        ok_id = "ok-" + scan_id                 # nothing was stored: no seq consumed
        await ws.send(scan_msg(ok_id, "valid"))
        await ws.expect("ack", id=ok_id, seq=head + 1, duplicate=False)
        if has_id:   # the refused id is still free
            await ws.send(scan_msg(scan_id, "valid"))
            await ws.expect("ack", id=scan_id, seq=head + 2, duplicate=False)
        await ws.close()
    run(body())


GOOD_SCANS = [
    ("ean13", EAN13, "EAN_13"), ("ean8", EAN8, "EAN_8"), ("upca", UPCA, "UPC_A"),
    ("upce", UPCE, "UPC_E"), ("itf14", ITF14, "ITF"), ("itf6_no_check", "123457", "ITF"),
    ("itf14_unknown_format", wrong_check(ITF14), "UNKNOWN"),
    ("ean13_as_code128", "4006381333932", "CODE_128"),
    ("id_64_chars", "x", "UNKNOWN"), ("code_512_code_points", "€" * 512, "QR_CODE"),
    ("code_astral", "\U0001F600" * 3, "QR_CODE"),
] + [(f"format_{f.lower()}", "ABC-123", f) for f in
     ("CODE_128", "CODE_39", "CODE_93", "CODABAR", "QR_CODE", "DATA_MATRIX", "PDF_417",
      "AZTEC", "DATABAR", "UNKNOWN")]


@pytest.mark.parametrize("name,code,fmt", GOOD_SCANS, ids=[c[0] for c in GOOD_SCANS])
def test_ws_scan_valid_edge_cases_are_accepted(shared, name, code, fmt):
    d, s = shared
    scan_id = "A-_z" * 16 if name == "id_64_chars" else "good-" + name.replace("_", "-")
    assert len(scan_id) <= 64

    async def body():
        ws, w = await open_scanner(d, s.scanner["token"])
        head = w["last_seq"]
        desk, _ = await open_desktop(d, s.desktop_token, last_seq=head)
        await ws.send(scan_msg(scan_id, code, fmt))
        await ws.expect("ack", id=scan_id, seq=head + 1, duplicate=False)
        await desk.expect("scan", seq=head + 1, id=scan_id, code=code, format=fmt)
        await ws.close()
        await desk.close()
    run(body())


def test_ws_wrong_role_and_state_errors(shared):
    d, s = shared

    async def body():
        sc, w = await open_scanner(d, s.scanner["token"])
        head = w["last_seq"]
        desk, _ = await open_desktop(d, s.desktop_token, last_seq=head)   # no replay
        cases = [
            (desk, scan_msg("from-desktop", "x")),                      # scan from a desktop
            (sc, {"type": "ack", "seq": 1}),                            # ack from a scanner
            (sc, {"type": "kick", "scanner": s.scanner["id"]}),        # kick from a scanner
            (desk, {"type": "hello", "token": s.desktop_token}),       # second hello
            (sc, {"type": "hello", "token": s.scanner["token"]}),      # second hello
            (desk, {"type": "ack", "seq": head + 100}),                 # ack above the head
            (desk, {"type": "ack", "seq": "1"}),                        # ack seq not integer
            (desk, {"type": "ack"}),                                    # ack without seq
            (desk, {"type": "kick", "scanner": "no-such-scanner"}),    # kick unknown scanner
            (desk, {"type": "kick"}),                                   # kick without scanner
        ]
        for ws, msg in cases:
            await ws.send(msg)
            err = await ws.expect("error", code="invalid_request")
            assert isinstance(err["message"], str) and err["message"], err
            await ws.barrier()
        await desk.barrier()
        await sc.barrier()
        # nothing was stored, delivered or kicked
        await sc.send(scan_msg("after-role-errors", "x"))
        await sc.expect("ack", id="after-role-errors", seq=head + 1, duplicate=False)
        await desk.expect("scan", seq=head + 1)
        info = d.get_session(s.sid, s.desktop_token)
        assert s.scanner["id"] in [x["id"] for x in info["scanners"]]
    run(body())


def test_ws_binary_frames(shared):
    d, s = shared

    async def body():
        sc, w = await open_scanner(d, s.scanner["token"])
        await sc.send(b"neither a JPEG nor a PNG")
        await sc.expect("error", code="unsupported_media_type")
        await sc.send(b"\xff\xd8\xff\xe0 not really a jpeg")
        await sc.expect("error", code="invalid_request")
        await sc.barrier()
        desk, _ = await open_desktop(d, s.desktop_token, last_seq=w["last_seq"])
        await desk.send(b"\x89PNG\r\n\x1a\n")
        await desk.expect("error", code="invalid_request")
        await desk.barrier()
    run(body())


# ------------------------------------------------------------------ REST errors
BAD_REST_SCANS = [
    ("not_json", b"{not json", "invalid_request"),
    ("json_array", b'[{"id":"a","code":"x"}]', "invalid_request"),
    ("empty_object", b"{}", "invalid_request"),
    ("missing_code", b'{"id":"r1"}', "invalid_request"),
    ("missing_id", b'{"code":"x"}', "invalid_request"),
    ("id_wrong_type", b'{"id":5,"code":"x"}', "invalid_request"),
    ("id_with_space", b'{"id":"a b","code":"x"}', "invalid_request"),
    ("code_control", b'{"id":"r2","code":"a\\u0001b"}', "invalid_request"),
    ("unknown_format", b'{"id":"r3","code":"x","format":"EAN13"}', "invalid_request"),
    ("ean13_12_digits", b'{"id":"r4","code":"400638133393","format":"EAN_13"}', "invalid_request"),
    ("scanned_at_string", b'{"id":"r5","code":"x","scanned_at":"now"}', "invalid_request"),
    ("ean13_check_digit", b'{"id":"r6","code":"4006381333932","format":"EAN_13"}', "invalid_check_digit"),
    ("itf14_check_digit", ('{"id":"r7","code":"%s","format":"ITF"}' % wrong_check(ITF14)).encode(),
     "invalid_check_digit"),
]


@pytest.mark.parametrize("name,body,code", BAD_REST_SCANS, ids=[c[0] for c in BAD_REST_SCANS])
def test_rest_scan_400(shared, name, body, code):
    d, s = shared
    r = d.api("POST", f"{V1}/sessions/{s.sid}/scans", token=s.scanner["token"], body=body,
              headers={"Content-Type": "application/json"})
    assert_error(r, 400, code)


def test_rest_other_400s(shared):
    d, s = shared
    tok = s.desktop_token
    base = f"{V1}/sessions/{s.sid}"
    h = {"Content-Type": "application/json"}
    head = d.get_session(s.sid, tok)["last_seq"]
    for body in (b"nope", b"{}", b'{"seq":"1"}', b"[1]", b'{"seq":%d}' % (head + 1000)):
        assert_error(d.api("POST", f"{base}/ack", token=tok, body=body, headers=h), 400, "invalid_request")
    for body in (b"nope", b"{}", b'{"pair_code":5}', b"[]"):
        assert_error(d.api("POST", f"{V1}/pair", body=body, headers=h), 400, "invalid_request")
    for q in ("after=abc", "limit=x", "wait=soon", "after=1.5"):
        assert_error(d.api("GET", f"{base}/scans?{q}", token=tok), 400, "invalid_request")


def test_rest_401(shared):
    d, s = shared
    other_key = os.urandom(32)
    good = claims_for(s.sid)
    path = f"{V1}/sessions/{s.sid}"
    assert_error(d.api("GET", path), 401, "unauthorized")
    for tok in ("garbage", "a.b.c", make_jwt(good, other_key), make_jwt(good, b"", alg="none"),
                forge(d, claims_for(s.sid, role="admin")),
                forge(d, {k: v for k, v in good.items() if k != "sid"})):
        assert_error(d.api("GET", path, token=tok), 401, "unauthorized")
    assert_error(d.api("GET", path, headers={"Authorization": "Basic dXNlcjpwYXNz"}),
                 401, "unauthorized")
    assert_error(d.api("GET", path, headers={"Authorization": s.desktop_token}), 401, "unauthorized")
    assert_error(d.post_scan(s.sid, make_jwt(claims_for(s.sid, "scanner", s.scanner["id"]), other_key),
                             "x401"), 401, "unauthorized")
    # control: the forging is right, so the refusals above are about the tokens
    r = d.api("GET", path, token=forge(d, good))
    assert r.status == 200, r


def test_rest_403(daemon):
    A = daemon.session()
    B = daemon.session()
    daemon.post_scan(A.sid, A.scanner["token"], "a-1")
    sc, dt = A.scanner["token"], A.desktop_token
    for method, path, tok, body in [
        ("GET", f"{V1}/sessions/{A.sid}", sc, None),                    # scanner on desktop endpoints
        ("DELETE", f"{V1}/sessions/{A.sid}", sc, None),
        ("POST", f"{V1}/sessions/{A.sid}/pair-code", sc, None),
        ("GET", f"{V1}/sessions/{A.sid}/qr.svg", sc, None),
        ("GET", f"{V1}/sessions/{A.sid}/scans?after=0", sc, None),
        ("POST", f"{V1}/sessions/{A.sid}/ack", sc, {"seq": 1}),
        ("POST", f"{V1}/sessions/{A.sid}/scans", dt, {"id": "d-1", "code": "x"}),  # desktop on scanner ones
        ("GET", f"{V1}/sessions/{A.sid}/scans/a-1", dt, None),
        ("GET", f"{V1}/sessions/{B.sid}", dt, None),                    # other session
        ("DELETE", f"{V1}/sessions/{B.sid}", dt, None),
    ]:
        assert_error(daemon.api(method, path, token=tok, json=body), 403, "forbidden")
    assert daemon.get_session(A.sid, dt)["last_seq"] == 1
    assert daemon.get_session(B.sid, B.desktop_token)["session"] == B.sid


def test_rest_404(daemon):
    s = daemon.session()
    for path in (f"{V1}/nope", f"{V1}/sessions/{s.sid}/nope", f"{V1}/sessions/{s.sid}/scans/a/b"):
        assert_error(daemon.api("GET", path, token=s.desktop_token), 404, "not_found")
    assert_error(daemon.api("POST", f"{V1}/pair", json={"pair_code": "AAAAAAAAAAAAAAAAAAAAAA"}),
                 404, "pair_code_invalid")


def test_rest_409_session_full(daemon_factory):
    d = daemon_factory("--max-scanners", "1")
    s = d.session()
    code = d.new_pair_code(s.sid, s.desktop_token)["pair_code"]
    assert_error(d.api("POST", f"{V1}/pair", json={"pair_code": code, "name": "2nd"}), 409, "session_full")


def test_rest_410_session_expired(daemon_factory):
    d = daemon_factory("--session-ttl", "2", "--cleanup-interval", "1")
    s = d.session()
    d.post_scan(s.sid, s.scanner["token"], "e-1")
    spare = d.new_pair_code(s.sid, s.desktop_token)["pair_code"]
    time.sleep(3.5)
    base = f"{V1}/sessions/{s.sid}"
    assert_error(d.api("GET", base, token=s.desktop_token), 410, "session_expired")
    assert_error(d.api("GET", f"{base}/scans?after=0", token=s.desktop_token), 410, "session_expired")
    assert_error(d.api("POST", f"{base}/ack", token=s.desktop_token, json={"seq": 1}),
                 410, "session_expired")
    assert_error(d.post_scan(s.sid, s.scanner["token"], "e-2"), 410, "session_expired")
    assert_error(d.api("GET", f"{base}/scans/e-1", token=s.scanner["token"]), 410, "session_expired")
    assert_error(d.api("POST", f"{V1}/pair", json={"pair_code": spare}), 404, "pair_code_invalid")

    async def body():
        ws = await WS.open(d)
        await ws.send({"type": "hello", "token": s.desktop_token})
        await ws.expect_close(4004)
    run(body())


def test_rest_413_too_large(daemon):
    s = daemon.session()
    big = json.dumps({"id": "big", "code": "x", "pad": "y" * (100 * 1024)}).encode()
    r = daemon.api("POST", f"{V1}/sessions/{s.sid}/scans", token=s.scanner["token"], body=big,
                   headers={"Content-Type": "application/json"})
    assert_error(r, 413, "too_large")
    # the daemon is fine afterwards and nothing was stored
    r = daemon.post_scan(s.sid, s.scanner["token"], "big")
    assert r.status == 201 and r.body["seq"] == 1, r


def test_rest_415(daemon):
    s = daemon.session()
    png_signature = b"\x89PNG\r\n\x1a\n"
    for ctype, body in (("image/png", b"hello"), ("text/plain", b"hello"),
                        ("application/octet-stream", png_signature), (None, png_signature)):
        r = daemon.api("POST", f"{V1}/decode", token=s.scanner["token"], body=body,
                       headers={"Content-Type": ctype} if ctype else {})
        assert_error(r, 415, "unsupported_media_type")


def test_rest_429_pair_attempts(daemon_factory):
    d = daemon_factory("--pair-attempts-per-ip-per-min", "3")
    c = d.create_session()
    for i in range(3):
        assert_error(d.api("POST", f"{V1}/pair", json={"pair_code": f"wrong-{i}"}),
                     404, "pair_code_invalid")
    r = d.api("POST", f"{V1}/pair", json={"pair_code": c["pair_code"]})   # even a good code
    assert_error(r, 429, "rate_limited")
    ra = r.headers.get("Retry-After")
    assert ra is not None and ra.strip().isdigit() and 1 <= int(ra) <= 60, f"Retry-After {ra!r}"
    # the refused attempt did not pair anything
    assert d.get_session(c["session"], c["desktop_token"])["scanners"] == []


def test_rest_429_sessions_per_ip(daemon_factory):
    d = daemon_factory("--sessions-per-ip-per-min", "2")
    d.create_session()
    d.create_session()
    r = d.api("POST", f"{V1}/sessions")
    assert_error(r, 429, "rate_limited")
    ra = r.headers.get("Retry-After")
    assert ra is not None and ra.strip().isdigit() and 1 <= int(ra) <= 60, f"Retry-After {ra!r}"


def test_rest_503_max_sessions(daemon_factory):
    d = daemon_factory("--max-sessions", "1")
    d.create_session()
    assert_error(d.api("POST", f"{V1}/sessions"), 503, "unavailable")


def test_rest_405_method_not_allowed(daemon):
    s = daemon.session()
    for method, path, allowed in [
        ("PUT", f"{V1}/sessions", {"POST"}),
        ("GET", f"{V1}/pair", {"POST"}),
        ("PATCH", f"{V1}/sessions/{s.sid}", {"GET", "DELETE"}),
        ("GET", f"{V1}/sessions/{s.sid}/ack", {"POST"}),
        ("DELETE", f"{V1}/sessions/{s.sid}/scans", {"GET", "POST"}),
    ]:
        r = daemon.api(method, path, token=s.desktop_token)
        assert_error(r, 405, "method_not_allowed")
        allow = {m.strip().upper() for m in (r.headers.get("Allow") or "").split(",") if m.strip()}
        assert allowed <= allow, f"{method} {path}: Allow {r.headers.get('Allow')!r}"
        assert method not in allow


def test_desktop_last_seq_above_head_is_refused_and_clamped(daemon):
    """A desktop claiming scans the session never had gets invalid_request and
    then every new scan from the real head on."""
    async def body():
        s = daemon.session(scanners=1)
        d = await WS.open(daemon)
        await d.send({"type": "hello", "token": s.desktop_token, "last_seq": 50})
        w = await d.expect("welcome")
        assert w["last_seq"] == 0
        await d.expect("error", code="invalid_request")
        sc = await WS.open(daemon)
        await sc.send({"type": "hello", "token": s.scanner["token"]})
        await sc.expect("welcome")
        await sc.send({"type": "scan", "id": "first", "code": "abc"})
        await sc.expect("ack", seq=1)
        m = await d.recv()
        while m["type"] != "scan":
            m = await d.recv()
        assert m["seq"] == 1 and m["id"] == "first"
    run(body())


def test_desktop_acks_are_not_rate_limited(daemon_factory):
    """A desktop acking every scan of busy scanners is never throttled for it:
    acks are exempt (one per scan at most); other messages still pay."""
    d = daemon_factory("--rate-burst", "5", "--rate-per-sec", "1", "--rate-limit-close-after", "3")

    async def body():
        s = d.session(scanners=1)
        desk, _ = await open_desktop(d, s.desktop_token)
        for i in range(30):
            r = d.api("POST", f"{V1}/sessions/{s.sid}/scans", token=s.scanner["token"],
                      json={"id": f"r{i}", "code": "4006381333931", "format": "EAN_13"})
            assert r.status == 201, r
        for i in range(1, 31):
            m = await desk.recv()
            while m["type"] != "scan":
                m = await desk.recv()
            assert m["seq"] == i
            await desk.send({"type": "ack", "seq": i})
        await desk.send({"type": "ping"})
        await desk.expect("pong")     # nothing (no rate_limited error) came before it
    run(body())
