#!/usr/bin/python3
"""Instructions per proxied request in Rampart's user space, counted by
valgrind's callgrind, for the TLS 1.3 keep-alive and HTTP/2 columns of
bench/proxy: a figure that does not drift with the machine's load
(bench-method.md), for A/B comparisons of one change.

    /usr/bin/python3 bench/proxy/callgrind_request.py [--targets rampart-tls rampart-h2]
        [--seconds 10] [--h2-requests 20000] [--keep DIR]
    RAMPART_BIN=build/rampart ...

Each target gets an nginx origin (bench/proxy's `return 200 "ok"`) and the
same Rampart config as bench/proxy (targets.py), started under callgrind with
collection off. After a warm-up, collection is turned on for a bounded load
and off again, and the dump's instruction total is divided by the requests
served: rampart-tls by wrk over keep-alive (8 connections, --seconds),
rampart-h2 by h2load (8 connections, 10 streams each, --h2-requests). The
TLS window includes the 8 new handshakes of its wrk run (about 2 % of it).

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

from callgrind_auth import callgrind_control, start_origin, total_ir  # noqa: E402
from procs import Processes  # noqa: E402
from targets import (free_port, rampart_h2_conf, rampart_tls_conf, tls_files,  # noqa: E402
                     wait_listening)

CONNECTIONS = 8
H2_STREAMS = 10


def load_tls(port, seconds):
    out = subprocess.run(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s",
                          f"https://127.0.0.1:{port}/"],
                         check=True, capture_output=True, text=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return requests, int(non2xx.group(1)) if non2xx else 0


def load_h2(port, requests):
    out = subprocess.run(["h2load", "-t1", f"-c{CONNECTIONS}", f"-m{H2_STREAMS}",
                          f"-n{requests}", f"http://127.0.0.1:{port}/"],
                         check=True, capture_output=True, text=True).stdout
    status = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
    served = int(status.group(1)) + int(status.group(2))
    return served, int(done.group(1)) - served


def measure(name, binary, procs, tmp, origin, tls, args):
    port = free_port()
    conf = os.path.join(tmp, f"{name}.yaml")
    with open(conf, "w") as f:
        f.write(rampart_tls_conf(port, origin, tls) if name == "rampart-tls"
                else rampart_h2_conf(port, origin))
    out_file = os.path.join(tmp, f"callgrind.{name}.out")
    proc = procs.start(name, ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                              f"--callgrind-out-file={out_file}", binary, "serve", "-c", conf],
                       log_path=os.path.join(tmp, f"{name}.log"))
    wait_listening(port, proc, timeout=120.0)
    load = ((lambda: load_tls(port, args.seconds)) if name == "rampart-tls"
            else (lambda: load_h2(port, args.h2_requests)))
    # Warm-up: the Sessions, buffers and upstream connections a run keeps.
    if name == "rampart-tls":
        load_tls(port, 3)
    else:
        load_h2(port, 2000)
    callgrind_control(proc.pid, "-z")
    callgrind_control(proc.pid, "-i", "on")
    requests, failed = load()
    callgrind_control(proc.pid, "-i", "off")
    callgrind_control(proc.pid, "-d")
    time.sleep(1.0)
    procs.stop(proc, grace=30.0)
    ir = 0
    for dump in sorted(f for f in os.listdir(tmp) if f.startswith(f"callgrind.{name}.out")):
        path = os.path.join(tmp, dump)
        if os.path.getsize(path) > 0:
            ir = max(ir, total_ir(path))  # the -d dump holds the measured window
    return requests, failed, ir


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", nargs="+", default=["rampart-tls", "rampart-h2"],
                        choices=["rampart-tls", "rampart-h2"])
    parser.add_argument("--seconds", type=int, default=10, help="the TLS wrk run")
    parser.add_argument("--h2-requests", type=int, default=20000, help="the HTTP/2 h2load run")
    parser.add_argument("--keep", metavar="DIR",
                        help="copy the callgrind profiles here (for callgrind_annotate)")
    args = parser.parse_args()
    binary = os.environ.get("RAMPART_BIN", "build/rampart")
    for tool in ("valgrind", "callgrind_control", "wrk", "h2load", "nginx", "openssl"):
        if shutil.which(tool) is None:
            sys.exit(f"callgrind_request: {tool} not found (scripts/install-deps)")
    procs = Processes()
    tmp = tempfile.mkdtemp(prefix="rampart-callgrind-")
    failed_any = False
    try:
        origin = start_origin(procs, tmp)
        tls = tls_files(tmp)
        print("| target | requests | failed or non-2xx | instructions | per request |")
        print("|---|---:|---:|---:|---:|")
        for name in args.targets:
            requests, failed, ir = measure(name, binary, procs, tmp, origin, tls, args)
            failed_any = failed_any or failed > 0 or requests == 0
            print(f"| {name} | {requests:,} | {failed} | {ir:,} | "
                  f"{ir / max(requests, 1):,.0f} |", flush=True)
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            for dump in os.listdir(tmp):
                if dump.startswith("callgrind.") and os.path.getsize(os.path.join(tmp, dump)):
                    shutil.copy(os.path.join(tmp, dump), args.keep)
    finally:
        procs.stop_all()
        if not os.environ.get("KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    if failed_any:
        sys.exit("callgrind_request: failed or non-2xx answers: the run measured something else")


if __name__ == "__main__":
    main()
