# SPDX-License-Identifier: MIT
"""The decoder module (scanbridge-decode.so) as the daemon sees it: loaded on
the first image, not at start; and when it cannot be loaded (here: the
SB_DECODE_MODULE override naming a file that does not exist), a warning at
start naming the path, one error with dlerror()'s text on the first image,
every decode answered `busy` (REST 503 + Retry-After, WS `error`), and
everything else working: scans still relay."""
import os

import sbtest
from sbtest import EAN13, SANITIZE, V1, assert_error, open_desktop, open_scanner, run, scan_msg
from test_decode import assert_decoded, decode, ean13_png, healthy

MISSING = "/nonexistent/scanbridge-decode.so"
DECODER_LIBS = ("libZXing", "libjpeg", "libspng", "libstdc++", "scanbridge-decode")


def mapped_decoder_libs(d, before_use=False):
    """The decoder's libraries the daemon maps. Before use, libstdc++ is not
    looked for in a sanitizer build (libubsan needs it)."""
    names = [n for n in DECODER_LIBS if not (before_use and SANITIZE and n == "libstdc++")]
    with open(f"/proc/{d.proc.pid}/maps") as f:
        return sorted({name for line in f for name in names if name in line})


def test_module_is_loaded_on_the_first_image_only(daemon):
    s = daemon.session()
    assert mapped_decoder_libs(daemon, before_use=True) == [], "decoder loaded before any image"
    r = decode(daemon, s.scanner["token"], ean13_png())
    assert r.status == 200 and r.body["codes"] == [{"code": EAN13, "format": "EAN_13"}], r
    assert mapped_decoder_libs(daemon) == sorted(DECODER_LIBS)
    assert daemon.log().count('msg="decoder module loaded"') == 1


def test_missing_module_answers_busy_and_scans_still_relay(daemon_factory):
    d = daemon_factory(env={"SB_DECODE_MODULE": MISSING})
    log = d.log()
    assert 'level=warn msg="decoder module not found' in log and MISSING in log, log[-2000:]
    s = d.session()
    for _ in range(2):
        r = decode(d, s.scanner["token"], ean13_png())
        assert_error(r, 503, "busy")
        assert r.headers.get("Retry-After") == "1", r.headers

    async def body():
        sc, w = await open_scanner(d, s.scanner["token"])
        desk, _ = await open_desktop(d, s.desktop_token, last_seq=w["last_seq"])
        await sc.send(ean13_png())
        m = await sc.recv(timeout=10)
        assert m["type"] == "error" and m["code"] == "busy", m
        await sc.send(scan_msg("after-decode-failed", EAN13, "EAN_13"))
        await desk.expect("scan", id="after-decode-failed", code=EAN13)
        await sc.expect("ack", id="after-decode-failed", duplicate=False)
    run(body())
    healthy(d)
    assert d.metric("scanbridge_frames_refused_total") >= 3
    log = d.log()
    errors = [line for line in log.splitlines() if "level=error" in line]
    assert len(errors) == 1, log[-3000:]
    assert "cannot load the decoder module" in errors[0] and MISSING in errors[0], errors
    assert "No such file or directory" in errors[0], errors   # dlerror()'s text
    assert os.path.basename(MISSING) in errors[0]
    assert mapped_decoder_libs(d, before_use=True) == []


def test_module_found_by_the_override(daemon_factory):
    """The override naming the real module works like the default lookup."""
    top = os.path.dirname(os.path.dirname(os.path.realpath(sbtest.BIN)))
    found = [os.path.join(dirpath, "scanbridge-decode.so")
             for dirpath, _, files in os.walk(os.path.join(top, "lib"))
             if "scanbridge-decode.so" in files]
    assert len(found) == 1, found
    real = found[0]
    d = daemon_factory(env={"SB_DECODE_MODULE": real})
    s = d.session()

    async def body():
        sc, _ = await open_scanner(d, s.scanner["token"])
        await sc.send(ean13_png())
        assert_decoded(await sc.recv(timeout=10), [(EAN13, "EAN_13")])
    run(body())
    assert f'msg="decoder module loaded" path="{real}"' in d.log()
    r = d.api("GET", f"{V1}/sessions/{s.sid}", token=s.desktop_token)
    assert r.status == 200, r
