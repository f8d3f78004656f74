# SPDX-License-Identifier: MIT
"""HTTPS with the box's own CA (issue 14) against the real daemon: the plain
listener redirects everything but /trust and /healthz; /trust offers the CA in
its three forms; HTTPS and WSS verify against the CA for every name of the box;
TLS 1.0/1.1 and non-forward-secret ciphers are refused (openssl s_client);
the CA survives restarts; a configured certificate replaces it; and a
re-issued certificate is swapped in under a WSS load with no loss and no
reconnect."""
import base64
import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import time

import pytest

import sbtest
from sbtest import WS, assert_error, free_port, hello_scanner, http_request, run, scan_msg

HOST = "sbtest-box"
SIM = os.environ.get("SCANBRIDGE_SIM", "")
FAST = ("--rate-burst", "2000", "--rate-per-sec", "2000")


def tls_daemon(factory, *extra, name_flag=True, **kw):
    https = free_port()
    name = ("--hostname", HOST) if name_flag else ()
    d = factory("--tls", "on", "--https-port", https, *name, *extra, **kw)
    d.https_port = https
    return d


def ca_path(d):
    return os.path.join(d.data_dir, "tls", "ca.pem")


def client_ctx(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    return ctx


def https_request(d, method, path, server_hostname=HOST + ".local", cafile=None, json_body=None,
                  token=None):
    ctx = client_ctx(cafile or ca_path(d))
    conn = http.client.HTTPConnection("127.0.0.1", d.https_port, timeout=10)
    # connect to 127.0.0.1 but verify (and send SNI for) server_hostname
    sock = socket.create_connection(("127.0.0.1", d.https_port), timeout=10)
    conn.sock = ctx.wrap_socket(sock, server_hostname=server_hostname)
    alpn, cert = conn.sock.selected_alpn_protocol(), conn.sock.getpeercert()
    hdrs = {"Host": f"{server_hostname}:{d.https_port}"}
    body = None
    if json_body is not None:
        body = json.dumps(json_body)
        hdrs["Content-Type"] = "application/json"
    if token:
        hdrs["Authorization"] = "Bearer " + token
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        raw = r.read()
        return r.status, r.headers, raw, alpn, cert
    finally:
        conn.close()


def peer_cert_der(port, server_hostname="localhost"):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname=server_hostname) as t:
            return t.getpeercert(binary_form=True)


def sans(cert):
    return {v for k, v in cert.get("subjectAltName", ())}


# ---------------------------------------------------------------------------
# the plain listener


REDIRECTED = ["/", "/p", "/index.html", "/api/v1/sessions", "/metrics", "/x/y?z=1&w=2",
              "/trustee", "/phone/phone.mjs"]


def test_plain_listener_redirects_all_but_trust_and_healthz(daemon_factory):
    d = tls_daemon(daemon_factory)
    for path in REDIRECTED:
        for method in ("GET", "HEAD"):
            r = http_request(d.port, method, path, headers={"Host": f"{HOST}.local:{d.port}"})
            assert r.status == 301, (method, path, r.status, r.raw[:200])
            assert r.headers["Location"] == f"https://{HOST}.local:{d.https_port}{path}", \
                (path, r.headers["Location"])
            assert r.headers["Connection"].lower() == "close"
    # a POST too (its body is not read), and the address form of Host
    r = http_request(d.port, "POST", "/api/v1/sessions", json={},
                     headers={"Host": f"127.0.0.1:{d.port}"})
    assert r.status == 301 and r.headers["Location"] == \
        f"https://127.0.0.1:{d.https_port}/api/v1/sessions", r.headers
    # served here, not redirected
    assert http_request(d.port, "GET", "/healthz").status == 200
    for path in ("/trust", "/trust/", "/trust/info.json", "/trust/ca.pem", "/trust/ca.crt",
                 "/trust/scanbridge.mobileconfig", "/trust/qr.svg"):
        r = http_request(d.port, "GET", path, headers={"Host": f"{HOST}.local:{d.port}"})
        assert r.status == 200, (path, r.status, r.raw[:200])
    # the host check still runs first: a foreign name gets 403, not a redirect
    assert_error(http_request(d.port, "GET", "/", headers={"Host": "evil.example"}),
                 403, "forbidden")
    # nobody speaks the protocol over the plain port
    r = http_request(d.port, "GET", "/ws", headers={
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "scanbridge.v1"})
    assert_error(r, 403, "forbidden")


def test_trust_offers_the_ca_in_three_forms(daemon_factory):
    d = tls_daemon(daemon_factory)
    with open(ca_path(d), "rb") as f:
        pem = f.read()
    der = ssl.PEM_cert_to_DER_cert(pem.decode())
    host = {"Host": f"{HOST}.local:{d.port}"}

    r = http_request(d.port, "GET", "/trust/ca.pem", headers=host)
    assert r.raw == pem and r.headers["Content-Type"].startswith("application/x-pem-file")
    r = http_request(d.port, "GET", "/trust/ca.crt", headers=host)
    assert r.raw == der
    assert r.headers["Content-Type"] == "application/x-x509-ca-cert"
    assert "attachment" in r.headers["Content-Disposition"]
    r = http_request(d.port, "GET", "/trust/scanbridge.mobileconfig", headers=host)
    assert r.headers["Content-Type"] == "application/x-apple-aspen-config"
    text = r.raw.decode()
    assert text.startswith("<?xml") and "com.apple.security.root" in text
    assert base64.b64encode(der).decode() in "".join(text.split()), "the CA is not in the profile"

    info = http_request(d.port, "GET", "/trust/info.json", headers=host).body
    fp = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    assert info["tls"] is True and info["mode"] == "local-ca" and info["box"] == HOST, info
    assert info["ca"]["sha256"] == fp, (info["ca"], fp)
    assert HOST in info["ca"]["subject"], info["ca"]
    assert info["https_url"] == f"https://{HOST}.local:{d.https_port}/", info
    # the QR names the box's LAN address (phones resolve no .local names
    # reliably), or the name the page was opened with when it has none
    names = info["server"]["names"]
    lan = [n for n in names if n[0].isdigit() and not n.startswith("127.")] + \
        [f"[{n}]" for n in names if ":" in n and n != "::1" and not n.startswith("fe80")]
    trust_host = lan[0] if lan else HOST + ".local"
    assert info["trust_url"] == f"http://{trust_host}:{d.port}/trust", info
    assert {HOST, HOST + ".local", "localhost", "127.0.0.1"} <= set(info["server"]["names"]), info
    # opened on this computer (localhost), the QR must still name something a
    # phone reaches
    info = http_request(d.port, "GET", "/trust/info.json",
                        headers={"Host": f"localhost:{d.port}"}).body
    assert "localhost" not in info["trust_url"] and "127.0.0.1" not in info["trust_url"], info
    svg = http_request(d.port, "GET", "/trust/qr.svg", headers=host).raw.decode()
    text = sbtest.zbar_decode_svg(svg, d.tmp)
    assert text in (None, info["trust_url"]), text

    # the page itself, and nothing secret
    r = http_request(d.port, "GET", "/trust", headers=host)
    assert r.headers["Content-Type"].startswith("text/html") and b"<html" in r.raw.lower()
    for path in ("/trust/ca.key", "/trust/server.key", "/trust/../tls/ca.key",
                 "/trust/%2e%2e/tls/ca.key", "/trust/.hidden.js", "/trust/nope.html"):
        r = http_request(d.port, "GET", path, headers=host)
        # lws resolves ".." first: /tls/ca.key is then redirected like any path
        assert r.status in (301, 400, 403, 404), (path, r.status)
        assert b"PRIVATE KEY" not in (r.raw or b"")
    assert_error(http_request(d.port, "POST", "/trust/ca.pem", body=b"", headers=host),
                 405, "method_not_allowed")


def test_keys_private_and_ca_kept_across_restarts(daemon_factory):
    d = tls_daemon(daemon_factory)
    tls = os.path.join(d.data_dir, "tls")
    assert stat.S_IMODE(os.stat(tls).st_mode) == 0o700
    for name in ("ca.key", "server.key"):
        assert stat.S_IMODE(os.stat(os.path.join(tls, name)).st_mode) == 0o600, name
    with open(ca_path(d), "rb") as f:
        ca1 = f.read()
    cert1 = peer_cert_der(d.https_port)
    d.stop()
    d.start()
    with open(ca_path(d), "rb") as f:
        assert f.read() == ca1, "a restart made a new CA: every phone would have to trust again"
    assert peer_cert_der(d.https_port) == cert1, "a restart re-issued a valid certificate"
    assert "PRIVATE" not in d.log()


# ---------------------------------------------------------------------------
# HTTPS and WSS


def test_https_verifies_for_every_name_and_speaks_http11(daemon_factory):
    d = tls_daemon(daemon_factory)
    for name in (HOST, HOST + ".local", "localhost", "127.0.0.1"):
        st, hdrs, raw, alpn, cert = https_request(d, "GET", "/healthz", server_hostname=name)
        assert st == 200, (name, st)
        assert alpn == "http/1.1", alpn
        assert "Strict-Transport-Security" not in hdrs, "HSTS with a CA the device may not trust"
    with pytest.raises(ssl.SSLCertVerificationError):
        https_request(d, "GET", "/healthz", server_hostname="evil.example")
    # without the CA the certificate is not trusted
    with pytest.raises(ssl.SSLCertVerificationError):
        https_request(d, "GET", "/healthz", cafile=ssl.get_default_verify_paths().cafile
                      or "/etc/ssl/certs/ca-certificates.crt")
    st, hdrs, raw, _, _ = https_request(d, "GET", "/")
    assert st == 200 and b"<html" in raw.lower()
    assert "default-src 'self'" in hdrs["Content-Security-Policy"]


def test_pair_scan_delivered_over_https_and_wss(daemon_factory):
    d = tls_daemon(daemon_factory)
    ctx = ssl.create_default_context(cafile=ca_path(d))
    wss = f"wss://127.0.0.1:{d.https_port}/ws"
    origin = f"https://127.0.0.1:{d.https_port}"

    st, _, raw, _, _ = https_request(d, "POST", "/api/v1/sessions", json_body={})
    assert st == 201, raw
    c = json.loads(raw)
    assert c["pair_url"].startswith("https://"), c["pair_url"]
    st, _, raw, _, _ = https_request(d, "POST", "/api/v1/pair",
                                     json_body={"pair_code": c["pair_code"], "name": "phone"})
    assert st == 200, raw
    p = json.loads(raw)

    async def body():
        kw = dict(ssl=ctx, server_hostname=HOST + ".local", origin=origin)
        desk = await WS.open(wss, label="desktop", **kw)
        await desk.send({"type": "hello", "token": c["desktop_token"], "last_seq": 0})
        await desk.expect("welcome", role="desktop")
        sc = await WS.open(wss, label="scanner", **kw)
        await hello_scanner(sc, p["scanner_token"])
        await desk.expect("scanner_joined")
        await sc.send(scan_msg("t1"))
        got = await desk.expect("scan", id="t1", seq=1)
        await sc.expect("ack", id="t1", seq=1)
        await desk.send({"type": "ack", "seq": got["seq"]})
        await sc.expect("delivered", id="t1", seq=1)
        await sc.close()
        await desk.close()
    run(body())


# ---------------------------------------------------------------------------
# protocol versions and ciphers, testssl-style


def s_client(port, *args):
    exe = shutil.which("openssl")
    if not exe:
        pytest.skip("openssl is not installed")
    p = subprocess.run([exe, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                        *args], input=b"", capture_output=True, timeout=20)
    return p.returncode, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def test_only_tls12_and_13_with_forward_secret_ciphers(daemon_factory):
    d = tls_daemon(daemon_factory)
    # SECLEVEL=0: the refusal must come from the server, not our client's policy
    for old in ("-tls1", "-tls1_1"):
        rc, out = s_client(d.https_port, old, "-cipher", "DEFAULT@SECLEVEL=0")
        assert rc != 0 and "Cipher is (NONE)" in out or "no protocols available" in out \
            or "alert" in out, out[-800:]
    rc, out = s_client(d.https_port, "-tls1_2")
    assert rc == 0 and "Protocol  : TLSv1.2" in out, out[-800:]
    assert "Cipher    : ECDHE-ECDSA-" in out, out[-800:]
    rc, out = s_client(d.https_port, "-tls1_3")
    assert rc == 0 and "TLSv1.3" in out, out[-800:]
    # key exchange without forward secrecy (static RSA, plain DHE is not offered either)
    for cipher in ("AES128-GCM-SHA256", "AES256-SHA", "DHE-RSA-AES128-GCM-SHA256",
                   "ECDHE-ECDSA-AES128-SHA"):
        rc, out = s_client(d.https_port, "-tls1_2", "-cipher", cipher + "@SECLEVEL=0")
        assert rc != 0, (cipher, out[-800:])


# ---------------------------------------------------------------------------
# a configured certificate


def test_configured_certificate_replaces_the_local_ca(daemon_factory, tmp_path):
    first = tls_daemon(daemon_factory)
    tls = os.path.join(first.data_dir, "tls")
    cert, key = tmp_path / "site.pem", tmp_path / "site.key"
    shutil.copy(os.path.join(tls, "server.pem"), cert)
    shutil.copy(os.path.join(tls, "server.key"), key)
    first.stop()
    expect = ssl.PEM_cert_to_DER_cert(open(cert).read().split("-----END CERTIFICATE-----")[0]
                                      + "-----END CERTIFICATE-----\n")
    https = free_port()
    d = daemon_factory("--tls", "files", "--tls-cert", cert, "--tls-key", key,
                       "--https-port", https, "--hostname", HOST)
    d.https_port = https
    assert peer_cert_der(https) == expect
    st, hdrs, _, _, _ = https_request(d, "GET", "/healthz", cafile=ca_path(first))
    assert st == 200 and hdrs["Strict-Transport-Security"].startswith("max-age="), dict(hdrs)
    assert not os.path.exists(os.path.join(d.data_dir, "tls", "ca.key")), "made a CA it does not use"
    info = http_request(d.port, "GET", "/trust/info.json").body
    assert info["mode"] == "files" and info["ca"] is None, info
    assert_error(http_request(d.port, "GET", "/trust/ca.pem"), 404, "not_found")
    r = http_request(d.port, "GET", "/trust/info.json")
    assert "Strict-Transport-Security" not in r.headers
    # IT replaces the files (a renewed certificate): SIGHUP, or the next
    # minute's check, swaps them in without a restart
    other = tls_daemon(daemon_factory)
    otls = os.path.join(other.data_dir, "tls")
    shutil.copy(os.path.join(otls, "server.key"), str(key) + ".new")
    shutil.copy(os.path.join(otls, "server.pem"), str(cert) + ".new")
    os.replace(str(key) + ".new", key)
    os.replace(str(cert) + ".new", cert)
    d.signal(__import__("signal").SIGHUP)
    deadline = time.monotonic() + 10
    while peer_cert_der(https) == expect and time.monotonic() < deadline:
        time.sleep(0.1)
    assert peer_cert_der(https) != expect, "the replaced certificate was not taken"
    st, _, _, _, _ = https_request(d, "GET", "/healthz", cafile=ca_path(other))
    assert st == 200


def test_configured_key_that_does_not_match_is_refused(daemon_factory, tmp_path):
    a = tls_daemon(daemon_factory)
    b = tls_daemon(daemon_factory)
    cert = os.path.join(a.data_dir, "tls", "server.pem")
    key = os.path.join(b.data_dir, "tls", "server.key")
    d = daemon_factory("--tls", "files", "--tls-cert", cert, "--tls-key", key,
                       "--https-port", free_port(), start=False)
    d.spawn()
    assert d.proc.wait(timeout=10) == 1
    d.stopped = True
    assert "tls_cert" in d.log() and "PRIVATE" not in d.log(), d.log()[-1000:]


# ---------------------------------------------------------------------------
# re-issue and swap under load


def run_sim_bg(args):
    if not SIM or not os.access(SIM, os.X_OK):
        pytest.fail(f"SCANBRIDGE_SIM={SIM!r} is not an executable file")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCANBRIDGE_")}
    return subprocess.Popen([SIM] + [str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)


def test_reissued_certificate_swapped_in_under_load(daemon_factory):
    # the name comes from the file, which SIGHUP re-reads (a flag would win)
    d = tls_daemon(daemon_factory, *FAST, name_flag=False, config_text=f"hostname = {HOST}\n")
    old = peer_cert_der(d.https_port)
    sim = run_sim_bg(["load", "--url", f"https://127.0.0.1:{d.https_port}", "--cafile", ca_path(d),
                      "--sessions", 4, "--scanners", 2, "--rate", 50, "--duration", 8,
                      "--json", "-q"])
    time.sleep(3)
    # the box is renamed: SIGHUP re-issues the certificate for the new name
    with open(d.config_path, "w") as f:
        f.write("hostname = sbtest-renamed\n")
    d.signal(__import__("signal").SIGHUP)
    deadline = time.monotonic() + 10
    while peer_cert_der(d.https_port) == old and time.monotonic() < deadline:
        time.sleep(0.1)
    st, _, _, _, cert = https_request(d, "GET", "/healthz", server_hostname="sbtest-renamed.local")
    assert st == 200 and ("DNS", "sbtest-renamed.local") in cert["subjectAltName"], cert
    out, err = sim.communicate(timeout=60)
    assert sim.returncode == 0, err.decode()[-2000:]
    r = json.loads(out.decode().strip().splitlines()[-1])
    assert r["sent"] > 0 and r["acked"] == r["sent"] and r["delivered"] == r["acked"], r
    assert r["lost"] == 0 and r["duplicates"] == 0 and r["out_of_order"] == 0, r
    assert r["reconnects"] == 0, r
    assert "server certificate issued" in d.log()
