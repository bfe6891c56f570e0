"""The admin listener: /live, /ready, /stats and /metrics through the real
binary, the Prometheus text checked by a strict parser, the bearer token, and
the config's refusal of an open admin listener."""
import json
import signal
import subprocess
import threading
import time

import helpers
import prometheus_text
from helpers import rampart_bin

TOKEN = "s3cret-admin-token-0123"


def start(stack, admin_port, token=None):
    upstream = stack.upstream("app")
    port = helpers.free_port()
    admin = {"address": f"127.0.0.1:{admin_port}"}
    if token:
        admin["token"] = token
    rampart = stack.rampart(helpers.simple_config(port, upstream.address, admin=admin), port)
    helpers.wait_port(admin_port, 10, rampart.process)
    return rampart, upstream


def admin_get(port, path, token=None):
    headers = [("Authorization", f"Bearer {token}")] if token else None
    return helpers.get(port, path, headers=headers)


def test_live_and_ready(stack):
    admin_port = helpers.free_port()
    start(stack, admin_port)
    live = admin_get(admin_port, "/live")
    assert live.status == 200 and live.body == b"live\n"
    ready = admin_get(admin_port, "/ready")
    assert ready.status == 200 and ready.body == b"ready\n"
    missing = admin_get(admin_port, "/nope")
    assert missing.status == 404
    assert missing.header("content-type") == "application/problem+json"


def test_metrics_count_every_response_by_route_and_class(stack):
    admin_port = helpers.free_port()
    rampart, _ = start(stack, admin_port)
    for _ in range(20):
        assert helpers.get(rampart.port, "/hello").status == 200
    for _ in range(3):
        assert helpers.get(rampart.port, "/limited/x").status == 200
    # A request refused before routing counts under _unmatched.
    with helpers.Client(rampart.port) as client:
        client.send(b"GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")
        assert client.read_response().status == 400
    response = admin_get(admin_port, "/metrics")
    assert response.status == 200
    assert response.header("content-type").startswith("text/plain; version=0.0.4")
    families = prometheus_text.parse(response.body.decode())
    v = prometheus_text.value
    assert v(families, "rampart_requests_total", route="all", code="2xx") == 20
    assert v(families, "rampart_requests_total", route="limited", code="2xx") == 3
    assert v(families, "rampart_requests_total", route="_unmatched", code="4xx") == 1
    assert v(families, "rampart_request_duration_seconds_count", route="all") == 20
    assert v(families, "rampart_request_duration_seconds_bucket", route="all", le="+Inf") == 20
    # Loopback answers in well under a second: every one in the 1 s bucket.
    assert v(families, "rampart_request_duration_seconds_bucket", route="all", le="1") == 20
    assert 0 < v(families, "rampart_request_duration_seconds_sum", route="all") < 20
    # The malformed one never became a request (the parser refused its head).
    assert v(families, "rampart_requests_received_total") == 23
    assert v(families, "rampart_bad_requests_total") == 1
    assert v(families, "rampart_workers") == 1
    assert families["rampart_connections_open"]["type"] == "gauge"
    # Bounded labels: routes, clusters and fixed event names and reload
    # results (all from the config or the code), never an address or a principal.
    labels = {k for f in families.values() for _, ls, _ in f["samples"] for k in ls}
    assert labels <= {"route", "code", "le", "cluster", "event", "listener", "cause", "endpoint",
                      "result"}
    assert v(families, "rampart_config_reloads_total", result="ok") == 0
    assert v(families, "rampart_cluster_events_total", cluster="app", event="retries") == 0


def test_the_strict_parser_refuses_what_promtool_refuses():
    bad = [
        "# TYPE x counter\nx 1\n",                       # counter without _total
        "# TYPE x_total counter\nx_total{a=\"1} 1\n",     # unterminated label
        "# TYPE x_total counter\nx_total 1\nx_total 2\n",  # duplicate series
        "x_total 1\n",                                     # no TYPE
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE g gauge\ng one\n",
        "# TYPE g gauge\ng 1",                              # no final newline
    ]
    for text in bad:
        try:
            prometheus_text.parse(text)
        except prometheus_text.Invalid:
            continue
        raise AssertionError(f"accepted: {text!r}")


def test_stats_json_has_counters_routes_and_percentiles(stack):
    admin_port = helpers.free_port()
    rampart, _ = start(stack, admin_port)
    for _ in range(10):
        assert helpers.get(rampart.port, "/x").status == 200
    stats = json.loads(admin_get(admin_port, "/stats").body)
    assert stats["counters"]["requests"] == 10
    assert stats["counters"]["responses_2xx"] == 10
    route = next(r for r in stats["routes"] if r["route"] == "all")
    assert route["requests"] == 10 and route["2xx"] == 10
    assert 0 < route["p50_ms"] <= route["p90_ms"] <= route["p99_ms"] < 1000
    assert stats["latency"]["requests"] == 10
    assert stats["draining"] is False and stats["workers"] == 1


def test_a_token_is_required_when_set(stack):
    admin_port = helpers.free_port()
    start(stack, admin_port, token=TOKEN)
    refused = admin_get(admin_port, "/metrics")
    assert refused.status == 401
    assert refused.header("www-authenticate").startswith("Bearer")
    assert admin_get(admin_port, "/metrics", token=TOKEN + "x").status == 401
    assert admin_get(admin_port, "/metrics", token=TOKEN).status == 200
    assert admin_get(admin_port, "/stats", token=TOKEN).status == 200


def test_an_admin_listener_off_loopback_needs_a_token(tmp_path):
    path = tmp_path / "open-admin.yaml"
    path.write_text(helpers.simple_config(helpers.free_port(), "127.0.0.1:9",
                                          admin={"address": "0.0.0.0:9901"}))
    result = subprocess.run([rampart_bin(), "validate", "-c", str(path)], capture_output=True,
                            text=True, timeout=10)
    assert result.returncode == 1
    assert "a token is required" in result.stdout + result.stderr
    assert f"{path}:" in result.stdout + result.stderr  # file:line:col


def test_ready_turns_503_while_draining(stack):
    admin_port = helpers.free_port()
    rampart, _ = start(stack, admin_port)
    slow = threading.Thread(target=lambda: helpers.get(rampart.port, "/slow?ms=1500", timeout=10))
    slow.start()
    time.sleep(0.3)  # the slow request is in flight: the drain waits for it
    rampart.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 1.0
    status = None
    while time.monotonic() < deadline:
        status = admin_get(admin_port, "/ready").status
        if status == 503:
            break
        time.sleep(0.05)
    assert status == 503
    assert admin_get(admin_port, "/live").status == 200
    slow.join()
