# SPDX-License-Identifier: MIT
"""End to end with a real (virtual) input device: when /dev/uinput is usable,
a virtual keyboard named like a barcode scanner is created, scanbridge-hid
finds it through udev (heuristic), grabs it, and the pairing URL and codes
typed into it arrive on a desktop of the real daemon. Elsewhere (CI here: no
/dev/uinput) the test is skipped, saying why; test_hid_replay covers the
reader on recorded events everywhere."""
import fcntl
import os
import struct
import time

import pytest

import hidtest
import sbtest
from sbtest import EAN13, run

UI_SET_EVBIT = 0x40045564
UI_SET_KEYBIT = 0x40045565
UI_DEV_CREATE = 0x5501
UI_DEV_DESTROY = 0x5502
EV_SYN, EV_KEY = 0, 1


def uinput_or_skip():
    path = "/dev/uinput"
    if not os.path.exists(path):
        why = "no /dev/uinput on this machine (uinput module absent or not exposed)"
    elif not os.access(path, os.W_OK):
        why = "/dev/uinput is not writable by this user"
    else:
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            why = f"cannot open /dev/uinput: {e}"
    print(f"SKIPPED test_hid_uinput: {why}")
    pytest.skip(why)


def create_gun(fd):
    fcntl.ioctl(fd, UI_SET_EVBIT, EV_KEY)
    fcntl.ioctl(fd, UI_SET_EVBIT, EV_SYN)
    for key in range(1, 249):
        fcntl.ioctl(fd, UI_SET_KEYBIT, key)
    name = b"scanbridge-test Barcode Scanner"
    dev = struct.pack("80sHHHHi", name, 0x03, 0x1234, 0x5678, 1, 0) + b"\0" * (4 * 64 * 4)
    os.write(fd, dev)
    fcntl.ioctl(fd, UI_DEV_CREATE)


def test_virtual_gun_end_to_end(daemon, bridges):
    fd = uinput_or_skip()
    try:
        a = daemon.create_session()
        hid = bridges(daemon, start=False)
        hid.fifos = {}
        start_watching_devices(hid)
        create_gun(fd)
        hid.wait_log("taken as a gun", timeout=10)
        time.sleep(0.2)

        async def body():
            da, _ = await sbtest.open_desktop(daemon, a["desktop_token"])
            os.write(fd, hidtest.events("t:" + a["pair_url"], "t:" + EAN13))
            got = await hidtest.scans(da, 1, timeout=15)
            assert got[0]["code"] == EAN13

        run(body())
    finally:
        try:
            fcntl.ioctl(fd, UI_DEV_DESTROY)
        finally:
            os.close(fd)


def start_watching_devices(hid):
    """Starts the bridge watching real devices (no --no-devices, no replay)."""
    import subprocess
    argv = [hidtest.HID, "-c", hid.conf, "--url", hid.url, "--outbox", hid.outbox]
    log = open(hid.log_path, "ab")
    hid.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    log.close()
    hid.wait_log("ready", 10)
