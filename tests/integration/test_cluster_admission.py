"""Adaptive concurrency and the fair queue in front of a cluster, through the
real binary against a real upstream that can be slowed down
(upstream_server.py --delay-ms, /_upstream/delay, /_upstream/stats).

Each test bounds its load in count and time; the upstream reports the most
requests it ever had in flight at once, which is what the limit protects.
"""
import hashlib
import json
import re
import threading
import time
import urllib.request

import helpers
from helpers import Client, assert_problem, get


def upstream_control(upstream, path):
    with urllib.request.urlopen(f"http://{upstream.address}{path}", timeout=5) as response:
        return json.loads(response.read())


def set_delay(upstream, ms):
    return upstream_control(upstream, f"/_upstream/delay?ms={ms}")


def upstream_stats(upstream, reset=False):
    return upstream_control(upstream, "/_upstream/stats" + ("?reset=1" if reset else ""))


def admission_totals(rampart, cluster="app"):
    """The shutdown line of the cluster's admission counters, as a dict."""
    rampart.stop()
    lines = [l for l in rampart.stderr().splitlines() if f"cluster '{cluster}' admission:" in l]
    assert lines, rampart.stderr()[-3000:]
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", lines[-1])}


def start(stack, adaptive, routes=None, authentication=None, delay_ms=0):
    upstream = stack.upstream("app")
    if delay_ms:
        set_delay(upstream, delay_ms)
    port = helpers.free_port()
    cluster = helpers.cluster("app", [upstream.address], adaptive_concurrency=adaptive,
                              response_timeout="10s")
    routes = routes or [{"name": "all", "match": {"prefix": "/"}, "cluster": "app"}]
    top = {"authentication": authentication} if authentication else {}
    text = helpers.config(port, [cluster], [{"name": "api", "domains": ["*"], "routes": routes}],
                          **top)
    return stack.rampart(text, port), upstream


class Burst:
    """`count` clients at once, each one request on its own connection."""

    def __init__(self, port, count, target="/", headers=None):
        self.results = [None] * count
        self.threads = [threading.Thread(target=self._one, args=(port, i, target, headers))
                        for i in range(count)]

    def _one(self, port, i, target, headers):
        began = time.monotonic()
        try:
            response = get(port, target, headers=headers, timeout=10)
            self.results[i] = (response, time.monotonic() - began)
        except Exception as error:  # reported by the assertions below
            self.results[i] = (error, time.monotonic() - began)

    def run(self):
        for thread in self.threads:
            thread.start()
        for thread in self.threads:
            thread.join(timeout=15)
        return self.results


def is_shed(response):
    return (getattr(response, "status", None) == 503
            and response.header("x-rampart-shed") == "adaptive-concurrency")


def test_a_slow_upstream_is_capped_at_the_limit_and_the_excess_queues_then_is_shed(stack):
    """While the upstream is fast the limit is free to grow; once it slows,
    no more than max_limit requests are ever in flight at it, requests beyond
    the limit wait in the queue and get a 503 when their queue timeout passes,
    and those beyond the queue's bound get one at once."""
    adaptive = {"min_limit": 2, "max_limit": 4, "initial_limit": 4, "probe_limit": 2,
                "min_rtt_samples": 4, "sample_window": "50ms", "min_samples": 4,
                "queue_min": 4, "queue_factor": 0, "retry_after": "2s",
                "queue": {"capacity": 16, "per_flow": 16, "timeout": "300ms"}}
    rampart, upstream = start(stack, adaptive)
    with Client(rampart.port) as client:  # fast: the min-RTT probe completes
        for _ in range(20):
            assert client.request("GET", "/warm").status == 200
    upstream_stats(upstream, reset=True)
    set_delay(upstream, 600)
    results = Burst(rampart.port, 16, "/slow-now").run()
    stats = upstream_stats(upstream)
    assert 1 <= stats["max_in_flight"] <= 4, stats
    ok = [r for r, _ in results if getattr(r, "status", None) == 200]
    shed = [(r, t) for r, t in results if is_shed(r)]
    assert len(ok) + len(shed) == 16, results
    assert 1 <= len(ok) <= 4, results
    for response, _ in shed:
        body = assert_problem(response, 503)
        assert response.header("retry-after") == "2"
        assert "upstream" in body["detail"]
    timed_out = [r for r, _ in shed if "waited too long" in r.json()["detail"]]
    totals = admission_totals(rampart)
    # Some waited in the queue and were shed at its 300 ms timeout (timers run
    # on the loop's coarse clock: a few ms early at most); the rest found the
    # queue at its bound of 4 and were shed at once.
    assert 1 <= len(timed_out) <= 4 and int(totals["timeouts"]) == len(timed_out), totals
    assert all(t >= 0.25 for r, t in shed if r in timed_out), [round(t, 3) for _, t in shed]
    assert int(totals["shed_limit"]) == len(shed) - len(timed_out) >= 1, totals
    assert int(totals["probes"]) >= 1, totals


def test_the_limit_falls_as_the_upstream_slows(stack):
    """The limit is learned, not fixed: at first 8 requests reach the slowed
    upstream at once; after a few waves of its new latency the limit has
    fallen towards min_limit, and a wave of 8 reaches it at most 3 at a time
    (the rest wait their turn in the queue and are still served)."""
    adaptive = {"min_limit": 2, "max_limit": 8, "initial_limit": 8, "probe_limit": 2,
                "min_rtt_samples": 4, "sample_window": "10ms", "min_samples": 2, "smoothing": 1,
                "queue_min": 16, "queue_factor": 0,
                "queue": {"capacity": 32, "timeout": "3s", "reserved_authenticated": 0}}
    rampart, upstream = start(stack, adaptive)
    with Client(rampart.port) as client:  # fast: the probe measures the idle latency
        for _ in range(10):
            assert client.request("GET", "/warm").status == 200
    set_delay(upstream, 100)
    peaks = []
    for _ in range(6):
        upstream_stats(upstream, reset=True)
        results = Burst(rampart.port, 8, "/wave").run()
        assert [getattr(r, "status", r) for r, _ in results] == [200] * 8, results
        peaks.append(upstream_stats(upstream)["max_in_flight"])
    assert peaks[0] > 3 and peaks[-1] <= 3, peaks
    totals = admission_totals(rampart)
    assert int(totals["limit"]) <= 3 and int(totals["windows"]) >= 3, totals
    assert totals["shed_limit"] == "0" and totals["timeouts"] == "0", totals


def api_keys(stack, *entries):
    lines = ["keys:"]
    for key, account in entries:
        lines += [f"  - name: {account}", f"    sha256: {hashlib.sha256(key.encode()).hexdigest()}",
                  f"    principal: {account}-svc", f"    account: {account}"]
    stack.write("keys.yaml", "\n".join(lines) + "\n")
    return {"identity_headers": {"principal": "x-auth-subject", "account": "x-auth-account"},
            "providers": [{"name": "partners", "api_keys": {"file": "keys.yaml"}}]}


def test_one_heavy_account_cannot_crowd_out_a_light_one(stack):
    """A heavy account keeps far more requests coming than the upstream can
    take; a light account's requests all get through meanwhile, because the
    heavy flow may only hold per_flow places of the queue and flows take
    turns, while the heavy account's excess is shed."""
    authentication = api_keys(stack, ("key-heavy-0001", "heavy"), ("key-light-0001", "light"))
    routes = [{"name": "all", "match": {"prefix": "/"}, "cluster": "app", "public": True,
               "auth": {"providers": ["partners"]}}]
    adaptive = {"min_limit": 2, "max_limit": 2, "initial_limit": 2, "probe_limit": 2,
                "queue_min": 6, "queue_factor": 0,
                "queue": {"capacity": 6, "per_flow": 3, "timeout": "3s"}}
    rampart, upstream = start(stack, adaptive, routes=routes, authentication=authentication,
                              delay_ms=150)
    heavy_statuses, light = [], []
    stop = threading.Event()

    def heavy():
        with Client(rampart.port, timeout=10) as client:
            while not stop.is_set():
                response = client.request("GET", "/heavy", [("X-Api-Key", "key-heavy-0001")])
                heavy_statuses.append((response.status, is_shed(response)))
                if response.status == 503:
                    time.sleep(0.02)  # keeps the loop off the CPU; the flow stays saturated

    threads = [threading.Thread(target=heavy) for _ in range(10)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.4)  # the heavy flow fills its share of the queue
        with Client(rampart.port, timeout=10) as client:
            for _ in range(5):
                began = time.monotonic()
                response = client.request("GET", "/light", [("X-Api-Key", "key-light-0001")])
                light.append((response.status, time.monotonic() - began))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
    assert [status for status, _ in light] == [200] * 5, light
    assert any(shed for _, shed in heavy_statuses), heavy_statuses[:20]
    assert all(status in (200, 503) for status, _ in heavy_statuses)
    assert upstream_stats(upstream)["max_in_flight"] <= 2
    light_echoes = [r for r in upstream.requests() if r["target"] == "/light"]
    assert len(light_echoes) == 5
    totals = admission_totals(rampart)
    assert int(totals["shed_flow_full"]) >= 1, totals
    assert int(totals["dequeued"]) >= 5, totals


def test_a_client_that_leaves_while_queued_frees_its_place(stack):
    """One slot and one place in the queue: a client that disconnects while
    it waits gives its place to the next request at once (and its request
    never reaches the upstream)."""
    adaptive = {"min_limit": 1, "max_limit": 1, "initial_limit": 1, "probe_limit": 1,
                "queue_min": 1, "queue_factor": 0,
                "queue": {"capacity": 1, "per_flow": 1, "timeout": "5s",
                          "reserved_authenticated": 0}}  # the one place is open to the anonymous
    rampart, upstream = start(stack, adaptive, delay_ms=700)
    holder = Client(rampart.port, timeout=10)
    holder.send(helpers.build_request("GET", "/holder"))
    upstream.wait_for(lambda r: r["target"] == "/holder")
    leaver = Client(rampart.port, timeout=10)
    leaver.send(helpers.build_request("GET", "/leaver"))
    time.sleep(0.1)  # queued behind the holder
    assert is_shed(get(rampart.port, "/refused")), "the queue's one place should be taken"
    leaver.close()
    time.sleep(0.1)
    response = get(rampart.port, "/after", timeout=10)  # takes the freed place, then the slot
    assert response.status == 200, response
    assert upstream_stats(upstream)["max_in_flight"] == 1  # it waited for the holder's slot
    assert holder.read_response().status == 200
    holder.close()
    targets = upstream.targets()
    assert "/leaver" not in targets and "/refused" not in targets, targets
    totals = admission_totals(rampart)
    assert totals["cancelled"] == "1", totals
    assert totals["dequeued"] == "1", totals


def test_a_queued_request_keeps_its_body_and_a_shed_one_closes(stack):
    """A request with a body waits like any other (its body is left unread
    meanwhile) and reaches the upstream whole once it has its slot; one shed
    with its body unread is answered and the connection closed."""
    adaptive = {"min_limit": 1, "max_limit": 1, "initial_limit": 1, "probe_limit": 1,
                "queue_min": 1, "queue_factor": 0,
                "queue": {"capacity": 1, "per_flow": 1, "timeout": "5s", "reserved_authenticated": 0}}
    rampart, upstream = start(stack, adaptive, delay_ms=300)
    holder = Client(rampart.port, timeout=10)
    holder.send(helpers.build_request("GET", "/holder"))
    upstream.wait_for(lambda r: r["target"] == "/holder")
    body = bytes(range(256)) * 400  # 100 KiB: more than one read
    poster = Client(rampart.port, timeout=10)
    poster.send(helpers.build_request("POST", "/upload", [("Content-Type", "application/octet-stream")],
                                      body))
    time.sleep(0.1)  # queued behind the holder, its body unread
    with Client(rampart.port, timeout=10) as refused:
        refused.send(helpers.build_request("POST", "/refused", body=b"x" * 10))
        response = refused.read_response()
        assert is_shed(response), response
        assert (response.header("connection") or "").lower() == "close"
        closed, _ = refused.wait_closed(5)
        assert closed
    response = poster.read_response()
    assert response.status == 200, response
    echo = response.json()
    assert echo["target"] == "/upload" and echo["body_len"] == len(body)
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert holder.read_response().status == 200
    # The connection goes on: the next request on it is served too.
    assert poster.request("GET", "/again").status == 200
    holder.close()
    poster.close()


def test_count_mode_never_queues_or_sheds_but_counts(stack):
    """mode: count decides as enforce would and counts it, but every request
    goes to the upstream at once, past the limit."""
    adaptive = {"mode": "count", "min_limit": 2, "max_limit": 2, "initial_limit": 2,
                "probe_limit": 2, "queue_min": 2, "queue_factor": 0,
                "queue": {"capacity": 8, "per_flow": 8, "timeout": "100ms"}}
    rampart, upstream = start(stack, adaptive, delay_ms=400)
    results = Burst(rampart.port, 10, "/counted").run()
    assert [getattr(r, "status", r) for r, _ in results] == [200] * 10, results
    assert upstream_stats(upstream)["max_in_flight"] > 2
    totals = admission_totals(rampart)
    assert totals["mode"] == "count"
    assert int(totals["would_queue"]) >= 1 and int(totals["would_shed"]) >= 1, totals
    for shed in ("shed_limit", "shed_flow_full", "shed_queue_full", "timeouts", "queued"):
        assert totals[shed] == "0", totals


def test_a_bad_adaptive_concurrency_section_is_refused_where_written(stack, tmp_path):
    upstream_address = "127.0.0.1:9"
    port = helpers.free_port()
    cluster = helpers.cluster("app", [upstream_address],
                              adaptive_concurrency={"max_limit": 4, "min_limit": 8,
                                                    "queue": {"per_flow": 0}})
    text = helpers.config(port, [cluster], [{"name": "api", "domains": ["*"],
                                             "routes": [helpers.route("all", "app")]}])
    path = stack.write("bad.yaml", text)
    import subprocess
    result = subprocess.run([helpers.rampart_bin(), "validate", "-c", str(path)],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert re.search(r"bad\.yaml:\d+:\d+: min_limit: 8 is more than max_limit 4", result.stderr + result.stdout)
    assert re.search(r"bad\.yaml:\d+:\d+: per_flow: expected an integer from 1", result.stderr + result.stdout)
