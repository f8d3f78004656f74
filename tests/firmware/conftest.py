# SPDX-License-Identifier: MIT
"""Fixtures of the scanbridge-hid tests: a fresh daemon, bridges cleaned up."""
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hidtest  # noqa: E402
import sbtest  # noqa: E402


@pytest.fixture
def daemon():
    d = sbtest.Daemon()
    d.start()
    try:
        yield d
        if not d.stopped:
            d.stop()
    finally:
        d.cleanup()


@pytest.fixture
def bridges():
    """bridges(daemon, **kw) -> started Bridge; all stopped (exit 0) at the end."""
    made = []

    def make(d, start=True, **kw):
        b = hidtest.Bridge(d, **kw)
        made.append(b)
        return b.start() if start else b

    yield make
    try:
        for b in made:
            b.stop()
    finally:
        for b in made:
            b.kill()
            shutil.rmtree(b.tmp, ignore_errors=True)
