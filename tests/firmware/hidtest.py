# SPDX-License-Identifier: MIT
"""Helpers for the scanbridge-hid integration tests: the bridge as a process
fed through a FIFO (its --replay input, read by the same reader code as a live
gun), key-event streams made by scanbridge-hid-gen, and a desktop that acks.

Environment (set by CTest): SCANBRIDGED, SCANBRIDGE_HID, SCANBRIDGE_HID_GEN,
SB_SANITIZE, SB_SOURCE_DIR."""
import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import sbtest  # noqa: E402

HID = os.environ.get("SCANBRIDGE_HID", "")
GEN = os.environ.get("SCANBRIDGE_HID_GEN", "")


def events(*items, layout="us"):
    """The struct input_event stream a gun with `layout` sends for items
    (scanbridge-hid-gen syntax: "t:TEXT" is TEXT then Enter)."""
    if not GEN:
        pytest.fail("SCANBRIDGE_HID_GEN is not set")
    return subprocess.run([GEN, "-l", layout] + list(items), check=True,
                          capture_output=True).stdout


class Bridge:
    """One scanbridge-hid with --replay guns on FIFOs and its own outbox."""

    def __init__(self, daemon, guns=("gun1",), config_text="", tmp=None):
        if not HID:
            pytest.fail("SCANBRIDGE_HID is not set")
        self.tmp = tmp or tempfile.mkdtemp(prefix="sbhid-")
        self.outbox = os.path.join(self.tmp, "outbox.db")
        self.conf = os.path.join(self.tmp, "hid.conf")
        with open(self.conf, "w") as f:
            f.write(config_text or "# test\n")
        self.log_path = os.path.join(self.tmp, "hid.log")
        self.fifos = {}
        for g in guns:
            p = os.path.join(self.tmp, g + ".fifo")
            if not os.path.exists(p):
                os.mkfifo(p)
            self.fifos[g] = p
        self.url = daemon.url
        self.proc = None
        self.writers = {}

    def start(self):
        argv = [HID, "-c", self.conf, "--url", self.url, "--outbox", self.outbox, "--no-devices"]
        for g, p in self.fifos.items():
            argv += ["--replay", f"{g}={p}"]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        self.wait_log("ready", 10)
        for g, p in self.fifos.items():
            self.writers[g] = os.open(p, os.O_WRONLY)
        return self

    def type(self, gun, *items, layout="us"):
        """The gun `gun` scans: its events are written into its FIFO."""
        os.write(self.writers[gun], events(*items, layout=layout))

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, text, timeout=10.0, count=1):
        deadline = time.monotonic() + timeout * sbtest.SLOW
        while time.monotonic() < deadline:
            if self.log().count(text) >= count:
                return
            if self.proc.poll() is not None:
                pytest.fail(f"scanbridge-hid exited {self.proc.returncode}:\n{self.log()[-3000:]}")
            time.sleep(0.05)
        pytest.fail(f"scanbridge-hid log lacks {text!r} x{count}:\n{self.log()[-3000:]}")

    def pending(self):
        db = sqlite3.connect(self.outbox)
        try:
            return db.execute("SELECT count(*) FROM scans").fetchone()[0]
        finally:
            db.close()

    def stop(self):
        for fd in self.writers.values():
            os.close(fd)
        self.writers = {}
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(10)
            assert rc == 0, f"scanbridge-hid exited {rc}:\n{self.log()[-3000:]}"
        if sbtest.SANITIZE:
            bad = [l for l in self.log().splitlines()
                   if any(m in l for m in sbtest.SANITIZER_MARKERS)]
            assert not bad, "sanitizer reports:\n" + self.log()[-6000:]

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


async def scans(ws, n, timeout=10.0, ack=True):
    """The next n scans a desktop receives (other messages skipped), acked."""
    got = []
    deadline = time.monotonic() + timeout * sbtest.SLOW
    while len(got) < n:
        left = deadline - time.monotonic()
        assert left > 0, f"[{ws.label}] got {len(got)} of {n} scans: {got!r}"
        msg = await ws.recv(left)
        if msg["type"] == "scan":
            got.append(msg)
            if ack:
                await ws.send({"type": "ack", "seq": msg["seq"]})
    return got


async def no_scan(ws, seconds):
    """No scan arrives for `seconds` (joins/leaves may)."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            msg = await asyncio.wait_for(ws.conn.recv(), left)
        except asyncio.TimeoutError:
            return
        assert '"scan"' not in msg or '"type":"scan"' not in msg.replace(" ", ""), \
            f"[{ws.label}] unexpected scan {msg!r}"
