# SPDX-License-Identifier: MIT
"""The WebSocket flows of PROTOCOL.md end to end: pair, scan, ack, delivered,
presence, duplicates, fan-out, isolation, kick, ping, resume."""
import asyncio
import json

from sbtest import (EAN13, EAN8, SUBPROTOCOL, V1, WS, assert_error, gtin, hello_scanner,
                    now_ms, open_desktop, open_scanner, run, scan_msg)

TTL_MS = 600_000  # default session_ttl


def assert_expires_at(value, ttl_ms=TTL_MS, slack=5000):
    assert isinstance(value, int) and not isinstance(value, bool), f"expires_at {value!r}"
    assert abs(value - (now_ms() + ttl_ms)) < slack, f"expires_at {value} vs now+ttl {now_ms() + ttl_ms}"


def assert_scan(msg, seq, id, code, format, scanner, scanned_at, t0, t1):
    assert msg["type"] == "scan", msg
    assert set(msg) >= {"type"} | {"seq", "id", "code", "format", "scanner", "scanned_at",
                                    "received_at"}, msg
    assert msg["seq"] == seq, msg
    assert msg["id"] == id, msg
    assert msg["code"] == code, msg
    assert msg["format"] == format, msg
    assert msg["scanner"] == scanner, msg
    assert msg["scanned_at"] == scanned_at, msg
    assert isinstance(msg["received_at"], int), msg
    assert t0 - 1000 <= msg["received_at"] <= t1 + 1000, (msg, t0, t1)


def test_pair_scan_ack_delivered(daemon):
    async def body():
        c = daemon.create_session()
        sid, dtok = c["session"], c["desktop_token"]
        desk = await WS.open(daemon, label="desktop")
        assert desk.conn.subprotocol == SUBPROTOCOL
        await desk.send({"type": "hello", "token": dtok, "last_seq": 0})
        w = await desk.expect("welcome", role="desktop", session=sid, last_seq=0, delivered_seq=0,
                              scanners=[])
        assert_expires_at(w["expires_at"])

        p = daemon.pair(c["pair_code"], "Till 3 phone")
        scanner_id = p["scanner"]
        j = await desk.expect("scanner_joined")
        assert j["scanner"] == {"id": scanner_id, "name": "Till 3 phone"} or (
            j["scanner"]["id"] == scanner_id and j["scanner"]["name"] == "Till 3 phone"), j

        sc = await WS.open(daemon, label="scanner")
        assert sc.conn.subprotocol == SUBPROTOCOL
        ws_ = await hello_scanner(sc, p["scanner_token"])
        assert ws_["session"] == sid and ws_["scanner"] == scanner_id, ws_
        assert ws_["last_seq"] == 0 and ws_["delivered_seq"] == 0, ws_
        assert_expires_at(ws_["expires_at"])
        j2 = await desk.expect("scanner_joined")
        assert j2["scanner"]["id"] == scanner_id and j2["scanner"]["name"] == "Till 3 phone", j2

        t0 = now_ms()
        scanned_at = t0 - 1234
        await sc.send(scan_msg("a1", EAN13, "EAN_13", scanned_at))
        got = await desk.expect("scan")
        ack = await sc.expect("ack", id="a1", seq=1, duplicate=False)
        t1 = now_ms()
        assert_scan(got, 1, "a1", EAN13, "EAN_13", scanner_id, scanned_at, t0, t1)
        assert ack["duplicate"] is False

        await desk.send({"type": "ack", "seq": 1})
        dl = await sc.expect("delivered", id="a1", seq=1)
        assert set(dl) >= {"type", "id", "seq"}

        s = daemon.get_session(sid, dtok)
        assert s["session"] == sid and s["last_seq"] == 1 and s["delivered_seq"] == 1, s
        assert s["scanners"] == [{"id": scanner_id, "name": "Till 3 phone", "connected": True}] or (
            len(s["scanners"]) == 1 and s["scanners"][0]["id"] == scanner_id
            and s["scanners"][0]["connected"] is True), s

        await sc.close()
        left = await desk.expect("scanner_left", scanner=scanner_id, reason="disconnected")
        assert left["scanner"] == scanner_id
        await desk.barrier()
        s = daemon.get_session(sid, dtok)
        assert [x["connected"] for x in s["scanners"]] == [False], s
        await desk.close()
    run(body())


def test_scan_defaults_format_unknown_and_scanned_at_null(daemon):
    async def body():
        s = daemon.session()
        desk, _ = await open_desktop(daemon, s.desktop_token)
        sc, _ = await open_scanner(daemon, s.scanner["token"])
        await desk.expect("scanner_joined")
        await sc.send({"type": "scan", "id": "plain-1", "code": "hello world"})
        m = await desk.expect("scan", seq=1, id="plain-1", code="hello world", format="UNKNOWN")
        assert "scanned_at" in m and m["scanned_at"] is None, m
        await sc.expect("ack", id="plain-1", seq=1, duplicate=False)
        # explicit null counts as absent
        await sc.send({"type": "scan", "id": "plain-2", "code": "x", "format": "UNKNOWN",
                       "scanned_at": None})
        m = await desk.expect("scan", seq=2, id="plain-2", format="UNKNOWN")
        assert m["scanned_at"] is None
        await sc.expect("ack", id="plain-2", seq=2, duplicate=False)
        # unicode survives the round trip
        code = "Grüße €–漢字 \U0001F600"
        await sc.send(scan_msg("uni", code, "QR_CODE"))
        m = await desk.expect("scan", seq=3, id="uni", code=code, format="QR_CODE")
        await sc.expect("ack", id="uni", seq=3)
    run(body())


def test_welcome_lists_scanners_with_connected_flags(daemon):
    async def body():
        s = daemon.session(scanners=2, names=["Alpha", "Beta"])
        a, b = s.scanners
        sa, wa = await open_scanner(daemon, a["token"])
        assert wa["scanner"] == a["id"]
        sb, wb = await open_scanner(daemon, b["token"])
        assert wb["scanner"] == b["id"]
        await sb.close()
        await asyncio.sleep(0.2)
        desk, w = await open_desktop(daemon, s.desktop_token)
        by_id = {x["id"]: x for x in w["scanners"]}
        assert set(by_id) == {a["id"], b["id"]}, w
        assert by_id[a["id"]]["name"] == "Alpha" and by_id[a["id"]]["connected"] is True, w
        assert by_id[b["id"]]["name"] == "Beta" and by_id[b["id"]]["connected"] is False, w
        r = daemon.get_session(s.sid, s.desktop_token)
        rb = {x["id"]: x for x in r["scanners"]}
        assert rb[a["id"]]["connected"] is True and rb[b["id"]]["connected"] is False, r
        assert a["id"] != b["id"]
    run(body())


def test_scanner_left_only_when_last_socket_closes(daemon):
    async def body():
        s = daemon.session(names=["Multi"])
        sid_ = s.scanner["id"]
        desk, _ = await open_desktop(daemon, s.desktop_token)
        s1, _ = await open_scanner(daemon, s.scanner["token"], label="scanner-1")
        await desk.expect("scanner_joined")
        s2, _ = await open_scanner(daemon, s.scanner["token"], label="scanner-2")
        j = await desk.expect("scanner_joined")
        assert j["scanner"]["id"] == sid_
        await s1.close()
        await asyncio.sleep(0.3)
        await desk.barrier()   # no scanner_left yet: one socket is still open
        await s2.close()
        await desk.expect("scanner_left", scanner=sid_, reason="disconnected")
    run(body())


def test_seq_starts_at_one_without_gaps_over_50_scans(daemon):
    async def body():
        s = daemon.session()
        desk, _ = await open_desktop(daemon, s.desktop_token)
        sc, _ = await open_scanner(daemon, s.scanner["token"])
        await desk.expect("scanner_joined")
        ids = [f"s{i:03d}" for i in range(50)]
        for i in ids:   # pipelined: no waiting for acks
            await sc.send(scan_msg(i, f"CODE-{i}", "CODE_128"))
        acks = [await sc.expect("ack") for _ in ids]
        assert [(a["id"], a["seq"], a["duplicate"]) for a in acks] == \
            [(i, n + 1, False) for n, i in enumerate(ids)]
        got = [await desk.expect("scan") for _ in ids]
        assert [(m["seq"], m["id"], m["code"]) for m in got] == \
            [(n + 1, i, f"CODE-{i}") for n, i in enumerate(ids)]
        await desk.barrier()
        await sc.barrier()
        assert daemon.get_session(s.sid, s.desktop_token)["last_seq"] == 50
    run(body())


def test_order_preserved_with_two_scanners(daemon):
    async def body():
        s = daemon.session(scanners=2)
        a, b = s.scanners
        desk, _ = await open_desktop(daemon, s.desktop_token)
        sa, _ = await open_scanner(daemon, a["token"], label="A")
        sb, _ = await open_scanner(daemon, b["token"], label="B")
        await desk.expect("scanner_joined")
        await desk.expect("scanner_joined")
        for i in range(10):
            await sa.send(scan_msg(f"a{i}", f"A{i}", "CODE_39"))
            await sb.send(scan_msg(f"b{i}", f"B{i}", "CODE_39"))
        acks_a = [await sa.expect("ack") for _ in range(10)]
        acks_b = [await sb.expect("ack") for _ in range(10)]
        got = [await desk.expect("scan") for _ in range(20)]
        assert [m["seq"] for m in got] == list(range(1, 21))
        # each scanner's own order is preserved, and ids map to the acked seqs
        seq_of = {x["id"]: x["seq"] for x in acks_a + acks_b}
        assert [x["id"] for x in acks_a] == [f"a{i}" for i in range(10)]
        assert [x["id"] for x in acks_b] == [f"b{i}" for i in range(10)]
        assert [m["id"] for m in got if m["id"].startswith("a")] == [f"a{i}" for i in range(10)]
        assert [m["id"] for m in got if m["id"].startswith("b")] == [f"b{i}" for i in range(10)]
        for m in got:
            assert seq_of[m["id"]] == m["seq"], m
            assert m["scanner"] == (a["id"] if m["id"].startswith("a") else b["id"]), m
        # delivered goes only to the scanner that sent the scan
        await desk.send({"type": "ack", "seq": 20})
        da = [await sa.expect("delivered") for _ in range(10)]
        db = [await sb.expect("delivered") for _ in range(10)]
        assert [(x["id"], x["seq"]) for x in da] == [(x["id"], x["seq"]) for x in acks_a]
        assert [(x["id"], x["seq"]) for x in db] == [(x["id"], x["seq"]) for x in acks_b]
        await sa.barrier()
        await sb.barrier()
    run(body())


def test_receipts_for_three_scanners_paced_through_a_small_queue(daemon_factory):
    """Scanners ready for receipts share one read of the session's scans
    (relay.c, receipts_together); a small send queue paces them a chunk at a
    time. Each scanner gets exactly its own receipts, once, in seq order,
    including the one that joined late and the one whose scans were
    already receipted in part."""
    d = daemon_factory("--send-queue-max", "16", "--rate-burst", "1000",
                       "--rate-per-sec", "1000")

    async def body():
        s = d.session(scanners=3)
        desk, _ = await open_desktop(d, s.desktop_token)
        ws = []
        for i, sc in enumerate(s.scanners[:2]):
            w, _ = await open_scanner(d, sc["token"], label=f"S{i}")
            await desk.expect("scanner_joined")
            ws.append(w)
        acks = [[], [], []]
        for i in range(60):
            for k in range(2):
                await ws[k].send(scan_msg(f"s{k}-{i}", f"C{k}{i}", "CODE_39"))
        for k in range(2):
            acks[k] = [await ws[k].expect("ack") for _ in range(60)]
        seen = 0
        while seen < 120:   # the desktop reads at its pace; the queue is 16
            await desk.expect("scan")
            seen += 1
        await desk.send({"type": "ack", "seq": 30})
        upto30 = [sum(1 for x in acks[k] if x["seq"] <= 30) for k in range(2)]
        assert sum(upto30) == 30
        first = [[await ws[k].expect("delivered") for _ in range(upto30[k])] for k in range(2)]
        w3, _ = await open_scanner(d, s.scanners[2]["token"], label="S2")
        await desk.expect("scanner_joined")
        ws.append(w3)
        for i in range(20):
            await w3.send(scan_msg(f"s2-{i}", f"C2{i}", "CODE_39"))
        acks[2] = [await w3.expect("ack") for _ in range(20)]
        for _ in range(20):
            await desk.expect("scan")
        await desk.send({"type": "ack", "seq": 140})
        rest = [[await ws[k].expect("delivered") for _ in range(60 - upto30[k])]
                for k in range(2)]
        third = [await w3.expect("delivered") for _ in range(20)]
        for k in range(2):
            got = [(x["id"], x["seq"]) for x in first[k] + rest[k]]
            assert got == [(x["id"], x["seq"]) for x in acks[k]], (k, got)
        assert [(x["id"], x["seq"]) for x in third] == [(x["id"], x["seq"]) for x in acks[2]]
        for w in ws:
            await w.barrier()
    run(body())


def test_duplicate_resend_acks_original_seq_and_is_not_forwarded(daemon):
    async def body():
        s = daemon.session()
        desk, _ = await open_desktop(daemon, s.desktop_token)
        sc, _ = await open_scanner(daemon, s.scanner["token"])
        await desk.expect("scanner_joined")
        await sc.send(scan_msg("dup-1", EAN13))
        await sc.expect("ack", id="dup-1", seq=1, duplicate=False)
        await desk.expect("scan", seq=1, id="dup-1")
        await sc.send(scan_msg("dup-2", EAN8, "EAN_8"))
        await sc.expect("ack", id="dup-2", seq=2, duplicate=False)
        await desk.expect("scan", seq=2, id="dup-2")
        for _ in range(2):
            await sc.send(scan_msg("dup-1", EAN13))
            await sc.expect("ack", id="dup-1", seq=1, duplicate=True)
        # from a new socket of the same scanner, as after a reconnect
        sc2, _ = await open_scanner(daemon, s.scanner["token"], label="scanner-2")
        await desk.expect("scanner_joined")
        await sc2.send(scan_msg("dup-2", EAN8, "EAN_8"))
        await sc2.expect("ack", id="dup-2", seq=2, duplicate=True)
        # over REST too
        r = daemon.post_scan(s.sid, s.scanner["token"], "dup-1")
        assert r.status == 200 and r.body["seq"] == 1 and r.body["duplicate"] is True, r
        await desk.barrier()          # the desktop got none of the resends
        # the next new scan continues without a gap
        await sc.send(scan_msg("new-3", "x"))
        await sc.expect("ack", id="new-3", seq=3, duplicate=False)
        await desk.expect("scan", seq=3, id="new-3")
        await desk.barrier()
    run(body())


def test_two_desktops_both_receive_and_delivered_is_sent_once(daemon):
    async def body():
        s = daemon.session()
        d1, _ = await open_desktop(daemon, s.desktop_token, label="desktop-1")
        d2, _ = await open_desktop(daemon, s.desktop_token, label="desktop-2")
        sc, _ = await open_scanner(daemon, s.scanner["token"])
        await d1.expect("scanner_joined")
        await d2.expect("scanner_joined")
        await sc.send(scan_msg("two-1", "abc"))
        m1 = await d1.expect("scan", seq=1, id="two-1")
        m2 = await d2.expect("scan", seq=1, id="two-1")
        assert m1 == m2
        await sc.expect("ack", id="two-1", seq=1, duplicate=False)
        await d1.send({"type": "ack", "seq": 1})
        await sc.expect("delivered", id="two-1", seq=1)
        await d2.send({"type": "ack", "seq": 1})   # at or below delivered_seq: silent
        await d2.barrier()
        await d1.barrier()
        await sc.barrier()                         # no second delivered
        assert daemon.get_session(s.sid, s.desktop_token)["delivered_seq"] == 1
    run(body())


def test_cumulative_ack_delivers_each_scan_once(daemon):
    async def body():
        s = daemon.session()
        desk, _ = await open_desktop(daemon, s.desktop_token)
        sc, _ = await open_scanner(daemon, s.scanner["token"])
        await desk.expect("scanner_joined")
        for i in range(1, 5):
            await sc.send(scan_msg(f"c{i}", f"C{i}"))
            await sc.expect("ack", id=f"c{i}", seq=i)
            await desk.expect("scan", seq=i)
        await desk.send({"type": "ack", "seq": 3})
        for i in range(1, 4):
            await sc.expect("delivered", id=f"c{i}", seq=i)
        await sc.barrier()
        await desk.send({"type": "ack", "seq": 2})   # lower: accepted silently
        await desk.barrier()
        await sc.barrier()
        await desk.send({"type": "ack", "seq": 4})
        await sc.expect("delivered", id="c4", seq=4)
        await sc.barrier()
        await desk.barrier()
    run(body())


def test_sessions_are_isolated(daemon):
    async def body():
        A = daemon.session()
        B = daemon.session()
        assert A.sid != B.sid
        da, _ = await open_desktop(daemon, A.desktop_token, label="desk-A")
        db, _ = await open_desktop(daemon, B.desktop_token, label="desk-B")
        sa, _ = await open_scanner(daemon, A.scanner["token"], label="scan-A")
        sb, _ = await open_scanner(daemon, B.scanner["token"], label="scan-B")
        await da.expect("scanner_joined")
        await db.expect("scanner_joined")
        # same client id in both sessions: ids are per session
        await sa.send(scan_msg("same-id", "A-code"))
        await sa.expect("ack", id="same-id", seq=1, duplicate=False)
        await da.expect("scan", seq=1, code="A-code")
        await sb.send(scan_msg("same-id", "B-code"))
        await sb.expect("ack", id="same-id", seq=1, duplicate=False)
        await db.expect("scan", seq=1, code="B-code")
        await da.barrier()
        await db.barrier()
        # A's desktop cannot kick B's scanner
        await da.send({"type": "kick", "scanner": B.scanner["id"]})
        await da.expect("error", code="invalid_request")
        await sb.barrier()
        await db.barrier()
        # REST: A's tokens on B's paths are forbidden
        at, st = A.desktop_token, A.scanner["token"]
        for method, path, tok, body_ in [
            ("GET", f"{V1}/sessions/{B.sid}", at, None),
            ("POST", f"{V1}/sessions/{B.sid}/pair-code", at, None),
            ("GET", f"{V1}/sessions/{B.sid}/qr.svg", at, None),
            ("GET", f"{V1}/sessions/{B.sid}/scans?after=0", at, None),
            ("POST", f"{V1}/sessions/{B.sid}/ack", at, {"seq": 1}),
            ("DELETE", f"{V1}/sessions/{B.sid}", at, None),
            ("POST", f"{V1}/sessions/{B.sid}/scans", st, {"id": "intruder", "code": "x"}),
            ("GET", f"{V1}/sessions/{B.sid}/scans/same-id", st, None),
        ]:
            assert_error(daemon.api(method, path, token=tok, json=body_), 403, "forbidden")
        # B is untouched: nothing delivered, nothing added, still alive
        info = daemon.get_session(B.sid, B.desktop_token)
        assert info["last_seq"] == 1 and info["delivered_seq"] == 0, info
        await db.barrier()
        await sb.barrier()
    run(body())


def test_kick(daemon):
    async def body():
        s = daemon.session(scanners=2, names=["Kicked", "Stays"])
        k, stay = s.scanners
        d1, _ = await open_desktop(daemon, s.desktop_token, label="desktop-1")
        d2, _ = await open_desktop(daemon, s.desktop_token, label="desktop-2")
        sk, _ = await open_scanner(daemon, k["token"], label="kicked")
        ss, _ = await open_scanner(daemon, stay["token"], label="stays")
        for d_ in (d1, d2):
            await d_.expect("scanner_joined")
            await d_.expect("scanner_joined")
        await sk.send(scan_msg("before-kick", "x"))
        await sk.expect("ack", id="before-kick", seq=1)
        await d1.expect("scan", seq=1)
        await d2.expect("scan", seq=1)

        await d1.send({"type": "kick", "scanner": k["id"]})
        await sk.expect_close(4003)
        for d_ in (d1, d2):
            await d_.expect("scanner_left", scanner=k["id"], reason="kicked")
        await asyncio.sleep(0.3)
        # exactly one scanner_left for it: no extra "disconnected" after "kicked"
        await d1.barrier()
        await d2.barrier()
        await ss.barrier()

        # the kicked scanner's token is revoked
        again = await WS.open(daemon, label="kicked-again")
        await again.send({"type": "hello", "token": k["token"]})
        await again.expect_close(4003)
        assert_error(daemon.post_scan(s.sid, k["token"], "after-kick"), 401, "unauthorized")
        assert_error(daemon.api("GET", f"{V1}/sessions/{s.sid}/scans/before-kick", token=k["token"]),
                     401, "unauthorized")
        # it is no longer listed; the other scanner is unaffected
        info = daemon.get_session(s.sid, s.desktop_token)
        assert [x["id"] for x in info["scanners"]] == [stay["id"]], info
        await ss.send(scan_msg("after-kick", "y"))
        await ss.expect("ack", id="after-kick", seq=2, duplicate=False)
        await d1.expect("scan", seq=2, id="after-kick")
    run(body())


def test_kick_frees_a_scanner_slot(daemon_factory):
    d = daemon_factory("--max-scanners", "1")

    async def body():
        s = d.session()
        desk, _ = await open_desktop(d, s.desktop_token)
        code = d.new_pair_code(s.sid, s.desktop_token)["pair_code"]
        assert_error(d.api("POST", f"{V1}/pair", json={"pair_code": code, "name": "x"}),
                     409, "session_full")
        await desk.send({"type": "kick", "scanner": s.scanner["id"]})
        await desk.expect("scanner_left", scanner=s.scanner["id"], reason="kicked")
        code = d.new_pair_code(s.sid, s.desktop_token)["pair_code"]
        p = d.pair(code, "replacement")
        await desk.expect("scanner_joined")
        assert p["scanner"] != s.scanner["id"]
    run(body())


def test_ping_pong(daemon):
    async def body():
        s = daemon.session()
        desk, _ = await open_desktop(daemon, s.desktop_token)
        sc, _ = await open_scanner(daemon, s.scanner["token"])
        await desk.expect("scanner_joined")
        for ws in (desk, sc):
            t0 = now_ms()
            await ws.send({"type": "ping"})
            p = await ws.expect("pong")
            t1 = now_ms()
            assert isinstance(p["t"], int) and not isinstance(p["t"], bool), p
            assert t0 - 1000 <= p["t"] <= t1 + 1000, (p, t0, t1)
    run(body())


def test_resume_desktop_gets_exactly_the_missing_scans(daemon):
    async def body():
        s = daemon.session()
        desk, _ = await open_desktop(daemon, s.desktop_token)
        sc, _ = await open_scanner(daemon, s.scanner["token"])
        await desk.expect("scanner_joined")
        for i in range(1, 4):
            await sc.send(scan_msg(f"r{i}", f"R{i}"))
            await sc.expect("ack", id=f"r{i}", seq=i)
            await desk.expect("scan", seq=i, id=f"r{i}")
        await desk.send({"type": "ack", "seq": 2})
        await sc.expect("delivered", id="r1", seq=1)
        await sc.expect("delivered", id="r2", seq=2)
        await desk.barrier()
        await desk.close()
        for i in range(4, 9):
            await sc.send(scan_msg(f"r{i}", f"R{i}"))
            await sc.expect("ack", id=f"r{i}", seq=i, duplicate=False)
        desk2, w = await open_desktop(daemon, s.desktop_token, last_seq=3, label="desktop-resumed")
        assert w["last_seq"] == 8 and w["delivered_seq"] == 2, w
        got = [await desk2.expect("scan") for _ in range(5)]
        assert [(m["seq"], m["id"], m["code"]) for m in got] == \
            [(i, f"r{i}", f"R{i}") for i in range(4, 9)]
        await desk2.barrier()   # nothing else replayed
        await sc.send(scan_msg("r9", "R9"))
        await sc.expect("ack", id="r9", seq=9)
        await desk2.expect("scan", seq=9, id="r9")
    run(body())


def test_hello_last_seq_zero_replays_everything_not_purged(daemon):
    async def body():
        s = daemon.session()
        sc, _ = await open_scanner(daemon, s.scanner["token"])
        for i in range(1, 5):
            await sc.send(scan_msg(f"z{i}", f"Z{i}"))
            await sc.expect("ack", id=f"z{i}", seq=i)
        d1, w = await open_desktop(daemon, s.desktop_token, last_seq=0, label="desktop-1")
        assert w["last_seq"] == 4 and w["delivered_seq"] == 0, w
        got = [await d1.expect("scan") for _ in range(4)]
        assert [(m["seq"], m["id"]) for m in got] == [(i, f"z{i}") for i in range(1, 5)]
        await d1.barrier()
        await d1.send({"type": "ack", "seq": 2})   # delivered, but retained for 60 s
        for i in (1, 2):
            await sc.expect("delivered", id=f"z{i}", seq=i)
        # hello without last_seq means 0
        d2, w = await open_desktop(daemon, s.desktop_token, label="desktop-2")
        assert w["delivered_seq"] == 2, w
        got = [await d2.expect("scan") for _ in range(4)]
        assert [m["seq"] for m in got] == [1, 2, 3, 4]
        await d2.barrier()
        # last_seq at the head: nothing
        d3, _ = await open_desktop(daemon, s.desktop_token, last_seq=4, label="desktop-3")
        await d3.barrier()
    run(body())


def test_offline_scanner_learns_delivered_from_welcome(daemon):
    async def body():
        s = daemon.session()
        desk, _ = await open_desktop(daemon, s.desktop_token)
        sc, w = await open_scanner(daemon, s.scanner["token"])
        assert w["delivered_seq"] == 0 and w["last_seq"] == 0
        await desk.expect("scanner_joined")
        for i in (1, 2, 3):
            await sc.send(scan_msg(f"o{i}", f"O{i}"))
            await sc.expect("ack", id=f"o{i}", seq=i)
            await desk.expect("scan", seq=i)
        await sc.close()
        await desk.expect("scanner_left", reason="disconnected")
        await desk.send({"type": "ack", "seq": 2})
        await desk.barrier()
        sc2, w2 = await open_scanner(daemon, s.scanner["token"], label="scanner-back")
        assert w2["delivered_seq"] == 2 and w2["last_seq"] == 3, w2
        await sc2.barrier()   # delivered is sent once, live: no late receipts
        await desk.expect("scanner_joined")
        await desk.send({"type": "ack", "seq": 3})
        await sc2.expect("delivered", id="o3", seq=3)
    run(body())


def test_rest_scan_is_forwarded_live_and_rest_ack_sends_delivered(daemon):
    async def body():
        s = daemon.session()
        desk, _ = await open_desktop(daemon, s.desktop_token)
        sc, _ = await open_scanner(daemon, s.scanner["token"])
        await desk.expect("scanner_joined")
        code = gtin("590123412345")
        r = daemon.post_scan(s.sid, s.scanner["token"], "rest-1", code, "EAN_13")
        assert r.status == 201 and r.body == {"seq": 1, "id": "rest-1", "duplicate": False} or (
            r.status == 201 and r.body["seq"] == 1 and r.body["duplicate"] is False), r
        await desk.expect("scan", seq=1, id="rest-1", code=code, format="EAN_13",
                          scanner=s.scanner["id"])
        r = daemon.api("POST", f"{V1}/sessions/{s.sid}/ack", token=s.desktop_token, json={"seq": 1})
        assert r.status == 204, r
        await sc.expect("delivered", id="rest-1", seq=1)
        await sc.barrier()
    run(body())


def test_fragmented_messages_are_reassembled(daemon):
    """A scan split over several WebSocket fragments (as proxies and busy
    clients do) is one message; a fragmented message over 16 KiB closes 1009."""
    async def body():
        s = daemon.session(scanners=1)
        sc, _ = await open_scanner(daemon, s.scanner["token"])
        text = json.dumps({"type": "scan", "id": "frag-1", "code": "4006381333931",
                           "format": "EAN_13"})
        parts = [text[:7], text[7:20], text[20:]]
        await sc.conn.send(iter(parts))
        await sc.expect("ack", id="frag-1", seq=1, duplicate=False)
        big = '{"type":"ping","pad":"' + "x" * 17000 + '"}'
        await sc.conn.send(iter([big[i:i + 4000] for i in range(0, len(big), 4000)]))
        await sc.expect_close(1009)
    run(body())
