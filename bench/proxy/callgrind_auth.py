#!/usr/bin/python3
"""Instructions per request of Rampart with and without JWT authentication,
counted by valgrind's callgrind: a figure that does not drift with the
machine's load, unlike requests/s (bench-method.md).

    /usr/bin/python3 bench/proxy/callgrind_auth.py [--requests-seconds 10] [--tokens 2000]
    RAMPART_BIN=build/rampart ...

For each of rampart-tokens (the JWT provider configured but not on the route:
the same requests, nothing checked) and rampart-jwt (every request
authenticated), it starts an nginx origin and Rampart under callgrind with
collection off, warms every token of the pool into the token cache, turns
collection on, runs wrk (tokens.lua, 4 connections) for a bounded time,
turns it off and reads the total instruction count (Ir). Ir / requests is
the cost per request in Rampart's user space; the difference between the two
targets is what authenticating a cached token costs, all in.

Loopback only; every process is started here and stopped by PID.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from procs import Processes  # noqa: E402
from targets import free_port, origin_conf, rampart_conf, wait_listening  # noqa: E402
from tokens import TokenPool  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def callgrind_control(pid, *args):
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def wrk(port, tokens_path, seconds, connections):
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s",
         os.path.join(HERE, "tokens.lua"), f"http://127.0.0.1:{port}/", tokens_path],
        check=True, capture_output=True, text=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return requests, int(non2xx.group(1)) if non2xx else 0


def start_origin(procs, tmp):
    """bench/proxy's nginx origin (`return 200 "ok"`) in `tmp`; its port."""
    os.makedirs(os.path.join(tmp, "origin-temp"), exist_ok=True)
    origin = free_port()
    with open(os.path.join(tmp, "origin.conf"), "w") as f:
        f.write(origin_conf(tmp, origin))
    nginx = procs.start("origin", ["nginx", "-c", os.path.join(tmp, "origin.conf"),
                                   "-g", "daemon off;"])
    wait_listening(origin, nginx)
    return origin


def total_ir(out_file):
    """The dump's instruction total: its `totals:` (or `summary:`) line."""
    total = 0
    with open(out_file) as f:
        for line in f:
            if line.startswith(("totals:", "summary:")):
                total = max(total, int(line.split()[1]))
    return total


def measure(name, binary, procs, tmp, origin, pool, seconds, connections):
    port = free_port()
    conf = os.path.join(tmp, f"{name}.yaml")
    with open(conf, "w") as f:
        f.write(rampart_conf(name, port, origin, pool))
    out_file = os.path.join(tmp, f"callgrind.{name}.out")
    proc = procs.start(name, ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                              f"--callgrind-out-file={out_file}", binary, "serve", "-c", conf],
                       log_path=os.path.join(tmp, f"{name}.log"))
    wait_listening(port, proc, timeout=120.0)
    # Warm: every token once (rampart-jwt verifies each, then caches it).
    warm_requests, _ = wrk(port, pool.tokens_path, max(5, seconds // 2), 1)
    while warm_requests < pool.count:
        more, _ = wrk(port, pool.tokens_path, 5, 1)
        warm_requests += more
    callgrind_control(proc.pid, "-z")
    callgrind_control(proc.pid, "-i", "on")
    requests, non2xx = wrk(port, pool.tokens_path, seconds, connections)
    callgrind_control(proc.pid, "-i", "off")
    callgrind_control(proc.pid, "-d")
    time.sleep(1.0)
    procs.stop(proc, grace=30.0)
    dumps = sorted(f for f in os.listdir(tmp) if f.startswith(f"callgrind.{name}.out"))
    ir = 0
    for dump in dumps:
        path = os.path.join(tmp, dump)
        if os.path.getsize(path) == 0:
            continue
        value = total_ir(path)
        ir = max(ir, value)  # the -d dump holds the measured window
    return requests, non2xx, ir


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests-seconds", type=int, default=10)
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--keep", metavar="DIR",
                        help="copy the callgrind profiles here (for callgrind_annotate)")
    args = parser.parse_args()
    binary = os.environ.get("RAMPART_BIN", "build/rampart")
    for tool in ("valgrind", "callgrind_control", "wrk", "nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"callgrind_auth: {tool} not found (scripts/install-deps)")
    procs = Processes()
    tmp = tempfile.mkdtemp(prefix="rampart-callgrind-")
    try:
        origin = start_origin(procs, tmp)
        pool = TokenPool(tmp, args.tokens)
        rows = {}
        for name in ("rampart-tokens", "rampart-jwt"):
            rows[name] = measure(name, binary, procs, tmp, origin, pool,
                                 args.requests_seconds, args.connections)
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            for dump in os.listdir(tmp):
                if dump.startswith("callgrind.") and os.path.getsize(os.path.join(tmp, dump)):
                    shutil.copy(os.path.join(tmp, dump), args.keep)
        print(f"| target | requests | non-2xx | instructions | per request |")
        print(f"|---|---:|---:|---:|---:|")
        for name, (requests, non2xx, ir) in rows.items():
            print(f"| {name} | {requests:,} | {non2xx} | {ir:,} | {ir / max(requests, 1):,.0f} |")
        base = rows["rampart-tokens"][2] / max(rows["rampart-tokens"][0], 1)
        jwt = rows["rampart-jwt"][2] / max(rows["rampart-jwt"][0], 1)
        print(f"\nauthentication adds {jwt - base:,.0f} instructions per request "
              f"({jwt / base:.3f}x of the same requests without auth)")
        if rows["rampart-jwt"][1] or rows["rampart-tokens"][1]:
            sys.exit("callgrind_auth: non-2xx answers: the run measured something else")
    finally:
        procs.stop_all()
        if os.environ.get("KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
