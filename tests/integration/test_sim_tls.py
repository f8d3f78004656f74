# SPDX-License-Identifier: MIT
"""scanbridge-sim over HTTPS + WSS (issue 14) against the real daemon with
`--tls on` and its own CA: a load run trusting that CA (--cafile) with zero
loss, the same without it failing with a clear certificate error, --insecure
working, and the pairing demo (session + scanner) over https.

One daemon for the whole file (creating its CA is the slow part of a start).
Environment (set by CTest): SCANBRIDGE_SIM, the simulator binary, besides the
sbtest variables."""
import json
import os
import shutil
import subprocess

import pytest

import sbtest
from test_sim import SIM, one_json, run_sim, sim_env

FAST = ("--rate-burst", "2000", "--rate-per-sec", "2000")


@pytest.fixture(scope="module")
def tls_daemon():
    """A daemon serving HTTPS + WSS on https_port; its plain port (d.port,
    which the fixture's readiness check polls) answers /healthz."""
    https_port = sbtest.free_port()
    d = sbtest.Daemon(extra=("--tls", "on", "--https-port", https_port) + FAST)
    while d.port == https_port:
        d.port = sbtest.free_port()
    d.start(timeout=20.0 * sbtest.SLOW)
    try:
        d.https_url = f"https://127.0.0.1:{https_port}"
        d.cafile = os.path.join(d.data_dir, "tls", "ca.pem")
        assert os.path.isfile(d.cafile), "no CA in <data_dir>/tls after start-up"
        yield d
        d.stop()
    finally:
        d.cleanup()


def load(d, *trust, duration=3):
    return run_sim(["load", "--url", d.https_url, *trust, "--sessions", 3, "--scanners", 2,
                    "--rate", 20, "--duration", duration, "--settle", 10, "--json", "-q"],
                   timeout=60)


def test_load_over_wss_with_cafile_zero_loss(tls_daemon):
    rc, out, err = load(tls_daemon, "--cafile", tls_daemon.cafile)
    r = one_json(out, err)
    assert rc == 0, f"load exited {rc}: {r}\n{err[-2000:]}"
    # 6 scanners x 20/s x 3 s, give or take the scheduling at the edges
    assert r["sent"] >= 360 * (0.5 if sbtest.SANITIZE else 0.8), r
    assert r["acked"] == r["sent"] and r["delivered"] == r["acked"], r
    assert r["lost"] == 0 and r["duplicates"] == 0 and r["out_of_order"] == 0, r
    assert r["unacked"] == 0 and r["rate_limited"] == 0 and r["errors"] == 0, r
    assert r["reconnects"] == 0, r


def test_untrusted_ca_is_a_clear_certificate_error(tls_daemon):
    """The daemon's CA was made at its first start: no system store has it.
    SSL_CERT_FILE/SSL_CERT_DIR point the system store at nothing, so the
    result cannot depend on what this machine trusts."""
    env = sim_env()
    env["SSL_CERT_FILE"] = os.path.join(tls_daemon.tmp, "no-such-bundle.pem")
    env["SSL_CERT_DIR"] = os.path.join(tls_daemon.tmp, "no-such-dir")
    p = subprocess.run([SIM, "load", "--url", tls_daemon.https_url, "--duration", "1", "-q"],
                       capture_output=True, env=env, timeout=30)
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode != 0, f"load trusted an unknown CA: {p.stdout!r}\n{err}"
    assert p.returncode == 2, f"a set-up error exits 2, got {p.returncode}: {err}"
    assert "certificate verify failed" in err, err
    assert "--cafile" in err, f"no hint at --cafile: {err}"
    assert p.stdout.strip() == b"", p.stdout


def test_other_ca_is_refused(tls_daemon, tmp_path):
    """--cafile replaces the system store: a file with another CA is no help."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("no openssl command to make another CA")
    other = tmp_path / "other-ca.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(tmp_path / "other.key"),
                    "-out", str(other), "-days", "1", "-subj", "/CN=another CA"],
                   check=True, capture_output=True, timeout=30)
    rc, out, err = run_sim(["load", "--url", tls_daemon.https_url, "--cafile", str(other),
                            "--duration", 1, "-q"], timeout=30)
    assert rc == 2, f"load exited {rc}: {out}\n{err}"
    assert "certificate verify failed" in err, err


def test_insecure_skips_verification(tls_daemon):
    rc, out, err = load(tls_daemon, "--insecure", duration=2)
    r = one_json(out, err)
    assert rc == 0, f"load exited {rc}: {r}\n{err[-2000:]}"
    assert r["sent"] > 0 and r["acked"] == r["sent"] == r["delivered"], r
    assert r["lost"] == 0 and r["duplicates"] == 0, r


def test_http_url_on_the_tls_daemon_says_https(tls_daemon):
    """The plain port only redirects: the sim says so instead of a bare 301."""
    rc, out, err = run_sim(["load", "--url", tls_daemon.url, "--duration", 1, "-q"], timeout=30)
    assert rc == 2, f"load exited {rc}: {out}\n{err}"
    assert "HTTP 301" in err and "https" in err, err


def test_session_and_scanner_pair_over_https(tls_daemon):
    d = tls_daemon
    sess = subprocess.Popen([SIM, "session", "--url", d.https_url, "--cafile", d.cafile,
                             "--count", "2", "--no-qr"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=sim_env())
    try:
        first = json.loads(sess.stdout.readline())
        assert first["type"] == "session", first
        assert first["pair_url"].startswith(d.https_url + "/p#"), first
        codes = ["4006381333931", "CODE-128 TLS"]
        rc, out, err = run_sim(["scanner", "--pair-url", first["pair_url"], "--cafile", d.cafile],
                               timeout=30, stdin=("\n".join(codes) + "\n").encode())
        assert rc == 0, f"scanner exited {rc}: {out}\n{err}"
        acks = [m for m in map(json.loads, filter(str.strip, out.splitlines()))
                if m["type"] == "ack"]
        assert [a["seq"] for a in acks] == [1, 2], out
        rest, serr = sess.communicate(timeout=15)
        assert sess.returncode == 0, serr.decode()
    finally:
        if sess.poll() is None:
            sess.kill()
            sess.wait()
    scans = [m for m in map(json.loads, filter(str.strip, rest.decode().splitlines()))
             if m.get("type") == "scan"]
    assert [s["code"] for s in scans] == codes, rest
