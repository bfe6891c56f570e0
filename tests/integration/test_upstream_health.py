"""Upstream health through the real binary and real upstream processes
(docs/upstreams.md): active health checks take a failing endpoint out and
bring it back, consecutive 5xx eject an endpoint for a while, a cluster with
nothing healthy answers 503 no-healthy-upstream (or, in panic mode, spreads
over everything), and every upstream failure reaches the client as
problem+json with a stable type, counted per cluster and cause."""
import re
import time

import pytest

import helpers
from helpers import Client, assert_problem, get

TYPE_PREFIX = "urn:rampart:problem:"


def start(stack, clusters, workers=1):
    """Rampart with one catch-all route to the first cluster."""
    port = helpers.free_port()
    routes = [{"name": "all", "match": {"prefix": "/"}, "cluster": clusters[0]["name"]}]
    text = helpers.config(port, clusters, [{"name": "default", "domains": ["*"], "routes": routes}],
                          workers=workers)
    return stack.rampart(text, port)


def served_by(rampart, count, path="/x"):
    """Sends `count` requests one after another; the upstream name of each (None: a local reply)."""
    names = []
    with Client(rampart.port) as client:
        for i in range(count):
            response = client.request("GET", f"{path}?i={i}")
            names.append(response.header("x-upstream-name"))
            if response.header("connection") == "close":
                client.close()
                client = Client(rampart.port)
    return names


def wait_log(rampart, pattern, timeout=10.0):
    """Waits until rampart's stderr matches `pattern`; returns the match."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, rampart.stderr())
        if match:
            return match
        time.sleep(0.05)
    raise AssertionError(f"rampart never logged {pattern!r}; stderr:\n{rampart.stderr()[-3000:]}")


def cluster_totals(rampart, name):
    """The per-cluster counters rampart logs when it stops: {"connect_failure": 1, ...}."""
    assert rampart.stop() == 0
    match = re.search(rf"cluster '{name}':((?: \w+=\d+)+)", rampart.stderr())
    assert match, f"no totals for cluster {name}:\n{rampart.stderr()[-3000:]}"
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


def assert_upstream_problem(response, status, cause):
    body = assert_problem(response, status)
    assert body["type"] == TYPE_PREFIX + cause, body
    return body


def health_check(**overrides):
    check = {"path": "/health", "interval": "100ms", "timeout": "500ms",
             "healthy_threshold": 2, "unhealthy_threshold": 2}
    check.update(overrides)
    return check


# ------------------------------------------------------------ active health checks

def test_failing_health_check_takes_the_endpoint_out_and_passes_bring_it_back(stack):
    a = stack.upstream("a")
    b = stack.upstream("b")
    rampart = start(stack, [helpers.cluster("app", [a.address, b.address],
                                            health_check=health_check(host="health.internal"))])
    assert sorted(set(served_by(rampart, 4))) == ["a", "b"]
    # The checks reach each endpoint with the configured path and Host.
    check = b.wait_for(lambda r: r["target"] == "/health")
    assert helpers.echo_header(check, "Host") == ["health.internal"]

    b.control(health_status=503)
    wait_log(rampart, r"cluster 'app': endpoint 127\.0\.0\.1:\d+ unhealthy after 2 failed checks: status 503")
    assert served_by(rampart, 10) == ["a"] * 10

    recovered_at = time.time()
    b.control(health_status=0)
    wait_log(rampart, r"healthy again after 2 passed checks")
    names = served_by(rampart, 10)
    assert names.count("b") == 5, names  # round robin over both again
    # b got traffic only after two passing checks.
    records = [r for r in b.requests() if r["time"] > recovered_at]
    first_traffic = next(i for i, r in enumerate(records) if r["target"] != "/health")
    passes = [r for r in records[:first_traffic] if r["target"] == "/health" and "answered" not in r]
    assert len(passes) >= 2, [r["target"] for r in records]


def test_a_stopped_endpoint_fails_its_checks_and_returns_when_restarted(stack):
    a = stack.upstream("a")
    b = stack.upstream("b")
    rampart = start(stack, [helpers.cluster("app", [a.address, b.address],
                                            health_check=health_check())])
    b_port = b.port
    b.stop()
    wait_log(rampart, r"unhealthy after 2 failed checks: (connect|timed out)")
    assert served_by(rampart, 6) == ["a"] * 6
    stack.upstream("b", port=b_port)
    wait_log(rampart, r"healthy again")
    assert "b" in served_by(rampart, 6)


@pytest.mark.parametrize("workers", [1, 2])
def test_every_endpoint_unhealthy_is_503_no_healthy_upstream(stack, workers):
    a = stack.upstream("a", extra_args=["--health-status", "503"])
    rampart = start(stack, [helpers.cluster("app", [a.address],
                                            health_check=health_check(unhealthy_threshold=1))],
                    workers=workers)
    wait_log(rampart, r"unhealthy after 1 failed checks: status 503")
    # Fresh connections, so with two workers both answer: the verdict is published to each.
    for i in range(6):
        body = assert_upstream_problem(get(rampart.port, f"/orders/{i}"), 503, "no-healthy-upstream")
        assert "127.0.0.1" not in body.get("detail", "")  # nothing internal leaks
    # A request with a body it never read: the connection closes after the answer.
    closing = get(rampart.port, "/orders", method="POST", body=b"x" * 100)
    assert_upstream_problem(closing, 503, "no-healthy-upstream")
    assert closing.header("connection") == "close"
    assert [r["target"] for r in a.requests() if r["target"] != "/health"] == []
    totals = cluster_totals(rampart, "app")
    assert totals["no_healthy_upstream"] == 7, totals
    assert totals["marked_unhealthy"] == 1, totals
    assert totals["health_checks_failed"] >= 1, totals


def test_panic_mode_spreads_over_every_endpoint(stack):
    a = stack.upstream("a")
    b = stack.upstream("b")
    rampart = start(stack, [helpers.cluster("app", [a.address, b.address], panic_threshold=50,
                                            health_check=health_check(unhealthy_threshold=1))])
    # One of two healthy is 50%, not below it: the healthy one takes everything.
    b.control(health_status=503)
    wait_log(rampart, r"unhealthy after 1 failed checks")
    assert served_by(rampart, 6) == ["a"] * 6
    # None healthy: below 50%, so panic spreads load over both rather than failing it.
    a.control(health_status=503)
    deadline = time.monotonic() + 10
    while rampart.stderr().count("unhealthy after") < 2:
        assert time.monotonic() < deadline, rampart.stderr()
        time.sleep(0.05)
    names = served_by(rampart, 10)
    assert sorted(set(names)) == ["a", "b"], names
    totals = cluster_totals(rampart, "app")
    assert totals["panic_picks"] >= 10, totals
    assert totals["no_healthy_upstream"] == 0, totals


# ------------------------------------------------------------ outlier detection

def test_consecutive_5xx_eject_the_endpoint_then_it_returns(stack):
    a = stack.upstream("a")
    b = stack.upstream("b", extra_args=["--fail-status", "500"])
    outlier = {"consecutive_5xx": 3, "base_ejection_time": "2s", "max_ejection_time": "10s",
               "max_ejection_percent": 50}
    rampart = start(stack, [helpers.cluster("app", [a.address, b.address],
                                            outlier_detection=outlier)])
    statuses = []
    with Client(rampart.port) as client:
        for i in range(6):  # round robin: three to b, each a 500 passed through
            statuses.append(client.request("GET", f"/x?i={i}").status)
    ejected_at = time.monotonic()
    assert statuses == [200, 500] * 3, statuses
    wait_log(rampart, r"cluster 'app': endpoint .* ejected for 2000 ms after consecutive 5xx \(ejection 1\)")
    names = served_by(rampart, 10)
    assert time.monotonic() - ejected_at < 2.0, "too slow to observe the 2 s ejection"
    assert names == ["a"] * 10
    assert len(b.requests()) == 3

    b.control(fail_status=0)
    time.sleep(max(0.0, 2.2 - (time.monotonic() - ejected_at)))
    names = served_by(rampart, 6)
    assert names.count("b") == 3, names
    totals = cluster_totals(rampart, "app")
    assert totals["ejections"] == 1, totals


def test_connect_failures_eject_a_dead_endpoint(stack):
    a = stack.upstream("a")
    dead = f"127.0.0.1:{helpers.free_port()}"
    outlier = {"consecutive_5xx": 0, "consecutive_connect_failures": 2, "base_ejection_time": "30s",
               "max_ejection_percent": 50}
    rampart = start(stack, [helpers.cluster("app", [a.address, dead], outlier_detection=outlier)])
    responses = [get(rampart.port, f"/x?i={i}") for i in range(4)]
    failed = [r for r in responses if r.status != 200]
    assert len(failed) == 2, responses
    for response in failed:
        assert_upstream_problem(response, 502, "connect-failure")
    # Ejected now: everything goes to the live endpoint.
    assert all(get(rampart.port, f"/y?i={i}").status == 200 for i in range(6))
    totals = cluster_totals(rampart, "app")
    assert totals["connect_failure"] == 2, totals
    assert totals["ejections"] == 1, totals


# ------------------------------------------------------------ errors translated

def test_connect_failure_to_a_dead_port_is_problem_json_connect_failure(stack):
    dead = f"127.0.0.1:{helpers.free_port()}"
    rampart = start(stack, [helpers.cluster("app", [dead])])
    body = assert_upstream_problem(get(rampart.port, "/x"), 502, "connect-failure")
    assert dead not in body.get("detail", "")
    assert cluster_totals(rampart, "app")["connect_failure"] == 1


@pytest.mark.parametrize("path,status,cause", [
    ("/close", 502, "reset"),
    ("/garbage", 502, "bad-response"),
    ("/slow?ms=3000", 504, "timeout"),
])
def test_each_upstream_failure_has_its_type_and_counter(stack, path, status, cause):
    a = stack.upstream("a")
    rampart = start(stack, [helpers.cluster("app", [a.address], response_timeout="500ms")])
    assert_upstream_problem(get(rampart.port, path, timeout=5), status, cause)
    totals = cluster_totals(rampart, "app")
    assert totals[cause.replace("-", "_")] == 1, totals
    assert sum(totals.values()) == 1, totals  # no other cause counted
