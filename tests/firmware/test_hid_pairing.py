# SPDX-License-Identifier: MIT
"""Pairing by scan against the real daemon: a gun (replayed key events through
the bridge's reader) scans a desktop's pairing QR URL, and its following scans
reach that desktop; scanning another desktop's QR moves it; an unpaired gun's
scans are held back."""
import hidtest
import sbtest
from sbtest import EAN13, EAN8, UPCA, run


def test_scan_pairs_and_repairs(daemon, bridges):
    a = daemon.create_session()
    b = daemon.create_session()
    hid = bridges(daemon)

    async def body():
        da, _ = await sbtest.open_desktop(daemon, a["desktop_token"], label="desktop-a")
        db, _ = await sbtest.open_desktop(daemon, b["desktop_token"], label="desktop-b")
        hid.type("gun1", "t:" + a["pair_url"], "t:" + EAN13, "t:ABC-123")
        joined = await da.expect("scanner_joined")
        assert joined["scanner"]["name"] == "USB scanner gun1"
        got = await hidtest.scans(da, 2)
        assert [s["code"] for s in got] == [EAN13, "ABC-123"]
        assert all(s["format"] == "UNKNOWN" for s in got)
        hid.wait_log("delivered", count=2)
        # the same gun scans desktop B's QR code: its next scans go there
        hid.type("gun1", "t:" + b["pair_url"], "t:" + EAN8)
        got = await hidtest.scans(db, 1)
        assert got[0]["code"] == EAN8
        await hidtest.no_scan(da, 0.5)

    run(body())
    # the pairing used B's code: a second use is refused, and the gun says so
    hid.type("gun1", "t:" + b["pair_url"])
    hid.wait_log("pairing failed (HTTP 404)")
    # still paired with B
    st = daemon.get_session(b["session"], b["desktop_token"])
    assert [s["name"] for s in st["scanners"]] == ["USB scanner gun1"]


def test_unpaired_gun_is_held_back(daemon, bridges):
    a = daemon.create_session()
    hid = bridges(daemon, guns=("gun1", "gun2"))

    async def body():
        da, _ = await sbtest.open_desktop(daemon, a["desktop_token"])
        hid.type("gun2", "t:" + UPCA)          # never paired
        hid.wait_log("gun2 is not paired: scan held back")
        hid.type("gun1", "t:" + a["pair_url"], "t:" + EAN13)
        got = await hidtest.scans(da, 1)
        assert got[0]["code"] == EAN13
        await hidtest.no_scan(da, 0.3)

    run(body())
    assert hid.pending() == 0


def test_layout_per_config(daemon, bridges):
    """A German gun, configured as such, delivers what it scanned."""
    a = daemon.create_session()
    hid = bridges(daemon, config_text="layout = de\n")

    async def body():
        da, _ = await sbtest.open_desktop(daemon, a["desktop_token"])
        hid.type("gun1", "t:" + a["pair_url"], "t:Zebra-Yak@4", layout="de")
        got = await hidtest.scans(da, 1)
        assert got[0]["code"] == "Zebra-Yak@4"

    run(body())
