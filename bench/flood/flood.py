#!/usr/bin/python3
"""Rampart's issue 5 targets, measured: `rampart drill` against Rampart
(1 worker), nginx (limit_req + limit_conn) and HAProxy (stick tables), each
configured for the same limits (configs.py), in one run.

One nginx origin answers `return 200 "ok"`. For every scenario, each target
is started fresh (no block or table state carried over), pinned alone on
PROXY_CPU; the drill and the origin share LOAD_CPU. Each drill is one
process with two phases on the same target: a baseline (50 legitimate
clients, 20 requests/s each, each with its own valid JWT and its own source
address) and then the attack phase (the same clients, plus the attack), so
"attack / baseline" is a same-run ratio. Scenarios:

  a1 a50 a1000  1,000 keep-alive connections flat out from 1, 50, 1,000 addresses
  b             1,000 connections from 1,000 addresses, each under its limit (DIST_RATE/s)
  c             5,000 slowloris connections from SLOWLORIS_SOURCES addresses
  d             1,000 connections flat out from 50 addresses with bogus bearer JWTs
                (right kid, issuer and audience, so only the signature check refuses them)

Before the scenarios, `gen` measures the drill itself: the a50 flood straight at
the origin (origin alone on PROXY_CPU): requests/s generated and per CPU-second.

Settings from the environment (see usage()).
"""

import datetime
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "bench", "proxy"))

from procs import Processes, pin, realtime  # noqa: E402
from targets import check_answers, free_port, origin_conf, wait_listening  # noqa: E402

import configs  # noqa: E402

ALL_TARGETS = ["rampart", "nginx", "haproxy"]
ALL_SCENARIOS = ["a1", "a50", "a1000", "b", "c", "d"]


def usage():
    return """usage: bench/flood/run   (settings from the environment)

  TARGETS="rampart nginx haproxy"     any subset
  SCENARIOS="a1 a50 a1000 b c d"      any subset (gen, the drill's own speed, always runs
                                      unless NO_GEN=1)
  BASELINE=10s DURATION=10s WARMUP=1s the drill's phases (baseline, then attack)
  ROUNDS=1            every scenario x target this many times, target order rotated per
                      round; the summary gives the median p99 ratio and its min-max
  QUICK=1             smoke test: BASELINE=2s DURATION=3s WARMUP=1s unless set
  LIMITS=1            0: every target without limits (Rampart keeps JWT auth); or the
                      targets that get limits, e.g. LIMITS="nginx haproxy" until the
                      shield's config keys have landed in the binary
  LEGIT=50 LEGIT_RATE=20              legitimate clients and requests/s each
  FLOOD_CONNS=1000  DIST_RATE=50      flood connections; per-address rate of scenario b
  SLOWLORIS=5000  SLOWLORIS_SOURCES=1000
  REALTIME=1          the drill's measuring thread (--legit-realtime) and the origin at
                      SCHED_FIFO 1, so the attack thread on their CPU cannot delay them;
                      0: all at normal priority (the method before 2026-12-02 13:00)
  RAMPART_BIN=build/rampart           runs both the target and the drill
  LOAD_CPU=0 PROXY_CPU=1              drill + origin / the target alone
  RESULTS_DIR=bench/results           flood-<timestamp>.md and .json
  KEEP_TMP=1          keep the temp dir (configs, logs, every drill's JSON)
"""


def seconds(text):
    text = text.strip()
    for suffix, scale in (("ms", 0.001), ("s", 1), ("m", 60)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * scale
    return float(text)


class Settings:
    def __init__(self, env):
        self.quick = env.get("QUICK", "") not in ("", "0")
        self.baseline = env.get("BASELINE", "2s" if self.quick else "10s")
        self.duration = env.get("DURATION", "3s" if self.quick else "10s")
        self.warmup = env.get("WARMUP", "1s")
        self.run_s = seconds(self.baseline) + seconds(self.duration) + seconds(self.warmup)
        # "1" (all), "0" (none) or the targets that get limits, e.g. "nginx haproxy".
        limits = env.get("LIMITS", "1").split()
        self.limited = (set(ALL_TARGETS) if limits == ["1"] else set() if limits in ([], ["0"])
                        else set(limits))
        if self.limited - set(ALL_TARGETS):
            raise ValueError(f"LIMITS: 1, 0 or targets from {ALL_TARGETS}")
        self.limits = bool(self.limited)
        self.targets = [t for t in ALL_TARGETS if t in env.get("TARGETS", " ".join(ALL_TARGETS)).split()]
        wanted = env.get("SCENARIOS", " ".join(ALL_SCENARIOS)).split()
        unknown = [s for s in wanted if s not in ALL_SCENARIOS]
        if unknown or not wanted:
            raise ValueError(f"SCENARIOS: choose from {ALL_SCENARIOS}, got {wanted}")
        if not self.targets:
            raise ValueError(f"TARGETS: choose from {ALL_TARGETS}")
        self.scenarios = [s for s in ALL_SCENARIOS if s in wanted]
        self.gen = env.get("NO_GEN", "") in ("", "0")
        self.rounds = int(env.get("ROUNDS", "1"))
        if self.rounds < 1:
            raise ValueError("ROUNDS: at least 1")
        self.legit = int(env.get("LEGIT", "50"))
        self.legit_rate = env.get("LEGIT_RATE", "20")
        self.flood_conns = int(env.get("FLOOD_CONNS", "1000"))
        self.dist_rate = env.get("DIST_RATE", "50")
        self.slowloris = int(env.get("SLOWLORIS", "5000"))
        self.slowloris_sources = int(env.get("SLOWLORIS_SOURCES", "1000"))
        self.rampart_bin = os.path.abspath(env.get("RAMPART_BIN", os.path.join(REPO, "build", "rampart")))
        self.realtime = env.get("REALTIME", "1") not in ("", "0")
        self.load_cpu = int(env.get("LOAD_CPU", "0"))
        self.proxy_cpu = int(env.get("PROXY_CPU", "1"))
        self.results_dir = os.path.abspath(env.get("RESULTS_DIR", os.path.join(REPO, "bench", "results")))
        self.keep_tmp = env.get("KEEP_TMP", "") not in ("", "0")
        if self.run_s > 290:
            raise ValueError("WARMUP + BASELINE + DURATION must stay under the drill's 300 s cap")


def log(msg=""):
    print(msg, flush=True)


class Scenario:
    def __init__(self, name, what, args):
        self.name, self.what, self.args = name, what, args


def scenarios(s, pool):
    n = s.flood_conns
    return {
        "a1": Scenario("a1", f"{n:,} conns flat out from 1 address",
                       ["--flood-connections", str(n), "--flood-sources", "1"]),
        "a50": Scenario("a50", f"{n:,} conns flat out from 50 addresses",
                        ["--flood-connections", str(n), "--flood-sources", "50"]),
        "a1000": Scenario("a1000", f"{n:,} conns flat out from 1,000 addresses",
                          ["--flood-connections", str(n), "--flood-sources", "1000"]),
        "b": Scenario("b", f"{n:,} conns from 1,000 addresses at {s.dist_rate}/s each (under the limit)",
                      ["--flood-connections", str(n), "--flood-sources", "1000",
                       "--flood-rate", s.dist_rate]),
        "c": Scenario("c", f"{s.slowloris:,} slowloris conns from {s.slowloris_sources:,} addresses",
                      ["--slowloris", str(s.slowloris), "--flood-sources", str(s.slowloris_sources),
                       "--slowloris-interval", "1s"]),
        "d": Scenario("d", f"{n:,} conns flat out from 50 addresses, bogus bearer JWTs",
                      ["--flood-connections", str(n), "--flood-sources", "50", "--bogus-tokens",
                       "--bogus-kid", pool.kid, "--bogus-issuer", ISSUER,
                       "--bogus-audience", AUDIENCE]),
    }


ISSUER = "https://bench.test"
AUDIENCE = "bench"


class Bench:
    def __init__(self, s):
        self.s = s
        self.procs = Processes()
        self.tmp = tempfile.mkdtemp(prefix="rampart-flood-")
        self.started = datetime.datetime.now()
        self.rows = []   # one per (scenario, target)
        self.gen = None
        self.origin = None
        self.origin_port = None
        self.pool = None

    # -- processes

    def start_origin(self):
        self.origin_port = free_port()
        conf = os.path.join(self.tmp, "origin.conf")
        with open(conf, "w") as f:
            f.write(origin_conf(self.tmp, self.origin_port).replace(
                "events { worker_connections 8192; }",
                "worker_rlimit_nofile 20000;\nevents { worker_connections 19000; }"))
        os.makedirs(os.path.join(self.tmp, "origin-temp"), exist_ok=True)
        self.origin = self.procs.start(
            "origin", ["nginx", "-p", self.tmp, "-e", os.path.join(self.tmp, "origin-error.log"),
                       "-c", conf, "-g", "daemon off;"], os.path.join(self.tmp, "origin.log"))
        why = wait_listening(self.origin_port, self.origin) or check_answers(self.origin_port)
        if why:
            raise RuntimeError(f"origin nginx: {why}")

    def start_target(self, name):
        """Starts a fresh target; returns (proc, port) or raises RuntimeError with why."""
        port = free_port()
        s = self.s
        if name == "rampart":
            conf = os.path.join(self.tmp, "rampart.yaml")
            with open(conf, "w") as f:
                f.write(configs.rampart_conf(port, self.origin_port, self.pool, name in s.limited,
                                             ISSUER, AUDIENCE))
            p = subprocess.run([s.rampart_bin, "validate", "-c", conf], capture_output=True,
                               text=True, timeout=30)
            if p.returncode != 0:
                raise RuntimeError(f"rampart validate refused {conf}: "
                                   + (p.stdout + p.stderr).strip()[-500:])
            argv = [s.rampart_bin, "serve", "-c", conf]
        elif name == "nginx":
            conf = os.path.join(self.tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(configs.nginx_conf(self.tmp, port, self.origin_port, name in s.limited))
            os.makedirs(os.path.join(self.tmp, "nginx-temp"), exist_ok=True)
            argv = ["nginx", "-p", self.tmp, "-e", os.path.join(self.tmp, "nginx-error.log"),
                    "-c", conf, "-g", "daemon off;"]
        else:
            conf = os.path.join(self.tmp, "haproxy.cfg")
            with open(conf, "w") as f:
                f.write(configs.haproxy_conf(port, self.origin_port, name in s.limited))
            argv = ["haproxy", "-f", conf, "-db"]
        logpath = os.path.join(self.tmp, f"{name}.log")
        proc = self.procs.start(name, argv, logpath)
        headers = {"Authorization": f"Bearer {self.pool.tokens[0]}"}
        why = wait_listening(port, proc) or check_answers(port, headers)
        if why:
            self.procs.stop(proc)
            tail = open(logpath, errors="replace").read()[-400:].strip() if os.path.exists(logpath) else ""
            raise RuntimeError(why + (f"; its output ends: {tail}" if tail else ""))
        pin(proc.pid, s.proxy_cpu)
        return proc, port

    def drill(self, port, scenario_args, label):
        s = self.s
        argv = (["taskset", "-c", str(s.load_cpu), s.rampart_bin, "drill",
                 "--target", f"127.0.0.1:{port}", "--format", "json",
                 "--warmup", s.warmup, "--baseline", s.baseline, "--duration", s.duration,
                 "--timeout", "5s", "--legit", str(s.legit), "--legit-rate", s.legit_rate,
                 "--legit-tokens", self.pool.tokens_path] + scenario_args
                + (["--legit-realtime"] if s.realtime else []))
        with open(os.path.join(self.tmp, f"drill-{label}.argv"), "w") as f:
            f.write(shlex.join(argv) + "\n")
        proc = self.procs.start("drill", argv, capture=True)
        try:
            out, err = proc.communicate(timeout=s.run_s + 60)
        except subprocess.TimeoutExpired:
            self.procs.stop(proc)
            raise RuntimeError("the drill overran its bound")
        self.procs.forget(proc)
        if proc.returncode != 0:
            raise RuntimeError(f"drill exited {proc.returncode}: {err.strip()[-400:]}")
        with open(os.path.join(self.tmp, f"drill-{label}.json"), "w") as f:
            f.write(out)
        report = json.loads(out)
        if s.realtime and not report["drill"].get("legit_realtime"):
            raise RuntimeError(f"the measuring thread did not get SCHED_FIFO: {report.get('warnings')}")
        return report

    # -- the run

    def run(self):
        from tokens import TokenPool  # python3-cryptography
        self.pool = TokenPool(self.tmp, count=max(self.s.legit, 1))
        self.start_origin()
        pin(self.origin.pid, self.s.load_cpu)
        if self.s.realtime:
            realtime(self.origin.pid)
        table = scenarios(self.s, self.pool)
        if self.s.gen:
            # The drill alone against the origin, the origin alone on PROXY_CPU.
            pin(self.origin.pid, self.s.proxy_cpu)
            try:
                self.gen = self.drill(self.origin_port, table["a50"].args, "gen")
                f = self.gen["attack"]["flood"]
                log(f"gen: the drill sent {f['sent_per_s']:,.0f} req/s straight to nginx, "
                    f"{self.gen['drill']['flood_requests_per_cpu_s']:,.0f} answers per CPU-second "
                    "of its attack thread")
            except RuntimeError as e:
                log(f"gen: {e}")
            pin(self.origin.pid, self.s.load_cpu)
        for rnd in range(1, self.s.rounds + 1):
            for k, name in enumerate(self.s.scenarios):
                shift = (k + rnd - 1) % len(self.s.targets)
                for target in self.s.targets[shift:] + self.s.targets[:shift]:
                    self.run_cell(rnd, name, table[name], target)

    def run_cell(self, rnd, name, sc, target):
        row = {"round": rnd, "scenario": name, "what": sc.what, "target": target}
        log(f"{f'round {rnd} ' if self.s.rounds > 1 else ''}{name} {target}: {sc.what} ...")
        proc = None
        label = f"{name}-{target}" + (f"-r{rnd}" if self.s.rounds > 1 else "")
        try:
            proc, port = self.start_target(target)
            row["report"] = self.drill(port, sc.args, label)
            if proc.poll() is not None:
                row["died"] = f"exited with code {proc.returncode} during the drill"
        except RuntimeError as e:
            row["error"] = str(e)
        finally:
            if proc is not None:
                self.procs.stop(proc)
        self.rows.append(row)
        log("  " + one_line(row))


# ---------------------------------------------------------------- report

def ms(v):
    return "-" if v is None else (f"{v:.1f}" if v >= 10 else f"{v:.2f}")


def legit_cells(r):
    b, a = r["legit"]["baseline"], r["legit"]["attack"]
    bp50, bp99 = b["latency_ms"]["p50"], b["latency_ms"]["p99"]
    ap50, ap99 = a["latency_ms"]["p50"], a["latency_ms"]["p99"]
    ratio = ap99 / bp99 if bp99 else None
    return b, a, float(bp50), float(bp99), float(ap50), float(ap99), ratio


def how_refused(r):
    att = r["attack"]
    parts = []
    for part in ("flood", "slowloris", "connection_flood"):
        x = att[part]
        st = x.get("status", {})
        for code in ("429", "503", "401"):
            if st.get(code):
                parts.append(f"{code}:{st[code]:,}")
        if st.get("other"):
            parts.append(f"other:{st['other']:,}")
        c = x["conns"]
        for key, short in (("connect_refused", "refused"), ("connect_timeouts", "conn-timeout"),
                           ("reset", "reset"), ("closed_without_response", "closed"),
                           ("timeouts", "timeout")):
            if c.get(key):
                parts.append(f"{short}:{c[key]:,}")
        if part == "slowloris" and c.get("closed_idle"):
            parts.append(f"closed-after-answer:{c['closed_idle']:,}")
    return " ".join(parts) or "-"


def one_line(row):
    if "error" in row:
        return f"FAILED: {row['error']}"
    r = row["report"]
    b, a, bp50, bp99, ap50, ap99, ratio = legit_cells(r)
    f = r["attack"]["flood"]
    return (f"legit {b['success_rate'] * 100:.2f}% -> {a['success_rate'] * 100:.2f}%, "
            f"p50 {ms(bp50)} -> {ms(ap50)} ms, p99 {ms(bp99)} -> {ms(ap99)} ms "
            f"({ratio:.1f}x); attack refused {r['attack']['refused_fraction'] * 100:.1f}% "
            f"({how_refused(r)}); flood sent {f['sent_per_s']:,.0f}/s"
            if ratio is not None else "no baseline latency")


def meets(r):
    b, a, *_rest, ratio = legit_cells(r)
    return a["success_rate"] >= 0.999 and ratio is not None and ratio <= 2.0


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def summary(bench):
    """Per scenario and target over the rounds: the median p99 ratio, its range, the worst
    success rate; meets = every round's success >= 99.9 % and the median ratio <= 2x."""
    out = ["Over the rounds (bench-method.md: the median of the per-round ratio and its min-max):\n",
           "| scenario | target | rounds | p99 ratio median (min-max) | rounds <= 2x | "
           "worst legit success under attack | meets (median) |",
           "|---|---|---|---|---|---|---|"]
    for name in bench.s.scenarios:
        for target in bench.s.targets:
            rows = [r for r in bench.rows if r["scenario"] == name and r["target"] == target]
            good = [r["report"] for r in rows if "error" not in r and "died" not in r]
            ratios = [legit_cells(r)[-1] for r in good]
            ratios = [x for x in ratios if x is not None]
            if not ratios:
                out.append(f"| {name} | {target} | {len(rows)} | - | - | - | no |")
                continue
            worst = min(r["legit"]["attack"]["success_rate"] for r in good)
            m = median(ratios)
            ok = len(good) == len(rows) and worst >= 0.999 and m <= 2.0
            out.append(f"| {name} | {target} | {len(rows)} | {m:.1f}x ({min(ratios):.1f}-"
                       f"{max(ratios):.1f}) | {sum(x <= 2.0 for x in ratios)} of {len(ratios)} | "
                       f"{worst * 100:.2f} % | {'yes' if ok else 'no'} |")
    out.append("")
    return out


def render(bench):
    s = bench.s
    out = []
    quick = s.quick or seconds(s.duration) < 10
    out.append(f"# rampart drill: Rampart vs nginx vs HAProxy under flood ({bench.started:%Y-%m-%d %H:%M})\n")
    if quick:
        out.append("**Smoke test (phases under 10 s): not a result.**\n")
    unlimited = [t for t in s.targets if t not in s.limited]
    if unlimited:
        out.append(f"**Without limits: {', '.join(unlimited)}** (LIMITS; Rampart keeps JWT "
                   "auth): those rows measure the flood, not a defence.\n")
    out.append(f"Each cell: one drill{f' per round, {s.rounds} rounds' if s.rounds > 1 else ''}, baseline {s.baseline} then attack {s.duration} (warm-up "
               f"{s.warmup} not counted), {s.legit} legitimate clients x {s.legit_rate} req/s, each "
               "with its own JWT and source address, latency from the scheduled send time. "
               f"Target pinned alone on cpu{s.proxy_cpu}; drill + origin on cpu{s.load_cpu}"
               + (", the drill's measuring thread and the origin at SCHED_FIFO 1 ahead of the "
                  "attack thread (REALTIME=1). " if s.realtime else
                  ", all at normal priority (REALTIME=0). ") +
               "Issue 5's bar: legit success >= 99.9 % and p99 under attack <= 2x baseline.\n")
    if s.rounds > 1:
        out.extend(summary(bench))
        out.append("Every round:\n")
    rnd = "| round " if s.rounds > 1 else ""
    out.append(rnd + "| scenario | target | legit success base / attack | p50 ms base → attack | "
               "p99 ms base → attack | p99 ratio | meets | attack refused | how | flood sent/s |")
    out.append(("|---" if s.rounds > 1 else "") + "|---|---|---|---|---|---|---|---|---|---|")
    for row in bench.rows:
        rnd = f"| {row['round']} " if s.rounds > 1 else ""
        if "error" in row:
            out.append(f"{rnd}| {row['scenario']} | {row['target']} | failed: {row['error'][:200]} "
                       "| | | | | | | |")
            continue
        r = row["report"]
        b, a, bp50, bp99, ap50, ap99, ratio = legit_cells(r)
        f = r["attack"]["flood"]
        died = f" **({row['died']})**" if "died" in row else ""
        out.append(
            f"{rnd}| {row['scenario']} | {row['target']}{died} | {b['success_rate'] * 100:.2f} % / "
            f"{a['success_rate'] * 100:.2f} % | {ms(bp50)} → {ms(ap50)} | {ms(bp99)} → {ms(ap99)} "
            f"| {ratio:.1f}x | {'yes' if meets(r) else 'no'} | "
            f"{r['attack']['refused_fraction'] * 100:.1f} % | {how_refused(r)} | "
            f"{f['sent_per_s']:,.0f} |")
    out.append("")
    out.append("Scenarios:")
    table = scenarios(s, bench.pool) if bench.pool else {}
    for name in s.scenarios:
        if name in table:
            out.append(f"- **{name}**: {table[name].what}")
    out.append("")
    if bench.gen:
        f, d = bench.gen["attack"]["flood"], bench.gen["drill"]
        out.append(f"The drill itself (gen: the a50 flood straight at the nginx origin, origin alone "
                   f"on cpu{s.proxy_cpu}): {f['sent_per_s']:,.0f} requests/s sent, "
                   f"{d['flood_requests_per_cpu_s']:,.0f} answers per CPU-second of its attack "
                   f"thread ({d['attack_thread_cpu_s']:.2f} CPU s over {s.duration}).\n")
    out.append("Columns: *legit success* = 2xx / scheduled sends of the phase (timeouts, resets, "
               "non-2xx and sends still unanswered at the end all count as failures); *p50/p99* of "
               "the 2xx answers; *p99 ratio* = attack p99 / baseline p99 of the same run; "
               "*attack refused* = attack requests answered non-2xx plus attack connections "
               "refused, reset or closed unanswered, over all attack attempts; *how* breaks "
               "that down (slowloris: closed-after-answer = the target answered 408/400 and "
               "closed).\n")
    env = []
    for argv in (["nginx", "-v"], ["haproxy", "-v"], [s.rampart_bin, "version"]):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            env.append(((p.stdout + p.stderr).strip().splitlines() or ["?"])[0])
        except OSError as e:
            env.append(str(e))
    out.append(f"Environment: nproc {os.cpu_count()}, kernel {os.uname().release}; "
               + "; ".join(env) + f"; load average {os.getloadavg()[0]:.2f}.\n")
    return "\n".join(out) + "\n"


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
        s = Settings(os.environ)
    except ValueError as e:
        print(f"bench/flood/run: {e}", file=sys.stderr)
        return 2
    need = ["taskset"] + [t for t in s.targets if t != "rampart"] + ["nginx"]
    missing = [t for t in need if shutil.which(t) is None]
    if missing or not os.access(s.rampart_bin, os.X_OK):
        print(f"bench/flood/run: missing {missing or s.rampart_bin} (make deps; make build)",
              file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGHUP, _raise_exit)
    bench = Bench(s)
    runs = s.rounds * len(s.scenarios) * len(s.targets) + (1 if s.gen else 0)
    log(f"{runs} drills of {s.run_s:.0f} s each; about {runs * (s.run_s + 2) / 60:.1f} min "
        f"(temp dir {bench.tmp})")
    try:
        bench.run()
        report = render(bench)
        os.makedirs(s.results_dir, exist_ok=True)
        stem = os.path.join(s.results_dir, f"flood-{bench.started:%Y%m%d-%H%M%S}")
        with open(stem + ".md", "w") as f:
            f.write(report)
        with open(stem + ".json", "w") as f:
            json.dump({"gen": bench.gen, "rows": bench.rows}, f)
        log("\n" + report)
        log(f"written to {os.path.relpath(stem)}.md (and .json)")
        return 1 if any("error" in r or "died" in r for r in bench.rows) else 0
    except KeyboardInterrupt:
        print("\ninterrupted; stopping everything started", file=sys.stderr)
        return 130
    except RuntimeError as e:
        print(f"bench/flood/run: {e}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.procs.stop_all()
        if not s.keep_tmp:
            shutil.rmtree(bench.tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
