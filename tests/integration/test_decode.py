# SPDX-License-Identifier: MIT
"""Server-side decoding through the real daemon: binary WebSocket frames →
`decoded`, POST /api/v1/decode → 200 {codes, ms}, the documented errors for
hostile input (each followed by a healthy daemon), the per-connection
2-in-flight / freshest-frame-wins rule, cancellation when the client goes away,
the decode metrics, and a valgrind run of the worker pool's shutdown.

Test images are made here, with no image library: EAN-13 bars from the
standard's bit patterns, written as an 8-bit gray PNG (zlib + struct) or as a
baseline JPEG whose 8x8 blocks are each one flat colour (DC-only coefficients,
so the encoder is a few lines and the decoded pixels are exact)."""
import asyncio
import os
import shutil
import struct
import threading
import time
import zlib

import pytest

import sbtest
from sbtest import (EAN13, SANITIZE, SLOW, V1, WS, assert_error, gtin, open_desktop,
                    open_scanner, run)


# ------------------------------------------------------------------ images
_L = ["0001101", "0011001", "0010011", "0111101", "0100011",
      "0110001", "0101111", "0111011", "0110111", "0001011"]
_R = ["".join("1" if b == "0" else "0" for b in c) for c in _L]
_G = [r[::-1] for r in _R]
_PARITY = ["LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG",
           "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL"]
QUIET = 11  # modules of white each side (EAN-13 asks for 11 left, 7 right)


def ean13_modules(code):
    """The 95 modules of an EAN-13 as a '0'/'1' string (1 = bar)."""
    assert len(code) == 13 and code == gtin(code[:12])
    d = [int(c) for c in code]
    bits = "101"
    for i, parity in enumerate(_PARITY[d[0]]):
        bits += (_L if parity == "L" else _G)[d[1 + i]]
    bits += "01010"
    for x in d[7:]:
        bits += _R[x]
    return bits + "101"


def barcode_rows(code, module, bar_h, canvas=None, align=1):
    """(width, height, rows of gray bytes): the bars black on white, centred on
    a canvas (w, h) if given, placed at multiples of `align` pixels."""
    bits = "0" * QUIET + ean13_modules(code) + "0" * QUIET
    bw = len(bits) * module
    cw, ch = canvas or (bw, bar_h)
    x0 = ((cw - bw) // 2) // align * align
    y0 = ((ch - bar_h) // 2) // align * align
    row = bytearray(b"\xff" * cw)
    for i, b in enumerate(bits):
        if b == "1":
            row[x0 + i * module:x0 + (i + 1) * module] = b"\x00" * module
    white, bars = b"\xff" * cw, bytes(row)
    return cw, ch, [bars if y0 <= y < y0 + bar_h else white for y in range(ch)]


def _png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))


def png_header(width, height):
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                                                     8, 0, 0, 0, 0))


def png_gray(width, height, rows):
    raw = b"".join(b"\x00" + r for r in rows)
    return (png_header(width, height) + _png_chunk(b"IDAT", zlib.compress(raw, 6)) +
            _png_chunk(b"IEND", b""))


def ean13_png(code=EAN13, module=3, bar_h=120, canvas=None):
    return png_gray(*barcode_rows(code, module, bar_h, canvas))


# A baseline gray JPEG of flat 8x8 blocks: quantiser 1, DC only, every block's
# AC is a bare EOB. Standard luminance DC Huffman table; a one-symbol AC table.
_DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
_DC_VALS = list(range(12))
_AC_BITS = [1] + [0] * 15
_AC_VALS = [0x00]


def _huff_codes(bits, vals):
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[vals[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


def _segment(marker, payload):
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def jpeg_header(width, height):
    dqt = _segment(0xDB, b"\x00" + b"\x01" * 64)
    sof = _segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    dht = (_segment(0xC4, b"\x00" + bytes(_DC_BITS) + bytes(_DC_VALS)) +
           _segment(0xC4, b"\x10" + bytes(_AC_BITS) + bytes(_AC_VALS)))
    sos = _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    return b"\xff\xd8" + dqt + sof + dht + sos


def jpeg_blocks(width, height, rows):
    """rows must be flat over each aligned 8x8 block; width, height % 8 == 0."""
    assert width % 8 == 0 and height % 8 == 0
    dc_codes, (eob, eob_len) = _huff_codes(_DC_BITS, _DC_VALS), _huff_codes(_AC_BITS, _AC_VALS)[0]
    acc, nbits, out, prev = 0, 0, bytearray(), 0

    def put(value, length):
        nonlocal acc, nbits
        acc = (acc << length) | value
        nbits += length
        while nbits >= 8:
            nbits -= 8
            byte = (acc >> nbits) & 0xFF
            out.append(byte)
            if byte == 0xFF:
                out.append(0x00)
        acc &= (1 << nbits) - 1

    for by in range(0, height, 8):
        for bx in range(0, width, 8):
            dc = 8 * (rows[by][bx] - 128)
            diff, prev = dc - prev, dc
            size = abs(diff).bit_length()
            code, length = dc_codes[size]
            put(code, length)
            if size:
                put(diff if diff >= 0 else diff + (1 << size) - 1, size)
            put(eob, eob_len)
    if nbits:
        put((1 << (8 - nbits)) - 1, 8 - nbits)
    return jpeg_header(width, height) + bytes(out) + b"\xff\xd9"


def ean13_jpeg(code=EAN13, canvas=(1280, 720)):
    return jpeg_blocks(*barcode_rows(code, 8, 160, canvas, align=8))


def white_png(w=320, h=240):
    return png_gray(w, h, [b"\xff" * w] * h)


def bomb_png(side=100000):
    """A valid signature and IHDR claiming side x side pixels, then a scrap of data."""
    return png_header(side, side) + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        _png_chunk(b"IEND", b"")


def bomb_jpeg(side=65000):
    return jpeg_header(side, side) + b"\x00" * 64 + b"\xff\xd9"


def codes_of(code_list):
    return [(c["code"], c["format"]) for c in code_list]


# ------------------------------------------------------------------ helpers
def decode(d, token, body, ctype="image/png", timeout=20.0):
    headers = {} if ctype is None else {"Content-Type": ctype}
    return d.api("POST", f"{V1}/decode", token=token, body=body, headers=headers, timeout=timeout)


def healthy(d):
    assert d.alive(), "scanbridged died:\n" + d.log()[-3000:]
    r = d.health()
    assert r.status == 200 and r.body["status"] == "ok", r


def assert_decoded(msg, expect):
    assert msg.get("type") == "decoded", msg
    assert set(msg) == {"type", "codes", "ms"}, msg
    assert isinstance(msg["ms"], (int, float)) and msg["ms"] >= 0, msg
    for c in msg["codes"]:
        assert set(c) == {"code", "format"}, msg
    assert codes_of(msg["codes"]) == expect, msg


# ------------------------------------------------------------------ self-checks
def test_generated_images_are_what_they_claim(tmp_path):
    """zbarimg (an independent decoder) reads our PNG, when it is installed."""
    if not shutil.which("zbarimg"):
        pytest.skip("zbarimg not installed")
    p = tmp_path / "ean.png"
    p.write_bytes(ean13_png())
    import subprocess
    out = subprocess.run(["zbarimg", "-q", "--raw", str(p)], capture_output=True, timeout=20)
    assert out.stdout.decode().strip() == EAN13, out


# ------------------------------------------------------------------ WebSocket
def test_ws_frame_is_decoded_and_never_becomes_a_scan(shared):
    d, s = shared
    other = gtin("590123412345")

    async def body():
        sc, w = await open_scanner(d, s.scanner["token"])
        desk, _ = await open_desktop(d, s.desktop_token, last_seq=w["last_seq"])
        await sc.send(ean13_png())
        assert_decoded(await sc.recv(timeout=10 * SLOW), [(EAN13, "EAN_13")])
        await sc.send(ean13_jpeg(other))
        assert_decoded(await sc.recv(timeout=10 * SLOW), [(other, "EAN_13")])
        await sc.send(white_png())
        assert_decoded(await sc.recv(timeout=10 * SLOW), [])
        await sc.barrier()
        await desk.barrier()   # no scan reached the desktop
        return w["last_seq"]
    head = run(body())
    assert d.get_session(s.sid, s.desktop_token)["last_seq"] == head


def test_ws_hostile_frames_get_errors_and_the_socket_stays_open(shared):
    d, s = shared
    png = ean13_png()
    cases = [
        (b"hello, not an image", "unsupported_media_type"),
        (b"GIF89a" + b"\x00" * 32, "unsupported_media_type"),
        (png[:len(png) // 2], "invalid_request"),        # truncated PNG
        (png[:20], "invalid_request"),                    # cut inside the header
        (bomb_png(), "invalid_request"),                  # 100000 x 100000
        (bomb_jpeg(), "invalid_request"),                 # 65000 x 65000
        (b"", "invalid_request"),                         # zero-size
    ]

    async def body():
        sc, _ = await open_scanner(d, s.scanner["token"])
        for frame, code in cases:
            await sc.send(frame)
            e = await sc.expect("error", timeout=10 * SLOW, code=code)
            assert e["message"], e
            healthy(d)
        # the socket still decodes
        await sc.send(png)
        assert_decoded(await sc.recv(timeout=10 * SLOW), [(EAN13, "EAN_13")])
        await sc.barrier()
    run(body())


def test_ws_desktop_binary_is_invalid_request(shared):
    d, s = shared

    async def body():
        head = d.get_session(s.sid, s.desktop_token)["last_seq"]
        desk, _ = await open_desktop(d, s.desktop_token, last_seq=head)
        await desk.send(ean13_png())
        await desk.expect("error", code="invalid_request")
        await desk.barrier()
    run(body())


def test_ws_image_over_max_image_bytes_closes_1009(daemon_factory):
    d = daemon_factory("--max-image-bytes", "100000")
    s = d.session()

    async def body():
        sc, _ = await open_scanner(d, s.scanner["token"])
        await sc.send(b"\x89PNG\r\n\x1a\n" + os.urandom(100001))
        await sc.expect_close(1009)
    run(body())
    healthy(d)
    assert d.metric("scanbridge_frames_refused_total") == 1


def test_ws_two_in_flight_freshest_frame_wins(daemon_factory):
    """Frames sent faster than they decode: the first two go to the decoder, one
    more waits and each newer frame replaces it. Every answer is `decoded`, the
    first two and the last frame are always answered, answers plus dropped
    frames account for every frame sent, and nothing is answered twice."""
    d = daemon_factory("--decode-workers", "1")
    s = d.session()
    n = 8
    codes = [gtin(f"40000000000{i}") for i in range(n)]
    # photo-like frames so a decode takes a while: 1600x1200, bars in the middle
    frames = [ean13_png(c, module=4, bar_h=300, canvas=(1600, 1200)) for c in codes]

    async def body():
        sc, _ = await open_scanner(d, s.scanner["token"])
        for f in frames:
            await sc.send(f)
        answered = []
        while codes[-1] not in answered:
            msg = await sc.recv(timeout=30 * SLOW)
            assert msg["type"] == "decoded", msg
            assert len(msg["codes"]) == 1 and msg["codes"][0]["format"] == "EAN_13", msg
            answered.append(msg["codes"][0]["code"])
        await sc.quiet(0.5 * SLOW)
        return answered
    answered = run(body())
    assert len(answered) == len(set(answered)), answered
    assert set(answered) <= set(codes)
    assert codes[0] in answered and codes[1] in answered and codes[-1] in answered, answered
    dropped = d.metric("scanbridge_frames_dropped_total")
    assert len(answered) + dropped == n, (answered, dropped)
    assert d.metric("scanbridge_frames_decoded_total") == len(answered)
    assert d.metric("scanbridge_frames_found_total") == len(answered)
    assert d.metric("scanbridge_decode_seconds_count") == len(answered)


def test_ws_busy_when_the_queue_is_full(daemon_factory):
    """One worker, a queue of one: frames from several scanners at once find it
    full and are answered `busy`; the socket stays open and later frames work."""
    d = daemon_factory("--decode-workers", "1", "--decode-queue-max", "1")
    s = d.session(scanners=4)
    frame = ean13_png(module=4, bar_h=300, canvas=(1600, 1200))

    async def body():
        scs = [(await open_scanner(d, sc["token"], label=f"sc{i}"))[0]
               for i, sc in enumerate(s.scanners)]
        for attempt in range(5):
            await asyncio.gather(*(sc.send(frame) for sc in scs for _ in range(2)))
            got = [await sc.recv(timeout=30 * SLOW) for sc in scs for _ in range(2)]
            for m in got:
                assert m["type"] == "decoded" or (m["type"] == "error" and m["code"] == "busy"), m
            if any(m["type"] == "error" for m in got):
                break
        else:
            pytest.fail("the decoder was never busy with 8 frames for a queue of 1")
        await scs[0].send(ean13_png())
        assert_decoded(await scs[0].recv(timeout=10 * SLOW), [(EAN13, "EAN_13")])
    run(body())
    assert d.metric("scanbridge_frames_refused_total") >= 1
    healthy(d)


def test_ws_close_with_frames_in_flight(daemon_factory):
    """The socket goes away while its frames are at the decoder (and one waits):
    the results are dropped, nothing touches the freed connection."""
    d = daemon_factory("--decode-workers", "1")
    s = d.session()
    frame = ean13_png(module=4, bar_h=300, canvas=(1600, 1200))

    async def body():
        for _ in range(5):
            sc, _ = await open_scanner(d, s.scanner["token"])
            for _ in range(4):
                await sc.send(frame)
            await sc.conn.close()
        sc, _ = await open_scanner(d, s.scanner["token"])
        await sc.send(ean13_png())
        assert_decoded(await sc.recv(timeout=30 * SLOW), [(EAN13, "EAN_13")])
    run(body())
    healthy(d)


# ------------------------------------------------------------------ REST
def test_rest_decode_png_and_jpeg(shared):
    d, s = shared
    tok = s.scanner["token"]
    for ctype, img, code in (("image/png", ean13_png(), EAN13),
                             ("image/jpeg", ean13_jpeg(), EAN13),
                             ("IMAGE/PNG; charset=binary", ean13_png(), EAN13),
                             ("image/png", white_png(), None)):
        r = decode(d, tok, img, ctype)
        assert r.status == 200, r
        assert "application/json" in r.headers.get("Content-Type", "")
        assert set(r.body) == {"codes", "ms"}, r.body
        assert isinstance(r.body["ms"], (int, float)) and r.body["ms"] >= 0
        assert codes_of(r.body["codes"]) == ([(code, "EAN_13")] if code else []), r.body
    # the type is read from the bytes: a PNG labelled image/jpeg still decodes
    r = decode(d, tok, ean13_png(), "image/jpeg")
    assert r.status == 200 and codes_of(r.body["codes"]) == [(EAN13, "EAN_13")], r


def test_rest_decode_needs_a_scanner_token(shared):
    d, s = shared
    assert_error(decode(d, None, ean13_png()), 401, "unauthorized")
    assert_error(decode(d, "not.a.token", ean13_png()), 401, "unauthorized")
    assert_error(decode(d, s.desktop_token, ean13_png()), 403, "forbidden")


@pytest.mark.parametrize("ctype", ["text/plain", "application/octet-stream", "image/gif",
                                   "image/pngx", "application/json", None])
def test_rest_decode_wrong_content_type_is_415(shared, ctype):
    d, s = shared
    r = decode(d, s.scanner["token"], ean13_png(), ctype)
    assert_error(r, 415, "unsupported_media_type")
    healthy(d)


def test_rest_decode_hostile_bodies(shared):
    d, s = shared
    tok = s.scanner["token"]
    png, jpg = ean13_png(), ean13_jpeg()
    cases = [
        ("not an image", b"hello, not an image", "image/png", 415, "unsupported_media_type"),
        ("zero-size", b"", "image/png", 400, "invalid_request"),
        ("truncated PNG", png[:len(png) // 2], "image/png", 400, "invalid_request"),
        ("PNG header only", png[:33], "image/png", 400, "invalid_request"),
        ("PNG bad CRC", png[:29] + bytes([png[29] ^ 0xff]) + png[30:], "image/png",
         400, "invalid_request"),
        ("JPEG cut in its header", jpg[:60], "image/jpeg", 400, "invalid_request"),
        ("100000x100000 PNG", bomb_png(), "image/png", 413, "too_large"),
        ("65000x65000 JPEG", bomb_jpeg(), "image/jpeg", 413, "too_large"),
    ]
    for name, body, ctype, status, code in cases:
        r = decode(d, tok, body, ctype)
        assert r.status == status, f"{name}: {r.status} {r.raw[:200]!r}"
        assert_error(r, status, code)
        healthy(d)
    # a JPEG cut inside its entropy-coded data: libjpeg fills in the rest, so
    # either an error or an honest (probably empty) result, and never a crash
    r = decode(d, tok, jpg[:len(jpg) // 2], "image/jpeg")
    assert r.status in (200, 400), r
    healthy(d)


def test_rest_decode_20mb_upload_is_413(shared):
    d, s = shared
    big = b"\x89PNG\r\n\x1a\n" + os.urandom(20 * 1024 * 1024)
    r = decode(d, s.scanner["token"], big, timeout=60)
    assert_error(r, 413, "too_large")
    healthy(d)
    r = decode(d, s.scanner["token"], ean13_png())
    assert r.status == 200 and codes_of(r.body["codes"]) == [(EAN13, "EAN_13")], r


def test_rest_decode_busy_is_503(daemon_factory):
    d = daemon_factory("--decode-workers", "1", "--decode-queue-max", "1")
    s = d.session()
    frame = ean13_png(module=4, bar_h=300, canvas=(1600, 1200))
    for attempt in range(5):
        bg = [sbtest.Background(decode, d, s.scanner["token"], frame) for _ in range(8)]
        res = [b.result(60) for b in bg]
        for r in res:
            assert r.status in (200, 503), r
            if r.status == 503:
                assert_error(r, 503, "busy")
                assert r.headers.get("Retry-After") == "1"
        if any(r.status == 503 for r in res):
            break
    else:
        pytest.fail("8 parallel decodes never found a queue of 1 full")
    healthy(d)


def test_rest_client_gone_before_the_answer(daemon_factory):
    """The client hangs up while its image is at the decoder."""
    import socket
    d = daemon_factory("--decode-workers", "1")
    s = d.session()
    frame = ean13_png(module=4, bar_h=300, canvas=(1600, 1200))
    req = (f"POST {V1}/decode HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {s.scanner['token']}\r\n"
           f"Content-Type: image/png\r\nContent-Length: {len(frame)}\r\n\r\n").encode() + frame
    for _ in range(6):
        c = socket.create_connection(("127.0.0.1", d.port))
        c.sendall(req)
        c.close()
    time.sleep(0.5)
    healthy(d)
    r = decode(d, s.scanner["token"], ean13_png())
    assert r.status == 200 and codes_of(r.body["codes"]) == [(EAN13, "EAN_13")], r


def test_decode_metrics(daemon):
    s = daemon.session()
    tok = s.scanner["token"]
    assert decode(daemon, tok, ean13_png()).status == 200
    assert decode(daemon, tok, white_png()).status == 200
    assert decode(daemon, tok, b"nope").status == 415
    assert decode(daemon, tok, ean13_png(), "text/plain").status == 415
    assert daemon.metric("scanbridge_frames_decoded_total") == 2
    assert daemon.metric("scanbridge_frames_found_total") == 1
    assert daemon.metric("scanbridge_frames_refused_total") == 2
    assert daemon.metric("scanbridge_frames_dropped_total") == 0
    assert daemon.metric("scanbridge_decode_seconds_count") == 2


def test_sigterm_with_decodes_in_flight(daemon_factory):
    d = daemon_factory("--decode-workers", "1")
    s = d.session()
    frame = ean13_png(module=4, bar_h=300, canvas=(1600, 1200))

    async def body():
        sc, _ = await open_scanner(d, s.scanner["token"])
        bg = [sbtest.Background(decode, d, s.scanner["token"], frame) for _ in range(3)]
        for _ in range(4):
            await sc.send(frame)
        d.terminate()
        msgs, code, _ = await sc.until_close(timeout=10 * SLOW)
        assert code == 1001
        for m in msgs:
            assert m["type"] == "decoded", m
        for b in bg:
            try:
                r = b.result(30)
            except OSError:
                continue  # the connection went away with the daemon
            assert r.status in (200, 503), r
    run(body())
    d.wait_stopped(timeout=20)


# ------------------------------------------------------------------ valgrind
@pytest.mark.skipif(SANITIZE or not shutil.which("valgrind"),
                    reason="valgrind cannot run an ASan build / is not installed")
def test_decode_paths_are_valgrind_clean():
    import test_valgrind
    d = test_valgrind.ValgrindDaemon(extra=["--decode-workers", "2", "--decode-queue-max", "2"])
    d.start(timeout=60)
    try:
        s = d.session()
        frame = ean13_png(module=4, bar_h=300, canvas=(1600, 1200))
        r = decode(d, s.scanner["token"], ean13_png(), timeout=60)
        assert r.status == 200 and codes_of(r.body["codes"]) == [(EAN13, "EAN_13")], r
        assert decode(d, s.scanner["token"], bomb_png(), timeout=60).status == 413

        async def body():
            sc, _ = await open_scanner(d, s.scanner["token"])
            await sc.send(ean13_png())
            assert_decoded(await sc.recv(timeout=60), [(EAN13, "EAN_13")])
            gone, _ = await open_scanner(d, s.scanner["token"], label="gone")
            for _ in range(4):
                await gone.send(frame)      # in flight, waiting, replaced ...
            await gone.conn.close()         # ... and cancelled
            for _ in range(4):
                await sc.send(frame)
            d.terminate()                   # with jobs queued and running
            _, code, _ = await sc.until_close(timeout=60)
            assert code == 1001
        run(body(), timeout=180)
        rc = d.wait_exit(timeout=90)
        log = d.log()
        assert rc == 0, "valgrind reported errors or leaks (exit 99):\n" + log[-6000:]
        assert "Invalid" not in log and "definitely lost" not in log, log[-6000:]
    finally:
        d.stopped = True
        d.cleanup()
