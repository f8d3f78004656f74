# SPDX-License-Identifier: MIT
"""The daemon side of the cashier issue (19): a session in use is renewed at
its maximum age (new tokens over the open connections, same session, seqs
continue), an idle one still expires; a scanner unpairs itself and frees its
slot; the session's scans export as CSV, one row per code with its count."""
import asyncio
import csv
import io
import time

from sbtest import (V1, WS, assert_error, hello_scanner, now_ms, open_desktop, open_scanner, run,
                    scan_msg)

MAX_AGE = 6  # seconds; renewed within the last 3 (2 cleanup passes + 1 s)


def test_session_in_use_is_renewed_at_its_maximum_age(daemon_factory):
    d = daemon_factory("--session-max-age", MAX_AGE, "--cleanup-interval", 1)
    s = d.session()
    idle = d.create_session()   # no connections: expires as before

    async def body():
        desk, w = await open_desktop(d, s.desktop_token, last_seq=0)
        old_end = w["expires_at"]
        sc, _ = await open_scanner(d, s.scanner["token"])
        await desk.expect("scanner_joined")
        await sc.send(scan_msg("before"))
        await sc.expect("ack", id="before", seq=1)
        await desk.expect("scan", id="before", seq=1)
        r_desk = await desk.expect("renewed", timeout=MAX_AGE + 2)
        r_sc = await sc.expect("renewed", timeout=3)
        for r in (r_desk, r_sc):
            assert r["expires_at"] > old_end + 1000, (r, old_end)
            assert isinstance(r["token"], str) and r["token"].count(".") == 2, r
        assert r_desk["token"] != s.desktop_token and r_sc["token"] != s.scanner["token"]
        # past the old maximum age: the same sockets go on, seqs continue
        while now_ms() < old_end + 500:
            await asyncio.sleep(0.2)
        await sc.send(scan_msg("after"))
        await sc.expect("ack", id="after", seq=2)
        await desk.expect("scan", id="after", seq=2)
        # the new tokens work for new connections; the old ones have ended
        sc2, _ = await open_scanner(d, r_sc["token"], label="scanner-2")
        await sc2.close()
        assert d.get_session(s.sid, r_desk["token"])["last_seq"] == 2
        r = d.api("GET", f"{V1}/sessions/{s.sid}", token=s.desktop_token)
        assert r.status in (401, 410), r.raw
        await sc.close()
        await desk.close()
    run(body(), timeout=40)
    r = d.api("GET", f"{V1}/sessions/{idle['session']}", token=idle["desktop_token"])
    assert r.status in (401, 410), (r.status, r.raw)
    assert d.metric("scanbridge_sessions_renewed_total") >= 1


def test_scanner_unpairs_itself_and_frees_its_slot(daemon_factory):
    d = daemon_factory("--max-scanners", 2)
    s = d.session(scanners=2, names=["Till 1 phone", "Till 2 phone"])
    a, b = s.scanners

    async def body():
        desk, _ = await open_desktop(d, s.desktop_token)
        sc, _ = await open_scanner(d, a["token"])
        await desk.expect("scanner_joined")
        code = d.new_pair_code(s.sid, s.desktop_token)["pair_code"]
        assert_error(d.api("POST", f"{V1}/pair", json={"pair_code": code}), 409, "session_full")
        # one scanner may not unpair another
        assert_error(d.api("DELETE", f"{V1}/sessions/{s.sid}/scanners/{b['id']}", token=a["token"]),
                     403, "forbidden")
        r = d.api("DELETE", f"{V1}/sessions/{s.sid}/scanners/{a['id']}", token=a["token"])
        assert r.status == 204, r.raw
        left = await desk.expect("scanner_left", scanner=a["id"])
        assert left["reason"] == "unpaired", left
        assert await sc.expect_close(1000) is not None
        assert [x["id"] for x in d.get_session(s.sid, s.desktop_token)["scanners"]] == [b["id"]]
        # the slot is free
        p = d.pair(d.new_pair_code(s.sid, s.desktop_token)["pair_code"], "Till 3 phone")
        await desk.expect("scanner_joined")
        # the desktop may remove one too (a kick); unknown ids are 404
        r = d.api("DELETE", f"{V1}/sessions/{s.sid}/scanners/{p['scanner']}", token=s.desktop_token)
        assert r.status == 204, r.raw
        left = await desk.expect("scanner_left", scanner=p["scanner"])
        assert left["reason"] == "kicked", left
        assert_error(d.api("DELETE", f"{V1}/sessions/{s.sid}/scanners/{a['id']}",
                           token=s.desktop_token), 404, "not_found")
        await desk.close()
    run(body())
    # the unpaired scanner's token is dead
    r = d.post_scan(s.sid, a["token"], "x1")
    assert r.status in (401, 403), r.raw


def test_scans_export_as_csv_one_row_per_code(daemon_factory):
    d = daemon_factory("--rate-burst", 1000, "--rate-per-sec", 1000)
    s = d.session(scanners=2, names=["Till 1 phone", "Back office, gun"])
    a, b = s.scanners
    plan = [(a, "4006381333931", "EAN_13"), (b, "96385074", "EAN_8"), (a, "4006381333931", "EAN_13"),
            (b, '=HYPERLINK("http://x","y")', "QR_CODE"), (b, "4006381333931", "EAN_13"),
            (a, "-1+2", "QR_CODE"), (a, "-12", "CODE_128")]
    t0 = now_ms()
    for i, (sc, code, fmt) in enumerate(plan):
        r = d.post_scan(s.sid, sc["token"], f"id{i}", code, fmt, scanned_at=t0 + i)
        assert r.status == 201, r.raw
    r = d.api("GET", f"{V1}/sessions/{s.sid}/scans.csv", token=s.desktop_token)
    assert r.status == 200, r.raw
    assert r.headers["Content-Type"].startswith("text/csv"), r.headers
    assert "attachment" in r.headers["Content-Disposition"]
    text = r.raw.decode()
    assert text.startswith("code,format,count,scanner,time\r\n"), text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["code", "format", "count", "scanner", "time"]
    got = [row[:4] for row in rows[1:]]
    assert got == [
        ["4006381333931", "EAN_13", "3", "Back office, gun"],
        ["96385074", "EAN_8", "1", "Back office, gun"],
        ["'=HYPERLINK(\"http://x\",\"y\")", "QR_CODE", "1", "Back office, gun"],
        ["'-1+2", "QR_CODE", "1", "Till 1 phone"],
        ["-12", "CODE_128", "1", "Till 1 phone"],
    ], got
    last = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((t0 + 4) / 1000))
    assert rows[1][4].startswith(last) and rows[1][4].endswith("Z"), rows[1]
    # delivered scans stay in the export (content kept for the session's life)
    assert d.api("POST", f"{V1}/sessions/{s.sid}/ack", token=s.desktop_token,
                 json={"seq": 7}).status == 204
    r2 = d.api("GET", f"{V1}/sessions/{s.sid}/scans.csv", token=s.desktop_token)
    assert r2.raw == r.raw
    # desktop token only
    assert_error(d.api("GET", f"{V1}/sessions/{s.sid}/scans.csv", token=a["token"]), 403, "forbidden")
    assert_error(d.api("GET", f"{V1}/sessions/{s.sid}/scans.csv"), 401, "unauthorized")
