"""The admin API's actions through the real binary: /config with its secrets
redacted, /clients/top, POST /clients/block and /clients/unblock (a blocked
source address is refused at accept, unblocked it is served), POST /drain,
the token on POSTs, the body limits, and the byte counters."""
import json
import socket
import time

import helpers
import prometheus_text

TOKEN = "s3cret-admin-token-0123"


def start(stack, token=None, workers=2, **top):
    upstream = stack.upstream("app")
    port = helpers.free_port()
    admin_port = helpers.free_port()
    admin = {"address": f"127.0.0.1:{admin_port}"}
    if token:
        admin["token"] = token
    text = helpers.simple_config(port, upstream.address, admin=admin, workers=workers, **top)
    rampart = stack.rampart(text, port)
    helpers.wait_port(admin_port, 10, rampart.process)
    return rampart, admin_port


def call(admin_port, method, path, body=None, token=None):
    headers = [("Authorization", f"Bearer {token}")] if token else []
    data = b""
    if body is not None:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        headers.append(("Content-Type", "application/json"))
    return helpers.get(admin_port, path, headers=headers, method=method, body=data)


def refused_at_accept(port, source, timeout=3.0):
    """True when a connection from `source` is closed before any response byte."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                        source_address=(source, 0))
    except ConnectionResetError:
        return True
    with sock:
        try:
            sock.sendall(helpers.build_request("GET", "/probe"))
            data = sock.recv(4096)
        except (BrokenPipeError, ConnectionResetError):
            return True
        except socket.timeout:
            return False
        return data == b""


def metric(admin_port, name, **labels):
    families = prometheus_text.parse(call(admin_port, "GET", "/metrics").body.decode())
    return prometheus_text.value(families, name, **labels)


def test_config_is_the_running_config_without_its_secrets(stack):
    rampart, admin_port = start(stack, token=TOKEN)
    response = call(admin_port, "GET", "/config", token=TOKEN)
    assert response.status == 200
    assert response.header("content-type") == "application/json"
    config = json.loads(response.body)
    assert config["admin"]["token"] == "<redacted>"
    assert TOKEN.encode() not in response.body
    # The rest is there as written: listeners, clusters, numbers as numbers.
    assert config["listeners"][0]["address"] == f"127.0.0.1:{rampart.port}"
    assert config["clusters"][0]["name"] == "app"
    assert config["workers"] == 2
    assert call(admin_port, "GET", "/config").status == 401


def test_block_refuses_at_accept_and_unblock_lets_in(stack):
    rampart, admin_port = start(stack)
    source = "127.0.0.77"
    assert helpers.get(rampart.port, "/before", source=source).status == 200
    response = call(admin_port, "POST", "/clients/block", {"address": source, "duration": "5m"})
    assert response.status == 200, response.body
    assert response.json() == {"blocked": f"{source}/32", "seconds": 300, "new": True}
    time.sleep(0.2)  # posted to every worker's loop
    # Both workers (SO_REUSEPORT spreads connections): every try is refused.
    for _ in range(8):
        assert refused_at_accept(rampart.port, source)
    # Another address is not touched.
    assert helpers.get(rampart.port, "/other", source="127.0.0.78").status == 200
    top = call(admin_port, "GET", "/clients/top").json()
    assert any(b["range"] == f"{source}/32" and 0 < b["seconds_left"] <= 300
               for b in top["blocked"])
    assert any(r["address"] == source and r["connections"] >= 1 for r in top["refused_at_accept"])
    assert metric(admin_port, "rampart_shield_refused_at_accept_total") >= 8

    response = call(admin_port, "POST", "/clients/unblock", {"address": source})
    assert response.status == 200
    assert response.json()["admin_block_lifted"] is True
    time.sleep(0.2)
    for _ in range(4):
        assert helpers.get(rampart.port, "/after", source=source).status == 200
    assert call(admin_port, "GET", "/clients/top").json()["blocked"] == []


def test_a_cidr_block_covers_the_range(stack):
    rampart, admin_port = start(stack, workers=1)
    assert call(admin_port, "POST", "/clients/block",
                {"address": "127.0.9.0/24", "duration": 60}).status == 200
    time.sleep(0.2)
    assert refused_at_accept(rampart.port, "127.0.9.1")
    assert refused_at_accept(rampart.port, "127.0.9.200")
    assert helpers.get(rampart.port, "/x", source="127.0.10.1").status == 200


def test_bad_orders_are_400_and_big_bodies_413(stack):
    _, admin_port = start(stack, workers=1)
    assert call(admin_port, "POST", "/clients/block", {"address": "nope"}).status == 400
    assert call(admin_port, "POST", "/clients/block", {"address": "10.0.0.1",
                                                       "duration": "1y"}).status == 400
    assert call(admin_port, "POST", "/clients/block", b"{not json").status == 400
    assert call(admin_port, "POST", "/clients/block", {"address": "10.0.0.1",
                                                       "extra": 1}).status == 400
    big = json.dumps({"address": "10.0.0.1", "pad": "x" * 5000}).encode()
    assert call(admin_port, "POST", "/clients/block", big).status == 413
    assert call(admin_port, "GET", "/clients/block").status == 405
    assert call(admin_port, "POST", "/metrics").status == 405


def test_clients_top_lists_a_busy_address(stack):
    rampart, admin_port = start(stack)
    busy, quiet = "127.0.0.91", "127.0.0.92"
    with helpers.Client(rampart.port, source=busy) as client:
        for _ in range(60):
            assert client.request("GET", "/busy").status == 200
    for _ in range(3):
        assert helpers.get(rampart.port, "/quiet", source=quiet).status == 200
    top = call(admin_port, "GET", "/clients/top").json()
    assert top["workers_answered"] == top["workers"] == 2
    counts = {t["address"]: t["requests"] for t in top["top"]}
    assert counts[busy] >= 60
    assert counts[quiet] >= 3
    assert top["top"][0]["address"] == busy


def test_a_post_from_another_origin_is_refused(stack):
    rampart, admin_port = start(stack, workers=1)
    headers = [("Origin", "http://evil.example"), ("Content-Type", "text/plain")]
    response = helpers.get(admin_port, "/drain", headers=headers, method="POST", body=b"x",
                           host=f"127.0.0.1:{admin_port}")
    assert response.status == 403
    time.sleep(0.3)
    assert rampart.process.poll() is None  # still serving
    assert call(admin_port, "GET", "/ready").status == 200


def test_posts_need_the_token_when_one_is_set(stack):
    rampart, admin_port = start(stack, token=TOKEN, workers=1)
    order = {"address": "127.0.0.55"}
    assert call(admin_port, "POST", "/clients/block", order).status == 401
    assert call(admin_port, "POST", "/drain").status == 401
    assert call(admin_port, "POST", "/clients/block", order, token="wrong" * 5).status == 401
    assert rampart.process.poll() is None  # not drained
    assert call(admin_port, "POST", "/clients/block", order, token=TOKEN).status == 200
    assert call(admin_port, "POST", "/clients/unblock", order, token=TOKEN).status == 200


def test_drain_turns_ready_503_and_exits_0(stack):
    rampart, admin_port = start(stack, workers=1)
    assert call(admin_port, "GET", "/ready").status == 200
    # A request in flight holds the drain open long enough to see /ready.
    with helpers.Client(rampart.port, timeout=10) as client:
        client.send(helpers.build_request("GET", "/slow?ms=1500"))
        time.sleep(0.2)
        response = call(admin_port, "POST", "/drain")
        assert response.status == 202 and response.json() == {"draining": True}
        deadline = time.monotonic() + 1.0
        status = None
        while time.monotonic() < deadline:
            status = call(admin_port, "GET", "/ready").status
            if status == 503:
                break
            time.sleep(0.05)
        assert status == 503
        assert client.read_response().status == 200  # the in-flight request finished
    assert rampart.process.wait(timeout=10) == 0
    assert "admin: drain requested" in rampart.stderr()


def test_byte_counters_rise(stack):
    rampart, admin_port = start(stack, workers=1)
    before_in = metric(admin_port, "rampart_bytes_received_total")
    before_out = metric(admin_port, "rampart_bytes_sent_total")
    body = b"y" * 1000
    for _ in range(5):
        assert helpers.get(rampart.port, "/bytes", method="POST", body=body).status == 200
    after_in = metric(admin_port, "rampart_bytes_received_total")
    after_out = metric(admin_port, "rampart_bytes_sent_total")
    assert after_in - before_in >= 5 * 1000
    assert after_out - before_out > 5 * 50  # at least a status line and headers each
    stats = call(admin_port, "GET", "/stats").json()
    assert stats["counters"]["bytes_received"] == after_in


def test_stats_has_history_refusals_listeners_and_clusters(stack):
    rampart, admin_port = start(stack, workers=1)
    for _ in range(20):
        assert helpers.get(rampart.port, "/h").status == 200
    assert helpers.get(rampart.port, "/limited/x", method="POST", body=b"z" * 2048).status == 413
    time.sleep(3.2)  # at least two samples of the admin thread (one a second)
    stats = call(admin_port, "GET", "/stats?history=60").json()
    history = stats["history"]
    assert history["interval_ms"] == 1000
    assert 2 <= len(history["t"]) <= 60
    assert len(history["rps"]) == len(history["t"]) == len(history["p99_ms"])
    assert sum(float(x) for x in history["rps"]) > 0
    assert stats["listeners"][0]["listener"] == "main"
    assert stats["listeners"][0]["requests"] == 21
    cluster = stats["clusters"][0]
    assert cluster["cluster"] == "app" and cluster["endpoints"] == 1 and cluster["healthy"] == 1
    assert cluster["requests"] == 20
    assert set(stats["refusals"]) >= {"auth", "policy", "rate-limit", "admission", "breaker",
                                      "shield", "overload"}
    assert metric(admin_port, "rampart_upstream_duration_seconds_count", cluster="app") == 20
    assert metric(admin_port, "rampart_listener_request_duration_seconds_count",
                  listener="main") == 21
    assert metric(admin_port, "rampart_cluster_endpoints_healthy", cluster="app") == 1
    endpoint = call(admin_port, "GET", "/config").json()["clusters"][0]["endpoints"][0]
    assert metric(admin_port, "rampart_endpoint_duration_seconds_count", cluster="app",
                  endpoint=endpoint) == 20
    # The 413 was refused after routing: it counts under its route.
    assert metric(admin_port, "rampart_requests_total", route="limited", code="4xx") == 1


def test_dashboard_is_served_without_external_assets(stack):
    _, admin_port = start(stack, token=TOKEN, workers=1)
    response = call(admin_port, "GET", "/dashboard")
    assert response.status == 200
    assert response.header("content-type") == "text/html; charset=utf-8"
    page = response.body.decode()
    assert "<svg" in page or "<canvas" in page or "createElementNS" in page
    for external in ("http://", "https://", "//cdn", "fonts.googleapis"):
        assert external not in page.replace("http://www.w3.org/2000/svg", "")
    assert "default-src 'self'" in response.header("content-security-policy")
