# SPDX-License-Identifier: MIT
"""The bridge's outbox: scans taken while the daemon is down (stopped, then
restarted on the same data) are delivered afterwards, each exactly once —
also when the bridge itself restarts in between."""
import time

import hidtest
import sbtest
from sbtest import run


def codes_of(daemon, sess):
    r = daemon.api("GET", f"{sbtest.V1}/sessions/{sess['session']}/scans?after=0&limit=500",
                   token=sess["desktop_token"])
    assert r.status == 200, r.raw
    return [s["code"] for s in r.body["scans"]]


def test_daemon_restart_delivers_once(daemon, bridges):
    a = daemon.create_session()
    hid = bridges(daemon)

    async def first():
        da, _ = await sbtest.open_desktop(daemon, a["desktop_token"])
        hid.type("gun1", "t:" + a["pair_url"], "t:CODE-1")
        got = await hidtest.scans(da, 1, ack=False)
        assert got[0]["code"] == "CODE-1"

    run(first())
    daemon.stop()
    hid.type("gun1", "t:CODE-2", "t:CODE-3", "t:CODE-4")
    deadline = time.monotonic() + 5
    while hid.pending() < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hid.pending() == 3
    daemon.start()
    hid.wait_log("stored by the daemon", count=4, timeout=15)
    assert hid.pending() == 0
    assert codes_of(daemon, a) == ["CODE-1", "CODE-2", "CODE-3", "CODE-4"]


def test_bridge_restart_keeps_outbox(daemon, bridges):
    a = daemon.create_session()
    hid = bridges(daemon)

    async def first():
        da, _ = await sbtest.open_desktop(daemon, a["desktop_token"])
        hid.type("gun1", "t:" + a["pair_url"], "t:ONE")
        await hidtest.scans(da, 1)

    run(first())
    daemon.stop()
    hid.type("gun1", "t:TWO", "t:THREE")
    deadline = time.monotonic() + 5
    while hid.pending() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    hid.stop()                       # the bridge goes down with two scans unsent
    daemon.start()
    hid2 = bridges(daemon, tmp=hid.tmp)   # same outbox, same gun name, same log
    hid2.wait_log("stored by the daemon", count=3, timeout=15)   # ONE + TWO, THREE
    assert codes_of(daemon, a) == ["ONE", "TWO", "THREE"]
    # and the restarted bridge still has the gun paired
    hid2.type("gun1", "t:FOUR")
    hid2.wait_log("stored by the daemon", count=4)
    assert codes_of(daemon, a) == ["ONE", "TWO", "THREE", "FOUR"]
