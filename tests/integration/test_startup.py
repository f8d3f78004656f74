# SPDX-License-Identifier: MIT
"""Bad start states: each is refused with a clear one-line error and exit
status 1 — never a crash, and never a fresh database silently put over an
existing one."""
import hashlib
import os
import socket

from sbtest import BIN, free_port, run_cli


def start(tmp_path, *extra, data_dir=None, port=None):
    """Runs the daemon expecting it to refuse to start: (rc, stderr)."""
    cfg = tmp_path / "empty.conf"
    cfg.write_text("# test\n")
    args = ["-c", str(cfg), "--port", str(port or free_port()), "--bind", "127.0.0.1",
            "--data-dir", str(data_dir or tmp_path / "data")] + list(extra)
    rc, out, err = run_cli(args, timeout=15)
    return rc, err


def error_lines(err):
    return [l for l in err.splitlines() if "level=error" in l]


def assert_refused(rc, err, *words):
    assert rc == 1, f"exit {rc} (negative = killed by a signal):\n{err}"
    errs = error_lines(err)
    assert errs, f"no error line:\n{err}"
    text = " ".join(errs).lower()
    for w in words:
        assert w.lower() in text, f"{w!r} not in the error:\n{err}"
    for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        assert marker not in err, err


def test_data_dir_that_is_a_file(tmp_path):
    f = tmp_path / "notadir"
    f.write_text("x")
    rc, err = start(tmp_path, data_dir=f)
    assert_refused(rc, err, "data dir")


def test_data_dir_that_cannot_be_created(tmp_path):
    rc, err = start(tmp_path, data_dir="/proc/scanbridge-cannot-exist/data")
    assert_refused(rc, err, "data dir")


def test_corrupt_database_is_refused_and_left_alone(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    db = data / "scanbridge.db"
    junk = os.urandom(8192)
    db.write_bytes(junk)
    rc, err = start(tmp_path, data_dir=data)
    assert_refused(rc, err, "database")
    assert hashlib.sha256(db.read_bytes()).digest() == hashlib.sha256(junk).digest(), \
        "the corrupt database was modified or replaced"


def test_truncated_database_header_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    db = data / "scanbridge.db"
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 84)
    rc, err = start(tmp_path, data_dir=data)
    assert_refused(rc, err, "database")


def test_secret_that_is_a_directory(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "secret").mkdir()
    rc, err = start(tmp_path, data_dir=data)
    assert_refused(rc, err, "secret")


def test_port_in_use(tmp_path):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        rc, err = start(tmp_path, port=s.getsockname()[1])
        assert_refused(rc, err, "listen")
    finally:
        s.close()


def test_bad_bind_address(tmp_path):
    rc, err = start(tmp_path, "--bind", "203.0.113.77")
    assert_refused(rc, err, "listen")


def test_config_errors_exit_1_with_file_and_line(tmp_path):
    cfg = tmp_path / "bad.conf"
    cfg.write_text("port = 8080\n\nsession_ttl = soon\n")
    rc, out, err = run_cli(["-c", str(cfg), "-t"])
    assert rc == 1, (rc, err)
    assert f"{cfg}:3:" in err, err
    assert len(err.strip().splitlines()) == 1, err
