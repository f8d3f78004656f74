# SPDX-License-Identifier: MIT
"""The data directory belongs to one daemon (issue 12): a second scanbridged on
the same directory is refused while the first runs, and only then; every file
the daemon keeps there is 0600; a directory others can write into, or a secret
that is a link or someone else's, is refused with the path in the message."""
import os
import stat
import time

import pytest

from sbtest import SLOW


def refused(d, timeout=10.0):
    """Starts d expecting it to give up by itself with status 1: its error lines."""
    d.spawn()
    rc = d.wait_exit(timeout)
    d.stopped = True
    assert rc == 1, f"exit status {rc}, expected 1:\n{d.log()[-3000:]}"
    d.check_sanitizers()
    errors = [l for l in d.log().splitlines() if "level=error" in l]
    assert errors, f"no error line:\n{d.log()[-3000:]}"
    return "\n".join(errors)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_second_daemon_on_the_same_dir_is_refused_and_the_first_keeps_serving(daemon_factory):
    first = daemon_factory()
    s = first.session()
    second = daemon_factory(data_dir=first.data_dir, start=False)
    assert second.port != first.port
    t0 = time.monotonic()
    err = refused(second, timeout=10.0)
    took = time.monotonic() - t0
    assert took < 5.0 * SLOW, f"the second daemon took {took:.1f} s to give up"
    assert first.data_dir in err, f"the message does not name the data dir:\n{err}"
    assert f"pid={first.proc.pid}" in err, f"the message does not name the holder's pid:\n{err}"
    assert "in use" in err, err
    # The first one never noticed.
    assert first.alive()
    assert first.health().status == 200
    assert first.get_session(s.sid, s.desktop_token)["session"] == s.sid
    assert first.post_scan(s.sid, s.scanner["token"], "after-refusal").status == 201


def test_a_killed_daemon_does_not_block_a_restart(daemon_factory):
    first = daemon_factory()
    s = first.session()
    first.kill9()      # no clean-up at all: the lock file stays behind
    second = daemon_factory(data_dir=first.data_dir)     # start() fails if it exits
    assert second.get_session(s.sid, s.desktop_token)["session"] == s.sid
    # It holds the lock now, under its own pid.
    third = daemon_factory(data_dir=first.data_dir, start=False)
    assert f"pid={second.proc.pid}" in refused(third)
    # A clean stop releases it too.
    second.stop()
    daemon_factory(data_dir=first.data_dir)


def test_files_in_the_data_dir_are_0600(daemon_factory):
    d = daemon_factory()
    s = d.session()
    assert d.post_scan(s.sid, s.scanner["token"], "mode-check").status == 201
    # -wal and -shm exist while the daemon runs.
    for name in ("scanbridge.db", "scanbridge.db-wal", "scanbridge.db-shm", "secret"):
        path = os.path.join(d.data_dir, name)
        assert os.path.exists(path), f"{name} missing: {sorted(os.listdir(d.data_dir))}"
        assert mode(path) == 0o600, f"{name} is {oct(mode(path))}"
    for name in os.listdir(d.data_dir):
        assert not mode(os.path.join(d.data_dir, name)) & 0o077, \
            f"{name} is {oct(mode(os.path.join(d.data_dir, name)))}"


def test_database_files_open_to_others_are_made_private(daemon_factory):
    """A data dir from a version that created the database 0644: tightened at
    start (with a warning), not refused, so an upgrade keeps working."""
    d = daemon_factory()
    s = d.session()
    d.stop()
    os.chmod(d.db_path, 0o644)
    d.start()
    assert mode(d.db_path) == 0o600, oct(mode(d.db_path))
    assert d.get_session(s.sid, s.desktop_token)["session"] == s.sid
    warned = [l for l in d.log().splitlines() if "level=warn" in l and d.db_path in l]
    assert warned, f"no warning naming {d.db_path}:\n{d.log()[-3000:]}"


@pytest.mark.parametrize("dir_mode", [0o770, 0o707, 0o1777], ids=oct)
def test_data_dir_writable_by_others_is_refused(daemon_factory, dir_mode):
    d = daemon_factory(start=False)
    os.chmod(d.data_dir, dir_mode)
    err = refused(d)
    assert d.data_dir in err and "writable by group or others" in err, err
    assert not os.path.exists(d.db_path), "the database was created in a refused dir"


def test_symlinked_secret_is_refused(daemon_factory):
    d = daemon_factory()
    d.stop()
    real = os.path.join(d.tmp, "secret-elsewhere")
    os.rename(d.secret_path, real)
    os.symlink(real, d.secret_path)
    err = refused(d)
    assert d.secret_path in err and "symbolic link" in err, err


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
def test_secret_owned_by_another_user_is_refused(daemon_factory):
    d = daemon_factory()
    d.stop()
    os.chown(d.secret_path, 65534, -1)
    err = refused(d)
    assert d.secret_path in err and "owned by uid 65534" in err, err
