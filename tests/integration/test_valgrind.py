"""The daemon under valgrind memcheck: a full flow, then SIGTERM with sockets
and a long-poll still open must leave zero errors and no leaks (the drain path
is where ownership mistakes hide)."""
import os
import shutil
import threading
import time

import pytest

from sbtest import SANITIZE, V1, WS, Daemon, open_desktop, open_scanner, run

pytestmark = pytest.mark.skipif(SANITIZE or not shutil.which("valgrind"),
                                reason="valgrind cannot run an ASan build / is not installed")


class ValgrindDaemon(Daemon):
    def argv(self):
        return ["valgrind", "--quiet", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
                "--track-fds=no"] + super().argv()


def test_full_flow_and_shutdown_are_valgrind_clean():
    d = ValgrindDaemon()
    d.start(timeout=60)
    s = d.session(scanners=1)
    parked = {}

    def long_poll():
        parked["r"] = d.api("GET", f"{V1}/sessions/{s.sid}/scans?after=1000000&wait=30",
                            token=s.desktop_token, timeout=60)

    async def body():
        desk, _ = await open_desktop(d, s.desktop_token)
        sc, _ = await open_scanner(d, s.scanner["token"])
        for i in range(20):
            await sc.send({"type": "scan", "id": f"v{i}", "code": "4006381333931", "format": "EAN_13"})
            await sc.expect("ack", id=f"v{i}")
        await desk.send({"type": "ack", "seq": 20})
        th = threading.Thread(target=long_poll)
        th.start()
        time.sleep(0.5)
        d.terminate()
        code = (await desk.until_close(timeout=30))[1]
        assert code == 1001
        th.join(30)
    run(body(), timeout=120)
    rc = d.wait_exit(timeout=60)
    log = d.log()
    assert rc == 0, "valgrind reported errors or leaks (exit 99) or the daemon failed:\n" + log[-6000:]
    assert "Invalid" not in log and "definitely lost" not in log, log[-6000:]
    assert parked["r"].status in (200, 503), parked["r"]
