#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""scanbridge benchmarks (issues 4 and "Performance II"): `make bench`, or one at a time:

  tests/bench/bench.py all                         everything below (about 15 minutes)
  tests/bench/bench.py footprint                   idle RSS, start-to-ready, stripped size
  tests/bench/bench.py idle [--target peer]        10,000 held WebSocket connections
  tests/bench/bench.py throughput [--durability normal|full] [--target peer]
        durability normal: 10 sessions x 4 scanners and 100 x 2, interleaved
        (10x4, 100x2, 10x4, ...); full: 10 x 4; --sessions/--scanners: that shape only
  tests/bench/bench.py latency [--target peer]     1,000 and 10,000 scans/s over 500
        sessions (500 x 1 scanner x 2/s and x 20/s; --rate is per scanner), interleaved
  tests/bench/bench.py latency-10k                 only the 10,000 scans/s shape
  tests/bench/bench.py profile [--tool perf|callgrind] [--durability normal]
        [--sessions S --scanners M --rate R] [--call-graph dwarf|fp]; perf also
        writes <BUILD>/bench/flame.svg and flame.folded (tests/bench/flame.py) and
        prints the top frames by inclusive share (make bench-flame: 100 x 2)

Every load run is lossless or its target is missed. The daemon's CPU per
delivered scan is the sim's daemon_cpu_s (--daemon-pid: the daemon's
utime + stime from the first scan sent to the last ack/delivery) / delivered;
the sim's own CPU is measured over the same window; "cores" = CPU s / send s.
"Everything else" is the machine's other CPU use during a run (/proc/stat less
both): other work on a shared machine makes every figure worse.

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
(default node), RUNS (repetitions of throughput, latency and idle, default 3).
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

# The issues' targets ("Performance II", and issue 4's that it leaves as they
# were; with --tls, issue 14's for the TLS rows).
TARGETS = {
    "idle_bytes_per_conn": 2048,
    "idle_bytes_per_conn_tls": 8192,
    "throughput_normal": 40000,             # at 10 x 4 and at 100 x 2 (issue 4: 20,000)
    "throughput_full": 5000,
    "scaling_ratio": 0.85,                  # throughput 100 x 2 / 10 x 4
    "cpu_us_10x4": 10.0, "cpu_us_100x2": 12.0,   # daemon CPU per delivered scan
    "lat_p50_ms": 1.0,                      # issue 4, 1,000 scans/s
    "lat_p99_ms": 2.0, "ack_p99_ms": 2.0,   # 1,000 scans/s over 500 sessions (issue 4: 5)
    "lat10k_p99_ms": 10.0, "ack10k_p99_ms": 10.0,   # 10,000 scans/s over 500 sessions
    "idle_rss_bytes": 8 * 1024 * 1024,
    "ready_ms": 100.0,
}

# Load shapes: (sessions, scanners per session, scans/s per scanner; 0 = as
# fast as acks allow) and the results key suffix of each ("" = issue 4's key).
SHAPE_10x4 = (10, 4, 0)
SHAPE_100x2 = (100, 2, 0)
SHAPE_1K = (500, 1, 2)
SHAPE_10K = (500, 1, 20)

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
RUNS_DONE = None     # --runs of this invocation, for the summary
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


def machine_busy_s():
    """CPU seconds that all processes (and the kernel) have used, machine-wide:
    less the daemon's and the sim's over a run, what else ran meanwhile."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return (sum(v[:8]) - v[3] - v[4]) / TICK


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


def metric_total(srv, name):
    """The sum of a metric's samples from /metrics, None if the server has none."""
    try:
        _, text = http_get(srv, "/metrics", timeout=10)
    except OSError:
        return None
    vals = [float(l.split()[-1]) for l in text.splitlines()
            if l.startswith(name + " ") or l.startswith(name + "{")]
    return sum(vals) if vals else None


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
    args = ["DAEMON_PID" if i and args[i - 1] == "--daemon-pid" else a for i, a in enumerate(args)]
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



IDLE_HOLD_S = 15


def bench_idle(target="daemon", connections=10000, runs=RUNS):
    """runs rounds, each a fresh server; the median round by B/connection."""
    name = rkey(f"idle_{target}")
    log(f"\n== idle connections: {connections} {'TLS ' if TLS else ''}WebSockets "
        f"({connections // 2} sessions) -> {target}")
    rounds = sorted((idle_once(target, connections) for _ in range(max(1, runs))),
                    key=lambda r: r["bytes_per_conn"])
    r = dict(rounds[len(rounds) // 2])
    r["bytes_per_conn_all"] = [round(x["bytes_per_conn"]) for x in rounds]
    results[name] = r
    log(f"  median of {len(rounds)}: {r['bytes_per_conn']:.0f} B/connection "
        f"(all: {', '.join(str(x) for x in r['bytes_per_conn_all'])})")
    return r


def idle_once(target, connections):
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
            # Idle connections are measured idle: held 15 s, by when the
            # daemon's loop has gone quiet and handed back what the ramp's
            # HTTP requests freed (lws_loop.c, on_quiet).
            time.sleep(IDLE_HOLD_S)
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

_SIM_DAEMON_PID = None


def sim_has_daemon_pid():
    """Whether this sim's `load` takes --daemon-pid (reports daemon_cpu_s)."""
    global _SIM_DAEMON_PID
    if _SIM_DAEMON_PID is None:
        try:
            r = subprocess.run(sim_argv() + ["load", "--help"], capture_output=True, text=True,
                               timeout=10)
            _SIM_DAEMON_PID = "--daemon-pid" in r.stdout + r.stderr
        except (OSError, subprocess.SubprocessError, TypeError):
            _SIM_DAEMON_PID = False
    return _SIM_DAEMON_PID


def load_args(srv, sessions, scanners, rate, duration):
    return (["load"] + srv.sim_args() + ["--sessions", str(sessions), "--scanners", str(scanners),
                                         "--rate", str(rate), "--duration", str(duration), "--json"]
            + (["--daemon-pid", str(srv.pid)] if sim_has_daemon_pid() else []))


def load_once(target, durability, sessions, scanners, rate, duration):
    with Server(target, durability) as srv:
        srv.wait_ready()
        args = load_args(srv, sessions, scanners, rate, duration)
        cpu0, t0, busy0 = cpu_s(srv.pid), time.monotonic(), machine_busy_s()
        commits0 = metric_total(srv, "scanbridge_commits_total")
        rc, out, err, sim_cpu, _ = run_sim(args, timeout=duration * 4 + 120)
        commits = metric_total(srv, "scanbridge_commits_total")
        wall = time.monotonic() - t0
        cpu = cpu_s(srv.pid) - cpu0
        busy = machine_busy_s() - busy0
        rss_end = rss(srv.pid)
        j = last_json(out)
        if j is None:
            raise RuntimeError(f"load: no JSON from the sim (exit {rc}): {err[-1500:]} {out[-500:]}")
        j["_exit"] = rc
        j["_server_cpu_s"] = cpu
        j["_sim_cpu_s"] = sim_cpu_from_json(j) or sim_cpu
        j["_wall_s"] = wall
        # Everything else on the machine meanwhile (other processes, and the
        # kernel's work for nobody in particular), in cores: noise if high.
        j["_other_cores"] = max(0.0, busy - cpu - sim_cpu) / wall if wall else None
        j["_rss_end"] = rss_end
        j["_server_cmd"] = server_cmd(srv)
        j["_sim_cmd"] = sim_cmd(srv, args)
        j["_clean"] = rc == 0 and j.get("lost", 1) == 0 and j.get("duplicates", 1) == 0
        # CPU per delivered scan over the sim's measured window (first scan sent
        # to settled); without --daemon-pid, the whole run's (connecting too).
        dcpu = j.get("daemon_cpu_s")
        j["_daemon_cpu_s"] = dcpu if isinstance(dcpu, (int, float)) else cpu
        send = j.get("duration_s") or duration
        n = j.get("delivered") or 0
        j["_daemon_us_per_scan"] = j["_daemon_cpu_s"] / n * 1e6 if n else None
        j["_sim_us_per_scan"] = j["_sim_cpu_s"] / n * 1e6 if n else None
        j["_daemon_cores"] = j["_daemon_cpu_s"] / send if send else None
        j["_sim_cores"] = j["_sim_cpu_s"] / send if send else None
        # Group commit at work: scans per COMMIT (set-up commits included).
        acked = j.get("acked") or 0
        j["_scans_per_commit"] = (acked / (commits - commits0)
                                  if commits is not None and commits0 is not None
                                  and commits > commits0 else None)
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
        "daemon_cpu_s": med(runs, "_daemon_cpu_s"),
        "daemon_cpu_measured_by_sim": all(isinstance(r.get("daemon_cpu_s"), (int, float)) for r in runs),
        "daemon_us_per_scan": med(runs, "_daemon_us_per_scan"),
        "daemon_us_per_scan_all": [round(r["_daemon_us_per_scan"], 2) for r in runs
                                   if r.get("_daemon_us_per_scan") is not None],
        "sim_us_per_scan": med(runs, "_sim_us_per_scan"),
        "daemon_cores": med(runs, "_daemon_cores"), "sim_cores": med(runs, "_sim_cores"),
        "scans_per_commit": med(runs, "_scans_per_commit"),
        "send_s": med(runs, "duration_s"),
        "other_cores_max": max((r["_other_cores"] for r in runs if r.get("_other_cores") is not None),
                               default=None),
        "server_cmd": runs[0]["_server_cmd"], "sim_cmd": runs[0]["_sim_cmd"],
    }


def fmt_lat(d):
    return " ".join(f"{k} {d[k]:.2f}" for k in ("p50", "p90", "p99", "p999", "max") if d.get(k) is not None)


def fmt_cpu(j, target="daemon"):
    """One run's CPU: the server's and the sim's, per delivered scan and in cores."""
    def us(v):
        return f"{v:.1f} us/scan" if v is not None else "? us/scan"

    def cores(v):
        return f"{v:.2f} cores" if v is not None else "? cores"
    spc = j.get("_scans_per_commit")
    return (f"CPU {target} {j['_daemon_cpu_s']:.2f} s = {us(j['_daemon_us_per_scan'])}, "
            f"{cores(j['_daemon_cores'])}; sim {j['_sim_cpu_s']:.2f} s = "
            f"{us(j['_sim_us_per_scan'])}, {cores(j['_sim_cores'])}; everything else "
            f"{cores(j.get('_other_cores'))}"
            + (f"; {spc:.0f} scans per commit" if spc is not None else ""))


def shape_name(shape):
    s, m, rate = shape
    return (f"{s} sessions x {m} scanner{'s' if m > 1 else ''}, "
            + (f"{rate}/s per scanner = {s * m * rate} scans/s" if rate else "--rate 0"))


def run_shapes(target, durability, shapes, runs, duration, label):
    """RUNS rounds, each one run of every shape in turn (10x4, 100x2, 10x4,
    100x2, ...): a drift of the machine (other load, page cache, thermal)
    hits every shape alike. Returns one list of sim results per shape."""
    log(f"\n== {label}, durability={durability}: " + "; ".join(shape_name(x) for x in shapes)
        + f"; {duration} s each, {runs} rounds{' interleaved' if len(shapes) > 1 else ''} -> {target}")
    out = [[] for _ in shapes]
    for i in range(runs):
        for k, (sessions, scanners, rate) in enumerate(shapes):
            j = load_once(target, durability, sessions, scanners, rate, duration)
            out[k].append(j)
            tag = f"{sessions}x{scanners}" + (f"@{rate}/s" if rate else "")
            if rate:
                log(f"  run {i + 1} {tag}: scan->desktop ms {fmt_lat(j.get('latency_ms', {}))}; ack ms "
                    f"{fmt_lat(j.get('ack_latency_ms', {}))}; {j.get('throughput', 0):.0f} scans/s, "
                    f"lost {j.get('lost')} dup {j.get('duplicates')} exit {j['_exit']}; {fmt_cpu(j, target)}")
            else:
                log(f"  run {i + 1} {tag}: {j.get('throughput', 0):.0f} scans/s, sent {j.get('sent')} acked "
                    f"{j.get('acked')} delivered {j.get('delivered')} lost {j.get('lost')} dup "
                    f"{j.get('duplicates')} ooo {j.get('out_of_order')} unacked {j.get('unacked')} "
                    f"rejected {j.get('rejected')} exit {j['_exit']}; {fmt_cpu(j, target)} "
                    f"(over {j['_wall_s']:.1f} s: {target} {j['_server_cpu_s']:.1f} s, "
                    f"sim {j['_sim_cpu_s']:.1f} s)")
    return out


def log_cpu(s, target):
    log(f"  median CPU per delivered scan: {target} {s['daemon_us_per_scan']:.2f} us "
        f"({s['daemon_cores']:.2f} cores), sim {s['sim_us_per_scan']:.2f} us "
        f"({s['sim_cores']:.2f} cores)"
        + ("" if s["daemon_cpu_measured_by_sim"] else " [whole run: this sim has no --daemon-pid]"))


def bench_throughput(target="daemon", durability="normal", sessions=None, scanners=None, duration=10,
                     runs=RUNS, shapes=None):
    """Durability normal: 10 x 4 and 100 x 2 interleaved (issue "Performance II"
    targets 1 and 2); full, or --sessions/--scanners: that one shape. 10 x 4 (or
    the one shape) is stored as throughput_<durability>_<target> as before,
    100 x 2 as throughput_<durability>_100x2_<target>."""
    if sessions is not None or scanners is not None:
        shapes = [(sessions or 10, scanners or 4, 0)]
    elif shapes is None:
        shapes = [SHAPE_10x4, SHAPE_100x2] if durability == "normal" else [SHAPE_10x4]
    per = run_shapes(target, durability, shapes, runs, duration, "throughput")
    out = {}
    for k, (shape, rs) in enumerate(zip(shapes, per)):
        name = rkey(f"throughput_{durability}_{target}" if k == 0
                    else f"throughput_{durability}_{shape[0]}x{shape[1]}_{target}")
        s = summarize_load(rs)
        s.update(target=target, durability=durability, sessions=shape[0], scanners=shape[1],
                 duration=duration, tls=TLS, interleaved_with=[f"{x[0]}x{x[1]}" for x in shapes])
        results[name] = s
        out[shape] = s
        tgt = TARGETS.get(f"throughput_{durability}")
        log(f"  {shape[0]} x {shape[1]}: median {s['throughput']:.0f} scans/s acked-after-commit, "
            f"{s['clean_runs']}/{runs} runs with zero loss and duplicates"
            + (f" (target >= {tgt})" if target == "daemon" else ""))
        log_cpu(s, target)
        log(f"  ack latency ms: {fmt_lat(s['ack'])}; scan->desktop ms: {fmt_lat(s['lat'])}")
        log(f"  server: {s['server_cmd']}\n  sim:    {s['sim_cmd']}")
    a, b = out.get(SHAPE_10x4), out.get(SHAPE_100x2)
    if a and b and a["throughput"]:
        b["ratio_to_10x4"] = b["throughput"] / a["throughput"]
        log(f"  100 x 2 / 10 x 4 = {b['ratio_to_10x4']:.2f} (target >= {TARGETS['scaling_ratio']})")
    return out


def bench_latency(target="daemon", shapes=(SHAPE_1K, SHAPE_10K), duration=15, runs=RUNS):
    """1,000 scans/s over 500 sessions (latency_<target>, as in issue 4) and
    10,000 scans/s over 500 sessions (latency_10k_<target>), interleaved."""
    shapes = list(shapes)
    per = run_shapes(target, "normal", shapes, runs, duration, "latency")
    out = {}
    for shape, rs in zip(shapes, per):
        sessions, scanners, rate = shape
        total = sessions * scanners * rate
        name = rkey(f"latency_{target}" if shape == SHAPE_1K
                    else "latency_10k_" + target if shape == SHAPE_10K
                    else f"latency_{total}_{target}")
        s = summarize_load(rs)
        s.update(target=target, sessions=sessions, scanners=scanners, rate=rate, duration=duration,
                 total_rate=total, tls=TLS)
        results[name] = s
        out[shape] = s
        tl = ("p50 <= 1, p99 <= 2, ack p99 <= 2" if shape == SHAPE_1K
              else "p99 <= 10, ack p99 <= 10" if shape == SHAPE_10K else "")
        log(f"  {total} scans/s: median scan->desktop p50 {s['lat']['p50']:.2f} ms, p99 "
            f"{s['lat']['p99']:.2f} ms; ack p99 {s['ack']['p99']:.2f} ms; {s['clean_runs']}/{runs} "
            f"runs lossless" + (f" (targets {tl})" if target == "daemon" and tl else ""))
        log_cpu(s, target)
        log(f"  server: {s['server_cmd']}\n  sim:    {s['sim_cmd']}")
    return out


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

def bench_profile(tool="perf", durability="normal", sessions=10, scanners=4, duration=10,
                  call_graph="dwarf", rate=0):
    """The daemon under the throughput load, profiled. perf: perf.data (call
    stacks unwound with DWARF by default: Debian's libraries and a Release
    build keep no frame pointers), perf.txt (self time by library and symbol),
    and from tests/bench/flame.py flame.folded + flame.svg, all in <BUILD>/bench."""
    outdir = os.path.join(BUILD, "bench")
    os.makedirs(outdir, exist_ok=True)
    log(f"\n== profile ({tool}) of the daemon under the throughput load, durability={durability}, "
        f"{sessions} sessions x {scanners} scanners, --rate {rate}, {duration} s")
    extra = {}
    if tool == "callgrind":
        cg = os.path.join(outdir, "callgrind.out")
        wrap = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg}"]
        with Server("daemon", durability, wrap=wrap) as srv:
            srv.wait_ready(timeout=60)
            args = load_args(srv, sessions, scanners, rate, duration)
            rc, out, err, _, _ = run_sim(args, timeout=duration * 4 + 120)
            j = last_json(out) or {}
        rep = subprocess.run(["callgrind_annotate", "--inclusive=no", cg],
                             capture_output=True, text=True).stdout
        path = os.path.join(outdir, "callgrind.txt")
    else:
        data = os.path.join(outdir, "perf.data")
        cg = ["--call-graph", "dwarf,16384"] if call_graph == "dwarf" else ["-g"]
        with Server("daemon", durability) as srv:
            srv.wait_ready()
            rec = subprocess.Popen(["perf", "record"] + cg + ["-F", "999", "-o", data, "-p",
                                                              str(srv.pid)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            args = load_args(srv, sessions, scanners, rate, duration)
            rc, out, err, sim_cpu, _ = run_sim(args, timeout=duration * 4 + 120)
            j = last_json(out) or {}
            rec.send_signal(signal.SIGINT)
            rec.wait()
            sim_cmd_ = sim_cmd(srv, args)
        rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                              "--sort", "dso,symbol", "-g", "none", "--percent-limit", "0.5"],
                             capture_output=True, text=True).stdout
        rep2 = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                               "--sort", "dso", "-g", "none"], capture_output=True, text=True).stdout
        rep = rep2 + "\n" + rep
        path = os.path.join(outdir, "perf.txt")
        extra = flame_graph(data, outdir, j, sessions, scanners, durability, call_graph, rate)
        extra["perf_record"] = ("perf record " + " ".join(cg) + " -F 999 -o "
                                + rel(data) + " -p DAEMON_PID")
        extra["sim_cmd"] = sim_cmd_
    with open(path, "w") as f:
        f.write(rep)
    n = j.get("delivered") or 0
    cpu = ""
    if n and isinstance(j.get("daemon_cpu_s"), (int, float)):
        cpu = (f"; CPU daemon {j['daemon_cpu_s'] / n * 1e6:.1f} us/scan, sim "
               f"{j.get('sim_cpu_s', 0) / n * 1e6:.1f} us/scan (both slowed by the profiler)")
    log(f"  load: {j.get('throughput', 0):.0f} scans/s (slowed by the profiler), lost "
        f"{j.get('lost')}{cpu}")
    if tool == "callgrind":
        lines = [l for l in rep.splitlines() if l.strip() and not l.startswith("#")]
        log("\n".join("  " + l for l in lines[:45]))
    log(f"  full report: {rel(path)}")
    r = {"report": rel(path), "throughput": j.get("throughput"), "sessions": sessions, "rate": rate,
         "scanners": scanners, "durability": durability, "delivered": n,
         "daemon_cpu_s": j.get("daemon_cpu_s"), "sim_cpu_s": j.get("sim_cpu_s")}
    r.update(extra)
    results[rkey(f"profile_{tool}")] = r


def flame_graph(data, outdir, j, sessions, scanners, durability, call_graph, rate=0):
    """flame.folded + flame.svg from perf.data, and the top frames printed."""
    sys.path.insert(0, HERE)
    import flame
    p = flame.Profile.from_perf_script(flame.perf_script(data).splitlines(True))
    if not p.total():
        raise RuntimeError(f"perf recorded no samples in {rel(data)}")
    folded = os.path.join(outdir, "flame.folded")
    svg = os.path.join(outdir, "flame.svg")
    with open(folded, "w") as f:
        f.write(p.folded_text())
    sub = (f"{sessions} sessions x {scanners} scanners, --rate {rate}, durability={durability}: "
           f"{j.get('throughput', 0):.0f} scans/s under perf (-F 999, call graph {call_graph}); "
           f"daemon {rel(DAEMON_SRC)}")
    with open(svg, "w") as f:
        f.write(p.svg("scanbridged CPU flame graph", sub))
    s = p.summary()
    log("\n".join(flame.report(s)))
    log(f"  flame graph: {rel(svg)} (open in a browser; hover a frame), folded stacks: {rel(folded)}"
        f"\n  again from the data: python3 tests/bench/flame.py --perf-data {rel(data)} "
        f"--svg {rel(svg)} --folded {rel(folded)}")
    return {"flame_svg": rel(svg), "folded": rel(folded), "samples": s["samples"],
            "top_inclusive": s["top_inclusive"], "key_inclusive": s["key_inclusive"],
            "syscalls": s["syscalls"], "self_by_class": s["self_by_class"],
            "self_top": s["self_top"], "call_graph": call_graph}


# ---- summary ---------------------------------------------------------------------

def verdict(ok):
    return "meets" if ok else "MISSES"


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "n/a"


def lossless(t):
    return f"{t['clean_runs']}/{t['runs']} lossless"


def all_clean(*ts):
    return all(t["clean_runs"] == t["runs"] for t in ts)


def summary():
    R = results
    tls = ", HTTPS + WSS" if TLS else ""
    # Issue "Performance II": every target, with its result or "not run".
    rows = []
    t10 = R.get(rkey("throughput_normal_daemon"))
    if t10 and (t10.get("sessions"), t10.get("scanners")) != SHAPE_10x4[:2]:
        t10 = None           # another shape (--sessions/--scanners)
    t100 = R.get(rkey("throughput_normal_100x2_daemon"))
    for t, shape, key in ((t100, "100 x 2", "cpu_us_100x2"), (t10, "10 x 4", "cpu_us_10x4")):
        tgt = TARGETS[key]
        if t and t.get("daemon_us_per_scan") is not None:
            rows.append((f"1. daemon CPU/scan, {shape}",
                         f"{t['daemon_us_per_scan']:.2f} us (sim {t['sim_us_per_scan']:.2f} us; "
                         f"{lossless(t)})", f"<= {tgt:g} us",
                         verdict(t["daemon_us_per_scan"] <= tgt and all_clean(t))))
        else:
            rows.append((f"1. daemon CPU/scan, {shape}", "not run", f"<= {tgt:g} us", ""))
    if t10 and t100:
        q = t100["throughput"] / t10["throughput"] if t10["throughput"] else 0
        rows.append(("2. throughput 100 x 2 / 10 x 4", f"{q:.2f} ({t100['throughput']:.0f} / "
                     f"{t10['throughput']:.0f})", f">= {TARGETS['scaling_ratio']}",
                     verdict(q >= TARGETS["scaling_ratio"] and all_clean(t10, t100))))
    else:
        rows.append(("2. throughput 100 x 2 / 10 x 4", "not run", f">= {TARGETS['scaling_ratio']}", ""))
    tgt = TARGETS["throughput_normal"]
    for t, shape in ((t10, "10 x 4"), (t100, "100 x 2")):
        rows.append((f"2. throughput {shape}, normal", f"{t['throughput']:.0f} scans/s ({lossless(t)})"
                     if t else "not run", f">= {tgt}/s",
                     verdict(t["throughput"] >= tgt and all_clean(t)) if t else ""))
    for key, what, lt, at in (("latency_daemon", "1,000/s", "lat_p99_ms", "ack_p99_ms"),
                              ("latency_10k_daemon", "10,000/s", "lat10k_p99_ms", "ack10k_p99_ms")):
        l = R.get(rkey(key))
        tg = f"<= {TARGETS[lt]:g} ms"
        if l:
            rows.append((f"3. p99 at {what}, 500 sessions", f"scan->desktop {l['lat']['p99']:.2f} ms, "
                         f"ack {l['ack']['p99']:.2f} ms ({lossless(l)})", tg,
                         verdict(l["lat"]["p99"] <= TARGETS[lt] and l["ack"]["p99"] <= TARGETS[at]
                                 and all_clean(l))))
        else:
            rows.append((f"3. p99 at {what}, 500 sessions", "not run", tg, ""))
    i = R.get(rkey("idle_daemon"))
    tgt = TARGETS[rkey("idle_bytes_per_conn")]
    rows.append((f"4. RSS per idle {'TLS ' if TLS else ''}connection"
                 + (f" ({i['connections']})" if i else ""),
                 f"{i['bytes_per_conn']:.0f} B (from start {i['bytes_per_conn_cold']:.0f} B)"
                 if i else "not run", f"<= {tgt} B", verdict(i["bytes_per_conn"] <= tgt) if i else ""))
    f = R.get(rkey("footprint_daemon"))
    rows.append(("4. idle RSS after a first session", f"{f['used_rss'] / 1048576:.2f} MiB" if f
                 else "not run", "<= 8 MiB", verdict(f["used_rss"] <= TARGETS["idle_rss_bytes"]) if f else ""))
    t = R.get(rkey("throughput_full_daemon"))
    rows.append(("5. throughput, durability=full", f"{t['throughput']:.0f} scans/s ({lossless(t)}; "
                 f"{t['sessions']} x {t['scanners']})" if t else "not run",
                 f">= {TARGETS['throughput_full']}/s",
                 verdict(t["throughput"] >= TARGETS["throughput_full"] and all_clean(t)) if t else ""))
    if any(r[1] != "not run" for r in rows):
        log(f"\n== summary: issue \"Performance II\" targets (daemon{tls}; medians of "
            f"{RUNS_DONE or RUNS} interleaved runs)")
        for r in rows:
            log(f"  {r[0]:<38} {r[1]:<56} {r[2]:<12} {r[3]}")
    # CPU of both processes for every load run: they share this machine's cores.
    cpu = []
    order = ["throughput_normal_daemon", "throughput_normal_100x2_daemon", "throughput_full_daemon",
             "latency_daemon", "latency_10k_daemon"]
    order = [rkey(k) for k in order] + [k.replace("_daemon", "_peer") for k in order]
    for key in sorted(R, key=lambda k: (order.index(k) if k in order else len(order), k)):
        v = R[key]
        if (isinstance(v, dict) and key.startswith(("throughput_", "latency_"))
                and v.get("daemon_us_per_scan") is not None):
            shape = f"{v['sessions']} x {v['scanners']}" + (f" @ {v['rate']}/s" if v.get("rate") else "")
            cpu.append((key, shape, v))
    if cpu:
        log("\n== CPU per delivered scan and cores used (medians; the server and the sim over the "
            "same window; others = the rest of the machine, at most, in any run)")
        noisy = 0.0
        for key, shape, v in cpu:
            o = v.get("other_cores_max")
            noisy = max(noisy, o or 0)
            log(f"  {key:<36} {shape:<16} {v['throughput']:>7.0f}/s  {v['target']} "
                f"{v['daemon_us_per_scan']:6.2f} us {v['daemon_cores']:.2f} cores   sim "
                f"{v['sim_us_per_scan']:6.2f} us {v['sim_cores']:.2f} cores"
                + (f"   others {o:.2f} cores" if o is not None else ""))
        if noisy > 0.25:
            log(f"  !! other processes used up to {noisy:.2f} of {os.cpu_count()} cores during "
                f"these runs: the figures are not this machine's best")
    # Issue 4's targets that "Performance II" leaves as they were.
    rows = []
    if f:
        rows.append(("idle RSS", f"{f['idle_rss'] / 1048576:.2f} MiB", "<= 8 MiB",
                     verdict(f["idle_rss"] <= TARGETS["idle_rss_bytes"])))
        rows.append(("start to ready (median of 10)", f"{f['ready_warm_ms']:.1f} ms "
                     f"(new data dir {f['ready_cold_ms']:.1f} ms)", "<= 100 ms",
                     verdict(f["ready_warm_ms"] <= TARGETS["ready_ms"]
                             and f["ready_cold_ms"] <= TARGETS["ready_ms"])))
        rows.append(("stripped binary", f"{f['stripped_bytes'] / 1024:.0f} KiB", "reported", ""))
    l = R.get(rkey("latency_daemon"))
    if l:
        rows.append(("scan->desktop p50 at 1,000/s", f"{l['lat']['p50']:.2f} ms", "<= 1 ms",
                     verdict(l["lat"]["p50"] <= TARGETS["lat_p50_ms"])))
    if rows:
        log(f"\n== summary: issue 4 targets still in force (daemon{tls})")
        for r in rows:
            log(f"  {r[0]:<38} {r[1]:<56} {r[2]:<12} {r[3]}")
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
    ap.add_argument("what", choices=["all", "footprint", "idle", "throughput", "latency",
                                     "latency-10k", "peer", "profile"])
    ap.add_argument("--target", choices=["daemon", "peer"], default="daemon")
    ap.add_argument("--durability", choices=["normal", "full"], default=None)
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--sessions", type=int, default=None)
    ap.add_argument("--scanners", type=int, default=None)
    ap.add_argument("--duration", type=int, default=None)
    ap.add_argument("--runs", type=int, default=RUNS)
    ap.add_argument("--tool", choices=["perf", "callgrind"], default="perf")
    ap.add_argument("--rate", type=float, default=None,
                    help="profile: scans/s per scanner (default 0: as fast as acks allow)")
    ap.add_argument("--call-graph", choices=["dwarf", "fp"], default="dwarf",
                    help="profile --tool perf: how perf unwinds stacks (default dwarf)")
    ap.add_argument("--tls", action="store_true",
                    help="the daemon with --tls on, the sim over https:// and wss:// (daemon only)")
    a = ap.parse_args()
    global TLS, RUNS_DONE
    TLS = a.tls
    RUNS_DONE = a.runs
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
            step(bench_idle, a.target, a.connections, runs=a.runs)
        if a.what in ("all", "throughput"):
            for d in ([a.durability] if a.durability else ["normal", "full"]):
                step(bench_throughput, a.target, d, runs=a.runs, **tp)
        if a.what in ("all", "latency", "latency-10k"):
            step(bench_latency, a.target, runs=a.runs,
                 shapes=[SHAPE_10K] if a.what == "latency-10k" else [SHAPE_1K, SHAPE_10K],
                 **{k: v for k, v in tp.items() if k == "duration"})
        if a.what in ("all", "peer") and not TLS:
            step(bench_idle, "peer", a.connections, runs=a.runs)
            for d in ("normal", "full"):      # the peer: issue 4's shapes only
                step(bench_throughput, "peer", d, runs=a.runs, shapes=[SHAPE_10x4], **tp)
            step(bench_latency, "peer", runs=a.runs, shapes=[SHAPE_1K],
                 **{k: v for k, v in tp.items() if k == "duration"})
        if a.what == "profile":
            step(bench_profile, a.tool, a.durability or "normal", call_graph=a.call_graph,
                 rate=0 if a.rate is None else int(a.rate) if a.rate == int(a.rate) else a.rate, **tp)
    finally:
        summary()
        save()
    if failed:
        log(f"\nfailed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
