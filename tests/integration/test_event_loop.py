# SPDX-License-Identifier: MIT
"""Both event loops under lws (daemon/lws_loop.c): epoll through lws's libev
plugin, the default when it is installed, and lws's own poll() loop
(`event_loop = poll`, or the plugin missing). Each runs a whole flow,
and the timers lws keeps (the hello deadline: a socket that never says
hello is closed) fire on time on both: lws 4.1's libev glue lets a sooner
timer wait for a later one, which the loop's tick bounds (10 ms while
busy, 1 s after 2 s without an event)."""
import asyncio
import json
import time

import pytest
from websockets.frames import Frame, Opcode

from sbtest import WS, hello_scanner, open_desktop, run, scan_msg


def loop_flags(loop):
    """The daemon's flags for an event loop: epoll is the default."""
    return ["--event-loop", "poll"] if loop == "poll" else []


@pytest.mark.parametrize("loop", ["epoll", "poll"])
def test_flow_and_timers(daemon_factory, loop):
    d = daemon_factory(*loop_flags(loop))
    assert f"msg=\"event loop\" backend={loop}" in d.log(), d.log()
    s = d.session()

    async def body():
        desk, _ = await open_desktop(d, s.desktop_token, last_seq=0)
        sc = await WS.open(d, label="scanner")
        await hello_scanner(sc, s.scanner["token"])
        await desk.expect("scanner_joined")
        for i in range(1, 21):
            await sc.send(scan_msg(f"id-{i}"))
            await sc.expect("ack", seq=i, id=f"id-{i}")
            await desk.expect("scan", seq=i, id=f"id-{i}")
        await desk.send({"type": "ack", "seq": 20})
        for i in range(1, 21):
            await sc.expect("delivered", seq=i, id=f"id-{i}")
        # a socket that never says hello is closed at the hello deadline
        # (a few seconds), not at the next later timer (cleanup: 60 s)
        silent = await WS.open(d, label="silent")
        t0 = time.monotonic()
        await silent.expect_close(4001, timeout=15)
        assert time.monotonic() - t0 < 12
        # and after 3 s of nothing, when the epoll loop's tick has slowed
        await asyncio.sleep(3)
        silent = await WS.open(d, label="silent-after-idle")
        t0 = time.monotonic()
        await silent.expect_close(4001, timeout=15)
        assert time.monotonic() - t0 < 12
    run(body())


@pytest.mark.parametrize("loop", ["epoll", "poll"])
def test_a_gathered_burst_keeps_the_guarantees(daemon_factory, loop):
    """lws reads at most 192 bytes of a socket per pass, so a burst of scans
    spans many passes, which the server gathers into fewer commits while
    they keep finding a backlog (server.c, gather_batch). Gathered or not,
    every scan is acknowledged with its seq, forwarded once and in seq
    order, and the commits number fewer than the scans. How much gathering
    saves depends on how fast a pass is against its 2 ms, so the benchmark
    measures it (bench.py prints scans per commit), not this test: 24 phones
    writing 60 scans each took 40-61 commits without gathering, 9-17 with
    on an idle machine, up to 38 with a core busy elsewhere."""
    d = daemon_factory("--rate-burst", "1000", "--rate-per-sec", "1000",
                       *loop_flags(loop))
    sessions = [d.session(scanners=4) for _ in range(6)]
    n = 60   # per scanner: ~6.6 KB in one write, ~35 reads of 192 bytes

    async def body():
        desks, phones = [], []
        for si, s in enumerate(sessions):
            desk, _ = await open_desktop(d, s.desktop_token, last_seq=0)
            desks.append(desk)
            for pi, sc in enumerate(s.scanners):
                ws = await WS.open(d, label=f"s{si}p{pi}")
                await hello_scanner(ws, sc["token"])
                await desk.expect("scanner_joined")
                phones.append((si, pi, ws))
        before = d.metric("scanbridge_commits_total")
        for si, pi, ws in phones:   # each phone's burst in one TCP write
            ws.conn.transport.write(b"".join(
                Frame(Opcode.TEXT, json.dumps(scan_msg(f"b{si}-{pi}-{i}")).encode())
                .serialize(mask=True, extensions=[]) for i in range(n)))
        seq_of = {}
        for si, pi, ws in phones:
            seqs = [(await ws.expect("ack", id=f"b{si}-{pi}-{i}"))["seq"] for i in range(n)]
            assert seqs == sorted(seqs), (si, pi, seqs)   # a phone's own order kept
            seq_of.update({(si, f"b{si}-{pi}-{i}"): q for i, q in enumerate(seqs)})
        for si, desk in enumerate(desks):
            got = [(await desk.expect("scan", seq=k))["id"] for k in range(1, 4 * n + 1)]
            assert all(seq_of[(si, x)] == k for k, x in enumerate(got, 1)), got
            assert sorted(got) == sorted(f"b{si}-{pi}-{i}" for pi in range(4) for i in range(n))
        commits = d.metric("scanbridge_commits_total") - before
        assert 1 <= commits < len(phones) * n, f"{commits:.0f} commits"
    run(body())
