"""Retries, the retry budget and circuit breakers through the real binary and
real upstream processes (docs/upstreams.md): a failed attempt the route
retries goes to the other endpoint after a jittered backoff or the
upstream's Retry-After; only requests safe to repeat are retried, never once
response bytes reached the client; the budget keeps an outage from
multiplying the load; a breaker over its cap answers 503 at once, naming
itself."""
import re
import threading
import time

import helpers
from helpers import Client, assert_problem, get

TYPE_PREFIX = "urn:rampart:problem:"


def start(stack, clusters, retry=None, workers=1, route_extra=None):
    """Rampart with one catch-all route to the first cluster, retrying with `retry`."""
    port = helpers.free_port()
    route = {"name": "all", "match": {"prefix": "/"}, "cluster": clusters[0]["name"]}
    if retry is not None:
        route["retry"] = retry
    route.update(route_extra or {})
    text = helpers.config(port, clusters, [{"name": "default", "domains": ["*"], "routes": [route]}],
                          workers=workers)
    return stack.rampart(text, port)


def cluster_totals(rampart, name):
    """The per-cluster counters rampart logs when it stops: {"retries": 3, ...}."""
    assert rampart.stop() == 0
    match = re.search(rf"cluster '{name}':((?: \w+=\d+)+)", rampart.stderr())
    assert match, f"no totals for cluster {name}:\n{rampart.stderr()[-3000:]}"
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


def by_target(upstreams):
    """{target: [(time, upstream name), ...]} over every upstream's log, in time order."""
    out = {}
    for upstream in upstreams:
        for record in upstream.requests():
            out.setdefault(record["target"], []).append((record["time"], upstream.name))
    for attempts in out.values():
        attempts.sort()
    return out


FAST = {"base": "1ms", "max": "5ms"}


# ------------------------------------------------------------ what is retried

def test_get_retried_after_503_lands_on_the_other_endpoint(stack):
    a = stack.upstream("a", extra_args=["--fail-status", "503"])
    b = stack.upstream("b")
    rampart = start(stack, [helpers.cluster("app", [a.address, b.address])],
                    retry={"attempts": 2, "on": [503], "backoff": FAST})
    with Client(rampart.port) as client:
        for i in range(10):
            response = client.request("GET", f"/r?i={i}")
            assert response.status == 200, response
            assert response.header("x-upstream-name") == "b"
    attempts = by_target([a, b])
    on_a = [t for t, seen in attempts.items() if seen[0][1] == "a"]
    assert len(on_a) >= 4, attempts  # round robin sent about half there first
    for target in on_a:
        assert [name for _, name in attempts[target]] == ["a", "b"], attempts[target]
    totals = cluster_totals(rampart, "app")
    assert totals["retries"] == len(on_a), totals


def test_post_is_not_retried(stack):
    a = stack.upstream("a", extra_args=["--fail-status", "503"])
    b = stack.upstream("b")
    rampart = start(stack, [helpers.cluster("app", [a.address, b.address])],
                    retry={"attempts": 3, "on": [503], "backoff": FAST})
    statuses = []
    with Client(rampart.port) as client:
        for i in range(6):
            response = client.request("POST", f"/p?i={i}", body=b"payload")
            statuses.append((response.status, response.header("x-upstream-name")))
    # The upstream's own 503 reached the client each time a was chosen.
    assert (503, "a") in statuses and (200, "b") in statuses, statuses
    assert all(s in ((503, "a"), (200, "b")) for s in statuses), statuses
    assert len(a.requests()) + len(b.requests()) == 6


def test_post_on_an_idempotent_route_is_retried_with_its_whole_body(stack):
    a = stack.upstream("a", extra_args=["--fail-status", "503"])
    b = stack.upstream("b")
    rampart = start(stack, [helpers.cluster("app", [a.address, b.address])],
                    retry={"attempts": 2, "on": [503], "backoff": FAST, "idempotent": True,
                           "max_buffered_body": "64KiB"})
    import hashlib
    body = bytes(range(256)) * 40  # 10 KiB, sent in one piece
    digest = hashlib.sha256(body).hexdigest()
    with Client(rampart.port) as client:
        for i in range(6):
            response = client.request("POST", f"/i?i={i}", body=body)
            assert response.status == 200, response
            echo = response.json()
            assert echo["name"] == "b" and echo["body_len"] == len(body), echo
            assert echo["body_sha256"] == digest
    assert len(a.requests()) >= 2  # those were resent to b, body and all
    assert len(b.requests()) == 6


def test_a_body_over_max_buffered_body_is_not_retried(stack):
    a = stack.upstream("a", extra_args=["--fail-status", "503"])
    b = stack.upstream("b")
    rampart = start(stack, [helpers.cluster("app", [a.address, b.address])],
                    retry={"attempts": 2, "on": [503], "backoff": FAST, "idempotent": True,
                           "max_buffered_body": "1KiB"})
    seen = []
    with Client(rampart.port) as client:
        for i in range(4):
            response = client.request("PUT", f"/big?i={i}", body=b"z" * 4096)
            seen.append((response.status, response.header("x-upstream-name")))
    assert (503, "a") in seen, seen
    assert len(a.requests()) + len(b.requests()) == 4


def test_connect_failure_to_a_dead_endpoint_is_retried_to_a_live_one(stack):
    dead = f"127.0.0.1:{helpers.free_port()}"  # nothing listens there
    b = stack.upstream("b")
    rampart = start(stack, [helpers.cluster("app", [dead, b.address])],
                    retry={"attempts": 2, "on": ["connect-failure"], "backoff": FAST})
    for i in range(6):
        response = get(rampart.port, f"/c?i={i}")
        assert response.status == 200, response
        assert response.header("x-upstream-name") == "b"
    totals = cluster_totals(rampart, "app")
    assert totals["connect_failure"] >= 2 and totals["retries"] == totals["connect_failure"], totals


# ------------------------------------------------------------ how long between attempts

def test_backoff_delays_lie_within_zero_and_the_cap(stack):
    a = stack.upstream("a", extra_args=["--fail-status", "503"])
    b = stack.upstream("b", extra_args=["--fail-status", "503"])
    rampart = start(stack, [helpers.cluster("app", [a.address, b.address])],
                    retry={"attempts": 3, "on": [503], "backoff": {"base": "40ms", "max": "80ms"}})
    with Client(rampart.port) as client:
        for i in range(8):
            response = client.request("GET", f"/b?i={i}")
            assert response.status == 503  # the last attempt's own answer
    gaps = []
    for target, attempts in by_target([a, b]).items():
        assert len(attempts) == 3, (target, attempts)
        assert attempts[0][1] != attempts[1][1], attempts  # each retry on the other endpoint
        gaps += [attempts[k + 1][0] - attempts[k][0] for k in range(2)]
    # Full jitter: each wait is in [0, cap] (plus the attempt itself, a few ms
    # locally); and not all of them near 0, or there would be no backoff.
    assert all(0 <= gap <= 0.080 + 0.060 for gap in gaps), gaps
    assert max(gaps) >= 0.010, gaps


def test_retry_after_is_honoured_and_a_longer_one_ends_the_retries(stack):
    a = stack.upstream("a", extra_args=["--fail-status", "503"])
    b = stack.upstream("b")
    a.control(retry_after="1")
    rampart = start(stack, [helpers.cluster("app", [a.address, b.address])],
                    retry={"attempts": 2, "on": [503], "backoff": FAST, "max_retry_after": "2s"})
    with Client(rampart.port, timeout=10) as client:
        for i in range(2):  # round robin: one of the two goes to a first
            response = client.request("GET", f"/ra?i={i}")
            assert response.status == 200, response
    attempts = by_target([a, b])
    waited = [seen for seen in attempts.values() if seen[0][1] == "a"]
    assert waited, attempts
    for seen in waited:
        assert [name for _, name in seen] == ["a", "b"], seen
        gap = seen[1][0] - seen[0][0]
        assert 0.9 <= gap <= 1.8, gap  # the upstream's 1 s, not the 5 ms backoff cap

    a.control(retry_after="5")  # over max_retry_after: no retry, its answer goes through
    names = []
    with Client(rampart.port) as client:
        for i in range(2):
            response = client.request("GET", f"/long?i={i}")
            names.append((response.status, response.header("x-upstream-name"),
                          response.header("retry-after")))
    assert (503, "a", "5") in names and (200, "b", None) in names, names
    assert len([t for t in by_target([a, b]) if t.startswith("/long")]) == 2
    assert sum(1 for r in a.requests() + b.requests() if r["target"].startswith("/long")) == 2


# ------------------------------------------------------------ never after the response began

def test_no_retry_once_response_bytes_reached_the_client(stack):
    a = stack.upstream("a")
    b = stack.upstream("b")
    rampart = start(stack, [helpers.cluster("app", [a.address, b.address])],
                    retry={"attempts": 3, "on": ["reset", 502, 503], "backoff": FAST})
    # Before any response byte: a reset is retried (each endpoint closes, attempts run out).
    response = get(rampart.port, "/close")
    body = assert_problem(response, 502)
    assert body["type"] == TYPE_PREFIX + "reset", body
    assert sum(1 for r in a.requests() + b.requests() if r["target"] == "/close") == 3
    # After the head went out: the connection drops mid-body, and nothing is resent.
    with Client(rampart.port) as client:
        client.send(b"GET /truncate HTTP/1.1\r\nHost: localhost\r\n\r\n")
        closed, received = client.wait_closed(5)
    assert closed and received.startswith(b"HTTP/1.1 200"), received
    assert sum(1 for r in a.requests() + b.requests() if r["target"] == "/truncate") == 1


# ------------------------------------------------------------ the budget

def test_the_budget_keeps_upstream_attempts_within_its_share_of_client_requests(stack):
    """Every endpoint answers 503 and the route allows 5 attempts: without a
    budget the upstreams would see up to 5x the client's requests."""
    a = stack.upstream("a", extra_args=["--fail-status", "503"])
    b = stack.upstream("b", extra_args=["--fail-status", "503"])
    percent = 20
    rampart = start(stack, [helpers.cluster("app", [a.address, b.address],
                                            retry_budget={"percent": percent, "min_retries": 1})],
                    retry={"attempts": 5, "on": [503], "backoff": {"base": "1ms", "max": "10ms"}})
    clients, per_client = 20, 15
    statuses = []
    lock = threading.Lock()
    deadline = time.monotonic() + 60

    def run(index):
        with Client(rampart.port, timeout=10) as client:
            for i in range(per_client):
                if time.monotonic() > deadline:
                    return
                response = client.request("GET", f"/budget?c={index}&i={i}")
                with lock:
                    statuses.append(response.status)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(70)
    n = clients * per_client
    assert len(statuses) == n and set(statuses) == {503}, (len(statuses), set(statuses))
    attempts = len(a.requests()) + len(b.requests())
    assert attempts <= (1 + percent / 100) * n + 10, (attempts, n)
    assert attempts > n  # retries did happen, within the budget
    totals = cluster_totals(rampart, "app")
    assert totals["retries"] == attempts - n, totals
    assert totals["retries_budget_refused"] > 0, totals


# ------------------------------------------------------------ circuit breakers

def assert_breaker_open(response, breaker):
    body = assert_problem(response, 503)
    assert body["type"] == TYPE_PREFIX + "breaker-open", body
    assert response.header("x-rampart-breaker") == breaker, response


def test_max_requests_breaker_answers_503_at_once_naming_itself(stack):
    a = stack.upstream("a")
    spec = helpers.cluster("app", [a.address], circuit_breakers={"max_requests": 1})
    del spec["max_requests"]  # the same limit: one key or the other
    rampart = start(stack, [spec])
    slow = Client(rampart.port, timeout=8)
    slow.send(helpers.build_request("GET", "/slow?ms=1500"))
    a.wait_for(lambda r: r["target"].startswith("/slow"))
    started = time.monotonic()
    assert_breaker_open(get(rampart.port, "/second"), "max_requests")
    assert time.monotonic() - started < 0.5  # at once, not queued
    assert slow.read_response().status == 200
    slow.close()
    assert get(rampart.port, "/third").status == 200
    assert "/second" not in a.targets()
    totals = cluster_totals(rampart, "app")
    assert totals["breaker_max_requests"] == 1, totals


def test_max_connections_breaker_counts_open_connections(stack):
    a = stack.upstream("a")
    rampart = start(stack, [helpers.cluster("app", [a.address],
                                            circuit_breakers={"max_connections": 1})])
    slow = Client(rampart.port, timeout=8)
    slow.send(helpers.build_request("GET", "/slow?ms=1500"))
    a.wait_for(lambda r: r["target"].startswith("/slow"))
    assert_breaker_open(get(rampart.port, "/second"), "max_connections")
    assert slow.read_response().status == 200
    slow.close()
    assert get(rampart.port, "/third").status == 200  # the pooled connection is reused
    totals = cluster_totals(rampart, "app")
    assert totals["breaker_max_connections"] == 1, totals


def test_max_pending_breaker_trips_while_a_connect_hangs(stack):
    # A loopback listener that never accepts, its backlog already full:
    # further connects to it stay pending (their SYNs are dropped).
    import socket
    hung = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hung.bind(("127.0.0.1", 0))
    hung.listen(0)
    address = f"127.0.0.1:{hung.getsockname()[1]}"
    fillers = []
    try:
        for _ in range(3):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(hung.getsockname())
            fillers.append(filler)
        time.sleep(0.2)
        rampart = start(stack, [helpers.cluster("app", [address], connect_timeout="3s",
                                                circuit_breakers={"max_pending": 1})])
        first = Client(rampart.port, timeout=8)
        first.send(helpers.build_request("GET", "/first"))
        time.sleep(0.3)  # its connect is pending now
        assert_breaker_open(get(rampart.port, "/second"), "max_pending")
        first.close()
        totals = cluster_totals(rampart, "app")
        assert totals["breaker_max_pending"] == 1, totals
    finally:
        for filler in fillers:
            filler.close()
        hung.close()


def test_max_retries_breaker_trips_while_another_retry_waits(stack):
    a = stack.upstream("a", extra_args=["--fail-status", "503"])
    b = stack.upstream("b", extra_args=["--fail-status", "503"])
    for upstream in (a, b):
        upstream.control(retry_after="1")  # each retry waits 1 s, holding its place
    rampart = start(stack, [helpers.cluster("app", [a.address, b.address],
                                            retry_budget={"percent": 100, "min_retries": 10},
                                            circuit_breakers={"max_retries": 1})],
                    retry={"attempts": 2, "on": [503], "backoff": FAST, "max_retry_after": "2s"})
    first = Client(rampart.port, timeout=8)
    first.send(helpers.build_request("GET", "/first"))
    deadline = time.monotonic() + 5
    while not any(r["target"] == "/first" for r in a.requests() + b.requests()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.1)  # its 503 came back: the retry is waiting
    assert_breaker_open(get(rampart.port, "/second"), "max_retries")
    response = first.read_response()
    assert response.status == 503 and response.header("x-rampart-breaker") is None, response
    first.close()
    assert sum(1 for r in a.requests() + b.requests() if r["target"] == "/first") == 2
    totals = cluster_totals(rampart, "app")
    assert totals["breaker_max_retries"] == 1 and totals["retries"] == 1, totals


def test_retries_and_trips_are_in_metrics(stack):
    dead = f"127.0.0.1:{helpers.free_port()}"
    b = stack.upstream("b")
    port, admin_port = helpers.free_port(), helpers.free_port()
    route = {"name": "all", "match": {"prefix": "/"}, "cluster": "app",
             "retry": {"attempts": 2, "on": ["connect-failure"], "backoff": FAST}}
    text = helpers.config(port, [helpers.cluster("app", [dead, b.address])],
                          [{"name": "default", "domains": ["*"], "routes": [route]}],
                          admin={"address": f"127.0.0.1:{admin_port}"})
    rampart = stack.rampart(text, port)
    helpers.wait_port(admin_port, 10, rampart.process)
    for i in range(4):
        assert get(rampart.port, f"/m?i={i}").status == 200
    metrics = get(admin_port, "/metrics").body.decode()
    found = dict(re.findall(r'rampart_cluster_events_total\{cluster="app",event="(\w+)"\} (\d+)',
                            metrics))
    assert int(found["retries"]) >= 2 and found["retries"] == found["connect_failure"], found
    assert found["breaker_max_requests"] == "0" and found["retries_budget_refused"] == "0", found


def test_a_chunked_body_on_an_idempotent_route_arrives_whole_the_second_time(stack):
    import hashlib
    a = stack.upstream("a", extra_args=["--fail-status", "503"])
    b = stack.upstream("b")
    rampart = start(stack, [helpers.cluster("app", [a.address, b.address])],
                    retry={"attempts": 2, "on": [503], "backoff": FAST, "idempotent": True})
    with Client(rampart.port) as client:
        for i in range(2):
            client.send(f"POST /chunk?i={i} HTTP/1.1\r\nHost: localhost\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".encode())
            response = client.read_response("POST")
            assert response.status == 200, response
            echo = response.json()
            assert echo["name"] == "b" and echo["body_len"] == 11, echo
            assert echo["body_sha256"] == hashlib.sha256(b"hello world").hexdigest()
    assert any(r["target"].startswith("/chunk") for r in a.requests())


def test_per_try_timeout_bounds_each_attempt_and_the_retry_goes_elsewhere(stack):
    a = stack.upstream("a", extra_args=["--delay-ms", "3000"])
    b = stack.upstream("b")
    rampart = start(stack, [helpers.cluster("app", [a.address, b.address])],
                    retry={"attempts": 2, "on": ["timeout"], "per_try_timeout": "300ms",
                           "backoff": FAST})
    with Client(rampart.port, timeout=10) as client:
        for i in range(2):  # round robin: one of them tries the slow endpoint first
            started = time.monotonic()
            response = client.request("GET", f"/t?i={i}")
            elapsed = time.monotonic() - started
            assert response.status == 200 and response.header("x-upstream-name") == "b", response
            assert elapsed < 1.5, elapsed  # 300 ms on a at most, then b: not a's 3 s
    assert any(r["target"].startswith("/t?") for r in a.requests())
    totals = cluster_totals(rampart, "app")
    assert totals["timeout"] >= 1 and totals["retries"] == totals["timeout"], totals
