#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""scanbridge benchmarks (issue 4): `make bench`, or one at a time:

  tests/bench/bench.py all                         everything below (about 10 minutes)
  tests/bench/bench.py footprint                   idle RSS, start-to-ready, stripped size
  tests/bench/bench.py idle [--target peer]        10,000 held WebSocket connections
  tests/bench/bench.py throughput [--durability normal|full] [--target peer]
  tests/bench/bench.py latency [--target peer]     1,000 scans/s over 500 sessions
  tests/bench/bench.py profile [--tool perf|callgrind] [--durability normal]

--tls (daemon only; issue 14): the daemon runs with `--tls on`, HTTPS + WSS on
one free port and plain HTTP (redirects, /healthz) on another; the sim talks
https:// and wss:// and trusts the daemon's own CA (<data dir>/tls/ca.pem,
--cafile). Everything else, the measurement included, is the same as without.
Results are stored under the same names with a "_tls" suffix.

Every figure is printed with the commands that reproduce it. The daemon and the
load generator (scanbridge-sim) run on this machine, on 127.0.0.1 only, so they
share its cores: both processes' CPU time is reported. Results also go to
$BENCH_OUT (default build/bench/results.json).

Environment: BUILD (default build), SCANBRIDGED (daemon binary), SIM (sim
command, default <BUILD>/bin/scanbridge-sim or the first build*/bin one), NODE
(default node), RUNS (repetitions of throughput and latency, default 3).
Only the standard library is used.
"""
import argparse
import glob
import http.client
import json
import os
import resource
import shlex
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("BUILD", "build")
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
DAEMON = os.environ.get("SCANBRIDGED") or os.path.join(BUILD, "bin", "scanbridged")
PEER_JS = os.path.join(HERE, "peer", "peer.js")
NODE = os.environ.get("NODE", "node")
RUNS = int(os.environ.get("RUNS", "3"))
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
OUT = os.environ.get("BENCH_OUT") or os.path.join(BUILD, "bench", "results.json")

# The issue's targets (issue 4; with --tls, issue 14's for the TLS rows).
TARGETS = {
    "idle_bytes_per_conn": 2048,
    "idle_bytes_per_conn_tls": 8192,
    "throughput_normal": 20000,
    "throughput_full": 5000,
    "lat_p50_ms": 1.0, "lat_p99_ms": 5.0, "ack_p99_ms": 5.0,
    "idle_rss_bytes": 8 * 1024 * 1024,
    "ready_ms": 100.0,
}

# Limits the load needs: everything comes from 127.0.0.1, and the load is far
# above one phone's message rate. Daemon defaults are left alone otherwise.
DAEMON_FLAGS = [
    "--bind", "127.0.0.1", "--log-level", "warn",
    "--max-connections", "20000", "--max-connections-per-ip", "20000",
    "--max-sessions", "100000",
    "--sessions-per-ip-per-min", "10000000", "--pair-attempts-per-ip-per-min", "10000000",
    "--rate-burst", "1000000", "--rate-per-sec", "1000000",
]

results = {}
TLS = False          # --tls: the daemon serves HTTPS + WSS, the sim uses them


def rkey(name):
    """The results key of a benchmark: "_tls" appended with --tls."""
    return name + ("_tls" if TLS else "")


def log(*a):
    print(*a, flush=True)


def rel(p):
    return os.path.relpath(p, ROOT) if os.path.isabs(p) else p


def cmdline(argv):
    argv = [orig_path(a) for a in argv]
    return " ".join(shlex.quote(rel(a)) if os.path.isabs(a) else shlex.quote(a) for a in argv)


def orig_path(a):
    """The build-tree path of a snapshotted binary, for printed commands."""
    if a == DAEMON:
        return DAEMON_SRC
    if a.endswith("/scanbridge-sim") and "sb-bench-bin-" in a:
        return os.path.join(ROOT, results.get("machine", {}).get("sim", a))
    return a


def sim_argv():
    if os.environ.get("SIM"):
        return shlex.split(os.environ["SIM"])
    mine = os.path.join(BUILD, "bin", "scanbridge-sim")
    if os.access(mine, os.X_OK):
        return [mine]
    others = [c for c in glob.glob(os.path.join(ROOT, "build*", "bin", "scanbridge-sim"))
              if os.access(c, os.X_OK)]
    return [max(others, key=os.path.getmtime)] if others else None


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- /proc ------------------------------------------------------------------

def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def rss_parts(pid):
    """(RssAnon, RssFile) in bytes: heap and stacks vs mapped files (libraries)."""
    v = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("RssAnon:", "RssFile:", "RssShmem:")):
                v[line.split(":")[0]] = int(line.split()[1]) * 1024
    return v.get("RssAnon", 0), v.get("RssFile", 0) + v.get("RssShmem", 0)


def cpu_s(pid):
    """utime + stime of a live process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": os.uname().release,
            "date": time.strftime("%Y-%m-%d %H:%M %Z"), "loadavg_at_start": load,
            "fd_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}


# ---- HTTP -------------------------------------------------------------------

def http_get(srv, path, timeout=2.0):
    """GET on the server: over HTTPS (verifying its CA) when it serves TLS."""
    if srv.tls:
        c = http.client.HTTPSConnection("127.0.0.1", srv.https_port, timeout=timeout,
                                        context=srv.ssl_context())
    else:
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        c.close()


def ws_connections(srv):
    """Authenticated WebSocket connections, from /metrics (daemon and peer)."""
    _, text = http_get(srv, "/metrics", timeout=10)
    n = 0
    for line in text.splitlines():
        if line.startswith("scanbridge_connections") and "unauthenticated" not in line:
            n += int(float(line.split()[-1]))
    return n


# ---- servers under test ------------------------------------------------------

class Server:
    """The daemon or the Node peer on a free port with a fresh data dir. With
    --tls the daemon serves HTTPS + WSS on https_port (plain HTTP on port only
    redirects, but for /healthz) and url is https://."""

    def __init__(self, target="daemon", durability="normal", extra=(), wrap=(), data_dir=None):
        self.target = target
        self.tls = TLS and target == "daemon"
        self.port = free_port()
        self.https_port = None
        self._ssl = None
        while self.tls and self.https_port in (None, self.port):
            self.https_port = free_port()
        self.tmp = tempfile.mkdtemp(prefix=f"sb-bench-{target}-")
        self.data = data_dir or os.path.join(self.tmp, "data")
        self.cafile = os.path.join(self.data, "tls", "ca.pem")
        if target == "daemon":
            ports = (["--tls", "on", "--https-port", str(self.https_port),
                      "--http-port", str(self.port)] if self.tls else ["--port", str(self.port)])
            self.argv = [DAEMON] + ports + ["--data-dir", self.data,
                                            "--durability", durability] + DAEMON_FLAGS + list(extra)
        else:
            self.argv = [NODE, PEER_JS, "--port", str(self.port), "--data-dir", self.data,
                         "--durability", durability] + list(extra)
        self.argv = list(wrap) + self.argv
        self.logf = open(os.path.join(self.tmp, "server.log"), "w+")
        self.t_spawn = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdout=self.logf, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        self.url = (f"https://127.0.0.1:{self.https_port}" if self.tls
                    else f"http://127.0.0.1:{self.port}")

    def ssl_context(self):
        """Trusts the daemon's own CA only; None until the daemon wrote it."""
        if self._ssl is None and os.path.exists(self.cafile):
            try:
                self._ssl = ssl.create_default_context(cafile=self.cafile)
            except (OSError, ssl.SSLError):
                return None     # being written: try again
        return self._ssl

    def sim_args(self):
        """How the sim reaches this server: --url, and --cafile with TLS."""
        return ["--url", self.url] + (["--cafile", self.cafile] if self.tls else [])

    def wait_ready(self, timeout=20.0, poll=0.001):
        """Seconds from spawn to the first /healthz 200 (over HTTPS with TLS:
        the time until the daemon serves what the sim will use)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.target} exited {self.proc.returncode}: {self.log_tail()}")
            try:
                if not self.tls or self.ssl_context():
                    st, _ = http_get(self, "/healthz", timeout=1)
                    if st == 200:
                        return time.monotonic() - self.t_spawn
            except (OSError, ssl.SSLError):
                pass
            time.sleep(poll)
        raise RuntimeError(f"{self.target} not ready in {timeout} s: {self.log_tail()}")

    def log_tail(self):
        self.logf.flush()
        self.logf.seek(0)
        return self.logf.read()[-2000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def server_cmd(srv):
    """The command line of a server, with placeholder ports and data dir."""
    argv = [("DIR" if a == srv.data else a) for a in srv.argv]
    return (cmdline(argv).replace(f"--port {srv.port}", "--port PORT")
            .replace(f"--http-port {srv.port}", "--http-port HTTP_PORT")
            .replace(f"--https-port {srv.https_port}", "--https-port HTTPS_PORT"))


def sim_cmd(srv, args):
    """The printed sim command: URL for the server's URL, DIR for its data dir."""
    args = [a.replace(srv.data, "DIR") for a in args]
    return cmdline(sim_argv() + args).replace(srv.url, "URL")


# ---- the load generator ------------------------------------------------------

def run_sim(args, timeout, hold_until=None, poll=None):
    """Runs scanbridge-sim ARGS; returns (exit code, stdout, stderr, cpu seconds).

    hold_until(): for `idle`, a predicate polled while the sim runs; once it is
    true (or the sim exits) poll() is called, then the sim is stopped (SIGINT)."""
    sim = sim_argv()
    if not sim:
        raise RuntimeError("scanbridge-sim not found (build it, or set SIM)")
    out = tempfile.TemporaryFile(mode="w+")
    err = tempfile.TemporaryFile(mode="w+")
    p = subprocess.Popen(sim + args, stdout=out, stderr=err)
    deadline = time.monotonic() + timeout
    status, ru, held = None, None, None
    while True:
        pid, st, r = os.wait4(p.pid, os.WNOHANG)
        if pid:
            status, ru = st, r
            break
        if hold_until and held is None and hold_until():
            held = poll()
            p.send_signal(signal.SIGINT)
            deadline = min(deadline, time.monotonic() + 10)
        if time.monotonic() > deadline:
            p.send_signal(signal.SIGKILL if held is not None or time.monotonic() > deadline + 5
                          else signal.SIGTERM)
            deadline = time.monotonic() + 5
        time.sleep(0.05)
    p.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    cpu = ru.ru_utime + ru.ru_stime
    return p.returncode, out.read(), err.read(), cpu, held


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    try:
        return json.loads(text)
    except ValueError:
        return None


def sim_cpu_from_json(j):
    for k in ("sim_cpu_s", "cpu_s"):
        if isinstance(j.get(k), (int, float)):
            return float(j[k])
    return None


# ---- 1. idle connections ------------------------------------------------------

def first_use(srv):
    """One desktop and one scanner paired, held a moment and gone, then 1 s of
    quiet: the server has now run every code path an idle connection needs
    once. Its first use maps ~2 MiB more of libcrypto (OpenSSL 3 sets up its
    provider at the first hash: lws's WebSocket handshake, libjwt's HMAC),
    which is the same for one connection or ten thousand."""
    rc, out, err, _, _ = run_sim(["idle"] + srv.sim_args() + ["--connections", "2", "--hold", "1",
                                                               "--json", "-q"], timeout=60)
    if rc:
        raise RuntimeError(f"first use: sim exit {rc}: {err[-800:]}")
    time.sleep(1.0)



def bench_idle(target="daemon", connections=10000):
    name = rkey(f"idle_{target}")
    log(f"\n== idle connections: {connections} {'TLS ' if TLS else ''}WebSockets "
        f"({connections // 2} sessions) -> {target}")
    with Server(target) as srv:
        srv.wait_ready()
        time.sleep(1.0)
        cold = rss(srv.pid)
        first_use(srv)
        base = rss(srv.pid)
        cpu0 = cpu_s(srv.pid)
        args = ["idle"] + srv.sim_args() + ["--connections", str(connections),
                                            "--connect-timeout", "280", "--json"]
        t0 = time.monotonic()
        state = {}

        def all_welcomed():
            if time.monotonic() - state.get("last", 0) < 0.5:
                return False
            state["last"] = time.monotonic()
            try:
                state["n"] = ws_connections(srv)
            except OSError:
                return False
            return state["n"] >= connections

        def settle():
            ramp = time.monotonic() - t0
            prev = rss(srv.pid)
            for _ in range(10):  # until RSS stops moving (1% over 0.5 s), at most 5 s
                time.sleep(0.5)
                cur = rss(srv.pid)
                if abs(cur - prev) < prev * 0.01:
                    break
                prev = cur
            return {"rss": rss(srv.pid), "n": ws_connections(srv), "ramp_s": ramp,
                    "cpu": cpu_s(srv.pid)}

        rc, out, err, sim_cpu, held = run_sim(args, timeout=300, hold_until=all_welcomed,
                                              poll=settle)
        if held is None:
            raise RuntimeError(f"idle: only {state.get('n')} of {connections} connections "
                               f"(sim exit {rc}): {err[-1500:]} {out[-500:]}")
        per = (held["rss"] - base) / held["n"]
        r = {"target": target, "connections": held["n"], "rss_base": base, "rss_held": held["rss"],
             "bytes_per_conn": per, "rss_cold": cold,
             "bytes_per_conn_cold": (held["rss"] - cold) / held["n"], "ramp_s": held["ramp_s"],
             "server_cpu_s": held["cpu"] - cpu0, "sim_cpu_s": sim_cpu,
             "tls": srv.tls, "server_cmd": server_cmd(srv), "sim_cmd": sim_cmd(srv, args)}
    results[name] = r
    log(f"  baseline RSS {base / 1048576:.2f} MiB (after its first use; at start "
        f"{cold / 1048576:.2f} MiB), with {r['connections']} connections "
        f"{r['rss_held'] / 1048576:.1f} MiB -> {per:.0f} B/connection"
        + (f" (target <= {TARGETS[rkey('idle_bytes_per_conn')]})" if target == "daemon" else "")
        + f"; {r['bytes_per_conn_cold']:.0f} B/connection counted from the start")
    log(f"  all welcomed after {r['ramp_s']:.1f} s; CPU {target} {r['server_cpu_s']:.1f} s, "
        f"sim {sim_cpu:.1f} s")
    log(f"  server: {r['server_cmd']}\n  sim:    {r['sim_cmd']}")
    return r


# ---- 2./3. load: throughput and latency --------------------------------------

def load_once(target, durability, sessions, scanners, rate, duration):
    with Server(target, durability) as srv:
        srv.wait_ready()
        args = ["load"] + srv.sim_args() + ["--sessions", str(sessions), "--scanners", str(scanners),
                                            "--rate", str(rate), "--duration", str(duration), "--json"]
        cpu0, t0 = cpu_s(srv.pid), time.monotonic()
        rc, out, err, sim_cpu, _ = run_sim(args, timeout=duration * 4 + 120)
        wall = time.monotonic() - t0
        cpu = cpu_s(srv.pid) - cpu0
        rss_end = rss(srv.pid)
        j = last_json(out)
        if j is None:
            raise RuntimeError(f"load: no JSON from the sim (exit {rc}): {err[-1500:]} {out[-500:]}")
        j["_exit"] = rc
        j["_server_cpu_s"] = cpu
        j["_sim_cpu_s"] = sim_cpu_from_json(j) or sim_cpu
        j["_wall_s"] = wall
        j["_rss_end"] = rss_end
        j["_server_cmd"] = server_cmd(srv)
        j["_sim_cmd"] = sim_cmd(srv, args)
        j["_clean"] = rc == 0 and j.get("lost", 1) == 0 and j.get("duplicates", 1) == 0
        return j


def med(runs, *path):
    vals = []
    for r in runs:
        v = r
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
        if isinstance(v, (int, float)):
            vals.append(v)
    return statistics.median(vals) if vals else None


def summarize_load(runs):
    return {
        "runs": len(runs),
        "clean_runs": sum(1 for r in runs if r["_clean"]),
        "unacked_max": max(r.get("unacked", 0) for r in runs),
        "rejected_max": max(r.get("rejected", 0) for r in runs),
        "throughput": med(runs, "throughput"),
        "throughput_all": [round(r.get("throughput", 0)) for r in runs],
        "sent": med(runs, "sent"), "acked": med(runs, "acked"), "delivered": med(runs, "delivered"),
        "lost_max": max(r.get("lost", 0) for r in runs),
        "duplicates_max": max(r.get("duplicates", 0) for r in runs),
        "out_of_order_max": max(r.get("out_of_order", 0) for r in runs),
        "lat": {k: med(runs, "latency_ms", k) for k in ("p50", "p90", "p99", "p999", "max")},
        "ack": {k: med(runs, "ack_latency_ms", k) for k in ("p50", "p90", "p99", "p999", "max")},
        "server_cpu_s": med(runs, "_server_cpu_s"), "sim_cpu_s": med(runs, "_sim_cpu_s"),
        "wall_s": med(runs, "_wall_s"),
        "server_cmd": runs[0]["_server_cmd"], "sim_cmd": runs[0]["_sim_cmd"],
    }


def fmt_lat(d):
    return " ".join(f"{k} {d[k]:.2f}" for k in ("p50", "p90", "p99", "p999", "max") if d.get(k) is not None)


def bench_throughput(target="daemon", durability="normal", sessions=10, scanners=4, duration=10,
                     runs=RUNS):
    name = rkey(f"throughput_{durability}_{target}")
    log(f"\n== throughput, durability={durability}: {sessions} sessions x {scanners} scanners, "
        f"--rate 0, {duration} s, {runs} runs -> {target}")
    rs = []
    for i in range(runs):
        j = load_once(target, durability, sessions, scanners, 0, duration)
        rs.append(j)
        log(f"  run {i + 1}: {j.get('throughput', 0):.0f} scans/s, sent {j.get('sent')} acked "
            f"{j.get('acked')} delivered {j.get('delivered')} lost {j.get('lost')} dup "
            f"{j.get('duplicates')} ooo {j.get('out_of_order')} unacked {j.get('unacked')} "
            f"rejected {j.get('rejected')} exit {j['_exit']}; "
            f"CPU {target} {j['_server_cpu_s']:.1f} s, sim {j['_sim_cpu_s']:.1f} s "
            f"over {j['_wall_s']:.1f} s")
    s = summarize_load(rs)
    s.update(target=target, durability=durability, sessions=sessions, scanners=scanners,
             duration=duration, tls=TLS)
    results[name] = s
    tgt = TARGETS.get(f"throughput_{durability}")
    log(f"  median {s['throughput']:.0f} scans/s acked-after-commit, "
        f"{s['clean_runs']}/{runs} runs with zero loss and duplicates"
        + (f" (target >= {tgt})" if target == "daemon" else ""))
    log(f"  ack latency ms: {fmt_lat(s['ack'])}; scan->desktop ms: {fmt_lat(s['lat'])}")
    log(f"  server: {s['server_cmd']}\n  sim:    {s['sim_cmd']}")
    return s


def bench_latency(target="daemon", sessions=500, scanners=1, rate=2, duration=15, runs=RUNS):
    name = rkey(f"latency_{target}")
    log(f"\n== latency: {sessions} sessions x {scanners} scanner x {rate}/s = "
        f"{sessions * scanners * rate} scans/s, {duration} s, {runs} runs -> {target}")
    rs = []
    for i in range(runs):
        j = load_once(target, "normal", sessions, scanners, rate, duration)
        rs.append(j)
        log(f"  run {i + 1}: scan->desktop ms {fmt_lat(j.get('latency_ms', {}))}; ack ms "
            f"{fmt_lat(j.get('ack_latency_ms', {}))}; {j.get('throughput', 0):.0f} scans/s, lost "
            f"{j.get('lost')} exit {j['_exit']}; CPU {target} {j['_server_cpu_s']:.1f} s, "
            f"sim {j['_sim_cpu_s']:.1f} s")
    s = summarize_load(rs)
    s.update(target=target, sessions=sessions, scanners=scanners, rate=rate, duration=duration,
             tls=TLS)
    results[name] = s
    log(f"  median scan->desktop p50 {s['lat']['p50']:.2f} ms, p99 {s['lat']['p99']:.2f} ms; "
        f"ack p99 {s['ack']['p99']:.2f} ms"
        + (" (targets p50 <= 1, p99 <= 5, ack p99 <= 5)" if target == "daemon" else ""))
    log(f"  server: {s['server_cmd']}\n  sim:    {s['sim_cmd']}")
    return s


# ---- 4. footprint --------------------------------------------------------------

def bench_footprint(target="daemon", starts=10):
    name = rkey(f"footprint_{target}")
    log(f"\n== footprint -> {target}")
    # Idle RSS: a fresh start, one /healthz, settled for 2 s (median of 3).
    idle, parts, used = [], [], []
    for _ in range(3):
        with Server(target) as srv:
            srv.wait_ready()
            time.sleep(2)
            idle.append(rss(srv.pid))
            parts.append(rss_parts(srv.pid))
            first_use(srv)
            time.sleep(1)
            used.append(rss(srv.pid))
    # Start to ready: spawn -> first /healthz 200, polled every ms. Cold = a new
    # data dir (creates the database and the secret), warm = an existing one.
    cold, warm = [], []
    keep = tempfile.mkdtemp(prefix="sb-bench-ready-")
    try:
        for i in range(starts):
            with Server(target) as srv:
                cold.append(srv.wait_ready() * 1000)
            with Server(target, data_dir=os.path.join(keep, "data")) as srv:
                t = srv.wait_ready() * 1000
                if i or starts == 1:
                    warm.append(t)      # the very first one created the dir
                srv_cmd = server_cmd(srv)
    finally:
        shutil.rmtree(keep, ignore_errors=True)
    r = {"target": target, "idle_rss": statistics.median(idle), "idle_rss_all": idle,
         "used_rss": statistics.median(used), "used_rss_all": used,
         "idle_rss_anon": statistics.median(p[0] for p in parts),
         "idle_rss_file": statistics.median(p[1] for p in parts),
         "ready_cold_ms": statistics.median(cold), "ready_warm_ms": statistics.median(warm),
         "ready_cold_all": [round(x, 1) for x in cold], "ready_warm_all": [round(x, 1) for x in warm],
         "tls": TLS, "server_cmd": srv_cmd}
    if target == "daemon":
        tmp = tempfile.mkdtemp(prefix="sb-bench-strip-")
        try:
            out = os.path.join(tmp, "scanbridged")
            subprocess.run(["strip", "-o", out, DAEMON], check=True)
            r["binary_bytes"] = os.path.getsize(DAEMON)
            r["stripped_bytes"] = os.path.getsize(out)
            libs = subprocess.run(["ldd", DAEMON], capture_output=True, text=True).stdout
            r["shared_libs"] = sum(1 for l in libs.splitlines() if "=>" in l)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    results[name] = r
    log(f"  idle RSS {r['idle_rss'] / 1048576:.2f} MiB (median of 3: anonymous "
        f"{r['idle_rss_anon'] / 1048576:.2f} MiB, mapped files/libraries {r['idle_rss_file'] / 1048576:.2f} MiB)"
        + (" (target <= 8 MiB)" if target == "daemon" else ""))
    log(f"  idle RSS after a first session (one desktop + one scanner, gone) "
        f"{r['used_rss'] / 1048576:.2f} MiB (median of 3)")
    log(f"  start to ready (spawn -> /healthz 200, median of {starts}): existing data dir "
        f"{r['ready_warm_ms']:.1f} ms, new data dir {r['ready_cold_ms']:.1f} ms"
        + (" (target <= 100 ms)" if target == "daemon" else ""))
    if "stripped_bytes" in r:
        log(f"  binary {r['binary_bytes'] / 1024:.0f} KiB, stripped {r['stripped_bytes'] / 1024:.0f} KiB "
            f"(strip -o), {r['shared_libs']} shared libraries")
    log(f"  server: {r['server_cmd']}")
    return r


# ---- profile --------------------------------------------------------------------

def bench_profile(tool="perf", durability="normal", sessions=10, scanners=4, duration=10):
    outdir = os.path.join(BUILD, "bench")
    os.makedirs(outdir, exist_ok=True)
    log(f"\n== profile ({tool}) of the daemon under the throughput load, durability={durability}")
    if tool == "callgrind":
        cg = os.path.join(outdir, "callgrind.out")
        wrap = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg}"]
        with Server("daemon", durability, wrap=wrap) as srv:
            srv.wait_ready(timeout=60)
            args = ["load"] + srv.sim_args() + ["--sessions", str(sessions), "--scanners",
                                                str(scanners), "--rate", "0", "--duration",
                                                str(duration), "--json"]
            rc, out, err, _, _ = run_sim(args, timeout=duration * 4 + 120)
            j = last_json(out) or {}
        rep = subprocess.run(["callgrind_annotate", "--inclusive=no", cg],
                             capture_output=True, text=True).stdout
        path = os.path.join(outdir, "callgrind.txt")
    else:
        data = os.path.join(outdir, "perf.data")
        with Server("daemon", durability) as srv:
            srv.wait_ready()
            rec = subprocess.Popen(["perf", "record", "-g", "-F", "999", "-o", data, "-p",
                                    str(srv.pid)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            args = ["load"] + srv.sim_args() + ["--sessions", str(sessions), "--scanners",
                                                str(scanners), "--rate", "0", "--duration",
                                                str(duration), "--json"]
            rc, out, err, _, _ = run_sim(args, timeout=duration * 4 + 120)
            j = last_json(out) or {}
            rec.send_signal(signal.SIGINT)
            rec.wait()
        rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                              "--sort", "dso,symbol", "-g", "none", "--percent-limit", "0.5"],
                             capture_output=True, text=True).stdout
        rep2 = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                               "--sort", "dso", "-g", "none"], capture_output=True, text=True).stdout
        rep = rep2 + "\n" + rep
        path = os.path.join(outdir, "perf.txt")
    with open(path, "w") as f:
        f.write(rep)
    log(f"  load: {j.get('throughput', 0):.0f} scans/s (slowed by the profiler)")
    lines = [l for l in rep.splitlines() if l.strip() and not l.startswith("#")]
    log("\n".join("  " + l for l in lines[:45]))
    log(f"  full report: {rel(path)}")
    results[rkey(f"profile_{tool}")] = {"report": rel(path), "throughput": j.get("throughput")}


# ---- summary ---------------------------------------------------------------------

def verdict(ok):
    return "meets" if ok else "MISSES"


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "n/a"


def summary():
    R = results
    rows = []
    f = R.get(rkey("footprint_daemon"))
    if f:
        rows.append(("idle RSS", f"{f['idle_rss'] / 1048576:.2f} MiB", "<= 8 MiB",
                     verdict(f["idle_rss"] <= TARGETS["idle_rss_bytes"])))
        rows.append(("idle RSS after a first session", f"{f['used_rss'] / 1048576:.2f} MiB",
                     "<= 8 MiB", verdict(f["used_rss"] <= TARGETS["idle_rss_bytes"])))
        rows.append(("start to ready (median of 10)", f"{f['ready_warm_ms']:.1f} ms "
                     f"(new data dir {f['ready_cold_ms']:.1f} ms)", "<= 100 ms",
                     verdict(f["ready_warm_ms"] <= TARGETS["ready_ms"]
                             and f["ready_cold_ms"] <= TARGETS["ready_ms"])))
        rows.append(("stripped binary", f"{f['stripped_bytes'] / 1024:.0f} KiB", "reported", ""))
    i = R.get(rkey("idle_daemon"))
    if i:
        tgt = TARGETS[rkey("idle_bytes_per_conn")]
        rows.append((f"RSS per idle {'TLS ' if TLS else ''}connection ({i['connections']})",
                     f"{i['bytes_per_conn']:.0f} B (from start {i['bytes_per_conn_cold']:.0f} B)",
                     f"<= {tgt} B", verdict(i["bytes_per_conn"] <= tgt)))
    for d in ("normal", "full"):
        t = R.get(rkey(f"throughput_{d}_daemon"))
        if t:
            tgt = TARGETS[f"throughput_{d}"]
            rows.append((f"throughput, durability={d}", f"{t['throughput']:.0f} scans/s "
                         f"({t['clean_runs']}/{t['runs']} runs lossless)", f">= {tgt}/s",
                         verdict(t["throughput"] >= tgt and t["clean_runs"] == t["runs"])))
    l = R.get(rkey("latency_daemon"))
    if l:
        rows.append(("scan->desktop p50", f"{l['lat']['p50']:.2f} ms", "<= 1 ms",
                     verdict(l["lat"]["p50"] <= 1)))
        rows.append(("scan->desktop p99", f"{l['lat']['p99']:.2f} ms", "<= 5 ms",
                     verdict(l["lat"]["p99"] <= 5)))
        rows.append(("ack p99", f"{l['ack']['p99']:.2f} ms", "<= 5 ms",
                     verdict(l["ack"]["p99"] <= 5)))
    log(f"\n== summary (daemon{', HTTPS + WSS' if TLS else ''})")
    for r in rows:
        log(f"  {r[0]:<40} {r[1]:<42} {r[2]:<12} {r[3]}")
    peer = []
    for d in ("normal", "full"):
        a, b = R.get(f"throughput_{d}_daemon"), R.get(f"throughput_{d}_peer")
        if a and b:
            peer.append((f"throughput {d}", f"{a['throughput']:.0f}", f"{b['throughput']:.0f}",
                         ratio(a["throughput"], b["throughput"])))
    a, b = R.get("idle_daemon"), R.get("idle_peer")
    if a and b:
        peer.append(("RSS / idle connection (B)", f"{a['bytes_per_conn']:.0f}",
                     f"{b['bytes_per_conn']:.0f}", ratio(b["bytes_per_conn"], a["bytes_per_conn"])))
    a, b = R.get("latency_daemon"), R.get("latency_peer")
    if a and b:
        peer.append(("scan->desktop p99 (ms)", f"{a['lat']['p99']:.2f}", f"{b['lat']['p99']:.2f}",
                     ratio(b["lat"]["p99"], a["lat"]["p99"])))
        peer.append(("ack p99 (ms)", f"{a['ack']['p99']:.2f}", f"{b['ack']['p99']:.2f}",
                     ratio(b["ack"]["p99"], a["ack"]["p99"])))
    a, b = R.get("footprint_daemon"), R.get("footprint_peer")
    if a and b:
        peer.append(("idle RSS (MiB)", f"{a['idle_rss'] / 1048576:.1f}",
                     f"{b['idle_rss'] / 1048576:.1f}", ratio(b["idle_rss"], a["idle_rss"])))
        peer.append(("start to ready (ms)", f"{a['ready_warm_ms']:.1f}", f"{b['ready_warm_ms']:.1f}",
                     ratio(b["ready_warm_ms"], a["ready_warm_ms"])))
    if peer:
        log("\n== peer comparison (scanbridged vs Node ws + better-sqlite3; ratio = how much better"
            " the daemon is)")
        for p in peer:
            log(f"  {p[0]:<30} daemon {p[1]:>10}   peer {p[2]:>10}   {p[3]}")


def save():
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    old = {}
    if os.path.exists(OUT):
        try:
            with open(OUT) as f:
                old = json.load(f)
        except ValueError:
            pass
    old.update(results)
    with open(OUT, "w") as f:
        json.dump(old, f, indent=1, sort_keys=True)
    log(f"\nresults: {rel(OUT)}")


DAEMON_SRC = DAEMON


def copy_daemon(src, dest):
    """Copies the daemon to dest/bin with its decoder module in dest/lib/scanbridge,
    side by side as in the build tree and an install: the daemon looks for the
    module relative to itself and answers every image `busy` without it.
    Returns the copy's path."""
    os.makedirs(os.path.join(dest, "bin"))
    daemon = os.path.join(dest, "bin", "scanbridged")
    shutil.copy2(src, daemon)
    modules = os.path.join(os.path.dirname(src), os.pardir, "lib", "scanbridge")
    if os.path.isdir(modules):
        shutil.copytree(modules, os.path.join(dest, "lib", "scanbridge"))
    return daemon


def snapshot_binaries():
    """Runs a private copy of the daemon and the sim: a rebuild of the build
    tree during the run must not mix two binaries into one set of figures."""
    global DAEMON
    import hashlib
    snap = tempfile.mkdtemp(prefix="sb-bench-bin-")
    import atexit
    atexit.register(shutil.rmtree, snap, True)
    with open(DAEMON_SRC, "rb") as f:
        results["machine"]["daemon_sha256"] = hashlib.sha256(f.read()).hexdigest()
    results["machine"]["daemon_mtime"] = time.strftime(
        "%Y-%m-%d %H:%M:%S", time.gmtime(os.path.getmtime(DAEMON_SRC)))
    DAEMON = copy_daemon(DAEMON_SRC, snap)
    DAEMON_FLAGS.extend(["--web-root", os.path.join(ROOT, "web")])
    sim = sim_argv()
    if sim and not os.environ.get("SIM"):
        shutil.copy2(sim[0], os.path.join(snap, "scanbridge-sim"))
        results["machine"]["sim"] = rel(sim[0])
        os.environ["SIM"] = os.path.join(snap, "scanbridge-sim")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["all", "footprint", "idle", "throughput", "latency", "peer",
                                     "profile"])
    ap.add_argument("--target", choices=["daemon", "peer"], default="daemon")
    ap.add_argument("--durability", choices=["normal", "full"], default=None)
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--sessions", type=int, default=None)
    ap.add_argument("--scanners", type=int, default=None)
    ap.add_argument("--duration", type=int, default=None)
    ap.add_argument("--runs", type=int, default=RUNS)
    ap.add_argument("--tool", choices=["perf", "callgrind"], default="perf")
    ap.add_argument("--tls", action="store_true",
                    help="the daemon with --tls on, the sim over https:// and wss:// (daemon only)")
    a = ap.parse_args()
    global TLS
    TLS = a.tls
    if TLS and (a.target == "peer" or a.what == "peer"):
        sys.exit("--tls: the Node peer serves no TLS; benchmark the daemon only")

    soft, hard = raise_fd_limit()
    m = machine()
    results["machine"] = m
    log(f"scanbridge benchmarks - {m['date']}")
    log(f"machine: {m['nproc']} cores, {m['cpu']}, Linux {m['kernel']}; load average "
        f"{' '.join(m['loadavg_at_start'])}; fd limit {soft}")
    log("daemon, load generator (and the Node peer) share these cores; CPU of each is reported.")
    if not os.access(DAEMON, os.X_OK):
        sys.exit(f"no daemon at {DAEMON}: run make build")
    if TLS and "--tls" not in subprocess.run([DAEMON, "--help"], capture_output=True,
                                             text=True).stdout:
        sys.exit(f"--tls: {DAEMON} has no --tls option (issue 14)")
    if TLS:
        log("TLS: the daemon serves HTTPS + WSS (--tls on), the sim trusts its CA (--cafile)")
    snapshot_binaries()
    log(f"daemon: {rel(DAEMON_SRC)} (sha256 {m['daemon_sha256'][:12]}, built {m['daemon_mtime']}); "
        f"sim: {cmdline(sim_argv() or ['-'])}")
    if (a.what in ("all", "peer") or a.target == "peer") and not TLS:
        if not os.path.isdir(os.path.join(HERE, "peer", "node_modules")):
            sys.exit("the Node peer's modules are missing: make bench-deps")
    if a.what not in ("footprint",) and not sim_argv():
        log("\n!! scanbridge-sim not found: only the footprint benchmarks can run")
        if a.what != "all":
            sys.exit(1)
        a.what = "footprint"

    tp = {k: v for k, v in (("sessions", a.sessions), ("scanners", a.scanners),
                            ("duration", a.duration)) if v is not None}
    failed = []

    def step(fn, *args, **kw):
        try:
            fn(*args, **kw)
        except Exception as e:  # keep going: one broken benchmark should not hide the rest
            log(f"  !! {fn.__name__} {args} failed: {e}")
            failed.append(f"{fn.__name__}{args}")

    try:
        if a.what in ("all", "footprint"):
            step(bench_footprint, a.target)
            if a.what == "all" and not TLS:
                step(bench_footprint, "peer")
        if a.what in ("all", "idle"):
            step(bench_idle, a.target, a.connections)
        if a.what in ("all", "throughput"):
            for d in ([a.durability] if a.durability else ["normal", "full"]):
                step(bench_throughput, a.target, d, runs=a.runs, **tp)
        if a.what in ("all", "latency"):
            step(bench_latency, a.target, runs=a.runs,
                 **{k: v for k, v in tp.items() if k == "duration"})
        if a.what in ("all", "peer") and not TLS:
            step(bench_idle, "peer", a.connections)
            for d in ("normal", "full"):
                step(bench_throughput, "peer", d, runs=a.runs, **tp)
            step(bench_latency, "peer", runs=a.runs,
                 **{k: v for k, v in tp.items() if k == "duration"})
        if a.what == "profile":
            step(bench_profile, a.tool, a.durability or "normal", **tp)
    finally:
        summary()
        save()
    if failed:
        log(f"\nfailed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
