# SPDX-License-Identifier: MIT
"""Operations: command line, configuration precedence, static pages and their
headers, health, metrics, signals, files in the data dir, logs."""
import os
import re
import signal
import sqlite3
import stat
import time

import sbtest
from sbtest import (V1, Daemon, http_request, now_ms, open_desktop, open_scanner, run, run_cli,
                    scan_msg)


def ttl_of(d):
    """The session_ttl in effect, measured from a new session's expires_at (s)."""
    c = d.create_session()
    return round((c["expires_at"] - now_ms()) / 1000)


# ------------------------------------------------------------------ command line
def test_help():
    rc, out, err = run_cli(["--help"])
    assert rc == 0, (rc, out, err)
    assert "--session-ttl" in out, out
    for flag in ("--port", "--data-dir", "--config"):
        assert flag in out, f"--help does not mention {flag}"


def test_version(daemon):
    rc, out, err = run_cli(["--version"])
    assert rc == 0, (rc, out, err)
    m = re.search(r"\d+\.\d+\.\d+", out)
    assert m, out
    assert daemon.health().body["version"] in out, (out, daemon.health().body)


def test_unknown_flag_fails():
    rc, out, err = run_cli(["--no-such-flag", "1"])
    assert rc != 0
    assert "no-such-flag" in out + err


def test_config_check(tmp_path):
    good = tmp_path / "good.conf"
    good.write_text("# comment\nsession_ttl = 30\n\nport = 9999\n")
    rc, out, err = run_cli(["-c", str(good), "-t"])
    assert rc == 0, (rc, out, err)
    bad = tmp_path / "bad.conf"
    bad.write_text("# comment\nsession_ttl = 30\nno_such_key = 1\n")
    rc, out, err = run_cli(["-c", str(bad), "-t"])
    assert rc == 1, (rc, out, err)
    assert f"{bad}:3" in out + err, (out, err)
    badval = tmp_path / "badval.conf"
    badval.write_text("session_ttl = soon\n")
    rc, out, err = run_cli(["--config", str(badval), "-t"])
    assert rc == 1, (rc, out, err)
    assert f"{badval}:1" in out + err, (out, err)


def test_config_precedence_flag_env_file(daemon_factory, tmp_path):
    conf = tmp_path / "p.conf"
    conf.write_text("session_ttl = 200\n")
    d = daemon_factory(config_path=str(conf))
    assert abs(ttl_of(d) - 200) <= 2
    d = daemon_factory(config_path=str(conf), env={"SCANBRIDGE_SESSION_TTL": "120"})
    assert abs(ttl_of(d) - 120) <= 2
    d = daemon_factory("--session-ttl", "300", config_path=str(conf),
                       env={"SCANBRIDGE_SESSION_TTL": "120"})
    assert abs(ttl_of(d) - 300) <= 2


def test_env_session_ttl(daemon_factory):
    d = daemon_factory(env={"SCANBRIDGE_SESSION_TTL": "120"})
    c = d.create_session()
    assert abs(c["expires_at"] - (now_ms() + 120_000)) < 3000, c


# ------------------------------------------------------------------ HTTP surface
def check_security_headers(r, path):
    csp = r.headers.get("Content-Security-Policy")
    assert csp, f"{path}: no Content-Security-Policy"
    assert (r.headers.get("X-Content-Type-Options") or "").lower() == "nosniff", f"{path}: no nosniff"
    assert "frame-ancestors" in csp or r.headers.get("X-Frame-Options"), \
        f"{path}: neither CSP frame-ancestors nor X-Frame-Options"


def test_static_pages(daemon):
    for path in ("/", "/p"):
        r = daemon.api("GET", path)
        assert r.status == 200, (path, r.status)
        assert r.headers.get("Content-Type", "").startswith("text/html"), (path, r.headers)
        assert b"<" in r.raw
        check_security_headers(r, path)
    r = daemon.api("GET", "/client/scanbridge.js")
    assert r.status == 200, r.status
    assert "javascript" in r.headers.get("Content-Type", ""), r.headers
    assert len(r.raw) > 0
    check_security_headers(r, "/client/scanbridge.js")
    r = daemon.api("GET", "/no-such-page.html")
    assert r.status == 404, r.status


def test_healthz(daemon):
    r = daemon.api("GET", "/healthz")
    assert r.status == 200
    assert r.body["status"] == "ok" and r.body["db"] == "ok", r.body
    assert isinstance(r.body["uptime_s"], int)
    time.sleep(1.1)
    assert daemon.health().body["uptime_s"] >= 1


def test_metrics_count_relayed_scans(daemon):
    assert daemon.metric("scanbridge_scans_relayed_total") == 0

    async def body():
        s = daemon.session()
        desk, _ = await open_desktop(daemon, s.desktop_token)
        sc, _ = await open_scanner(daemon, s.scanner["token"])
        await desk.expect("scanner_joined")
        await sc.send(scan_msg("m-1", "x"))
        await sc.expect("ack", seq=1)
        await desk.expect("scan", seq=1)
        await sc.send(scan_msg("m-1", "x"))
        await sc.expect("ack", seq=1, duplicate=True)
    run(body())
    assert daemon.metric("scanbridge_scans_relayed_total") >= 1


# ------------------------------------------------------------------ signals
def test_sighup_reloads_session_ttl(daemon_factory, tmp_path):
    conf = tmp_path / "hup.conf"
    conf.write_text("session_ttl = 100\n")
    d = daemon_factory(config_path=str(conf))
    assert abs(ttl_of(d) - 100) <= 2
    conf.write_text("session_ttl = 250\n")
    d.signal(signal.SIGHUP)
    deadline = time.monotonic() + 3
    while abs(ttl_of(d) - 250) > 2:
        assert time.monotonic() < deadline, "SIGHUP did not apply session_ttl"
        time.sleep(0.1)
    assert d.health().status == 200
    # a broken file on reload keeps the running configuration
    conf.write_text("session_ttl = 250\nno_such_key = 1\n")
    d.signal(signal.SIGHUP)
    time.sleep(0.5)
    assert d.alive() and d.health().status == 200
    assert abs(ttl_of(d) - 250) <= 2


def test_sigterm_closes_clients_1001_and_exits_0(daemon):
    async def body():
        s = daemon.session()
        desk, _ = await open_desktop(daemon, s.desktop_token)
        sc, _ = await open_scanner(daemon, s.scanner["token"])
        await desk.expect("scanner_joined")
        await sc.send(scan_msg("t-1", "x"))
        await sc.expect("ack", seq=1)
        await desk.expect("scan", seq=1)
        daemon.terminate()
        await desk.expect_close(1001)
        await sc.expect_close(1001)
    run(body())
    daemon.wait_stopped(10)


# ------------------------------------------------------------------ files
def test_database_newer_than_binary_is_refused(daemon_factory):
    d = daemon_factory(start=False)
    con = sqlite3.connect(d.db_path)
    con.execute("PRAGMA user_version=999")
    con.commit()
    con.close()
    d.spawn()
    rc = d.wait_exit(10)
    d.stopped = True
    assert rc != 0, d.log()
    lines = [l for l in d.log().splitlines() if "newer" in l.lower()]
    assert lines, f"no message mentioning 'newer':\n{d.log()}"
    d.check_sanitizers()


def test_secret_file(daemon):
    st = os.stat(daemon.secret_path)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert st.st_size == 32
    first = daemon.secret()
    c = daemon.create_session()
    daemon.stop()
    daemon.start()
    assert daemon.secret() == first, "the secret changed across a restart"
    # tokens survive the restart
    assert daemon.get_session(c["session"], c["desktop_token"])["session"] == c["session"]


def test_data_dir_is_created_0700(daemon_factory, tmp_path):
    target = tmp_path / "fresh" / "data"
    os.makedirs(target.parent)
    d = daemon_factory(data_dir=str(target))
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o700
    assert os.path.exists(d.db_path)


def test_readable_secret_is_refused(daemon_factory):
    d = daemon_factory()
    d.stop()
    os.chmod(d.secret_path, 0o644)
    d.spawn()
    rc = d.wait_exit(10)
    d.stopped = True
    assert rc != 0, "started with a group/other-readable secret"
    d.check_sanitizers()


def test_wrong_size_secret_is_refused(daemon_factory):
    d = daemon_factory(start=False)
    fd = os.open(d.secret_path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.write(fd, b"short")
    os.close(fd)
    d.spawn()
    rc = d.wait_exit(10)
    d.stopped = True
    assert rc != 0, "started with a 5-byte secret"


# ------------------------------------------------------------------ logs
def test_logs_never_contain_tokens_or_pair_codes(daemon):
    async def body():
        s = daemon.session()
        code2 = daemon.new_pair_code(s.sid, s.desktop_token)["pair_code"]
        daemon.api("POST", f"{V1}/pair", json={"pair_code": "bogus-code-xyz"})
        desk, _ = await open_desktop(daemon, s.desktop_token)
        sc, _ = await open_scanner(daemon, s.scanner["token"])
        await desk.expect("scanner_joined")
        return s, code2
    s, code2 = run(body())
    daemon.stop()
    log = daemon.log()
    assert 'msg="listening"' in log and "url=" in log, log[-2000:]
    assert f"desktop: http://127.0.0.1:{daemon.port}/" in log, log[-2000:]
    secrets = {"desktop token": s.desktop_token, "scanner token": s.scanner["token"],
               "pair code": s.pair_code, "second pair code": code2}
    assert "bogus-code-xyz" not in log, "a (wrong) pair code appears in the log"
    for name, value in secrets.items():
        assert value not in log, f"the {name} appears in the log"
        # not even the signature part of a token
        if value.count(".") == 2:
            assert value.split(".")[2] not in log, f"the {name} signature appears in the log"
    for line in log.splitlines():
        if line.startswith("ts="):
            assert re.search(r"\blevel=(error|warn|info|debug)\b", line) and " msg=" in line, line
