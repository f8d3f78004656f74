# SPDX-License-Identifier: MIT
"""Where pair links (and their QR codes) point, issue 19 item 1: public_url
when set; else the Host the desktop page was opened with when it is one of the
box's own names and not loopback; else the box's LAN address (wildcard bind)
or the bind address. A link naming only this computer is warned about."""
import os
import subprocess

import sbtest
from sbtest import http_request

BOX = "sbtest-links"


def create(d, host):
    r = http_request(d.port, "POST", "/api/v1/sessions", json={}, headers={"Host": host})
    assert r.status == 201, r.raw
    return r.body


def new_code(d, c, host):
    r = http_request(d.port, "POST", f"/api/v1/sessions/{c['session']}/pair-code",
                     token=c["desktop_token"], headers={"Host": host})
    assert r.status == 201, r.raw
    return r.body


def qr_text(d, c, host):
    r = http_request(d.port, "GET", f"/api/v1/sessions/{c['session']}/qr.svg",
                     token=c["desktop_token"], headers={"Host": host})
    assert r.status == 200, r.raw
    return sbtest.zbar_decode_svg(r.raw.decode(), d.tmp)


def lan_addresses():
    """The box's non-loopback IPv4 addresses (what the daemon may pick)."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout
    except OSError:
        return []
    return [a for a in out.split() if "." in a and not a.startswith("127.")]


def test_links_follow_the_box_name_the_desktop_used(daemon_factory):
    d = daemon_factory("--hostname", BOX)
    host = f"{BOX}.local:{d.port}"
    c = create(d, host)
    assert c["pair_url"] == f"http://{host}/p#{c['pair_code']}", c
    p = new_code(d, c, host)
    assert p["pair_url"] == f"http://{host}/p#{p['pair_code']}", p
    assert qr_text(d, c, host) in (None, p["pair_url"])
    # the bare host name too, and the port as the desktop sent it
    c = create(d, f"{BOX}:9999")
    assert c["pair_url"] == f"http://{BOX}:9999/p#{c['pair_code']}", c


def test_loopback_and_foreign_names_do_not_leak_into_links(daemon_factory):
    d = daemon_factory("--hostname", BOX, "--allowed-hosts", "pos.example")
    # opened on this computer: phones cannot use that name; bind is all that is left
    c = create(d, f"127.0.0.1:{d.port}")
    assert c["pair_url"] == f"http://127.0.0.1:{d.port}/p#{c['pair_code']}", c
    c = create(d, f"localhost:{d.port}")
    assert c["pair_url"].startswith(f"http://127.0.0.1:{d.port}/p#"), c
    # allowed, but not one of the box's names (a reverse proxy's): not trusted for links
    c = create(d, "pos.example")
    assert c["pair_url"].startswith(f"http://127.0.0.1:{d.port}/p#"), c
    # and said once at start
    assert "pair links name an address phones cannot reach" in d.log()


def test_configured_public_url_always_wins(daemon_factory):
    d = daemon_factory("--hostname", BOX, "--public-url", "http://till-box.example:8080")
    c = create(d, f"{BOX}.local:{d.port}")
    assert c["pair_url"] == f"http://till-box.example:8080/p#{c['pair_code']}", c
    assert "phones cannot reach" not in d.log()


def test_wildcard_bind_links_name_a_lan_address(daemon_factory):
    lan = lan_addresses()
    d = daemon_factory("--hostname", BOX, "--tls", "off")
    # sbtest.Daemon binds 127.0.0.1 first; a later --bind wins
    d.stop()
    d.extra += ["--bind", "0.0.0.0"]
    d.start()
    c = create(d, f"127.0.0.1:{d.port}")
    url = c["pair_url"]
    assert "0.0.0.0" not in url and "127.0.0.1" not in url, url
    if lan:
        assert any(url == f"http://{a}:{d.port}/p#{c['pair_code']}" for a in lan), (url, lan)


def test_tls_links_are_https_on_the_https_port(daemon_factory):
    https = sbtest.free_port()
    d = daemon_factory("--hostname", BOX, "--tls", "on", "--https-port", https)
    # a plain-HTTP POST is redirected; the desktop's request arrives over TLS
    import ssl, http.client, json, socket
    ctx = ssl.create_default_context(cafile=os.path.join(d.data_dir, "tls", "ca.pem"))
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", https), timeout=10),
                           server_hostname=f"{BOX}.local")
    conn = http.client.HTTPConnection("127.0.0.1", https, timeout=10)
    conn.sock = sock
    conn.request("POST", "/api/v1/sessions", body="{}",
                 headers={"Host": f"{BOX}.local:{https}", "Content-Type": "application/json"})
    r = conn.getresponse()
    c = json.loads(r.read())
    conn.close()
    assert c["pair_url"] == f"https://{BOX}.local:{https}/p#{c['pair_code']}", c
