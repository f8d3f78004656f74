# SPDX-License-Identifier: MIT
"""Nothing acknowledged is lost, exactly once: kill -9 mid-stream, restart on
the same data dir, replay and resend."""
import asyncio
import json
import sqlite3

import websockets.exceptions

from sbtest import open_desktop, open_scanner, run, scan_msg

N = 300
KILL_AFTER = 100
WINDOW = 16
FAST = ("--rate-burst", "100000", "--rate-per-sec", "100000")


async def stream_and_kill(d, token, ids):
    """Streams scans with up to WINDOW in flight; kill -9 once KILL_AFTER acks
    arrived. Returns {id: seq} of every ack received (before or after the kill)."""
    ws, _ = await open_scanner(d, token)
    acked = {}
    window = asyncio.Semaphore(WINDOW)
    state = {"killed": False}

    async def reader():
        while True:
            try:
                raw = await ws.conn.recv()
            except websockets.exceptions.ConnectionClosed:
                return
            m = json.loads(raw)
            assert m["type"] == "ack", m
            assert m["duplicate"] is False, m
            assert m["id"] not in acked, f"two acks for {m['id']}"
            acked[m["id"]] = m["seq"]
            window.release()
            if len(acked) >= KILL_AFTER and not state["killed"]:
                state["killed"] = True
                d.kill9()

    async def writer():
        for i in ids:
            await window.acquire()
            if state["killed"]:
                return
            try:
                await ws.conn.send(json.dumps(scan_msg(i, "C-" + i, "CODE_128")))
            except websockets.exceptions.ConnectionClosed:
                return

    rt = asyncio.ensure_future(reader())
    wt = asyncio.ensure_future(writer())
    await asyncio.wait_for(rt, 60)
    wt.cancel()
    try:
        await wt
    except (asyncio.CancelledError, Exception):
        pass
    assert state["killed"], f"only {len(acked)} acks before the stream ended"
    assert len(acked) < len(ids), "every scan was acked before the kill: nothing in flight"
    print(f"kill -9 after {len(acked)} acks")
    return acked


async def replay_all(d, desktop_token):
    """Desktop hello last_seq 0; returns the replayed scans in order."""
    desk, w = await open_desktop(d, desktop_token, last_seq=0, label="desktop-replay")
    got = [await desk.expect("scan") for _ in range(w["last_seq"])]
    await desk.barrier()
    await desk.close()
    return w, got


def check_replay(w, got, must):
    """Seqs 1..N in order, no id twice, every id of `must` with its seq."""
    seqs = [m["seq"] for m in got]
    assert seqs == list(range(1, len(got) + 1)), f"replayed seqs have gaps or disorder: {seqs}"
    assert w["last_seq"] == len(got)
    ids = [m["id"] for m in got]
    assert len(set(ids)) == len(ids), "an id was stored twice"
    seq_of = {m["id"]: m["seq"] for m in got}
    lost = [i for i in must if i not in seq_of]
    assert not lost, f"acknowledged scans lost by kill -9: {lost[:10]}"
    wrong = [(i, must[i], seq_of[i]) for i in must if seq_of[i] != must[i]]
    assert not wrong, f"acknowledged scans replayed with another seq (id, acked, replayed): {wrong[:10]}"
    for m in got:
        assert m["code"] == "C-" + m["id"], m
    return seq_of


async def resend_all(d, token, ids, known):
    """Resends ids; those in `known` must come back duplicate with their seq;
    new ones get the next seqs. Returns the complete {id: seq}."""
    ws, w = await open_scanner(d, token, label="scanner-resend")
    head = w["last_seq"]
    result = dict(known)
    for i in ids:
        await ws.send(scan_msg(i, "C-" + i, "CODE_128"))
    for i in ids:
        a = await ws.expect("ack", id=i)
        if i in known:
            assert a["duplicate"] is True and a["seq"] == known[i], (a, known[i])
        else:
            head += 1
            assert a["duplicate"] is False and a["seq"] == head, (a, head)
            result[i] = a["seq"]
    await ws.close()
    return result


def test_kill9_twice_loses_nothing_acknowledged(daemon_factory):
    d = daemon_factory(*FAST)
    s = d.session()
    tok = s.scanner["token"]
    all_seq = {}

    for rnd in (1, 2):
        ids = [f"r{rnd}-{k:04d}" for k in range(N)]

        acked = run(stream_and_kill(d, tok, ids))
        for i, q in acked.items():
            assert i not in all_seq
        d.start()   # same data dir, port and flags

        w, got = run(replay_all(d, s.desktop_token))
        must = dict(all_seq)
        must.update(acked)
        seq_of = check_replay(w, got, must)
        print(f"round {rnd}: {len(acked)} acked, {len(got)} replayed after restart")
        # everything stored (acked or not) is now known with one seq
        all_seq = dict(seq_of)
        all_seq = run(resend_all(d, tok, ids, all_seq))
        assert sorted(all_seq.values()) == list(range(1, len(all_seq) + 1)), "seqs are not 1..N"
        assert len(all_seq) == N * rnd

    # a final replay agrees with everything that was acked; resends of round 1 still duplicate
    w, got = run(replay_all(d, s.desktop_token))
    assert {m["id"]: m["seq"] for m in got} == all_seq
    final = run(resend_all(d, tok, [f"r1-{k:04d}" for k in range(0, N, 7)], all_seq))
    assert final == all_seq
    d.stop()

    con = sqlite3.connect(d.db_path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
