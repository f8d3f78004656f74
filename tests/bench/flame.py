#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Flame graphs from `perf script` output (issue "Performance II").

  tests/bench/flame.py --perf-data build/bench/perf.data --svg flame.svg --folded flame.folded
  perf script --no-inline -i perf.data | tests/bench/flame.py - --svg flame.svg
  tests/bench/flame.py --from-folded flame.folded --svg flame.svg
  tests/bench/flame.py --self-test

Folds every sample's call stack (root first: thread name; main; ...; leaf)
into one line "frame;frame;...;frame COUNT" (the folded format of Brendan
Gregg's stackcollapse-perf.pl: kernel frames end in "_[k]", a frame without a
symbol is its library's name in brackets, e.g. "[libwebsockets.so.17]",
repeated such frames are one), and draws a self-contained SVG flame graph: one
rectangle per frame, its width proportional to the samples that have it on
their stack, callers below callees, hover (<title>) for the function, its
library, samples and percentage; coloured by library: kernel, sqlite, libc,
lws (libwebsockets), scanbridged (the daemon and its modules), other.
Also prints the top frames by inclusive share (samples with that frame
anywhere on the stack), the self share by library, and the system calls.
Python standard library only.
"""
import argparse
import collections
import hashlib
import os
import re
import subprocess
import sys
from xml.sax.saxutils import escape

CLASSES = ("kernel", "sqlite", "libc", "lws", "scanbridged", "other")
# (fill colour range low, high) per class: r, g, b each varied by the frame's name.
COLORS = {
    "kernel": ((230, 150, 20), (255, 205, 90)),       # orange-yellow
    "sqlite": ((60, 120, 215), (120, 175, 255)),      # blue
    "libc": ((70, 170, 70), (140, 215, 120)),         # green
    "lws": ((160, 100, 210), (205, 150, 250)),        # purple
    "scanbridged": ((195, 35, 35), (245, 95, 85)),    # red
    "other": ((150, 150, 150), (200, 200, 200)),      # grey
    "thread": ((215, 215, 200), (235, 235, 220)),     # the root frames
}
LEGEND = {"kernel": "kernel", "sqlite": "SQLite", "libc": "libc/ld/vdso",
          "lws": "libwebsockets", "scanbridged": "scanbridged", "other": "other libraries"}

HEADER = re.compile(r"^(?P<comm>\S.*?)\s+(?P<pid>-?\d+)(?:/(?P<tid>-?\d+))?\s+(?:\[\d+\]\s+)?"
                    r"(?P<time>\d+\.\d+):\s+(?:(?P<period>\d+)\s+)?(?P<event>\S+?):?\s*$")
FRAME = re.compile(r"^\s+(?P<ip>[0-9a-fA-F]+)\s+(?P<sym>.*?)\s*\((?P<dso>[^()]*)\)\s*$")
SYSCALL = re.compile(r"^__(?:x64|ia32|arm64|x32|riscv)_sys_(\w+)$")
GENERIC = {"_start", "main", "__libc_start_main", "__libc_start_call_main",
           "entry_SYSCALL_64_after_hwframe", "entry_SYSCALL_64", "do_syscall_64",
           "x64_sys_call", "el0_svc", "el0t_64_sync", "el0t_64_sync_handler"}


def classify(dso, name="", module_names=("scanbridged",), guess="other"):
    """The colour class of a frame from its library (dso), or else its name
    (guess: for a name that tells nothing)."""
    base = os.path.basename(dso or "")
    if (dso or "").startswith("[kernel") or base.endswith((".ko", ".ko.xz", ".ko.zst")) \
            or name.endswith("_[k]"):
        return "kernel"
    if "libsqlite3" in base:
        return "sqlite"
    if "libwebsockets" in base:
        return "lws"
    if re.match(r"(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so", base) or base == "[vdso]":
        return "libc"
    if base in module_names or "/scanbridge/" in (dso or "") or "/lib/scanbridge" in (dso or ""):
        return "scanbridged"
    if base and base not in ("[unknown]", "unknown", "inlined"):
        return "other"
    # No library: guess from the name (folded input, inlined frames).
    n = name
    if n.startswith("[") and n.endswith("]"):
        return classify(n[1:-1], "", module_names) if n[1:-1] not in ("unknown", "[unknown]") else "other"
    if n.startswith("sqlite3"):
        return "sqlite"
    if n.startswith(("lws_", "_lws_", "__lws_", "lwsl_", "lws")):
        return "lws"
    if n.startswith(("__libc_", "__GI_", "__memcpy", "__memmove", "__memset", "__strlen",
                     "__strcmp", "__memchr", "_int_malloc", "_int_free", "malloc", "free",
                     "calloc", "realloc", "tcache_", "pthread_", "___pthread", "__pthread",
                     "__clock_gettime", "__vdso_", "__poll", "__send", "__recv", "__libc",
                     "_start", "start_thread", "clone", "__GI", "_dl_")):
        return "libc"
    if n.startswith(("cJSON", "jwt_", "json_", "EVP_", "OPENSSL", "CRYPTO_", "SSL_", "ossl_",
                     "BIO_", "qr", "QR", "sd_", "deflate", "inflate", "[unknown]")):
        return "other"
    return guess


def clean_sym(sym):
    sym = re.sub(r"\+0x[0-9a-fA-F]+$", "", sym.strip())
    sym = re.sub(r"@@?[A-Z]+_[0-9.]+$", "", sym)       # __libc_start_main@@GLIBC_2.34
    return sym.replace(";", ":") or "[unknown]"


def parse_perf_script(lines, use_period=False):
    """Yields (thread name, frames root first, weight) per sample of `perf script`
    text; each frame is (name, library path)."""
    head, stack = None, []

    def done():
        if head is None:
            return None
        frames = []
        pending = []           # inlined frames: their library is the next real frame's
        for ip, sym, dso in stack:     # leaf first
            if dso == "inlined":
                pending.append((ip, sym))
                continue
            for _, s in pending:
                frames.append((s, dso))
            pending = []
            frames.append((sym, dso))
        frames.extend((s, "") for _, s in pending)
        out = []
        for sym, dso in reversed(frames):   # root first
            if sym == "[unknown]":
                if dso in ("[unknown]", "", "unknown"):
                    sym = "[unknown]"
                else:
                    sym = "[" + os.path.basename(dso) + "]"
                if out and out[-1][0] == sym:
                    continue            # one frame for a run of unsymbolized ones
            elif (dso or "").startswith("[kernel"):
                sym += "_[k]"
            out.append((sym, dso))
        w = int(head["period"]) if use_period and head["period"] else 1
        return head["comm"].replace(";", ":").strip(), out, w

    for raw in lines:
        line = raw.rstrip("\n")
        if not line.strip():
            r = done()
            if r:
                yield r
            head, stack = None, []
            continue
        if line[0] in " \t":
            m = FRAME.match(line)
            if m and head is not None:
                stack.append((m["ip"], clean_sym(m["sym"]), m["dso"].strip()))
            continue
        if line.startswith("#"):
            continue
        r = done()
        if r:
            yield r
        m = HEADER.match(line)
        head = m.groupdict() if m else {"comm": line.split()[0], "period": None}
        stack = []
    r = done()
    if r:
        yield r


class Profile:
    """Folded stacks plus each frame name's library class."""

    def __init__(self, module_names=("scanbridged",)):
        self.folded = collections.Counter()      # tuple of names (root first) -> weight
        self.cls = {}                            # frame name -> class
        self.dso = {}                            # frame name -> library basename
        self.module_names = module_names

    def add(self, comm, frames, w=1):
        names = [comm]
        for name, dso in frames:
            if name not in self.cls:
                self.cls[name] = classify(dso, name, self.module_names)
                self.dso[name] = os.path.basename(dso) if dso else ""
            names.append(name)
        self.cls.setdefault(comm, "thread")
        self.folded[tuple(names)] += w

    @classmethod
    def from_perf_script(cls, lines, use_period=False, module_names=("scanbridged",)):
        p = cls(module_names)
        for comm, frames, w in parse_perf_script(lines, use_period):
            p.add(comm, frames, w)
        return p

    @classmethod
    def from_folded(cls, lines, module_names=("scanbridged",)):
        p = cls(module_names)
        for line in lines:
            line = line.strip()
            if not line or " " not in line:
                continue
            stack, n = line.rsplit(" ", 1)
            names = stack.split(";")
            p.cls.setdefault(names[0], "thread")
            for nm in names[1:]:       # a name of no known library: the daemon's
                p.cls.setdefault(nm, classify("", nm, module_names, guess="scanbridged"))
            p.folded[tuple(names)] += int(float(n))
        return p

    def total(self):
        return sum(self.folded.values())

    def fold_small(self, min_share):
        """Cuts every stack at its first frame whose call path holds less
        than min_share of all samples: the samples stay, on the caller, so
        the graph keeps its total and loses only the unreadable slivers
        (docs/images keeps graphs of ~80 KB instead of ~300 KB)."""
        thr = self.total() * min_share
        paths = collections.Counter()
        for k, v in self.folded.items():
            for i in range(1, len(k) + 1):
                paths[k[:i]] += v
        out = collections.Counter()
        for k, v in self.folded.items():
            cut = next((i for i in range(2, len(k) + 1) if paths[k[:i]] < thr), len(k) + 1)
            out[k[:cut - 1]] += v
        self.folded = out

    def folded_text(self):
        return "".join(f"{';'.join(k)} {v}\n" for k, v in sorted(self.folded.items()))

    # ---- statistics -----------------------------------------------------------

    def inclusive(self):
        """frame name -> weight of the samples with it anywhere on the stack
        (the thread-name roots left out)."""
        c = collections.Counter()
        for k, v in self.folded.items():
            for nm in set(k[1:]):
                c[nm] += v
        return c

    def self_by(self):
        """(leaf name -> weight, class -> weight)."""
        leaf, cls = collections.Counter(), collections.Counter()
        for k, v in self.folded.items():
            leaf[k[-1]] += v
            cls[self.cls.get(k[-1], "other") if len(k) > 1 else "other"] += v
        return leaf, cls

    def threads(self):
        """thread -> weight: by thread name, or where the names are all one, by
        the thread's entry function (the frame after start_thread; "main")."""
        c = collections.Counter()
        names = {k[0] for k in self.folded}
        for k, v in self.folded.items():
            if len(names) > 1:
                c[k[0]] += v
                continue
            who = "main" if "main" in k else "?"
            for i, nm in enumerate(k[:-1]):
                if nm == "start_thread":
                    who = k[i + 1]
                    break
            c[who] += v
        return c

    def syscalls(self):
        """system call -> weight of the samples inside it (kernel side frames
        __x64_sys_NAME); {} when the kernel's stacks were not recorded."""
        c = collections.Counter()
        for k, v in self.folded.items():
            seen = set()
            for nm in k:
                m = SYSCALL.match(nm[:-4] if nm.endswith("_[k]") else nm)
                if m and m[1] not in seen:
                    seen.add(m[1])
                    c[m[1]] += v
        return c

    def summary(self, top=25, key=("sqlite3_step", "sqlite3_wal_checkpoint_v2", "lws_service",
                                   "lws_write", "malloc", "free")):
        """A dict of the shares (percent) that report() prints."""
        tot = self.total() or 1
        inc = self.inclusive()
        leaf, cls = self.self_by()

        def pct(n):
            return round(100.0 * n / tot, 2)

        def name_of(nm):
            return nm[:-4] if nm.endswith("_[k]") else nm

        tops = [(name_of(nm), self.cls.get(nm, "other"), pct(n)) for nm, n in inc.most_common()
                if name_of(nm) not in GENERIC and not SYSCALL.match(name_of(nm))][:top]
        keys = {}
        for want in key:
            also = (want, "__libc_" + want, "__GI___libc_" + want, "__" + want, "c" + want)
            n = max([inc[nm] for nm in inc if name_of(nm) in also] or [0])
            keys[want] = pct(n)
        return {
            "samples": self.total(),
            "top_inclusive": tops,
            "key_inclusive": keys,
            "syscalls": [(s, pct(n)) for s, n in self.syscalls().most_common()],
            "self_by_class": {c: pct(cls.get(c, 0)) for c in CLASSES},
            "self_top": [(name_of(nm), self.cls.get(nm, "other"), pct(n)) for nm, n in leaf.most_common(12)],
            "threads": [(t, pct(n)) for t, n in self.threads().most_common()],
        }

    # ---- SVG ------------------------------------------------------------------

    def tree(self):
        root = {"name": "all", "n": 0, "kids": {}}
        for k, v in self.folded.items():
            root["n"] += v
            node = root
            for nm in k:
                node = node["kids"].setdefault(nm, {"name": nm, "n": 0, "kids": {}})
                node["n"] += v
        return root

    def svg(self, title="Flame graph", subtitle="", width=1200):
        fh, pad, font = 16, 10, 11
        root = self.tree()
        total = root["n"] or 1
        px = (width - 2 * pad) / total

        def depth(node):
            return 1 + max((depth(c) for c in node["kids"].values()), default=0)

        levels = depth(root)
        top_h = 58
        height = top_h + levels * fh + pad + 18
        out = [f'<?xml version="1.0" standalone="no"?>\n'
               f'<svg version="1.1" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
               f'xmlns="http://www.w3.org/2000/svg">\n'
               f'<style>text {{ font-family: Verdana, DejaVu Sans, sans-serif; font-size: {font}px; '
               f'fill: #000; }} rect.f:hover {{ stroke: #000; stroke-width: 0.7; }} '
               f'.t {{ font-size: 15px; }}</style>\n'
               f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f8f8f2"/>\n'
               f'<text class="t" x="{width / 2}" y="20" text-anchor="middle">{escape(title)}</text>\n']
        if subtitle:
            out.append(f'<text x="{width / 2}" y="36" text-anchor="middle" fill="#555">'
                       f'{escape(subtitle)}</text>\n')
        x = pad
        for c in CLASSES:           # the legend
            out.append(f'<rect x="{x}" y="42" width="12" height="10" fill="{self._rgb(c, c)}"/>'
                       f'<text x="{x + 16}" y="51">{escape(LEGEND[c])}</text>\n')
            x += 24 + 7 * len(LEGEND[c])
        out.append(f'<text x="{width - pad}" y="51" text-anchor="end" fill="#555">'
                   f'{total} samples; hover a frame for its share</text>\n')

        def draw(node, x0, lvl, label=None):
            w = node["n"] * px
            if w < 0.25:
                return
            y = top_h + (levels - 1 - lvl) * fh
            nm = node["name"] if label is None else label
            cls = "thread" if label else self.cls.get(nm, "other")
            shown = nm[:-4] if nm.endswith("_[k]") else nm
            lib = self.dso.get(nm, "")
            p = 100.0 * node["n"] / total
            where = "" if lvl == 0 else f" ({lib or LEGEND.get(cls, cls)})"
            tip = f"{shown}{where}: {node['n']} samples, {p:.2f}%"
            out.append(f'<g><title>{escape(tip)}</title><rect class="f" x="{x0:.2f}" y="{y}" '
                       f'width="{max(w - 0.3, 0.1):.2f}" height="{fh - 1}" rx="2" '
                       f'fill="{self._rgb(cls, nm)}"/>')
            chars = int((w - 6) / (font * 0.6))
            if chars >= 3:
                txt = shown if len(shown) <= chars else shown[:chars - 2] + ".."
                out.append(f'<text x="{x0 + 3:.2f}" y="{y + fh - 4}">{escape(txt)}</text>')
            out.append("</g>\n")
            cx = x0
            for k in sorted(node["kids"]):
                kid = node["kids"][k]
                draw(kid, cx, lvl + 1)
                cx += kid["n"] * px

        draw(root, pad, 0, label="all")
        out.append("</svg>\n")
        return "".join(out)

    @staticmethod
    def _rgb(cls, name):
        lo, hi = COLORS.get(cls, COLORS["other"])
        h = hashlib.md5(name.encode()).digest()
        v = [lo[i] + (hi[i] - lo[i]) * h[i] // 255 for i in range(3)]
        return f"rgb({v[0]},{v[1]},{v[2]})"


def report(s, indent="  ", top=25):
    """Lines that tell where the samples went (from Profile.summary())."""
    L = [f"{indent}{s['samples']} samples"]
    L.append(f"{indent}self time by library: " + ", ".join(
        f"{c} {v:.1f}%" for c, v in sorted(s["self_by_class"].items(), key=lambda x: -x[1])))
    if len(s["threads"]) > 1:
        L.append(f"{indent}by thread (name, or entry function): " + ", ".join(f"{t} {v:.1f}%" for t, v in s["threads"]))
    if s["syscalls"]:
        L.append(f"{indent}system calls (inclusive, kernel side): " + ", ".join(
            f"{n} {v:.1f}%" for n, v in s["syscalls"][:12]))
    L.append(f"{indent}key frames (inclusive): " + ", ".join(
        f"{n} {v:.1f}%" for n, v in s["key_inclusive"].items()))
    L.append(f"{indent}top frames, inclusive (samples with the frame on their stack):")
    for nm, c, v in s["top_inclusive"][:top]:
        L.append(f"{indent}  {v:6.2f}%  {nm}  [{c}]")
    L.append(f"{indent}top frames, self:")
    for nm, c, v in s["self_top"]:
        L.append(f"{indent}  {v:6.2f}%  {nm}  [{c}]")
    return L


def perf_script(perf_data):
    """The `perf script` text of a perf.data (inlined frames folded into their
    function: faster, and every frame keeps its library)."""
    r = subprocess.run(["perf", "script", "--no-inline", "-i", perf_data],
                       capture_output=True, text=True, errors="replace")
    if r.returncode and not r.stdout:
        raise RuntimeError(f"perf script: {r.stderr[-800:]}")
    return r.stdout


# ---- self-test ---------------------------------------------------------------------

CANNED = """\
scanbridged 100 200.000001:    1001001 cpu-clock:ppp: 
\tffffffff816dd9c3 __x64_sys_pwrite64+0xa3 ([kernel.kallsyms])
\tffffffff8223df91 do_syscall_64+0x71 ([kernel.kallsyms])
\t           f64c7 __libc_pwrite64+0x57 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t           aa355 [unknown] (/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6)
\t           aa3c1 [unknown] (/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6)
\t           f339e sqlite3_step+0x13e (/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6)
\t           1204d store_commit+0xad (/work/build/bin/scanbridged)
\t            92a7 main+0x97 (/work/build/bin/scanbridged)
\t           27304 __libc_start_main@@GLIBC_2.34+0x84 (/usr/lib/x86_64-linux-gnu/libc.so.6)

scanbridged 100 200.001002:    1001001 cpu-clock:ppp: 
\t           f339e sqlite3_step+0x13e (/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6)
\t           1204d store_commit+0xad (/work/build/bin/scanbridged)
\t            92a7 main+0x97 (/work/build/bin/scanbridged)
\t           27304 __libc_start_main@@GLIBC_2.34+0x84 (/usr/lib/x86_64-linux-gnu/libc.so.6)

scanbridged 100 200.002003:    1001001 cpu-clock:ppp: 
\t           f339e sqlite3_step+0x13e (/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6)
\t           1204d store_commit+0xad (/work/build/bin/scanbridged)
\t            92a7 main+0x97 (/work/build/bin/scanbridged)
\t           27304 __libc_start_main@@GLIBC_2.34+0x84 (/usr/lib/x86_64-linux-gnu/libc.so.6)

sb writer 2 100/101 [001] 200.003004:    2002002 cpu-clock:ppp: 
\t          10aba4 __libc_send+0x64 (inlined)
\t          10aba4 __send+0x64 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t           1f407 lws_write+0x27 (/usr/lib/x86_64-linux-gnu/libwebsockets.so.17)
\t            92a7 main+0x97 (/work/build/bin/scanbridged)

"""


def self_test():
    import xml.etree.ElementTree as ET
    p = Profile.from_perf_script(CANNED.splitlines(True))
    want = {
        "scanbridged;__libc_start_main;main;store_commit;sqlite3_step;[libsqlite3.so.0.8.6];"
        "__libc_pwrite64;do_syscall_64_[k];__x64_sys_pwrite64_[k]": 1,
        "scanbridged;__libc_start_main;main;store_commit;sqlite3_step": 2,
        "sb writer 2;main;lws_write;__send;__libc_send": 1,
    }
    got = {}
    for line in p.folded_text().splitlines():
        k, n = line.rsplit(" ", 1)
        got[k] = int(n)
    assert got == want, f"folded:\n{got}\n!=\n{want}"
    assert p.total() == 4
    assert p.cls["sqlite3_step"] == "sqlite" and p.cls["[libsqlite3.so.0.8.6]"] == "sqlite"
    assert p.cls["do_syscall_64_[k]"] == "kernel" and p.cls["__libc_pwrite64"] == "libc"
    assert p.cls["lws_write"] == "lws" and p.cls["store_commit"] == "scanbridged"
    assert p.cls["__libc_send"] == "libc"            # inlined: the library of its function
    s = p.summary()
    assert s["key_inclusive"]["sqlite3_step"] == 75.0, s["key_inclusive"]
    assert s["syscalls"] == [("pwrite64", 25.0)], s["syscalls"]
    assert dict(s["threads"]) == {"scanbridged": 75.0, "sb writer 2": 25.0}
    one = Profile.from_folded(["t;clone3;start_thread;checkpoint_main;x 1", "t;_start;main;y 3"])
    assert dict(one.threads()) == {"checkpoint_main": 1, "main": 3}
    assert s["self_by_class"]["sqlite"] == 50.0 and s["self_by_class"]["kernel"] == 25.0
    pp = Profile.from_perf_script(CANNED.splitlines(True), use_period=True)
    assert pp.total() == 1001001 * 3 + 2002002
    # Round trip through the folded text.
    q = Profile.from_folded(p.folded_text().splitlines())
    assert q.folded == p.folded and q.cls["do_syscall_64_[k]"] == "kernel"
    assert q.cls["sqlite3_step"] == "sqlite" and q.cls["lws_write"] == "lws"
    assert q.cls["store_commit"] == "scanbridged" and q.cls["__libc_start_main"] == "libc"
    # The SVG parses, has one rectangle per frame (+ background and legend) and titles.
    svg = p.svg("self-test")
    doc = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    titles = [t.text for t in doc.iter(ns + "title")]
    assert any(t.startswith("sqlite3_step (libsqlite3.so.0.8.6): 3 samples, 75.00%") for t in titles), titles
    frames = sum(1 for r in doc.iter(ns + "rect") if r.get("class") == "f")
    assert frames == len(titles) == 1 + 2 + 9 + 3, (frames, len(titles))
    widths = {re.split(r" \(|: ", t.text)[0]: float(g.find(ns + "rect").get("width"))
              for g in doc.iter(ns + "g") for t in g.findall(ns + "title")}
    assert abs(widths["store_commit"] / widths["all"] - 0.75) < 0.01, widths
    # Folding small frames keeps every sample, on the caller of the sliver.
    f = Profile.from_folded(["t;main;big;leaf 96", "t;main;big;tiny 3", "t;main;rare 1"])
    f.fold_small(0.05)
    assert f.folded == collections.Counter({("t", "main", "big", "leaf"): 96,
                                            ("t", "main", "big"): 3, ("t", "main"): 1}), f.folded
    print("flame.py self-test: ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", nargs="?", help="perf script output ('-': standard input)")
    ap.add_argument("--perf-data", help="run `perf script --no-inline` on this perf.data")
    ap.add_argument("--from-folded", help="read folded stacks instead (library by name only)")
    ap.add_argument("--folded", help="write the folded stacks here")
    ap.add_argument("--svg", help="write the flame graph here")
    ap.add_argument("--title", default="scanbridged CPU flame graph")
    ap.add_argument("--subtitle", default="")
    ap.add_argument("--period", action="store_true", help="weight samples by their period")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--min-share", type=float, default=0.0,
                    help="fold frames whose call path has less than this share of the samples "
                         "(e.g. 0.002) into their caller")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        self_test()
        return
    if a.from_folded:
        with open(a.from_folded) as f:
            p = Profile.from_folded(f)
    else:
        if a.perf_data:
            text = perf_script(a.perf_data).splitlines(True)
        elif a.input == "-" or (a.input is None and not sys.stdin.isatty()):
            text = sys.stdin
        elif a.input:
            text = open(a.input, errors="replace")
        else:
            ap.error("give perf script output, --perf-data or --from-folded")
        p = Profile.from_perf_script(text, a.period)
    if not p.total():
        sys.exit("flame.py: no samples")
    if a.min_share > 0:
        p.fold_small(a.min_share)
    if a.folded:
        with open(a.folded, "w") as f:
            f.write(p.folded_text())
    if a.svg:
        with open(a.svg, "w") as f:
            f.write(p.svg(a.title, a.subtitle))
    print("\n".join(report(p.summary(a.top), top=a.top)))


if __name__ == "__main__":
    main()
