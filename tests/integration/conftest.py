# SPDX-License-Identifier: MIT
"""Fixtures: one fresh scanbridged per test, on its own port and data dir."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sbtest  # noqa: E402


@pytest.fixture
def daemon_factory():
    """daemon_factory(*flags, env=None, start=True, **kw) -> started Daemon.
    Every daemon made is SIGTERMed at the end of the test, which must exit 0
    (and leave a clean sanitizer log under SB_SANITIZE=ON)."""
    made = []

    def make(*extra, start=True, **kw):
        d = sbtest.Daemon(extra=extra, **kw)
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    try:
        for d in made:
            if d.proc is not None and not d.stopped:
                d.stop()
    finally:
        for d in made:
            d.cleanup()


@pytest.fixture
def daemon(daemon_factory):
    """A scanbridged on its embedded defaults."""
    return daemon_factory()


@pytest.fixture(scope="module")
def shared():
    """One daemon and one session (desktop + paired scanner) for a whole test
    file of many small cases. The cases open their own sockets; seqs are
    checked relative to the head."""
    d = sbtest.Daemon()
    d.start()
    try:
        s = d.session()
        yield d, s
        d.stop()
    finally:
        d.cleanup()
