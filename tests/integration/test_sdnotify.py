# SPDX-License-Identifier: MIT
"""systemd's notify protocol as a Type=notify unit sees it, without systemd:
the test is the NOTIFY_SOCKET. READY=1 comes once /healthz answers, the
watchdog is petted at half of WATCHDOG_USEC from the event loop, and SIGTERM
says STOPPING=1 before the daemon exits 0. The daemon speaks the protocol
itself (daemon/sdnotify.c), so this is the whole of what systemd relies on."""
import os
import socket
import time
import urllib.request


def notify_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(10)
    return s, path


def messages_until(sock, want, timeout=10.0):
    got = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        got.append(msg)
        if want in msg:
            return got
    raise AssertionError(f"no {want!r} in {got!r}")


def test_ready_watchdog_and_stopping(daemon_factory, tmp_path):
    sock, path = notify_socket(tmp_path)
    d = daemon_factory(start=False, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
    d.start()
    got = messages_until(sock, "READY=1")
    ready = got[-1]
    assert "STATUS=serving http://127.0.0.1:%d" % d.port in ready, ready
    with urllib.request.urlopen(d.url + "/healthz", timeout=5) as r:
        assert r.status == 200
    t0 = time.monotonic()
    pets = 0
    while pets < 3:
        messages_until(sock, "WATCHDOG=1", timeout=2.0)
        pets += 1
    # three pets at ~200 ms (half of 400 ms), not a busy loop of them
    assert 0.3 < time.monotonic() - t0 < 3.0
    d.stop()                     # asserts exit status 0
    messages_until(sock, "STOPPING=1", timeout=2.0)
    sock.close()


def test_watchdog_for_another_pid_is_not_ours(daemon_factory, tmp_path):
    sock, path = notify_socket(tmp_path)
    d = daemon_factory(start=False, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000",
                                         "WATCHDOG_PID": str(os.getpid())})
    d.start()
    messages_until(sock, "READY=1")
    sock.settimeout(0.6)
    try:
        extra = sock.recv(4096).decode()
    except socket.timeout:
        extra = ""
    assert "WATCHDOG" not in extra
    sock.close()


def test_no_notify_socket_runs_the_same(daemon):
    with urllib.request.urlopen(daemon.url + "/healthz", timeout=5) as r:
        assert r.status == 200
