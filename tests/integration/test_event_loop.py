# SPDX-License-Identifier: MIT
"""Both event loops under lws (daemon/lws_loop.c): epoll through lws's libev
plugin, the default when it is installed, and lws's own poll() loop
(`event_loop = poll`, or the plugin missing). Each runs a whole flow,
and the timers lws keeps (the hello deadline: a socket that never says
hello is closed) fire on time on both: lws 4.1's libev glue lets a sooner
timer wait for a later one, which the loop's tick bounds (10 ms while
busy, 1 s after 2 s without an event)."""
import asyncio
import time

import pytest

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
