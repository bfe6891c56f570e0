#!/usr/bin/python3
"""Rampart against nginx and HAProxy on one fast origin, in the same run.

Implements the method of bench-method.md (summarised in bench/README.md):
one nginx origin answering "ok", three proxies in front of it with
equivalent settings and one worker each, and a "direct" target (wrk straight
to the origin) as the reference. Every round runs each target once per
measurement, in an order rotated per round, with a warm-up before each run:

  throughput  wrk -t1 -c64 --latency; proxy + origin on PROXY_CPU, wrk alone
              on LOAD_CPU. Reports req/s (2xx/3xx only), p50, p99.
  cpu         the same load; proxy alone on PROXY_CPU, origin + wrk on
              LOAD_CPU. PROXY_CPU's busy share from /proc/stat while wrk
              runs, divided by req/s = CPU us per request. The proxy's own
              utime+stime per request is reported beside it (it is immune
              to other processes landing on PROXY_CPU).
  c1          wrk -t1 -c1; everything on LOAD_CPU. Reports p50 and the p50
              added over "direct" in the same round.
  handshake   (MEASURES or HANDSHAKE=1; TLS targets only) new TLS 1.3
              connections, each a full handshake, one GET / with
              "Connection: close" and the server's close, 64 at once, made
              by handshake.c (built at start with cc); proxy alone on
              PROXY_CPU, origin + client on LOAD_CPU. Reports connections/s
              and PROXY_CPU's CPU us per handshake, busy and own, as the
              cpu measure does.

rampart-jwt is rampart's config with JWT authentication on every request:
`rampart serve -c` on the config `rampart proxy` builds plus one ES256
provider; wrk runs tokens.lua, which puts one of 10,000 distinct valid tokens
(tokens.py, made at start) in each request's Authorization header.
rampart-tokens is its control: the same config and the same wrk with
tokens.lua, but no `auth` on the route, so the tokens are only forwarded.
"rampart-jwt / rampart-tokens" is then the cost of authentication alone;
"rampart-jwt / rampart" also counts the longer requests and wrk's Lua.

Settings come from the environment (see usage()). Uses only the Python 3
standard library, and python3-cryptography for the tokens; needs
nginx, haproxy, wrk and taskset on PATH.
"""

import datetime
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from procs import Processes, cpu_ticks, pin, read_cpu
from report import CONNECTIONS, REPO, Report, fmt_rps, fmt_us
from targets import (H2_TARGETS, TLS_TARGETS, TOKEN_TARGETS, Target, check_answers, free_port,
                     origin_conf, wait_listening)
from tokens import POOL, TokenPool

ALL_TARGETS = ["rampart", "rampart-tokens", "rampart-jwt", "nginx", "haproxy", "direct",
               "rampart-tls", "nginx-tls", "haproxy-tls", "rampart-h2", "nginx-h2", "haproxy-h2"]
# Without TARGETS: the cleartext comparison (the TLS and HTTP/2 columns are asked for by name).
DEFAULT_TARGETS = ["rampart", "rampart-tokens", "rampart-jwt", "nginx", "haproxy", "direct"]
RAMPART_TARGETS = ("rampart", "rampart-tokens", "rampart-jwt", "rampart-tls",
                   "rampart-h2")  # run RAMPART_BIN
# HTTP/2 targets are driven by h2load instead of wrk: the same connections,
# each carrying this many concurrent streams.
H2_STREAMS = 10
ALL_MEASURES = ["throughput", "cpu", "c1", "handshake"]
# Without MEASURES: the three of bench-method.md; "handshake" (new TLS
# connections) is asked for by name or by HANDSHAKE=1.
DEFAULT_MEASURES = ["throughput", "cpu", "c1"]
HERE = os.path.dirname(os.path.abspath(__file__))
HANDSHAKE_SOURCE = os.path.join(HERE, "handshake.c")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def usage():
    return """usage: bench/proxy/run   (settings from the environment)

  ROUNDS=5            rounds; bench-method.md asks for at least 5
  DURATION=10s        each measured wrk run (wrk -d syntax: 10s, 1m)
  WARMUP=2s           the warm-up run before each measured run
  TARGETS="rampart rampart-tokens rampart-jwt nginx haproxy direct"
                      any subset, in this order (rotated per round):
                        rampart         rampart proxy, plain wrk requests
                        rampart-tokens  rampart serve -c, JWT provider NOT on the
                                        route; wrk with tokens.lua (a token in
                                        every request, forwarded unchecked): the
                                        control of rampart-jwt
                        rampart-jwt     the same config with JWT auth on the
                                        route; the same wrk with tokens.lua
                        nginx, haproxy  the peers; direct: wrk to the origin
                        rampart-tls, nginx-tls, haproxy-tls
                                        the same proxies terminating TLS 1.3
                                        (one EC P-256 certificate, suite
                                        TLS_AES_128_GCM_SHA256), wrk over https
                                        keep-alive; asked for by name only
                        rampart-h2, nginx-h2, haproxy-h2
                                        the same proxies serving cleartext
                                        HTTP/2 (prior knowledge), h2load -t1
                                        with 10 streams per connection (no
                                        p50/p99: h2load reports none); asked
                                        for by name only
  MEASURES="throughput cpu c1"
                      any subset of throughput, cpu, c1 and handshake (new TLS 1.3
                      connections: a full handshake, one request, a close; TLS
                      targets only, made by handshake.c, built at start with cc)
  HANDSHAKE=1         adds handshake to MEASURES
  RAMPART_BIN=build/rampart   relative paths are taken from the current directory
  RAMPART_ARGS=""     extra arguments for `rampart proxy` and for rampart-tokens'
                      and rampart-jwt's `rampart serve -c` (so only logging
                      options fit all three)
  QUICK=1             smoke test: ROUNDS=1 DURATION=2s WARMUP=1s unless set
  LOAD_CPU=0 PROXY_CPU=1      the two cores of the placement
  RESULTS_DIR=bench/results   where proxy-<timestamp>.md is written
  KEEP_TMP=1          keep the temp dir (configs, logs of every process)
"""


# ---------------------------------------------------------------- settings

def duration_seconds(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(s|m|h)?", text.strip())
    if not m:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * {None: 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


class Settings:
    def __init__(self, env):
        quick = env.get("QUICK", "") not in ("", "0")
        self.quick = quick
        self.rounds = int(env.get("ROUNDS", "1" if quick else "5"))
        self.duration = env.get("DURATION", "2s" if quick else "10s")
        self.warmup = env.get("WARMUP", "1s" if quick else "2s")
        self.duration_s = duration_seconds(self.duration)
        self.warmup_s = duration_seconds(self.warmup)
        wanted = env.get("TARGETS", " ".join(DEFAULT_TARGETS)).split()
        unknown = [t for t in wanted if t not in ALL_TARGETS]
        if unknown:
            raise ValueError(f"unknown TARGETS {unknown}; choose from {ALL_TARGETS}")
        self.targets = [t for t in ALL_TARGETS if t in wanted]
        if not self.targets:
            raise ValueError("TARGETS is empty")
        if self.rounds < 1 or self.duration_s < 1:
            raise ValueError("ROUNDS must be >= 1 and DURATION >= 1s")
        measures = env.get("MEASURES", " ".join(DEFAULT_MEASURES)).split()
        if env.get("HANDSHAKE", "") not in ("", "0") and "handshake" not in measures:
            measures.append("handshake")
        unknown = [m for m in measures if m not in ALL_MEASURES]
        if unknown or not measures:
            raise ValueError(f"unknown or no MEASURES {unknown}; choose from {ALL_MEASURES}")
        self.measures = [m for m in ALL_MEASURES if m in measures]
        if self.measures == ["handshake"] and not set(TLS_TARGETS) & set(self.targets):
            raise ValueError(f"the handshake measure needs a TLS target ({' '.join(TLS_TARGETS)})")
        self.rampart_bin = os.path.abspath(env.get("RAMPART_BIN", os.path.join(REPO, "build", "rampart")))
        self.rampart_args = shlex.split(env.get("RAMPART_ARGS", ""))
        self.load_cpu = int(env.get("LOAD_CPU", "0"))
        self.proxy_cpu = int(env.get("PROXY_CPU", "1"))
        if self.load_cpu == self.proxy_cpu:
            raise ValueError("LOAD_CPU and PROXY_CPU must differ")
        self.results_dir = os.path.abspath(env.get("RESULTS_DIR", os.path.join(REPO, "bench", "results")))
        self.keep_tmp = env.get("KEEP_TMP", "") not in ("", "0")


# ---------------------------------------------------------------- wrk

UNIT_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def parse_wrk(out):
    """Requests/sec, latency percentiles (us) and error counts from wrk's output."""
    r = {"ok": False, "raw": out}
    m = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    n = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", out, re.M)
    if not m or not n:
        return r
    r["rps_all"] = float(m.group(1))
    r["requests"] = int(n.group(1))
    lat = {}
    in_dist = False
    for line in out.splitlines():
        if "Latency Distribution" in line:
            in_dist = True
            continue
        if in_dist:
            d = re.match(r"^\s*(\d+)%\s+([\d.]+)(us|ms|s|m|h)\s*$", line)
            if not d:
                in_dist = False
                continue
            lat[int(d.group(1))] = float(d.group(2)) * UNIT_US[d.group(3)]
    r["p50"] = lat.get(50)
    r["p99"] = lat.get(99)
    s = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["sock_errors"] = dict(zip(["connect", "read", "write", "timeout"],
                                (int(x) for x in s.groups()))) if s else {}
    x = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non2xx"] = int(x.group(1)) if x else 0
    r["errors"] = r["non2xx"] + sum(r["sock_errors"].values())
    # An error answer is not a served request: count 2xx/3xx only.
    good = max(r["requests"] - r["non2xx"], 0)
    r["rps"] = r["rps_all"] * good / r["requests"] if r["requests"] else 0.0
    r["ok"] = r["p50"] is not None and r["p99"] is not None
    return r


def parse_h2load(out):
    """Requests/sec and error counts from h2load's summary (no latency percentiles)."""
    r = {"ok": False, "raw": out, "p50": None, "p99": None, "sock_errors": {}}
    m = re.search(r"^finished in [\d.]+\w*, ([\d.]+) req/s", out, re.M)
    n = re.search(r"^requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out, re.M)
    s = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out, re.M)
    if not m or not n or not s:
        return r
    r["rps_all"] = float(m.group(1))
    r["requests"] = int(n.group(2))
    r["non2xx"] = int(s.group(3)) + int(s.group(4))
    r["sock_errors"] = {"failed": int(n.group(4)), "errored": int(n.group(5)),
                        "timeout": int(n.group(6))}
    r["errors"] = r["non2xx"] + r["sock_errors"]["errored"] + r["sock_errors"]["timeout"]
    good = max(r["requests"] - r["non2xx"], 0)
    r["rps"] = r["rps_all"] * good / r["requests"] if r["requests"] else 0.0
    r["ok"] = r["requests"] > 0
    return r


def parse_handshake(out):
    """handshake.c's one line of key=value: connections/s answered 200, and the rest."""
    r = {"ok": False, "raw": out, "sock_errors": {}}
    fields = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
    try:
        seconds = float(fields["seconds"])
        ok = int(fields["ok"])
        r.update(requests=int(fields["connections"]), handshakes=int(fields["handshakes"]),
                 resumed=int(fields["resumed"]), errors=int(fields["errors"]),
                 p50=float(fields["p50_us"]), p99=float(fields["p99_us"]))
    except (KeyError, ValueError):
        return r
    # A connection that completed without a 200 is counted in errors by the client.
    r["non2xx"] = r["requests"] - ok
    r["sock_errors"] = {"failed": r["errors"] - r["non2xx"]}
    r["rps"] = ok / seconds if seconds > 0 else 0.0
    r["ok"] = ok > 0
    return r


def build_handshake_client(tmp):
    """Compiles handshake.c into the temp dir; its path, or RuntimeError with why not."""
    binary = os.path.join(tmp, "handshake")
    p = subprocess.run(["cc", "-O2", "-Wall", "-o", binary, HANDSHAKE_SOURCE, "-lssl", "-lcrypto"],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"could not build {HANDSHAKE_SOURCE} (needs cc and libssl-dev): "
                           + (p.stdout + p.stderr).strip()[-600:])
    return binary


# ---------------------------------------------------------------- the run

def log(msg=""):
    print(msg, flush=True)


def rotate(items, k):
    if not items:
        return items
    k %= len(items)
    return items[k:] + items[:k]


def idle_share(cpus, seconds=1.0):
    """Busy share of each CPU over a short quiet spell: other load on the machine."""
    before = {c: read_cpu(c) for c in cpus}
    time.sleep(seconds)
    out = {}
    for c in cpus:
        b0, _, t0 = before[c]
        b1, _, t1 = read_cpu(c)
        out[c] = (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
    return out


class Bench:
    def __init__(self, settings):
        self.s = settings
        self.procs = Processes()
        self.tmp = tempfile.mkdtemp(prefix="rampart-bench-")
        self.origin = None
        self.origin_port = None
        self.targets = {}
        self.rows = []  # one dict per measured run
        self.handshake_bin = None  # handshake.c, built when the handshake measure runs
        self.notes = []

    # -- processes

    def start_origin(self):
        self.origin_port = free_port()
        conf = os.path.join(self.tmp, "origin.conf")
        with open(conf, "w") as f:
            f.write(origin_conf(self.tmp, self.origin_port))
        os.makedirs(os.path.join(self.tmp, "origin-temp"), exist_ok=True)
        self.origin = self.procs.start(
            "origin", ["nginx", "-p", self.tmp, "-e", os.path.join(self.tmp, "origin-error.log"),
                       "-c", conf, "-g", "daemon off;"],
            os.path.join(self.tmp, "origin.log"))
        why = wait_listening(self.origin_port, self.origin) or check_answers(self.origin_port)
        if why:
            raise RuntimeError(f"origin nginx: {why} (see {self.tmp})")

    def place(self, target, proxy_cpu, origin_cpu):
        """Pins the target's proxy and the origin; idle proxies wait on LOAD_CPU."""
        for t in self.targets.values():
            if t.proc is not None and t.proc.poll() is None:
                pin(t.proc.pid, proxy_cpu if t is target else self.s.load_cpu)
        pin(self.origin.pid, origin_cpu)

    def wrk(self, target, conns, duration, cpu, sample=None):
        h2 = target.name in H2_TARGETS
        if h2:
            argv = ["taskset", "-c", str(cpu), "h2load", "-t1", f"-c{conns}",
                    # c1 measures one request at a time: one stream.
                    f"-m{1 if conns == 1 else H2_STREAMS}",
                    "-D", str(max(1, int(duration_seconds(duration)))), target.url()]
        else:
            argv = ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{conns}", f"-d{duration}",
                    "--latency"] + target.wrk_args()
        proc = self.procs.start("h2load" if h2 else "wrk", argv, capture=True)
        samples = sample(proc) if sample else None
        try:
            out, err = proc.communicate(timeout=duration_seconds(duration) + 30)
        except subprocess.TimeoutExpired:
            self.procs.stop(proc)
            return {"ok": False, "raw": "wrk did not finish in time"}, samples
        self.procs.forget(proc)
        r = parse_h2load(out) if h2 else parse_wrk(out)
        if not r["ok"]:
            r["raw"] = (out + err).strip()
        return r, samples

    def handshake_load(self, target, duration, cpu, sample=None):
        """handshake.c against the target for `duration`: new connections, full handshakes."""
        seconds = duration_seconds(duration)
        argv = ["taskset", "-c", str(cpu), self.handshake_bin, "127.0.0.1", str(target.port),
                str(CONNECTIONS), str(seconds)]
        proc = self.procs.start("handshake", argv, capture=True)
        samples = sample(proc) if sample else None
        try:
            out, err = proc.communicate(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            self.procs.stop(proc)
            return {"ok": False, "raw": "handshake did not finish in time"}, samples
        self.procs.forget(proc)
        r = parse_handshake(out)
        if not r["ok"]:
            r["raw"] = (out + err).strip()
        return r, samples

    def sampler(self, target):
        """While wrk runs, reads PROXY_CPU's busy share and the proxy's own CPU time."""
        d = self.s.duration_s
        lead = min(0.5, d * 0.15)

        def sample(proc):
            time.sleep(lead)
            c0, p0, t0 = read_cpu(self.s.proxy_cpu), cpu_ticks(target.proc.pid), time.monotonic()
            l0 = read_cpu(self.s.load_cpu)
            time.sleep(max(d - 2 * lead, 0.5))
            c1, p1, t1 = read_cpu(self.s.proxy_cpu), cpu_ticks(target.proc.pid), time.monotonic()
            l1 = read_cpu(self.s.load_cpu)
            total = c1[2] - c0[2]
            load_total = l1[2] - l0[2]
            return {
                "busy": (c1[0] - c0[0]) / total if total else None,
                "steal": (c1[1] - c0[1]) / total if total else None,
                "own": (p1 - p0) / CLK_TCK / (t1 - t0),
                # The load core's share: near 100 % with the proxy's well below
                # means the client, not the proxy, set the pace.
                "load_busy": (l1[0] - l0[0]) / load_total if load_total else None,
            }

        return sample

    # -- one measured run

    def run_one(self, rnd, measure, target):
        s = self.s
        if not target.ensure():
            return
        if measure == "throughput":
            self.place(target, s.proxy_cpu, s.proxy_cpu)
            conns, wrk_cpu = CONNECTIONS, s.load_cpu
        elif measure in ("cpu", "handshake"):
            self.place(target, s.proxy_cpu, s.load_cpu)
            conns, wrk_cpu = CONNECTIONS, s.load_cpu
        else:  # c1
            self.place(target, s.load_cpu, s.load_cpu)
            conns, wrk_cpu = 1, s.load_cpu
        # Throughput runs are sampled too: cpu1 (proxy + origin) and cpu0 (the
        # client) busy say which side bounds the run.
        sample = self.sampler(target) if measure in ("cpu", "handshake", "throughput") else None
        if measure == "handshake":
            self.handshake_load(target, s.warmup, wrk_cpu)
            r, cpu = self.handshake_load(target, s.duration, wrk_cpu, sample)
        else:
            self.wrk(target, conns, s.warmup, wrk_cpu)
            r, cpu = self.wrk(target, conns, s.duration, wrk_cpu, sample)
        row = {"round": rnd, "measure": measure, "target": target.name, "ok": r["ok"],
               "rps": r.get("rps"), "p50": r.get("p50"), "p99": r.get("p99"),
               "errors": r.get("errors", 0), "non2xx": r.get("non2xx", 0),
               "sock": r.get("sock_errors", {}), "cpu_us": None, "own_us": None, "steal": None,
               "busy": None, "load_busy": None, "resumed": r.get("resumed"),
               "alive_after": target.alive()}
        if not r["ok"]:
            row["errors"] = row["errors"] or 1
            self.notes.append(f"round {rnd} {measure} {target.name}: the client gave no result: "
                              f"{r['raw'][-300:]}")
        if cpu and r["ok"] and r["rps"]:
            if cpu["busy"] is not None:
                row["cpu_us"] = cpu["busy"] / r["rps"] * 1e6
                row["steal"] = cpu["steal"]
                row["busy"] = cpu["busy"]
            row["own_us"] = cpu["own"] / r["rps"] * 1e6
            row["load_busy"] = cpu["load_busy"]
        if row["resumed"]:
            self.notes.append(f"round {rnd} {measure} {target.name}: **{row['resumed']} "
                              "handshakes resumed: the measure is of full handshakes only**")
        if target.name == "rampart-jwt" and row["non2xx"]:
            # Every token is valid: a 401 (or any non-2xx) means the test is broken.
            self.notes.append(f"round {rnd} {measure} rampart-jwt: **{row['non2xx']} non-2xx "
                              "answers to valid tokens: the authenticated run is broken**")
            log(f"  !! rampart-jwt answered {row['non2xx']} non-2xx to valid tokens")
        if not row["alive_after"]:
            self.notes.append(f"round {rnd} {measure} {target.name}: the proxy exited during the run")
        self.rows.append(row)
        self.print_row(row)

    def print_row(self, row):
        parts = [f"  r{row['round']} {row['measure']:<10} {row['target']:<14}"]
        if not row["ok"]:
            parts.append("FAILED (no client result)")
        elif row["measure"] == "handshake":
            parts.append(f"{fmt_rps(row['rps']):>8} conn/s  p50 {fmt_us(row['p50']):>9}"
                         f"  p99 {fmt_us(row['p99']):>9}"
                         f"  cpu{self.s.proxy_cpu} {100 * (row['busy'] or 0):.0f}% busy:"
                         f" {row['cpu_us'] or 0:.1f} µs/handshake"
                         f"  own {row['own_us'] or 0:.1f} µs/handshake"
                         f"  cpu{self.s.load_cpu} {100 * (row['load_busy'] or 0):.0f}% busy"
                         f"  resumed {row['resumed']}")
            if row["errors"]:
                parts.append(f"  ERRORS {row['errors']} (non-200 {row['non2xx']})")
        else:
            parts.append(f"{fmt_rps(row['rps']):>8} req/s  p50 {fmt_us(row['p50']):>9}  p99 {fmt_us(row['p99']):>9}")
            if row["measure"] == "cpu":
                parts.append(f"  cpu{self.s.proxy_cpu} {100 * (row['busy'] or 0):.0f}% busy:"
                             f" {row['cpu_us'] or 0:.1f} µs/req"
                             f"  own {row['own_us'] or 0:.1f} µs/req"
                             f"  steal {100 * (row['steal'] or 0):.1f}%")
            if row["errors"]:
                sock = ", ".join(f"{k} {v}" for k, v in row["sock"].items() if v)
                parts.append(f"  ERRORS non-2xx {row['non2xx']}" + (f", socket {sock}" if sock else ""))
        log("".join(parts))

    # -- the whole run

    def run(self):
        s = self.s
        self.started = datetime.datetime.now()
        self.load_before = open("/proc/loadavg").read().split()[:3]
        self.quiet_before = idle_share([s.load_cpu, s.proxy_cpu])
        self.start_origin()
        log(f"origin nginx on 127.0.0.1:{self.origin_port} (pid {self.origin.pid}); temp dir {self.tmp}")
        pool, pool_failure = None, None
        if set(TOKEN_TARGETS) & set(s.targets):
            try:
                t0 = time.monotonic()
                pool = TokenPool(self.tmp, POOL)
                log(f"tokens for {' and '.join(n for n in s.targets if n in TOKEN_TARGETS)}: "
                    f"{pool.count} ES256 tokens (kid {pool.kid}) in "
                    f"{time.monotonic() - t0:.1f} s: {pool.tokens_path}")
            except Exception as e:  # ImportError (no python3-cryptography) included
                pool_failure = f"could not make the tokens: {e!r} (needs python3-cryptography)"
        for name in s.targets:
            t = Target(name, self.procs, self.tmp, s, self.origin_port, pool)
            why = pool_failure if name in TOKEN_TARGETS and pool_failure else t.start()
            if why:
                t.failure = f"did not start: {why}"
                log(f"!! {name} left out: {t.failure}")
            else:
                where = f"pid {t.proc.pid}, " if t.proc else ""
                log(f"{name}: {where}{t.url()}")
            self.targets[name] = t
        running = [n for n in s.targets if not self.targets[n].failure]
        if not running:
            raise RuntimeError("no target could start")
        if "handshake" in s.measures and measure_targets("handshake", s.targets):
            self.handshake_bin = build_handshake_client(self.tmp)
        for rnd in range(1, s.rounds + 1):
            log(f"\nround {rnd}/{s.rounds}")
            for measure in s.measures:
                names = measure_targets(measure, s.targets)
                for name in rotate(names, rnd - 1):
                    t = self.targets[name]
                    if t.failure:
                        continue
                    self.run_one(rnd, measure, t)
        self.load_after = open("/proc/loadavg").read().split()[:3]
        self.quiet_after = idle_share([s.load_cpu, s.proxy_cpu])
        self.finished = datetime.datetime.now()


def measure_targets(measure, targets):
    """The targets a measure runs on: cpu has no direct, handshake only the TLS ones."""
    if measure == "cpu":
        return [n for n in targets if n != "direct"]
    if measure == "handshake":
        return [n for n in targets if n in TLS_TARGETS]
    return list(targets)


def check_tools(settings):
    need = ["nginx", "taskset", "wrk"]
    if "handshake" in settings.measures and set(TLS_TARGETS) & set(settings.targets):
        need.append("cc")
    if {"haproxy", "haproxy-tls", "haproxy-h2"} & set(settings.targets):
        need.append("haproxy")
    if {"rampart-tls", "nginx-tls", "haproxy-tls"} & set(settings.targets):
        need.append("openssl")
    if set(H2_TARGETS) & set(settings.targets):
        need += ["h2load", "curl"]
    missing = [t for t in need if shutil.which(t) is None]
    if missing:
        raise RuntimeError(f"missing {' '.join(missing)} (Debian: apt-get install "
                           f"{' '.join('util-linux' if m == 'taskset' else m for m in missing)})")
    if (set(RAMPART_TARGETS) & set(settings.targets)) and not os.access(settings.rampart_bin, os.X_OK):
        raise RuntimeError(f"no rampart binary at {settings.rampart_bin} (build it: make build, "
                           "or set RAMPART_BIN, or leave rampart, rampart-tokens and rampart-jwt "
                           "out of TARGETS)")
    cpus = os.sched_getaffinity(0)
    if settings.load_cpu not in cpus or settings.proxy_cpu not in cpus:
        raise RuntimeError(f"need cpu{settings.load_cpu} and cpu{settings.proxy_cpu}; "
                           f"this process may use {sorted(cpus)}")


def _raise_exit(signum, _frame):
    print(f"\nsignal {signum}; stopping everything started", file=sys.stderr)
    raise SystemExit(128 + signum)


def main():
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(usage() + "\n" + __doc__)
        return 0
    if sys.argv[1:]:
        print(usage(), file=sys.stderr)
        return 2
    try:
        settings = Settings(os.environ)
        check_tools(settings)
    except (ValueError, RuntimeError) as e:
        print(f"bench/proxy/run: {e}", file=sys.stderr)
        return 2
    # SIGINT too, even when inherited as ignored (a background job of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGHUP, _raise_exit)
    bench = Bench(settings)
    try:
        total_runs = settings.rounds * sum(len(measure_targets(m, settings.targets))
                                           for m in settings.measures)
        log(f"{total_runs} runs of {settings.warmup} + {settings.duration}; about "
            f"{total_runs * (settings.warmup_s + settings.duration_s + 0.5) / 60:.1f} min")
        bench.run()
        report = Report(bench).render()
        os.makedirs(settings.results_dir, exist_ok=True)
        path = os.path.join(settings.results_dir, f"proxy-{bench.started:%Y%m%d-%H%M%S}.md")
        with open(path, "w") as f:
            f.write(report)
        log("\n" + report)
        log(f"written to {os.path.relpath(path)}")
        failed = [t.name for t in bench.targets.values() if t.failure]
        broken = sum(r["non2xx"] for r in bench.rows if r["target"] == "rampart-jwt")
        if broken:
            print(f"bench/proxy/run: rampart-jwt answered {broken} non-2xx to valid tokens: "
                  "the authenticated measurement is broken", file=sys.stderr)
        return 1 if failed or broken else 0
    except KeyboardInterrupt:
        print("\ninterrupted; stopping everything started", file=sys.stderr)
        return 130
    except RuntimeError as e:
        print(f"bench/proxy/run: {e}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.procs.stop_all()
        if not settings.keep_tmp:
            shutil.rmtree(bench.tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
