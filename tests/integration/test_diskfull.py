# SPDX-License-Identifier: MIT
"""Disk full for real: the data dir on a small tmpfs, filled up while a phone
streams. The daemon stops acknowledging (`error` unavailable, never a false
ack), /healthz says degraded, it keeps serving, and once space returns the
phone's resends are stored and everything acknowledged is there exactly once.
Skipped where this machine cannot mount a tmpfs (needs root)."""
import os
import subprocess
import tempfile

import pytest

from sbtest import Daemon, open_scanner, run

SIZE = 4 * 1024 * 1024


@pytest.fixture
def small_disk():
    mnt = tempfile.mkdtemp(prefix="sb-tmpfs-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", mnt],
                       capture_output=True)
    if r.returncode != 0:
        os.rmdir(mnt)
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", mnt])
    os.rmdir(mnt)


def fill(path, leave):
    """Fills the file system of path until `leave` bytes are free."""
    st = os.statvfs(path)
    free = st.f_bavail * st.f_frsize
    with open(os.path.join(path, "filler"), "wb") as f:
        f.write(b"\0" * max(0, free - leave))


def test_disk_full_acks_nothing_then_recovers(small_disk):
    data = os.path.join(small_disk, "data")
    os.mkdir(data, 0o700)
    d = Daemon(extra=("--rate-burst", "100000", "--rate-per-sec", "100000"), data_dir=data)
    d.start()
    try:
        s = d.session(scanners=1)
        fill(small_disk, 512 * 1024)
        acked, refused = {}, []

        async def stream():
            sc, _ = await open_scanner(d, s.scanner["token"])
            for i in range(3000):
                sid = f"full-{i}"
                await sc.send({"type": "scan", "id": sid, "code": "X" * 500})
                m = await sc.recv(timeout=10)
                if m["type"] == "ack":
                    acked[sid] = m["seq"]
                else:
                    assert m["type"] == "error" and m["code"] == "unavailable", m
                    assert m["id"] == sid
                    refused.append(sid)
                    if len(refused) >= 5:
                        break
            return sc

        async def body():
            sc = await stream()
            assert refused, f"the disk never filled ({len(acked)} scans acked)"
            assert len(acked) >= 10, f"the disk was full from the start ({len(acked)} acked)"
            print(f"acked before full: {len(acked)}, refused: {len(refused)}")
            h = d.api("GET", "/healthz")
            assert h.status == 503 and h.body["writes"] == "failing", h
            assert d.api("GET", f"/api/v1/sessions/{s.sid}", token=s.desktop_token).status == 200
            os.unlink(os.path.join(small_disk, "filler"))       # space returns
            for sid in refused:                                # the phone resends
                await sc.send({"type": "scan", "id": sid, "code": "X" * 500})
                m = await sc.recv(timeout=10)
                assert m["type"] == "ack" and m["duplicate"] is False, m
                acked[sid] = m["seq"]
            h = d.api("GET", "/healthz")
            assert h.status == 200 and h.body["writes"] == "ok", h
        run(body(), timeout=120)

        # everything acknowledged is stored once, seqs without gaps
        seqs = sorted(acked.values())
        assert seqs == list(range(1, len(seqs) + 1)), seqs[-10:]
        got, after = {}, 0
        while True:
            r = d.api("GET", f"/api/v1/sessions/{s.sid}/scans?after={after}&limit=500",
                      token=s.desktop_token)
            assert r.status == 200, r
            if not r.body["scans"]:
                break
            for x in r.body["scans"]:
                assert x["id"] not in got
                got[x["id"]] = x["seq"]
            after = r.body["scans"][-1]["seq"]
        assert got == acked
    finally:
        d.stop()
        d.cleanup()
