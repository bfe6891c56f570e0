"""`rampart drill` against the real rampart binary and a real upstream: the
JSON report adds up, legitimate clients all succeed when nothing limits them,
the flood really comes from many source addresses, bogus tokens are refused
by a JWT route while the clients' own tokens pass, slowloris connections are
closed by the gateway's head timeout, a non-loopback target is refused with
exit 2, and every run ends within its bound."""
import json
import subprocess
import time

import helpers
import jose
from helpers import rampart_bin


def drill(args, timeout=40):
    """Runs `rampart drill ... --format json`; returns (report, seconds, result)."""
    started = time.monotonic()
    result = subprocess.run([rampart_bin(), "drill", "--format", "json"] + args,
                            capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), elapsed, result


def short(port, *extra):
    return ["--target", f"127.0.0.1:{port}", "--warmup", "300ms", "--baseline", "1s",
            "--duration", "1500ms", "--timeout", "2s"] + list(extra)


def assert_phase_adds_up(phase):
    status = phase["status"]
    answered = sum(status.values())
    assert phase["ok"] == status["2xx"]
    assert phase["ok"] + phase["failed"] == phase["scheduled"]
    assert phase["failed"] == (answered - status["2xx"] + phase["timeouts"] + phase["closed"]
                               + phase["connect_failed"] + phase["unfinished"])
    assert phase["latency_ms"]["count"] == phase["ok"]


def test_flood_without_limits_leaves_legit_clients_at_100_percent(stack):
    rampart, upstream = stack.simple()
    report, elapsed, _ = drill(short(rampart.port, "--legit", "4", "--legit-rate", "25/s",
                                     "--flood-connections", "12", "--flood-sources", "6",
                                     "--flood-rate", "20/s"))
    legit = report["legit"]
    for name, seconds in (("baseline", 1.0), ("attack", 1.5)):
        phase = legit[name]
        assert_phase_adds_up(phase)
        # The open-loop schedule: 4 clients x 25/s, every send counted in its phase.
        assert abs(phase["scheduled"] - 100 * seconds) <= 2, phase
        assert phase["success_rate"] == 1.0, phase
        assert 0 < phase["latency_ms"]["p50"] <= phase["latency_ms"]["p99"] <= phase["latency_ms"]["max"]
    flood = report["attack"]["flood"]
    # Paced: 6 sources x 20/s for 1.5 s, at most one banked permit each.
    assert 150 <= flood["sent"] <= 190, flood
    assert flood["answered"] == sum(flood["status"].values()) == flood["status"]["2xx"]
    assert flood["sent"] - flood["answered"] <= 12  # at most one in flight per connection
    assert flood["conns"]["opened"] == flood["conns"]["attempted"] == 12
    assert report["attack"]["refused"] == 0
    assert report["elapsed_s"] <= report["bound_s"] + 0.5
    assert elapsed <= report["bound_s"] + 2.0
    # Each attacker and each client came from its own 127.x address (Rampart
    # passes the peer address upstream in X-Forwarded-For).
    peers = {helpers.echo_header(r, "x-forwarded-for")[0] for r in upstream.requests()}
    assert {f"127.100.0.{i}" for i in range(1, 7)} <= peers, peers
    assert {f"127.0.1.{i}" for i in range(1, 5)} <= peers, peers


def test_bogus_tokens_are_refused_while_each_client_keeps_its_own_credential(stack):
    key = jose.EcKey("drill-1")
    stack.write("jwks.json", jose.jwks(key))
    upstream = stack.upstream("app")
    port = helpers.free_port()
    authentication = {"providers": [{"name": "users", "jwt": {"issuers": [{
        "issuer": "https://id.test", "algorithms": ["ES256"], "jwks_file": "jwks.json",
        "audiences": ["orders"]}]}}]}
    routes = [{"name": "all", "match": {"prefix": "/"}, "cluster": "app",
               "auth": {"providers": ["users"]}, "public": True}]
    rampart = stack.rampart(helpers.config(port, [helpers.cluster("app", [upstream.address])],
                                           [{"name": "api", "domains": ["*"], "routes": routes}],
                                           authentication=authentication), port)
    tokens = [jose.token(key, subject=f"user-{i}") for i in range(3)]
    path = stack.write("tokens.txt", "\n".join(tokens) + "\n")
    report, _, _ = drill(short(port, "--legit", "3", "--legit-rate", "20/s", "--legit-tokens",
                               str(path), "--flood-connections", "4", "--flood-rate", "50/s",
                               "--bogus-tokens", "--bogus-kid", "drill-1", "--bogus-issuer",
                               "https://id.test", "--bogus-audience", "orders"))
    for name in ("baseline", "attack"):
        assert_phase_adds_up(report["legit"][name])
        assert report["legit"][name]["success_rate"] == 1.0, report["legit"][name]
    flood = report["attack"]["flood"]
    assert flood["answered"] > 30, flood
    assert flood["status"]["401"] == flood["answered"], flood  # every bogus token refused
    attack = report["attack"]
    assert attack["refused"] >= flood["answered"]
    # Every client's own token reached the upstream (and no bogus one did).
    sent = {v for r in upstream.requests() for v in helpers.echo_header(r, "authorization")}
    assert sent == {f"Bearer {t}" for t in tokens}, sent


def test_slowloris_connections_are_closed_by_the_head_timeout(stack):
    rampart, _ = stack.simple(http={"head_timeout": "500ms"})
    report, _, _ = drill(short(rampart.port, "--legit", "2", "--legit-rate", "20/s",
                               "--slowloris", "20", "--flood-sources", "5",
                               "--slowloris-interval", "100ms", "--connection-flood", "40/s"))
    assert report["legit"]["attack"]["success_rate"] == 1.0
    slow = report["attack"]["slowloris"]
    conns = slow["conns"]
    closed = (conns["closed_idle"] + conns["closed_without_response"] + conns["reset"])
    assert conns["opened"] >= 20 and closed >= 20, slow
    # Held about one head timeout, not the whole attack.
    assert 400 <= slow["held_ms"]["p50"] <= 1200, slow
    assert slow["bytes_sent"] > 20 * 40
    flood = report["attack"]["connection_flood"]["conns"]
    assert 50 <= flood["attempted"] <= 70, flood
    assert flood["opened"] == flood["attempted"], flood


def test_a_dead_target_fails_legit_requests_and_still_ends_in_time():
    port = helpers.free_port()  # nothing listens there
    report, elapsed, _ = drill(["--target", f"127.0.0.1:{port}", "--warmup", "0s", "--baseline",
                                "1s", "--duration", "0s", "--legit", "2", "--legit-rate", "10/s"])
    phase = report["legit"]["baseline"]
    assert phase["scheduled"] == 20
    assert phase["ok"] == 0 and phase["connect_failed"] == 20, phase
    assert_phase_adds_up(phase)
    assert elapsed < 5


def test_legit_realtime_runs_the_measuring_thread_fifo_or_says_why_not():
    port = helpers.free_port()  # nothing listens there: the flag is what is tested
    args = ["--target", f"127.0.0.1:{port}", "--warmup", "0s", "--baseline", "300ms",
            "--duration", "0s", "--legit", "1", "--legit-rate", "10/s"]
    report, _, _ = drill(args)
    assert report["drill"]["legit_realtime"] is False and report["warnings"] == ""
    report, _, _ = drill(args + ["--legit-realtime"])  # the suite runs as root
    assert report["drill"]["legit_realtime"] is True, report["warnings"]
    assert report["warnings"] == ""
    # Without CAP_SYS_NICE (and RLIMIT_RTPRIO 0) the run goes on, unraised, and says so.
    result = subprocess.run(["setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice",
                             "prlimit", "--rtprio=0", rampart_bin(), "drill", "--format", "json",
                             "--legit-realtime"] + args,
                            capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["drill"]["legit_realtime"] is False
    assert "SCHED_FIFO refused" in report["warnings"], report["warnings"]


def test_non_loopback_target_is_refused_with_exit_2():
    result = subprocess.run([rampart_bin(), "drill", "--target", "192.0.2.1:80",
                             "--flood-connections", "10"],
                            capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result
    assert "outside loopback" in result.stderr and "--allow-remote" in result.stderr
    assert result.stdout == ""


def test_bad_flags_exit_2_and_runs_are_capped():
    for args in (["--duration", "301s"], ["--legit-rate", "fast"], ["--flood-rate", "-1"]):
        result = subprocess.run([rampart_bin(), "drill", "--target", "127.0.0.1:9"] + args,
                                capture_output=True, text=True, timeout=10,
                                stdin=subprocess.DEVNULL)
        assert result.returncode == 2, (args, result)
        assert args[0] in result.stderr or "capped" in result.stderr, result.stderr
