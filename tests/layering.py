#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The daemon's layers (docs/architecture.md) call one way only:

  transport (lws_*.c, server.c, main.c) -> rest -> relay -> session -> batch -> store

A module may include the headers of, and call, its own layer and the layers
below it; leaf modules (config, log, clock, metrics, ...) and the shared proto/
library may be used from anywhere but use no layer themselves.

  tests/layering.py DAEMON_DIR [OBJECT_DIR]

checks every DAEMON_DIR/*.c and *.h's `#include "..."` lines and, given the
directory of sbcore's object files, the calls too: each object's undefined
symbols (nm -u) are looked up in the objects that define them (nm
--defined-only) and must belong to a layer it may call. Exit 1 on a violation.
"""
import glob
import os
import subprocess
import sys

LAYERS = {  # module (file name without extension) -> rank; higher calls lower
    "lws_http": 5, "lws_ws": 5, "lws_req": 5, "lws_tls": 5, "lws_loop": 5, "server": 5, "main": 5,
    "rest": 4, "rest_route": 4, "trust": 4, "export": 4,
    "relay": 3,
    "session": 2,
    "batch": 1,
    "store": 0, "scan_index": 0, "wal_checkpointer": 0,
}
LEAF = -1   # any module not named above; uses no layer
# Known exceptions, each with its reason.
EXCEPTIONS = {
    ("config", "store"): "config parses `durability`, whose names and enum the store defines",
}


def rank(module):
    return LAYERS.get(module, LEAF)


def allowed(user, used):
    if (user, used) in EXCEPTIONS or rank(used) == LEAF:
        return True
    if rank(user) == LEAF:
        return False
    return rank(used) <= rank(user)


def module_of(path):
    return os.path.basename(path).split(".")[0]


def check_includes(daemon_dir):
    bad = []
    local = {module_of(p) for p in glob.glob(os.path.join(daemon_dir, "*.[ch]"))}
    for path in sorted(glob.glob(os.path.join(daemon_dir, "*.[ch]"))):
        user = module_of(path)
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line.startswith('#include "'):
                    continue
                used = module_of(line.split('"')[1])
                if used in local and used != user and not allowed(user, used):
                    bad.append(f"{os.path.basename(path)}:{n}: includes {used}.h "
                               f"({user} may not use {used})")
    return bad


def nm(obj, *flags):
    out = subprocess.run(["nm", *flags, obj], capture_output=True, text=True,
                         check=True).stdout
    return [ln.split()[-1] for ln in out.splitlines() if ln.strip()]


def check_calls(obj_dir, daemon_dir):
    # only objects of sources that exist: an incremental build keeps the
    # objects of renamed or deleted files (proto_http.c.o after the rename)
    sources = {os.path.basename(p) for p in glob.glob(os.path.join(daemon_dir, "*.c"))}
    objs = sorted(o for o in glob.glob(os.path.join(obj_dir, "**", "*.o"), recursive=True)
                  if os.path.basename(o)[:-2] in sources or "schema_sql" in o)
    defined = {}
    for o in objs:
        for sym in nm(o, "--defined-only", "--extern-only"):
            defined[sym] = module_of(o)
    bad = []
    for o in objs:
        user = module_of(o)
        for sym in nm(o, "-u"):
            used = defined.get(sym)
            if used and used != user and not allowed(user, used):
                bad.append(f"{os.path.basename(o)}: calls {sym} ({user} may not use {used})")
    return bad, len(objs)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    bad = check_includes(sys.argv[1])
    what = "includes"
    if len(sys.argv) == 3:
        calls, n = check_calls(sys.argv[2], sys.argv[1])
        if not n:
            sys.exit(f"no object files under {sys.argv[2]}")
        bad += calls
        what += f" and calls ({n} objects)"
    for b in bad:
        print(b)
    print(f"layering: {what}: {'%d violations' % len(bad) if bad else 'ok'}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
