# SPDX-License-Identifier: MIT
"""Browser origins: the appliance's own pages and the configured POS origins
may use the API (with CORS) and /ws; a page from anywhere else may not open
sessions, pair or relay through a cashier's browser. Non-browser clients send
no Origin and are not affected."""
import asyncio
import socket

import websockets

from sbtest import V1, run

POS = "https://pos.example"


def test_preflight_and_cors_for_an_allowed_pos_origin(daemon_factory):
    d = daemon_factory("--allowed-origins", f"{POS} http://till.local:3000")
    r = d.api("OPTIONS", f"{V1}/sessions", headers={
        "Origin": POS, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert r.status == 204, r
    h = {k.lower(): v for k, v in r.headers.items()}
    assert h["access-control-allow-origin"] == POS
    assert "POST" in h["access-control-allow-methods"]
    assert "Authorization" in h["access-control-allow-headers"]
    assert h["vary"] == "Origin"
    r = d.api("POST", f"{V1}/sessions", headers={"Origin": POS})
    assert r.status == 201, r
    assert {k.lower(): v for k, v in r.headers.items()}["access-control-allow-origin"] == POS


def test_a_foreign_origin_is_refused(daemon_factory):
    d = daemon_factory("--allowed-origins", POS)
    evil = "https://evil.example"
    r = d.api("OPTIONS", f"{V1}/sessions", headers={"Origin": evil,
                                                     "Access-Control-Request-Method": "POST"})
    assert r.status == 403 and r.body["error"]["code"] == "forbidden", r
    r = d.api("POST", f"{V1}/sessions", headers={"Origin": evil})
    assert r.status == 403, r
    assert "access-control-allow-origin" not in {k.lower() for k in r.headers}
    s = d.session(scanners=0)
    r = d.api("POST", f"{V1}/pair", json={"pair_code": s.pair_code, "name": "x"},
              headers={"Origin": evil})
    assert r.status == 403, r
    r = d.api("POST", f"{V1}/pair", json={"pair_code": s.pair_code, "name": "x"})
    assert r.status == 200, r     # the code was not used up by the refused attempt


def test_same_origin_pages_need_no_configuration(daemon):
    r = daemon.api("POST", f"{V1}/sessions", headers={"Origin": daemon.url})
    assert r.status == 201, r
    r = daemon.api("POST", f"{V1}/sessions", headers={"Origin": "http://other.example"})
    assert r.status == 403, r


def test_websocket_origin_allow_list(daemon_factory):
    d = daemon_factory("--allowed-origins", POS)

    async def connect(origin):
        return await asyncio.wait_for(websockets.connect(
            d.ws_url, subprotocols=["scanbridge.v1"], origin=origin,
            compression=None, ping_interval=None, close_timeout=1), 5)

    async def body():
        for ok in (POS, d.url, None):
            ws = await connect(ok)
            await ws.close()
        try:
            ws = await connect("https://evil.example")
        except (websockets.exceptions.InvalidStatusCode, websockets.exceptions.InvalidMessage):
            pass   # lws answers "HTTP/1.0 403", which this client will not even parse
        else:
            await ws.close()
            raise AssertionError("a WebSocket from a foreign origin was accepted")
    run(body())
    # what a browser sees: the upgrade is answered 403
    with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: scanbridge.v1\r\n"
                  b"Origin: https://evil.example\r\n\r\n")
        status = s.recv(64).split(b"\r\n")[0]
    assert b" 403 " in status, status
