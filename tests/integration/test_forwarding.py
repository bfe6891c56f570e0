"""What reaches the upstream (canonical target, rewritten headers) and the
errors Rampart answers itself (404, 502, 503, 504)."""
import threading
import time

import pytest

import helpers
from helpers import Client, assert_problem, echo_header, get


@pytest.mark.parametrize("sent,seen", [
    ("/api/./a//b/%7Euser", "/api/a/b/~user"),
    ("/a/b/../c", "/a/c"),
    ("//a///b", "/a/b"),
    ("/%41%62c-%5F", "/Abc-_"),
])
def test_upstream_receives_canonical_target(proxy, sent, seen):
    rampart, upstream = proxy
    response = get(rampart.port, sent)
    assert response.status == 200, response
    assert response.json()["target"] == seen
    assert upstream.targets() == [seen]


@pytest.mark.parametrize("target", ["/a/%2F/b", "/a/%2fb", "/a%5Cb", "/a%00b", "/../x", "/a/../../x",
                                    "/a#x", "/a\\b"])
def test_refused_targets(proxy, target):
    rampart, upstream = proxy
    response = get(rampart.port, target)
    assert_problem(response, 400)
    assert upstream.requests() == []


def test_hop_by_hop_headers_are_removed(proxy):
    rampart, upstream = proxy
    response = get(rampart.port, "/hop", headers=[
        ("Connection", "keep-alive, X-Secret-Hop"),
        ("X-Secret-Hop", "1"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Trailer", "X-Checksum"),
        ("Upgrade", "websocket"),
        ("Proxy-Connection", "keep-alive"),
        ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
        ("X-Kept", "yes"),
    ])
    assert response.status == 200
    echo = response.json()
    for name in ("X-Secret-Hop", "Keep-Alive", "TE", "Trailer", "Upgrade", "Proxy-Connection",
                 "Proxy-Authorization", "Transfer-Encoding"):
        assert echo_header(echo, name) == [], f"{name} reached the upstream: {echo['headers']}"
    for value in echo_header(echo, "Connection"):  # rampart may set its own, never forward the client's
        tokens = {t.strip().lower() for t in value.split(",")}
        assert tokens <= {"keep-alive", "close"}, value
    assert echo_header(echo, "X-Kept") == ["yes"]


def test_forwarded_headers_from_an_untrusted_client(proxy):
    rampart, upstream = proxy
    response = get(rampart.port, "/fwd", host="shop.example:8443", headers=[
        ("X-Forwarded-For", "6.6.6.6"),
        ("X-Forwarded-Proto", "https"),
        ("X-Request-Id", "client-chosen-id"),
    ])
    assert response.status == 200
    echo = response.json()
    assert echo_header(echo, "X-Forwarded-For") == ["127.0.0.1"]
    assert echo_header(echo, "X-Forwarded-Proto") == ["http"]
    assert echo_header(echo, "X-Forwarded-Host") == ["shop.example:8443"]
    via = echo_header(echo, "Via")
    assert via and "rampart" in via[-1], via
    request_ids = echo_header(echo, "X-Request-Id")
    assert len(request_ids) == 1 and request_ids[0] and request_ids[0] != "client-chosen-id", request_ids
    assert echo_header(echo, "Host") == ["shop.example:8443"]


def test_request_ids_differ_between_requests(proxy):
    rampart, _ = proxy
    ids = {echo_header(get(rampart.port, f"/id/{i}").json(), "X-Request-Id")[0] for i in range(5)}
    assert len(ids) == 5


@pytest.fixture
def trusted(stack):
    upstream = stack.upstream()
    port = helpers.free_port()
    rampart = stack.rampart(helpers.simple_config(port, upstream.address, trusted_proxies=["127.0.0.2/32"]), port)
    return rampart, upstream


def test_trusted_proxy_keeps_and_appends(trusted):
    rampart, _ = trusted
    response = get(rampart.port, "/trusted", source="127.0.0.2", headers=[
        ("X-Forwarded-For", "203.0.113.9"),
        ("X-Request-Id", "abc-123"),
    ])
    assert response.status == 200
    echo = response.json()
    assert echo_header(echo, "X-Forwarded-For") == ["203.0.113.9, 127.0.0.2"]
    assert echo_header(echo, "X-Request-Id") == ["abc-123"]


def test_untrusted_peer_with_trusted_list_configured(trusted):
    rampart, _ = trusted
    response = get(rampart.port, "/untrusted", headers=[
        ("X-Forwarded-For", "203.0.113.9"),
        ("X-Request-Id", "abc-123"),
    ])
    echo = response.json()
    assert echo_header(echo, "X-Forwarded-For") == ["127.0.0.1"]
    assert echo_header(echo, "X-Request-Id") != ["abc-123"]


# ------------------------------------------------------------ local replies

def test_404_when_no_route_matches(stack):
    upstream = stack.upstream()
    port = helpers.free_port()
    text = helpers.config(port, [helpers.cluster("app", [upstream.address])], [
        {"name": "only", "domains": ["only.example"],
         "routes": [{"name": "api", "match": {"prefix": "/api", "methods": ["GET"]}, "cluster": "app"}]}])
    rampart = stack.rampart(text, port)
    assert get(rampart.port, "/api/ok", host="only.example").status == 200
    assert_problem(get(rampart.port, "/api/ok", host="other.example"), 404)
    assert_problem(get(rampart.port, "/nope", host="only.example"), 404)
    assert_problem(get(rampart.port, "/api/ok", host="only.example", method="DELETE"), 404)
    assert upstream.targets() == ["/api/ok"]


def test_502_when_upstream_refuses_connections(stack):
    port = helpers.free_port()
    dead = helpers.free_port()
    rampart = stack.rampart(helpers.simple_config(port, f"127.0.0.1:{dead}"), port)
    started = time.monotonic()
    assert_problem(get(rampart.port, "/x"), 502)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("path", ["/close", "/garbage"])
def test_502_when_upstream_misbehaves(proxy, path):
    rampart, upstream = proxy
    assert_problem(get(rampart.port, path), 502)
    assert upstream.targets()[:1] == [path]


def test_504_when_upstream_is_too_slow(stack):
    rampart, upstream = stack.simple(cluster_overrides={"response_timeout": "1s"})
    started = time.monotonic()
    assert_problem(get(rampart.port, "/slow?ms=4000", timeout=6), 504)
    elapsed = time.monotonic() - started
    assert 0.8 <= elapsed < 3.0, elapsed
    # A fast request still works afterwards.
    assert get(rampart.port, "/fast").status == 200


def test_503_over_max_requests(stack):
    rampart, upstream = stack.simple(cluster_overrides={"max_requests": 1})
    slow = Client(rampart.port, timeout=8)
    slow.send(helpers.build_request("GET", "/slow?ms=1500"))
    upstream.wait_for(lambda r: r["target"].startswith("/slow"))
    assert_problem(get(rampart.port, "/second"), 503)
    assert slow.read_response().status == 200
    slow.close()
    assert get(rampart.port, "/third").status == 200
    assert "/second" not in upstream.targets()


def test_concurrent_requests_all_succeed(proxy):
    rampart, upstream = proxy
    results = []

    def worker(i):
        with Client(rampart.port, timeout=10) as client:
            for j in range(10):
                response = client.request("GET", f"/c/{i}/{j}")
                results.append(response.status == 200 and response.json()["target"] == f"/c/{i}/{j}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == 80 and all(results)
