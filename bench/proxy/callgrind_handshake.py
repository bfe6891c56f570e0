#!/usr/bin/python3
"""Instructions per new TLS 1.3 connection in Rampart, nginx and HAProxy,
counted by valgrind's callgrind: the handshake measure's cost per handshake
as a figure that does not move with other work on the machine (bench/README.md).

    /usr/bin/python3 bench/proxy/callgrind_handshake.py [--seconds 20] [--connections 4]
    RAMPART_BIN=build/rampart ...

For each of rampart-tls, nginx-tls and haproxy-tls (bench/proxy's configs:
one worker, the same EC P-256 certificate and suite), it starts the proxy
under callgrind with instrumentation off in front of an nginx origin, warms
it with handshake.c, turns instrumentation on, runs handshake.c (full
handshakes, `GET /` with `Connection: close`, the server's close) for a
bounded time, turns it off and reads the instruction total (Ir). Ir per
connection is the proxy's user-space cost of one connection: the handshake's
crypto and TLS state machine, the proxied request, the close. The kernel's
share (accept, the socket calls) is not in it; bench/proxy/run's handshake
measure has it.

Under valgrind OpenSSL sees the CPU valgrind emulates, so its assembly may
take other paths than natively: the figures compare the three proxies with
each other, not with native CPU time.

Loopback only; every process is started here and stopped by PID.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench import build_handshake_client, parse_handshake  # noqa: E402
from callgrind_auth import callgrind_control, total_ir  # noqa: E402
from procs import Processes  # noqa: E402
from targets import (free_port, haproxy_conf, nginx_proxy_conf, origin_conf,  # noqa: E402
                     rampart_tls_conf, tls_files, wait_listening)

TARGETS = ("rampart-tls", "nginx-tls", "haproxy-tls")


def handshakes(client, port, seconds, connections):
    out = subprocess.run([client, "127.0.0.1", str(port), str(connections), str(seconds)],
                         check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    r = parse_handshake(out)
    if not r["ok"]:
        raise RuntimeError(f"handshake.c gave no result: {out.strip()}")
    return r


def argv_for(name, binary, tmp, port, origin):
    tls = tls_files(tmp)
    if name == "rampart-tls":
        conf = os.path.join(tmp, "rampart-tls.yaml")
        with open(conf, "w") as f:
            f.write(rampart_tls_conf(port, origin, tls))
        return [binary, "serve", "-c", conf]
    if name == "nginx-tls":
        conf = os.path.join(tmp, "nginx-tls.conf")
        with open(conf, "w") as f:
            f.write(nginx_proxy_conf(tmp, port, origin, tls, name=name))
        os.makedirs(os.path.join(tmp, "nginx-tls-temp"), exist_ok=True)
        # One process: callgrind follows no fork, and the worker is what counts.
        return ["nginx", "-p", tmp, "-e", os.path.join(tmp, "nginx-tls-error.log"), "-c", conf,
                "-g", "daemon off; master_process off;"]
    conf = os.path.join(tmp, "haproxy-tls.cfg")
    with open(conf, "w") as f:
        f.write(haproxy_conf(port, origin, tls))
    return ["haproxy", "-f", conf, "-db"]


def measure(name, binary, client, procs, tmp, origin, seconds, connections):
    port = free_port()
    out_file = os.path.join(tmp, f"callgrind.{name}.out")
    proc = procs.start(name, ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                              f"--callgrind-out-file={out_file}"]
                       + argv_for(name, binary, tmp, port, origin),
                       log_path=os.path.join(tmp, f"{name}.log"))
    why = wait_listening(port, proc, timeout=120.0)
    if why:
        raise RuntimeError(f"{name}: {why} (see {tmp}/{name}.log)")
    handshakes(client, port, max(3, seconds // 4), connections)  # warm
    callgrind_control(proc.pid, "-z")
    callgrind_control(proc.pid, "-i", "on")
    r = handshakes(client, port, seconds, connections)
    callgrind_control(proc.pid, "-i", "off")
    callgrind_control(proc.pid, "-d")
    procs.stop(proc, grace=30.0)
    ir = 0
    for dump in sorted(f for f in os.listdir(tmp) if f.startswith(f"callgrind.{name}.out")):
        path = os.path.join(tmp, dump)
        if os.path.getsize(path):
            ir = max(ir, total_ir(path))  # the -d dump holds the measured window
    return r, ir


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20, help="the measured handshake.c run")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--targets", default=" ".join(TARGETS))
    parser.add_argument("--keep", metavar="DIR",
                        help="copy the callgrind profiles here (for callgrind_annotate)")
    args = parser.parse_args()
    binary = os.path.abspath(os.environ.get("RAMPART_BIN", "build/rampart"))
    names = [n for n in TARGETS if n in args.targets.split()]
    for tool in ("valgrind", "callgrind_control", "nginx", "haproxy", "openssl", "cc"):
        if shutil.which(tool) is None:
            sys.exit(f"callgrind_handshake: {tool} not found (scripts/install-deps)")
    procs = Processes()
    tmp = tempfile.mkdtemp(prefix="rampart-callgrind-")
    try:
        client = build_handshake_client(tmp)
        os.makedirs(os.path.join(tmp, "origin-temp"), exist_ok=True)
        origin = free_port()
        with open(os.path.join(tmp, "origin.conf"), "w") as f:
            f.write(origin_conf(tmp, origin))
        nginx = procs.start("origin", ["nginx", "-p", tmp, "-c", os.path.join(tmp, "origin.conf"),
                                       "-g", "daemon off;"])
        why = wait_listening(origin, nginx)
        if why:
            sys.exit(f"callgrind_handshake: origin nginx: {why}")
        rows = {name: measure(name, binary, client, procs, tmp, origin, args.seconds,
                              args.connections) for name in names}
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            for dump in os.listdir(tmp):
                if dump.startswith("callgrind.") and os.path.getsize(os.path.join(tmp, dump)):
                    shutil.copy(os.path.join(tmp, dump), args.keep)
        print("| target | connections | resumed | errors | instructions | per connection |")
        print("|---|---:|---:|---:|---:|---:|")
        per = {}
        for name, (r, ir) in rows.items():
            per[name] = ir / max(r["requests"], 1)
            print(f"| {name} | {r['requests']:,} | {r['resumed']} | {r['errors']} | {ir:,} "
                  f"| {per[name]:,.0f} |")
        if "rampart-tls" in per:
            print()
            for peer in ("nginx-tls", "haproxy-tls"):
                if peer in per:
                    print(f"rampart-tls / {peer}: {per['rampart-tls'] / per[peer]:.3f} "
                          "instructions per connection")
        if any(r["resumed"] or r["errors"] for r, _ in rows.values()):
            sys.exit("callgrind_handshake: resumed handshakes or errors: the run measured "
                     "something else")
    finally:
        procs.stop_all()
        if os.environ.get("KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
