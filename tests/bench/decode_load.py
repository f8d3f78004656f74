#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Relay latency under decode load (issue 3, a benchmark, not a timed test).

  /usr/bin/python3 tests/bench/decode_load.py --build build

Target: scan -> desktop p99 while 4 phones stream camera frames at 5 fps stays
within 2x of the idle figure.

For each run (default 3, idle and loaded alternating) a fresh daemon starts on a
free port of 127.0.0.1 with a new data directory and the limits of
tests/bench/bench.py (per-IP and per-connection limits raised), then:

  idle:   scanbridge-sim load --sessions 20 --scanners 1 --rate 10 --duration 15 --json
          (200 scans/s over 20 sessions)
  loaded: the same sim load, while 4 extra phones (this script: session over
          REST, pair, ws://.../ws with subprotocol scanbridge.v1, hello with the
          scanner token) each send a 1280x720 JPEG camera frame with an EAN-13
          as a binary WebSocket frame every 200 ms, for the whole sim run.
          Answers counted: `decoded` (and its `ms`), `error` `busy`, other errors.

The loaded run is repeated for each --decode-workers value (default "0,1":
the daemon's default, one per core, and a single decode thread).

Reported: medians over the runs of scan->desktop p50/p99, ack p99, the ratio
p99(loaded)/p99(idle) against the 2x target, frames answered/s, busy answers,
decode ms p50/p99 (the daemon's own `ms`), and CPU: the daemon's (utime+stime
from /proc/PID/stat, split into its main thread, the event loop, and the other
threads, the decode workers), the sim's (its rusage) and this script's phones.
All of them share the machine's cores.

The frame is made with GNU `barcode` (SVG) and ImageMagick (/usr/bin/convert):
a shaded noisy 1280x720 colour background with the code pasted small in it
(380 px wide, 3 px per module, blur 0.5), JPEG quality 80, 4:2:0 (about 110 KB,
decoded in one pass); --empty-frame streams the background alone (no code: all
four decoder passes run, the costly case); or pass --frame FILE.
Standard library plus Debian's python3-websockets (10.x).
"""
import argparse
import asyncio
import http.client
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

try:
    import websockets
except ImportError:
    sys.exit("decode_load.py needs python3-websockets (Debian): run it with /usr/bin/python3")

CONVERT = "/usr/bin/convert"  # the real ImageMagick, not a stand-in on PATH
EAN = "4006381333931"
TARGET_RATIO = 2.0


def log(*a):
    print(*a, flush=True)


# ---- the frame ------------------------------------------------------------------

def make_frame(tmp, empty=False):
    if not shutil.which("barcode") or not os.access(CONVERT, os.X_OK):
        sys.exit("needs GNU barcode and ImageMagick (apt-get install barcode imagemagick), "
                 "or --frame FILE")
    svg, png, jpg = (os.path.join(tmp, n) for n in ("ean.svg", "ean.png", "frame.jpg"))
    if empty:  # the same background without a code: every decoder pass runs
        subprocess.run([CONVERT, "-size", "1280x720", "gradient:rgb(70,65,60)-rgb(190,180,165)",
                        "-seed", "7", "-attenuate", "0.35", "+noise", "Gaussian",
                        "-seed", "8", "-attenuate", "0.2", "+noise", "Gaussian",
                        "-type", "TrueColor", "-sampling-factor", "2x2", "-quality", "80", jpg],
                       check=True)
        return jpg
    subprocess.run(["barcode", "-n", "-b", EAN, "-e", "ean13", "-S", "-o", svg], check=True)
    subprocess.run([CONVERT, "-density", "300", svg, "-shave", "3x3", "-colorspace", "Gray",
                    "-bordercolor", "white", "-border", "20", png], check=True)
    subprocess.run([CONVERT, "-size", "1280x720", "gradient:rgb(70,65,60)-rgb(190,180,165)",
                    "-seed", "7", "-attenuate", "0.35", "+noise", "Gaussian",
                    "(", png, "-resize", "380x", "-blur", "0x0.5", "-colorspace", "sRGB", ")",
                    "-geometry", "+470+240", "-composite",
                    "-seed", "8", "-attenuate", "0.2", "+noise", "Gaussian",
                    "-type", "TrueColor", "-sampling-factor", "2x2", "-quality", "80", jpg],
                   check=True)
    return jpg


# ---- the daemon -----------------------------------------------------------------

def bench_module(build):
    os.environ["BUILD"] = build
    sys.path.insert(0, HERE)
    import bench  # noqa: E402  (Server, run_sim, cpu_s, ... of the existing harness)
    return bench


def thread_cpu(pid):
    """(main thread, other threads) utime+stime in seconds."""
    main = other = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fl = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        t = (int(fl[11]) + int(fl[12])) / os.sysconf("SC_CLK_TCK")
        if int(tid) == pid:
            main += t
        else:
            other += t
    return main, other


def metrics(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
    finally:
        c.close()
    m = {}
    for line in text.splitlines():
        if line.startswith("scanbridge_frames_") or line.startswith("scanbridge_decode_seconds_count"):
            k, v = line.rsplit(None, 1)
            m[k] = float(v)
    return m


# ---- the phones -----------------------------------------------------------------

def rest(port, path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        if r.status not in (200, 201):
            raise RuntimeError(f"POST {path}: {r.status} {data[:200]!r}")
        return json.loads(data)
    finally:
        c.close()


class Phones:
    """N phones, each streaming `frame` every 1/fps s over its own WebSocket,
    on an asyncio loop in a background thread."""

    def __init__(self, port, frame, n, fps):
        self.port, self.frame, self.n, self.period = port, frame, n, 1.0 / fps
        self.sent = self.decoded = self.found = self.busy = self.other_err = 0
        self.ms = []
        self.errors = {}
        self.failures = []
        self.ready = threading.Event()
        self.welcomed = 0
        self.t_start = self.t_stop = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        if not self.ready.wait(30) or self.failures:
            raise RuntimeError(f"phones not ready: {self.failures}")

    def stop(self):
        self.loop.call_soon_threadsafe(self.stop_ev.set)
        self.thread.join(30)

    def _run(self):
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self._main())

    async def _main(self):
        self.stop_ev = asyncio.Event()
        pairs = []
        for i in range(self.n):
            s = rest(self.port, "/api/v1/sessions", {})
            p = rest(self.port, "/api/v1/pair", {"pair_code": s["pair_code"],
                                                 "name": f"decode-load phone {i + 1}"})
            pairs.append(p["scanner_token"])
        self.go = asyncio.Event()
        tasks = [asyncio.create_task(self._phone(i, t)) for i, t in enumerate(pairs)]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _phone(self, i, token):
        url = f"ws://127.0.0.1:{self.port}/ws"
        try:
            async with websockets.connect(url, subprotocols=["scanbridge.v1"], max_size=None,
                                          compression=None, ping_interval=None) as ws:
                await ws.send(json.dumps({"type": "hello", "token": token}))
                w = json.loads(await ws.recv())
                if w.get("type") != "welcome":
                    raise RuntimeError(f"phone {i}: {w}")
                self.welcomed += 1
                if self.welcomed == self.n:
                    self.t_start = time.monotonic()
                    self.go.set()
                await self.go.wait()
                reader = asyncio.create_task(self._read(ws))
                await asyncio.sleep(self.period * i / self.n)  # spread the phones' phases
                nxt = time.monotonic()
                while not self.stop_ev.is_set():
                    await ws.send(self.frame)
                    self.sent += 1
                    if self.sent == self.n:
                        self.ready.set()
                    nxt += self.period
                    try:
                        await asyncio.wait_for(self.stop_ev.wait(), max(0.0, nxt - time.monotonic()))
                    except asyncio.TimeoutError:
                        pass
                self.t_stop = time.monotonic()
                await asyncio.sleep(1.0)  # late answers
                reader.cancel()
        except Exception as e:  # reported, and the run fails
            self.failures.append(f"phone {i}: {e!r}")
            self.ready.set()

    async def _read(self, ws):
        async for raw in ws:
            if isinstance(raw, bytes):
                continue
            m = json.loads(raw)
            if m.get("type") == "decoded":
                self.decoded += 1
                self.ms.append(float(m.get("ms", 0)))
                if any(c.get("code") == EAN for c in m.get("codes", [])):
                    self.found += 1
            elif m.get("type") == "error":
                code = m.get("code")
                self.errors[code] = self.errors.get(code, 0) + 1
                if code == "busy":
                    self.busy += 1
                else:
                    self.other_err += 1


# ---- one run --------------------------------------------------------------------

def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(-(-p * len(xs) // 100)) - 1))]  # nearest rank


def demote_workers(pid, how):
    """An experiment without changing the daemon: lowers the CPU priority of
    every thread but the main one (the event loop), i.e. the decode workers,
    started before /healthz answers. how: idle (SCHED_IDLE) or nice (nice 19)."""
    n = 0
    for tid in map(int, os.listdir(f"/proc/{pid}/task")):
        if tid == pid:
            continue
        if how == "idle":
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        else:
            os.setpriority(os.PRIO_PROCESS, tid, 19)
        n += 1
    return n


def one_run(bench, a, frame, workers=None):
    extra = ["--decode-workers", str(workers)] if workers is not None else []
    kind = "idle" if workers is None else f"loaded(w={workers or 'default'})"
    with bench.Server("daemon", "normal", extra=extra) as srv:
        srv.wait_ready()
        if workers is not None and a.demote_workers:
            kind += f",{a.demote_workers}x{demote_workers(srv.pid, a.demote_workers)}"
        phones = None
        if workers is not None:
            phones = Phones(srv.port, frame, a.phones, a.fps)
            phones.start()
            time.sleep(1.0)  # streaming before the sim connects
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        c0, m0 = bench.cpu_s(srv.pid), thread_cpu(srv.pid)
        t0 = time.monotonic()
        args = ["load", "--url", srv.url, "--sessions", str(a.sessions), "--scanners", "1",
                "--rate", str(a.rate), "--duration", str(a.duration), "--daemon-pid", str(srv.pid),
                "--json", "-q"]
        rc, out, err, sim_cpu, _ = bench.run_sim(args, timeout=a.duration * 4 + 60)
        wall = time.monotonic() - t0
        c1, m1 = bench.cpu_s(srv.pid), thread_cpu(srv.pid)
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        met = None
        if phones:
            phones.stop()
            met = metrics(srv.port)
        j = bench.last_json(out)
        if not j:
            raise RuntimeError(f"sim exit {rc}, no JSON: {err[-1000:]}")
    r = {"kind": kind, "workers": workers, "exit": rc, "wall_s": wall,
         "sent": j["sent"], "delivered": j["delivered"], "lost": j["lost"],
         "rate_limited": j.get("rate_limited"),
         "lat_p50": j["latency_ms"]["p50"], "lat_p99": j["latency_ms"]["p99"],
         "lat_max": j["latency_ms"]["max"], "ack_p99": j["ack_latency_ms"]["p99"],
         "daemon_cpu_s": c1 - c0, "daemon_main_cpu_s": m1[0] - m0[0],
         "daemon_other_cpu_s": m1[1] - m0[1], "sim_cpu_s": sim_cpu,
         "sim_send_cpu_s": j.get("sim_cpu_s"), "daemon_send_cpu_s": j.get("daemon_cpu_s"),
         "script_cpu_s": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)}
    if phones:
        span = (phones.t_stop or time.monotonic()) - phones.t_start
        r.update(frames_sent=phones.sent, frames_decoded=phones.decoded, frames_found=phones.found,
                 busy=phones.busy, other_errors=phones.errors if phones.other_err else {},
                 stream_s=span, answered_per_s=phones.decoded / span, sent_per_s=phones.sent / span,
                 decode_ms_p50=pct(phones.ms, 50), decode_ms_p99=pct(phones.ms, 99),
                 dropped=int(sum(v for k, v in met.items() if k.startswith("scanbridge_frames_dropped"))),
                 phone_failures=phones.failures)
    log(fmt_run(r))
    return r


def fmt_run(r):
    s = (f"  {r['kind']:<18} scan->desktop p50 {r['lat_p50']:.2f} p99 {r['lat_p99']:.2f} "
         f"max {r['lat_max']:.1f} ms, ack p99 {r['ack_p99']:.2f} ms; delivered {r['delivered']}/"
         f"{r['sent']} lost {r['lost']} exit {r['exit']}; CPU daemon {r['daemon_cpu_s']:.1f} s "
         f"(loop {r['daemon_main_cpu_s']:.1f} + other threads {r['daemon_other_cpu_s']:.1f}), "
         f"sim {r['sim_cpu_s']:.1f} s, phones {r['script_cpu_s']:.1f} s over {r['wall_s']:.1f} s")
    if "frames_sent" in r:
        s += (f"\n  {'':<18} frames sent {r['frames_sent']} ({r['sent_per_s']:.1f}/s), decoded "
              f"{r['frames_decoded']} ({r['answered_per_s']:.1f}/s, code found in {r['frames_found']}), "
              f"busy {r['busy']}, dropped (fresher frame) {r['dropped']}, other errors "
              f"{r['other_errors'] or 0}; decode ms p50 {r['decode_ms_p50']} p99 {r['decode_ms_p99']}")
        if r["phone_failures"]:
            s += f"\n  !! {r['phone_failures']}"
    return s


def med(rs, k):
    v = [r[k] for r in rs if r.get(k) is not None]
    return statistics.median(v) if v else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="build tree with bin/scanbridged and bin/scanbridge-sim")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--rate", type=int, default=10, help="scans/s per sim scanner")
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--phones", type=int, default=4)
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--decode-workers", default="0,1",
                    help="comma-separated --decode-workers values for the loaded runs (0 = daemon default)")
    ap.add_argument("--frame", help="JPEG to stream instead of the generated one")
    ap.add_argument("--empty-frame", action="store_true",
                    help="stream the generated background without a code (all 4 decoder passes run)")
    ap.add_argument("--demote-workers", choices=["idle", "nice"],
                    help="experiment: run the daemon's decode threads at SCHED_IDLE or nice 19 "
                         "(set from outside, after start) in the loaded runs")
    ap.add_argument("--json", help="write the results here too")
    a = ap.parse_args()
    build = a.build if os.path.isabs(a.build) else os.path.join(ROOT, a.build)
    bench = bench_module(build)
    bench.raise_fd_limit()
    workers = [int(w) for w in a.decode_workers.split(",") if w != ""]

    tmp = tempfile.mkdtemp(prefix="sb-decode-load-")
    try:
        # Private copies: a rebuild of the build tree during the run must not mix binaries.
        bench.DAEMON = bench.copy_daemon(os.path.join(build, "bin", "scanbridged"), tmp)
        shutil.copy2(os.path.join(build, "bin", "scanbridge-sim"), os.path.join(tmp, "scanbridge-sim"))
        import hashlib
        with open(bench.DAEMON, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        built = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(os.path.getmtime(bench.DAEMON)))
        os.environ["SIM"] = os.path.join(tmp, "scanbridge-sim")
        frame_path = a.frame or make_frame(tmp, a.empty_frame)
        with open(frame_path, "rb") as f:
            frame = f.read()
        m = bench.machine()
        log(f"decode load benchmark - {m['date']}; {m['nproc']} cores ({m['cpu']}), load average "
            f"{' '.join(m['loadavg_at_start'])}")
        log("the daemon, scanbridge-sim and this script's phones share these cores; CPU of each is reported")
        log(f"daemon binary: sha256 {sha[:12]}, built {built} (run from a private copy)")
        log(f"frame: {frame_path if a.frame else 'generated, ' + ('no code' if a.empty_frame else 'EAN-13 ' + EAN)}"
            f", {len(frame)} bytes; "
            f"{a.phones} phones x {a.fps:g} fps; sim: {a.sessions} sessions x 1 scanner x "
            f"{a.rate}/s for {a.duration} s; decode workers {workers} (0 = one per core)")
        log("daemon: " + " ".join(["build/bin/scanbridged", "--port PORT --data-dir DIR --durability normal"]
                                  + bench.DAEMON_FLAGS) + " [--decode-workers N]")
        log(f"sim:    build/bin/scanbridge-sim load --url URL --sessions {a.sessions} --scanners 1 "
            f"--rate {a.rate} --duration {a.duration} --daemon-pid PID --json")
        runs = {"idle": []}
        for w in workers:
            runs[w] = []
        for i in range(a.runs):
            log(f"\n== run {i + 1}/{a.runs}")
            runs["idle"].append(one_run(bench, a, frame))
            for w in workers:
                runs[w].append(one_run(bench, a, frame, w))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    idle = runs["idle"]
    i99 = med(idle, "lat_p99")
    log(f"\n== medians of {a.runs} runs")
    log(f"  idle:               scan->desktop p50 {med(idle, 'lat_p50'):.2f} ms, p99 {i99:.2f} ms, "
        f"ack p99 {med(idle, 'ack_p99'):.2f} ms; CPU daemon {med(idle, 'daemon_cpu_s'):.1f} s, "
        f"sim {med(idle, 'sim_cpu_s'):.1f} s")
    summary = {"idle": {k: med(idle, k) for k in idle[0] if isinstance(idle[0][k], (int, float))}}
    ok_all = True
    for w in workers:
        rs = runs[w]
        l99 = med(rs, "lat_p99")
        ratio = l99 / i99 if i99 else float("inf")
        ok = ratio <= TARGET_RATIO
        ok_all &= ok
        log(f"  loaded, workers {w or 'default'}: scan->desktop p50 {med(rs, 'lat_p50'):.2f} ms, "
            f"p99 {l99:.2f} ms, ack p99 {med(rs, 'ack_p99'):.2f} ms; p99 ratio {ratio:.2f}x "
            f"(target <= {TARGET_RATIO:g}x: {'meets' if ok else 'MISSES'})")
        log(f"  {'':<20}frames answered {med(rs, 'answered_per_s'):.1f}/s of {med(rs, 'sent_per_s'):.1f}/s sent, "
            f"busy {med(rs, 'busy')}, dropped {med(rs, 'dropped')}, decode ms p50 "
            f"{med(rs, 'decode_ms_p50')} p99 {med(rs, 'decode_ms_p99')}; CPU daemon "
            f"{med(rs, 'daemon_cpu_s'):.1f} s (loop {med(rs, 'daemon_main_cpu_s'):.1f}, decode threads "
            f"{med(rs, 'daemon_other_cpu_s'):.1f}), sim {med(rs, 'sim_cpu_s'):.1f} s, phones "
            f"{med(rs, 'script_cpu_s'):.1f} s")
        s = {k: med(rs, k) for k in rs[0] if isinstance(rs[0][k], (int, float))}
        s["p99_ratio"] = ratio
        s["meets"] = ok
        summary[f"workers_{w}"] = s
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"summary": summary, "runs": runs, "machine": m, "daemon_sha256": sha}, f, indent=1, default=str)
    bad = [r for rr in runs.values() for r in rr if r["exit"] != 0 or r["lost"] or r.get("phone_failures")]
    if bad:
        log(f"\n!! {len(bad)} runs lost scans, failed or had phone failures")
        sys.exit(1)
    undecoded = [r for w in workers for r in runs[w] if r["frames_sent"] and not r["frames_decoded"]]
    if undecoded:
        log(f"\n!! {len(undecoded)} loaded runs decoded no frame at all (every answer busy or an "
            f"error): the figures above measure no decoding. Is the decoder module "
            f"(lib/scanbridge/scanbridge-decode.so) beside the daemon?")
        sys.exit(1)
    sys.exit(0 if ok_all else 2)


if __name__ == "__main__":
    main()
