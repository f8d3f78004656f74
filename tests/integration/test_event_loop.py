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


@pytest.mark.parametrize("loop", ["epoll", "poll"])
def test_flow_and_timers(daemon_factory, loop):
    d = daemon_factory(*(["--event-loop", "poll"] if loop == "poll" else []))
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
def test_a_burst_shares_commits(daemon_factory, loop):
    """lws reads at most 192 bytes of a socket per pass, so a burst of scans
    spans tens of passes. The server gathers passes that keep adding to the
    batch into one commit (server.c, gather_batch) instead of committing
    after each: fewer WAL writes and fewer, fuller writes to each peer. Every
    scan is still acknowledged after its commit, in order."""
    d = daemon_factory("--rate-burst", "1000", "--rate-per-sec", "1000",
                       *(["--event-loop", "poll"] if loop == "poll" else []))
    s = d.session()
    n = 120

    async def body():
        desk, _ = await open_desktop(d, s.desktop_token, last_seq=0)
        sc = await WS.open(d, label="scanner")
        await hello_scanner(sc, s.scanner["token"])
        await desk.expect("scanner_joined")
        before = d.metric("scanbridge_commits_total")
        # one TCP write: the whole burst waits in the socket at once
        sc.conn.transport.write(b"".join(
            Frame(Opcode.TEXT, json.dumps(scan_msg(f"burst-{i}")).encode())
            .serialize(mask=True, extensions=[]) for i in range(1, n + 1)))
        for i in range(1, n + 1):
            await sc.expect("ack", seq=i, id=f"burst-{i}")
            await desk.expect("scan", seq=i, id=f"burst-{i}")
        commits = d.metric("scanbridge_commits_total") - before
        # ~13 KB read 192 bytes a pass is ~70 passes; gathered, a few commits
        assert commits <= n / 6, f"{commits:.0f} commits for {n} scans"
    run(body())
