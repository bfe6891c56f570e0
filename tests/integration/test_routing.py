"""Routing through the real binary: virtual hosts, match kinds, order,
methods and headers. Each cluster is its own upstream, which names itself."""
import helpers
from helpers import assert_problem, get


def start(stack, names, vhosts):
    upstreams = {name: stack.upstream(name) for name in names}
    clusters = [helpers.cluster(name, [u.address]) for name, u in upstreams.items()]
    port = helpers.free_port()
    return stack.rampart(helpers.config(port, clusters, vhosts), port), upstreams


def served_by(response):
    assert response.status == 200, response
    return response.header("x-upstream-name")


def test_prefix_matches_on_segment_boundary(stack):
    rampart, _ = start(stack, ["app"], [
        {"name": "v", "domains": ["*"], "routes": [helpers.route("api", "app", prefix="/api")]}])
    assert served_by(get(rampart.port, "/api")) == "app"
    assert served_by(get(rampart.port, "/api/x")) == "app"
    assert served_by(get(rampart.port, "/api?q=1")) == "app"
    assert_problem(get(rampart.port, "/apix"), 404)
    assert_problem(get(rampart.port, "/ap"), 404)


def test_exact_vhost_beats_wildcard_beats_catch_all(stack):
    rampart, _ = start(stack, ["wild", "exact", "fallback"], [
        {"name": "any", "domains": ["*"], "routes": [helpers.route("r-any", "fallback")]},
        {"name": "wild", "domains": ["*.example.com"], "routes": [helpers.route("r-wild", "wild")]},
        {"name": "exact", "domains": ["api.example.com"], "routes": [helpers.route("r-exact", "exact")]},
    ])
    assert served_by(get(rampart.port, "/", host="api.example.com")) == "exact"
    assert served_by(get(rampart.port, "/", host="shop.example.com")) == "wild"
    assert served_by(get(rampart.port, "/", host="example.org")) == "fallback"


def test_host_match_is_case_insensitive(stack):
    rampart, _ = start(stack, ["exact"], [
        {"name": "exact", "domains": ["api.example.com"], "routes": [helpers.route("r", "exact")]}])
    assert served_by(get(rampart.port, "/", host="API.Example.COM")) == "exact"
    assert_problem(get(rampart.port, "/", host="www.example.com"), 404)


def test_first_declared_route_wins(stack):
    rampart, _ = start(stack, ["one", "two"], [
        {"name": "v", "domains": ["*"], "routes": [
            helpers.route("broad", "one", prefix="/a"),
            helpers.route("narrow", "two", prefix="/a/b"),
            helpers.route("rest", "two", prefix="/"),
        ]}])
    assert served_by(get(rampart.port, "/a/b/c")) == "one"
    assert served_by(get(rampart.port, "/z")) == "two"


def test_method_set(stack):
    rampart, upstreams = start(stack, ["app"], [
        {"name": "v", "domains": ["*"], "routes": [
            helpers.route("read", "app", prefix="/", methods=["GET", "HEAD"])]}])
    assert served_by(get(rampart.port, "/m")) == "app"
    assert_problem(get(rampart.port, "/m", method="POST", body=b"x"), 404)
    assert_problem(get(rampart.port, "/m", method="DELETE"), 404)
    assert [r["method"] for r in upstreams["app"].requests()] == ["GET"]


def test_header_match(stack):
    rampart, _ = start(stack, ["canary", "stable"], [
        {"name": "v", "domains": ["*"], "routes": [
            helpers.route("canary", "canary", prefix="/", headers=[{"name": "x-canary", "value": "1"}]),
            helpers.route("stable", "stable", prefix="/"),
        ]}])
    assert served_by(get(rampart.port, "/h", headers=[("X-Canary", "1")])) == "canary"
    assert served_by(get(rampart.port, "/h", headers=[("X-Canary", "2")])) == "stable"
    assert served_by(get(rampart.port, "/h")) == "stable"


def test_exact_and_regex_matches(stack):
    rampart, _ = start(stack, ["exact", "regex"], [
        {"name": "v", "domains": ["*"], "routes": [
            helpers.route("health", "exact", exact="/health"),
            helpers.route("numbers", "regex", regex="^/r/[0-9]+$"),
        ]}])
    assert served_by(get(rampart.port, "/health")) == "exact"
    assert_problem(get(rampart.port, "/health/x"), 404)
    assert served_by(get(rampart.port, "/r/123")) == "regex"
    assert_problem(get(rampart.port, "/r/abc"), 404)


def test_routes_match_the_canonical_path(stack):
    rampart, upstreams = start(stack, ["app"], [
        {"name": "v", "domains": ["*"], "routes": [helpers.route("api", "app", prefix="/api")]}])
    assert served_by(get(rampart.port, "/x/../api//v1")) == "app"
    assert served_by(get(rampart.port, "/%61pi/v2")) == "app"
    assert_problem(get(rampart.port, "/api/../admin"), 404)
    assert upstreams["app"].targets() == ["/api/v1", "/api/v2"]


def test_round_robin_spreads_over_endpoints(stack):
    first, second = stack.upstream("first"), stack.upstream("second")
    port = helpers.free_port()
    text = helpers.config(port, [helpers.cluster("app", [first.address, second.address])],
                          [{"name": "v", "domains": ["*"], "routes": [helpers.route("r", "app")]}])
    rampart = stack.rampart(text, port)
    names = [served_by(get(rampart.port, f"/rr/{i}")) for i in range(10)]
    assert set(names) == {"first", "second"}, names
