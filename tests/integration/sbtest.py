# SPDX-License-Identifier: MIT
"""Black-box helpers for the scanbridged integration suite.

Everything here talks to a real daemon over TCP: HTTP through http.client and
WebSocket through Debian's python3-websockets (10.4). No daemon internals are
used, except the appliance secret file in a test-owned data dir (to forge
correctly signed tokens with chosen claims) and the SQLite file (integrity
checks, a too-new schema).

Environment (set by CTest):
  SCANBRIDGED    path to the daemon binary
  SB_SANITIZE    ON when the binary is built with ASan/UBSan: logs are checked
  SB_SOURCE_DIR  the repository
"""
import asyncio
import base64
import hashlib
import hmac
import http.client
import json as _json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import websockets
import websockets.exceptions

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("SCANBRIDGED", "")
SANITIZE = os.environ.get("SB_SANITIZE", "OFF").strip().upper() in ("ON", "1", "TRUE", "YES")
SOURCE_DIR = os.environ.get("SB_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
# Generous factor for timing upper bounds under sanitizers (never for lower bounds).
SLOW = 2.0 if SANITIZE else 1.0

V1 = "/api/v1"
SUBPROTOCOL = "scanbridge.v1"
SCAN_FIELDS = {"seq", "id", "code", "format", "scanner", "scanned_at", "received_at"}
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")
B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


def now_ms():
    return int(time.time() * 1000)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------
# barcodes
def gs1_check(payload):
    """GS1 mod-10 check digit of the digits without their check digit."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def gtin(payload):
    return payload + gs1_check(payload)


def wrong_check(code):
    """The same code with a wrong last (check) digit."""
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def upce_to_upca(upce):
    """Expands an 8-digit UPC-E (number system, 6 digits, check) to UPC-A."""
    ns, d, chk = upce[0], upce[1:7], upce[7]
    last = d[5]
    if last in "012":
        body = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        body = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        body = d[0:4] + "00000" + d[4]
    else:
        body = d[0:5] + "0000" + last
    return ns + body + chk


def upce(ns_and_six):
    """A valid UPC-E from number system + 6 digits."""
    a = upce_to_upca(ns_and_six + "0")[:-1]
    return ns_and_six + gs1_check(a)


EAN13 = "4006381333931"            # a real, valid EAN-13
EAN8 = gtin("9638507")             # 96385074
UPCA = gtin("03600029145")         # 036000291452
UPCE = "04252614"                  # UPC-A 042100005264
ITF14 = gtin("1540014128876")      # 15400141288763
assert EAN13 == gtin("400638133393")
assert UPCE == upce("0425261") and upce_to_upca(UPCE) == "042100005264"


# --------------------------------------------------------------------------
# JWT
def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(token):
    """(header, claims) of a JWT, without verifying it."""
    h, p, _sig = token.split(".")
    return _json.loads(b64url_decode(h)), _json.loads(b64url_decode(p))


def make_jwt(claims, key, alg="HS256", header=None):
    hdr = header or {"alg": alg, "typ": "JWT"}
    signing_input = (b64url(_json.dumps(hdr, separators=(",", ":")).encode()) + "." +
                     b64url(_json.dumps(claims, separators=(",", ":")).encode()))
    if alg == "none":
        return signing_input + "."
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    sig = hmac.new(key, signing_input.encode(), digest).digest()
    return signing_input + "." + b64url(sig)


# --------------------------------------------------------------------------
# HTTP
class Resp(tuple):
    """(status, headers, body); body is parsed JSON for JSON responses, bytes
    otherwise (None when empty). .raw is always the bytes."""

    def __new__(cls, status, headers, body, raw):
        r = super().__new__(cls, (status, headers, body))
        r.raw = raw
        return r

    status = property(lambda self: self[0])
    headers = property(lambda self: self[1])
    body = property(lambda self: self[2])


def http_request(port, method, path, token=None, json=None, body=None, headers=None,
                 timeout=10.0):
    hdrs = dict(headers or {})
    if token is not None:
        hdrs.setdefault("Authorization", "Bearer " + token)
    data = body
    if json is not None:
        data = _json.dumps(json).encode()
        hdrs.setdefault("Content-Type", "application/json")
    if isinstance(data, str):
        data = data.encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        try:
            conn.request(method, path, body=data, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) before reading a big body
        r = conn.getresponse()
        raw = r.read()
        ctype = r.getheader("Content-Type", "") or ""
        parsed = raw if raw else None
        if raw and "json" in ctype.lower():
            try:
                parsed = _json.loads(raw)
            except ValueError:
                parsed = raw
        return Resp(r.status, r.headers, parsed, raw)
    finally:
        conn.close()


def assert_error(resp, status, code):
    """An error answer: exact status and exactly {"error":{"code","message"}}."""
    st, hdrs, body = resp
    assert st == status, f"expected HTTP {status} {code}, got {st}: {resp.raw[:300]!r}"
    ctype = hdrs.get("Content-Type", "") or ""
    assert "application/json" in ctype, f"error body content type is {ctype!r}"
    assert isinstance(body, dict), f"error body is not a JSON object: {resp.raw[:300]!r}"
    assert set(body) == {"error"}, f"error body keys {sorted(body)}"
    err = body["error"]
    assert isinstance(err, dict) and set(err) == {"code", "message"}, f"error object {err!r}"
    assert err["code"] == code, f"expected error code {code!r}, got {err!r}"
    assert isinstance(err["message"], str) and err["message"], f"empty message in {err!r}"
    return err


# --------------------------------------------------------------------------
# the daemon
def _tail(text, n=60):
    return "\n".join(text.splitlines()[-n:])


class Daemon:
    """One scanbridged on its own free port and temp data dir."""

    def __init__(self, extra=(), env=None, data_dir=None, config_text=None, config_path=None,
                 port=None):
        if not BIN:
            pytest.fail("SCANBRIDGED is not set (path to the scanbridged binary)")
        if not os.path.isfile(BIN) or not os.access(BIN, os.X_OK):
            pytest.fail(f"SCANBRIDGED={BIN!r} is not an executable file")
        self.tmp = tempfile.mkdtemp(prefix="sbit-")
        if data_dir is None:
            data_dir = os.path.join(self.tmp, "data")
            os.mkdir(data_dir, 0o700)
        self.data_dir = data_dir
        # Always pass -c so a system /etc/scanbridge/scanbridge.conf never leaks in.
        if config_path is None:
            config_path = os.path.join(self.tmp, "scanbridge.conf")
            with open(config_path, "w") as f:
                f.write(config_text or "# integration test\n")
        self.config_path = config_path
        self.extra = [str(x) for x in extra]
        self.env_over = dict(env or {})
        self.log_path = os.path.join(self.tmp, "daemon.log")
        self.port = port or free_port()
        self.proc = None
        self.stopped = False

    # --- paths
    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self):
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def db_path(self):
        return os.path.join(self.data_dir, "scanbridge.db")

    @property
    def secret_path(self):
        return os.path.join(self.data_dir, "secret")

    def secret(self):
        with open(self.secret_path, "rb") as f:
            return f.read()

    def argv(self):
        return [BIN, "--port", str(self.port), "--bind", "127.0.0.1",
                "--data-dir", self.data_dir, "-c", self.config_path] + self.extra

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCANBRIDGE_")}
        env.update(self.env_over)
        return env

    # --- lifecycle
    def spawn(self):
        """Starts the process without waiting for it to be ready."""
        logf = open(self.log_path, "ab")
        logf.write(f"\n=== start {' '.join(self.argv())}\n".encode())
        logf.flush()
        self.proc = subprocess.Popen(self.argv(), stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env())
        logf.close()
        self.stopped = False
        return self.proc

    def start(self, timeout=10.0, _retry=True):
        self.spawn()
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                log = self.log()
                if _retry and re.search(r"in use|EADDRINUSE|bind", log, re.I) and rc != 0:
                    self.port = free_port()   # lost a race for the port: once more
                    return self.start(timeout, _retry=False)
                self.stopped = True
                pytest.fail(f"scanbridged exited with status {rc} during start-up:\n{_tail(log)}")
            try:
                r = http_request(self.port, "GET", "/healthz", timeout=1.0)
                if r.status == 200:
                    return self
                last = f"HTTP {r.status}"
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        self.stopped = True
        pytest.fail(f"scanbridged not healthy within {timeout}s (last: {last}):\n{_tail(self.log())}")

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def check_sanitizers(self):
        if not SANITIZE:
            return
        bad = [l for l in self.log().splitlines() if any(m in l for m in SANITIZER_MARKERS)]
        assert not bad, "sanitizer reports in the daemon log:\n" + _tail(self.log(), 120)

    def terminate(self):
        """Sends SIGTERM without waiting."""
        self.proc.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout=10.0):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stacks = self.stacks()
            self.proc.kill()
            self.proc.wait()
            self.stopped = True
            pytest.fail(f"scanbridged did not exit within {timeout}s:\n{_tail(self.log())}"
                        f"\n--- its threads when it hung:\n{stacks}")

    def stacks(self):
        """Every thread's backtrace of the running daemon (gdb), for hang reports."""
        gdb = shutil.which("gdb")
        if not gdb:
            return "(gdb not installed)"
        try:
            r = subprocess.run([gdb, "-p", str(self.proc.pid), "-batch", "-nx",
                                "-ex", "thread apply all bt"],
                               capture_output=True, text=True, timeout=60)
            return r.stdout[-12000:] or r.stderr[-2000:]
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"(gdb failed: {e})"

    def wait_stopped(self, timeout=10.0):
        """After terminate(): asserts exit status 0 and a clean sanitizer log."""
        rc = self.wait_exit(timeout)
        self.stopped = True
        assert rc == 0, f"scanbridged exited with status {rc} after SIGTERM:\n{_tail(self.log())}"
        self.check_sanitizers()

    def stop(self, timeout=10.0):
        """SIGTERM; asserts exit 0 within timeout and, under sanitizers, a clean log."""
        if self.proc is None or self.stopped:
            return
        rc = self.proc.poll()
        if rc is not None:
            self.stopped = True
            pytest.fail(f"scanbridged had already exited with status {rc}:\n{_tail(self.log())}")
        self.terminate()
        self.wait_stopped(timeout)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.stopped = True

    def restart(self):
        """Starts again on the same data dir, port and flags."""
        if not self.stopped:
            self.stop()
        return self.start()

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    # --- HTTP
    def api(self, method, path, token=None, json=None, body=None, headers=None, timeout=10.0):
        """(status, headers, body); never raises on 4xx/5xx."""
        return http_request(self.port, method, path, token=token, json=json, body=body,
                            headers=headers, timeout=timeout)

    def health(self):
        return self.api("GET", "/healthz")

    def metric(self, name):
        """Sum of all samples of a metric (0.0 when absent)."""
        st, _, body = self.api("GET", "/metrics")
        assert st == 200
        text = body.decode() if isinstance(body, bytes) else str(body)
        total, seen = 0.0, False
        for line in text.splitlines():
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
            if m and m.group(1) == name:
                total += float(m.group(3))
                seen = True
        return total if seen else 0.0

    # --- flows (REST)
    def create_session(self, **kw):
        r = self.api("POST", f"{V1}/sessions", **kw)
        assert r.status == 201, f"POST /sessions: {r.status} {r.raw[:300]!r}"
        return r.body

    def pair(self, pair_code, name=None):
        body = {"pair_code": pair_code}
        if name is not None:
            body["name"] = name
        r = self.api("POST", f"{V1}/pair", json=body)
        assert r.status == 200, f"POST /pair: {r.status} {r.raw[:300]!r}"
        return r.body

    def new_pair_code(self, sid, desktop_token):
        r = self.api("POST", f"{V1}/sessions/{sid}/pair-code", token=desktop_token)
        assert r.status == 201, f"POST pair-code: {r.status} {r.raw[:300]!r}"
        return r.body

    def get_session(self, sid, token):
        r = self.api("GET", f"{V1}/sessions/{sid}", token=token)
        assert r.status == 200, f"GET session: {r.status} {r.raw[:300]!r}"
        return r.body

    def post_scan(self, sid, token, id, code=EAN13, format="EAN_13", **extra):
        body = {"id": id, "code": code}
        if format is not None:
            body["format"] = format
        body.update(extra)
        return self.api("POST", f"{V1}/sessions/{sid}/scans", token=token, json=body)

    def session(self, scanners=1, names=None):
        """Creates a session and pairs `scanners` scanners. Returns a Sess."""
        c = self.create_session()
        s = Sess(c["session"], c["desktop_token"], c["pair_code"], c)
        code = c["pair_code"]
        for i in range(scanners):
            if i > 0:
                code = self.new_pair_code(s.sid, s.desktop_token)["pair_code"]
            name = names[i] if names else f"phone-{i + 1}"
            p = self.pair(code, name)
            s.scanners.append({"id": p["scanner"], "token": p["scanner_token"], "name": name})
        return s


class Sess:
    def __init__(self, sid, desktop_token, pair_code, created):
        self.sid = sid
        self.desktop_token = desktop_token
        self.pair_code = pair_code
        self.created = created
        self.scanners = []

    @property
    def scanner(self):
        return self.scanners[0]


# --------------------------------------------------------------------------
# WebSocket
def close_code_of(exc):
    if exc.rcvd is not None:
        return exc.rcvd.code, exc.rcvd.reason
    return 1006, ""


_LIVE = []   # sockets opened inside the current run(); closed at its end


class WS:
    """A thin, strict wrapper: every message is accounted for in order."""

    def __init__(self, conn, label):
        self.conn = conn
        self.label = label
        self.close_code = None

    @classmethod
    async def open(cls, d, subprotocols=(SUBPROTOCOL,), label="ws", timeout=5.0, **connect_kw):
        """connect_kw: more websockets.connect arguments (ssl=, server_hostname= for wss)."""
        url = d.ws_url if isinstance(d, Daemon) else d
        conn = await asyncio.wait_for(
            websockets.connect(url, subprotocols=list(subprotocols) if subprotocols else None,
                               compression=None, ping_interval=None, max_size=2 ** 24,
                               open_timeout=timeout, close_timeout=2, **connect_kw),
            timeout + 1)
        ws = cls(conn, label)
        _LIVE.append(ws)
        return ws

    async def send(self, obj):
        """dict/list → JSON text frame; str → that text; bytes → binary frame."""
        if isinstance(obj, (dict, list)):
            obj = _json.dumps(obj)
        try:
            await self.conn.send(obj)
        except websockets.exceptions.ConnectionClosed as e:
            code, reason = close_code_of(e)
            self.close_code = code
            raise AssertionError(f"[{self.label}] connection closed ({code} {reason!r}) "
                                 f"before sending {str(obj)[:80]!r}") from None

    async def recv(self, timeout=5.0):
        try:
            raw = await asyncio.wait_for(self.conn.recv(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"[{self.label}] no message within {timeout}s") from None
        except websockets.exceptions.ConnectionClosed as e:
            code, reason = close_code_of(e)
            self.close_code = code
            raise AssertionError(
                f"[{self.label}] connection closed ({code} {reason!r}) while waiting for a message"
            ) from None
        assert isinstance(raw, str), f"[{self.label}] unexpected binary frame {raw[:40]!r}"
        msg = _json.loads(raw)
        assert isinstance(msg, dict), f"[{self.label}] message is not an object: {raw!r}"
        return msg

    async def expect(self, type, timeout=5.0, **fields):
        """The very next message has this type (and these field values)."""
        msg = await self.recv(timeout)
        assert msg.get("type") == type, f"[{self.label}] expected {type!r}, got {msg!r}"
        for k, v in fields.items():
            assert k in msg, f"[{self.label}] {type} lacks {k!r}: {msg!r}"
            assert msg[k] == v, f"[{self.label}] {type}.{k} = {msg[k]!r}, expected {v!r}: {msg!r}"
        return msg

    async def expect_close(self, code, timeout=5.0):
        """The next thing is the close handshake with this code. Returns the reason."""
        try:
            raw = await asyncio.wait_for(self.conn.recv(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"[{self.label}] not closed within {timeout}s "
                                 f"(expected close {code})") from None
        except websockets.exceptions.ConnectionClosed as e:
            got, reason = close_code_of(e)
            self.close_code = got
            assert got == code, f"[{self.label}] closed with {got} {reason!r}, expected {code}"
            return reason
        raise AssertionError(f"[{self.label}] expected close {code}, got message {raw!r}")

    async def until_close(self, timeout=5.0):
        """Collects messages until the connection closes: (messages, code, reason)."""
        msgs = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"[{self.label}] not closed within {timeout}s; got {msgs!r}")
            try:
                raw = await asyncio.wait_for(self.conn.recv(), left)
            except asyncio.TimeoutError:
                continue
            except websockets.exceptions.ConnectionClosed as e:
                code, reason = close_code_of(e)
                self.close_code = code
                return msgs, code, reason
            msgs.append(_json.loads(raw) if isinstance(raw, str) else raw)

    async def barrier(self, timeout=5.0):
        """ping → the very next message must be pong: proves nothing else was queued."""
        await self.send({"type": "ping"})
        return await self.expect("pong", timeout)

    async def quiet(self, seconds):
        """Nothing at all arrives for `seconds`."""
        try:
            raw = await asyncio.wait_for(self.conn.recv(), seconds)
        except asyncio.TimeoutError:
            return
        except websockets.exceptions.ConnectionClosed as e:
            raise AssertionError(f"[{self.label}] closed {close_code_of(e)} during a quiet period") from None
        raise AssertionError(f"[{self.label}] unexpected message {raw!r}")

    async def close(self):
        try:
            await asyncio.wait_for(self.conn.close(), 3)
        except Exception:
            pass


async def hello_desktop(ws, token, last_seq=None):
    msg = {"type": "hello", "token": token}
    if last_seq is not None:
        msg["last_seq"] = last_seq
    await ws.send(msg)
    w = await ws.expect("welcome", role="desktop")
    return w


async def hello_scanner(ws, token):
    await ws.send({"type": "hello", "token": token})
    return await ws.expect("welcome", role="scanner")


async def open_desktop(d, token, last_seq=None, label="desktop"):
    ws = await WS.open(d, label=label)
    w = await hello_desktop(ws, token, last_seq)
    return ws, w


async def open_scanner(d, token, label="scanner"):
    ws = await WS.open(d, label=label)
    w = await hello_scanner(ws, token)
    return ws, w


# compatibility names from the brief
desktop = hello_desktop
scanner = hello_scanner


def scan_msg(id, code=EAN13, format=None, scanned_at=None):
    """A scan message; format omitted (UNKNOWN) unless given."""
    m = {"type": "scan", "id": id, "code": code}
    if format is not None:
        m["format"] = format
    if scanned_at is not None:
        m["scanned_at"] = scanned_at
    return m


def run(coro, timeout=90.0):
    """Runs an async test body with an overall deadline (no pytest-asyncio).
    Sockets the body left open are closed (close handshake) before returning."""
    async def main():
        try:
            return await asyncio.wait_for(coro, timeout)
        finally:
            live = list(_LIVE)
            _LIVE.clear()
            if live:
                await asyncio.wait([asyncio.ensure_future(w.close()) for w in live], timeout=5)
    return asyncio.run(main())


class Background:
    """Runs fn(*args) in a thread; .result() re-raises; records end time."""

    def __init__(self, fn, *args, **kw):
        self.value = None
        self.error = None
        self.t_end = None

        def body():
            try:
                self.value = fn(*args, **kw)
            except BaseException as e:  # noqa
                self.error = e
            finally:
                self.t_end = time.monotonic()

        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()

    def result(self, timeout=40.0):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "background request did not finish"
        if self.error is not None:
            raise self.error
        return self.value


def run_cli(args, env=None, timeout=10.0):
    """Runs the binary to completion: (returncode, stdout, stderr)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("SCANBRIDGE_")}
    e.update(env or {})
    p = subprocess.run([BIN] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                       env=e, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


# --------------------------------------------------------------------------
# QR: SVG → module grid → PGM, decoded by zbarimg
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _attrs(tag):
    return dict(re.findall(r'([\w:-]+)\s*=\s*"([^"]*)"', tag)) | \
        dict(re.findall(r"([\w:-]+)\s*=\s*'([^']*)'", tag))


def _is_light(fill):
    f = (fill or "").strip().lower().replace(" ", "")
    return f in ("#fff", "#ffffff", "white", "none", "transparent", "rgb(255,255,255)")


def _style_fill(a):
    fill = a.get("fill")
    m = re.search(r"fill\s*:\s*([^;]+)", a.get("style", ""))
    if m:
        fill = m.group(1)
    return fill


def _transform(a):
    """Supports translate(x[,y]) and scale(s[,t]) in a transform attribute."""
    tx = ty = 0.0
    sx = sy = 1.0
    for fn, args in re.findall(r"(translate|scale)\s*\(([^)]*)\)", a.get("transform", "")):
        v = [float(x) for x in re.findall(_NUM, args)]
        if fn == "translate":
            tx += v[0] * sx
            ty += (v[1] if len(v) > 1 else 0.0) * sy
        else:
            sx *= v[0]
            sy *= v[1] if len(v) > 1 else v[0]
    return tx, ty, sx, sy


def _path_polys(d):
    """Rectilinear/linear path data → list of closed polygons (lists of points)."""
    toks = re.findall(r"[MmLlHhVvZz]|" + _NUM, d)
    polys, cur = [], []
    x = y = sx = sy = 0.0
    cmd = None
    i = 0

    def num():
        nonlocal i
        v = float(toks[i])
        i += 1
        return v

    while i < len(toks):
        t = toks[i]
        if re.match(r"[A-Za-z]", t):
            cmd = t
            i += 1
            if cmd in "Zz":
                if cur:
                    polys.append(cur)
                cur = []
                x, y = sx, sy
                continue
        if cmd is None:
            raise ValueError("path data without a command")
        if cmd in "Mm":
            nx, ny = num(), num()
            if cmd == "m":
                nx, ny = x + nx, y + ny
            if cur:
                polys.append(cur)
            x, y, sx, sy = nx, ny, nx, ny
            cur = [(x, y)]
            cmd = "L" if cmd == "M" else "l"
        elif cmd in "Ll":
            nx, ny = num(), num()
            x, y = (x + nx, y + ny) if cmd == "l" else (nx, ny)
            cur.append((x, y))
        elif cmd in "Hh":
            v = num()
            x = x + v if cmd == "h" else v
            cur.append((x, y))
        elif cmd in "Vv":
            v = num()
            y = y + v if cmd == "v" else v
            cur.append((x, y))
        else:
            raise ValueError(f"unsupported path command {cmd!r}")
    if cur:
        polys.append(cur)
    return polys


def svg_dark_shapes(svg):
    """(polygons, rects, viewbox) of the dark shapes of a QR SVG."""
    m = re.search(r"<svg\b[^>]*>", svg)
    assert m, "no <svg> element"
    sa = _attrs(m.group(0))
    if "viewBox" in sa:
        vb = [float(v) for v in re.findall(_NUM, sa["viewBox"])]
    else:
        vb = [0.0, 0.0, float(re.findall(_NUM, sa["width"])[0]),
              float(re.findall(_NUM, sa["height"])[0])]
    gt = (0.0, 0.0, 1.0, 1.0)
    g = re.search(r"<g\b[^>]*>", svg)
    if g:
        gt = _transform(_attrs(g.group(0)))
    polys, rects = [], []
    for tag in re.findall(r"<path\b[^>]*>", svg):
        a = _attrs(tag)
        fill = _style_fill(a)
        if fill is not None and _is_light(fill):
            continue
        tx, ty, sx, sy = _transform(a)
        evenodd = a.get("fill-rule", "") == "evenodd" or "evenodd" in a.get("style", "")
        sub = []
        for poly in _path_polys(a.get("d", "")):
            sub.append([((px * sx + tx) * gt[2] + gt[0], (py * sy + ty) * gt[3] + gt[1])
                        for px, py in poly])
        polys.append((sub, evenodd))
    for tag in re.findall(r"<rect\b[^>]*>", svg):
        a = _attrs(tag)
        fill = _style_fill(a)
        if fill is not None and _is_light(fill):
            continue
        tx, ty, sx, sy = _transform(a)
        x, y = float(a.get("x", 0)), float(a.get("y", 0))
        if "%" in a.get("width", "") or "%" in a.get("height", ""):
            continue   # a full-size background
        w, h = float(a["width"]), float(a["height"])
        x0, y0 = (x * sx + tx) * gt[2] + gt[0], (y * sy + ty) * gt[3] + gt[1]
        r = (x0, y0, x0 + w * sx * gt[2], y0 + h * sy * gt[3])
        if fill is None and r[2] - r[0] >= vb[2] * 0.99:
            continue   # an unfilled full-size rect is a background
        rects.append(r)
    return polys, rects, vb


def _winding(px, py, pts):
    """Winding number of a closed polygon around (px, py)."""
    w = 0
    n = len(pts)
    for k in range(n):
        x1, y1 = pts[k]
        x2, y2 = pts[(k + 1) % n]
        if y1 <= py < y2 or y2 <= py < y1:
            xi = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
            if xi > px:
                w += 1 if y2 > y1 else -1
    return w


def svg_to_modules(svg):
    """Parses the QR SVG into a square boolean grid (True = dark), quiet zone included."""
    polys, rects, vb = svg_dark_shapes(svg)
    assert polys or rects, "no dark shapes in the SVG"
    # module size: the smallest edge length among the shapes
    lengths = []
    for sub, _ in polys:
        for pts in sub:
            for k in range(len(pts)):
                (x1, y1), (x2, y2) = pts[k], pts[(k + 1) % len(pts)]
                ln = abs(x2 - x1) + abs(y2 - y1)
                if ln > 1e-9:
                    lengths.append(ln)
    for x0, y0, x1, y1 in rects:
        lengths += [abs(x1 - x0), abs(y1 - y0)]
    unit = min(lengths)
    n = int(round(vb[2] / unit))
    assert 21 <= n <= 200, f"implausible QR size: {n} modules of {unit} in {vb}"
    grid = []
    for r in range(n):
        row = []
        cy = vb[1] + (r + 0.5) * unit
        for c in range(n):
            cx = vb[0] + (c + 0.5) * unit
            dark = any(x0 <= cx < x1 and y0 <= cy < y1 for x0, y0, x1, y1 in rects)
            if not dark:
                for sub, evenodd in polys:
                    w = sum(_winding(cx, cy, pts) for pts in sub)
                    if (w % 2 != 0) if evenodd else (w != 0):
                        dark = True
                        break
            row.append(dark)
        grid.append(row)
    return grid


def modules_to_pgm(grid, scale=8, quiet=4):
    n = len(grid)
    size = (n + 2 * quiet) * scale
    rows = []
    white_row = bytes([255]) * size
    for _ in range(quiet * scale):
        rows.append(white_row)
    for r in grid:
        line = bytearray([255]) * (quiet * scale)
        for dark in r:
            line += bytes([0 if dark else 255]) * scale
        line += bytearray([255]) * (quiet * scale)
        for _ in range(scale):
            rows.append(bytes(line))
    for _ in range(quiet * scale):
        rows.append(white_row)
    return b"P5\n%d %d\n255\n" % (size, size) + b"".join(rows)


def zbar_decode_svg(svg, workdir):
    """Decodes a QR SVG with zbarimg; returns the text (None if zbarimg is missing)."""
    zbar = shutil.which("zbarimg")
    if not zbar:
        return None
    path = os.path.join(workdir, f"qr-{time.monotonic_ns()}.pgm")
    with open(path, "wb") as f:
        f.write(modules_to_pgm(svg_to_modules(svg)))
    p = subprocess.run([zbar, "-q", "--raw", path], capture_output=True, timeout=30)
    assert p.returncode == 0, f"zbarimg could not decode the QR (rc {p.returncode}): {p.stderr!r}"
    return p.stdout.decode().rstrip("\n")
