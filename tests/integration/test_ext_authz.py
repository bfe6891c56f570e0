"""External authorization through the real binary and a real authorizer
process on loopback (authorizer_server.py, which logs every check it gets):
allow, deny, headers added upstream and forged copies removed, the canonical
path, decision caching with TTL and stale-if-error, fail closed and
failure_mode allow, the per-call timeout, the circuit breaker, keep-alive
reuse, and a client that leaves while its check is out."""
import json
import re
import select
import subprocess
import time
from pathlib import Path

import helpers
import jose
from helpers import Client, assert_problem, get

HERE = Path(__file__).resolve().parent
KEY = jose.HmacKey("hs-1", b"0123456789abcdef0123456789abcdef")
AUTHENTICATION = {"providers": [{"name": "users", "jwt": {"issuers": [{
    "issuer": "https://id.test", "algorithms": ["HS256"], "jwks_file": "jwks.json",
    "audiences": ["orders"], "claims": {"principal": "sub", "account": "tenant", "roles": "roles"}}]}}]}
POLICIES = [
    {"name": "signed-in", "rules": [{"name": "any", "effect": "allow", "authenticated": True}]},
    {"name": "no-secret", "rules": [{"name": "not-secret", "effect": "deny", "paths": ["/secret/**"]},
                                    {"name": "rest", "effect": "allow"}]},
]


def bearer(subject="alice", account="acme"):
    tok = jose.token(KEY, subject=subject, roles=["user"], tenant=account)
    return [("Authorization", f"Bearer {tok}")]


class Authorizer:
    """authorizer_server.py as its own process (stopping it drops every connection)."""

    def __init__(self, workdir, port=0):
        self.log_path = Path(workdir) / f"authorizer-{time.monotonic_ns()}.log"
        self.log_path.touch()
        self.process = subprocess.Popen(
            [helpers.PYTHON, str(HERE / "authorizer_server.py"), "--port", str(port), "--log",
             str(self.log_path)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        ready, _, _ = select.select([self.process.stdout], [], [], 10)
        line = self.process.stdout.readline().decode() if ready else ""
        match = re.match(r"PORT (\d+)", line)
        if not match:
            self.stop()
            raise AssertionError(f"authorizer did not report its port: {line!r}")
        self.port = int(match.group(1))

    def calls(self):
        with open(self.log_path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def header(self, call, name):
        return [v for n, v in call["headers"] if n.lower() == name.lower()]

    def stop(self):
        helpers.stop_process(self.process, timeout=5)
        self.process.stdout.close()


def authorizer_spec(port, **overrides):
    spec = {"name": "opa", "url": f"http://127.0.0.1:{port}/check", "timeout": "300ms",
            "send_headers": ["x-tenant-hint"], "upstream_headers": ["x-user-plan", "x-authz-subject"],
            "circuit_breaker": {"failures": 0, "open_for": "1s"}}
    spec.update(overrides)
    return spec


def routes(failure_mode="deny"):
    return [
        {"name": "orders", "match": {"prefix": "/orders"}, "cluster": "app",
         "auth": {"providers": ["users"], "allow_anonymous": True}, "policy": "no-secret",
         "ext_authz": {"authorizer": "opa", "failure_mode": failure_mode}},
        {"name": "lenient", "match": {"prefix": "/lenient"}, "cluster": "app",
         "auth": {"providers": ["users"], "allow_anonymous": True},
         "ext_authz": {"authorizer": "opa", "failure_mode": "allow"}},
        {"name": "admin", "match": {"prefix": "/admin"}, "cluster": "app",
         "auth": {"providers": ["users"], "allow_anonymous": True},
         "ext_authz": {"authorizer": "opa"}},
        {"name": "secret", "match": {"prefix": "/secret"}, "cluster": "app", "policy": "no-secret",
         "ext_authz": {"authorizer": "opa"}},
        {"name": "open", "match": {"prefix": "/"}, "cluster": "app", "public": True},
    ]


def start(stack, authorizer_port, **spec):
    stack.write("jwks.json", jose.jwks(KEY))
    upstream = stack.upstream("app")
    port = helpers.free_port()
    text = helpers.config(port, [helpers.cluster("app", [upstream.address])],
                          [{"name": "api", "domains": ["*"], "routes": routes()}],
                          authentication=AUTHENTICATION, policies=POLICIES,
                          authorizers=[authorizer_spec(authorizer_port, **spec)])
    return stack.rampart(text, port), upstream


def authorizer(stack):
    a = Authorizer(stack.workdir)
    stack.processes.append(a)
    return a


def totals(rampart):
    rampart.stop()
    line = [l for l in rampart.stderr().splitlines() if "authorizer 'opa':" in l]
    assert line, rampart.stderr()[-2000:]
    return dict(pair.split("=") for pair in line[-1].split("authorizer 'opa':")[1].split())


def test_allow_sends_canonical_request_and_identity_and_adds_headers_upstream(stack):
    auth = authorizer(stack)
    rampart, upstream = start(stack, auth.port)
    headers = bearer("alice", "acme") + [("X-Tenant-Hint", "blue"), ("X-User-Plan", "forged"),
                                         ("X-Authz-Subject", "mallory"), ("Cookie", "s=1")]
    response = get(rampart.port, "/orders/x/../7?full=1", headers=headers)
    assert response.status == 200, response
    [call] = auth.calls()
    assert call["method"] == "GET" and call["target"] == "/check"
    assert auth.header(call, "X-Forwarded-Method") == ["GET"]
    assert auth.header(call, "X-Forwarded-Uri") == ["/orders/7?full=1"]  # the canonical target
    assert auth.header(call, "X-Forwarded-Host") == ["localhost"]
    assert auth.header(call, "x-auth-subject") == ["alice"]
    assert auth.header(call, "x-auth-account") == ["acme"]
    assert auth.header(call, "X-Rampart-Route") == ["orders"]
    assert auth.header(call, "X-Tenant-Hint") == ["blue"]  # listed in send_headers
    assert auth.header(call, "Cookie") == [] and auth.header(call, "Authorization") == []
    echo = response.json()
    assert echo["target"] == "/orders/7?full=1"
    assert helpers.echo_header(echo, "x-user-plan") == ["gold"]  # the forged copy is gone
    assert helpers.echo_header(echo, "x-authz-subject") == ["alice"]
    assert helpers.echo_header(echo, "x-not-copied") == []  # not in upstream_headers
    # A route that asks no authorizer never forwards a client's copy either.
    echo = get(rampart.port, "/plain", headers=[("X-User-Plan", "forged")]).json()
    assert helpers.echo_header(echo, "x-user-plan") == []
    assert len(auth.calls()) == 1


def test_deny_is_403_problem_and_never_reaches_the_upstream(stack):
    auth = authorizer(stack)
    rampart, upstream = start(stack, auth.port)
    for target in ("/orders/deny", "/orders/unauth"):
        body = assert_problem(get(rampart.port, target, headers=bearer()), 403)
        assert "authorizer" in body["detail"] and "no" not in body["detail"].split()
    assert upstream.targets() == []
    assert len(auth.calls()) == 2


def test_canonical_path_is_what_the_authorizer_sees(stack):
    auth = authorizer(stack)
    rampart, upstream = start(stack, auth.port)
    with Client(rampart.port) as client:
        for target in ("/x/../admin/panel", "//admin/./panel", "/%61dmin/panel"):
            assert client.request("GET", target).status == 200
    assert [auth.header(c, "X-Forwarded-Uri") for c in auth.calls()] == [["/admin/panel"]] * 3
    assert upstream.targets() == ["/admin/panel"] * 3


def test_local_deny_wins_and_costs_no_call(stack):
    auth = authorizer(stack)
    rampart, upstream = start(stack, auth.port)
    assert_problem(get(rampart.port, "/secret/plans"), 403)
    assert auth.calls() == [] and upstream.targets() == []


def test_cached_decisions_by_key_and_ttl(stack):
    auth = authorizer(stack)
    cache = {"key": ["principal", "route"], "ttl": "600ms", "stale_if_error": "0s"}
    rampart, upstream = start(stack, auth.port, cache=cache)
    for _ in range(3):
        echo = get(rampart.port, "/orders/1", headers=bearer("alice")).json()
        assert helpers.echo_header(echo, "x-user-plan") == ["gold"]  # a cached allow adds them too
    assert len(auth.calls()) == 1
    assert get(rampart.port, "/orders/2", headers=bearer("bob")).status == 200  # another principal
    assert len(auth.calls()) == 2
    for _ in range(2):  # a cached deny is served without a call too
        assert_problem(get(rampart.port, "/admin/deny"), 403)
    assert len(auth.calls()) == 3
    time.sleep(0.8)  # past the ttl
    assert get(rampart.port, "/orders/1", headers=bearer("alice")).status == 200
    assert len(auth.calls()) == 4
    counts = totals(rampart)
    assert counts["calls"] == "4" and counts["cache_hits"] == "3", counts


def test_stale_decision_served_while_authorizer_is_down_then_fail_closed(stack):
    auth = authorizer(stack)
    cache = {"key": ["principal", "route"], "ttl": "200ms", "stale_if_error": "1500ms"}
    rampart, upstream = start(stack, auth.port, cache=cache)
    assert get(rampart.port, "/orders/1", headers=bearer("alice")).status == 200
    auth.stop()
    time.sleep(0.4)  # past the ttl, inside the stale window
    echo = get(rampart.port, "/orders/1", headers=bearer("alice")).json()
    assert helpers.echo_header(echo, "x-user-plan") == ["gold"]
    # Nothing cached for bob: fail closed, 503.
    assert_problem(get(rampart.port, "/orders/1", headers=bearer("bob")), 503)
    time.sleep(1.5)  # past ttl + stale_if_error
    assert_problem(get(rampart.port, "/orders/1", headers=bearer("alice")), 503)
    # failure_mode: allow lets the request through.
    assert get(rampart.port, "/lenient/x", headers=bearer("bob")).status == 200
    assert upstream.targets() == ["/orders/1", "/orders/1", "/lenient/x"]
    counts = totals(rampart)
    assert counts["stale_uses"] == "1" and counts["failed_closed"] == "2", counts
    assert counts["failed_open"] == "1", counts


def test_unreachable_authorizer_fails_closed_unless_the_route_allows(stack):
    rampart, upstream = start(stack, helpers.free_port())
    body = assert_problem(get(rampart.port, "/orders/1"), 503)
    assert "127.0.0.1" not in json.dumps(body)
    assert get(rampart.port, "/lenient/1").status == 200
    assert upstream.targets() == ["/lenient/1"]


def test_slow_authorizer_is_answered_within_the_timeout(stack):
    auth = authorizer(stack)
    rampart, upstream = start(stack, auth.port, timeout="300ms")
    began = time.monotonic()
    assert_problem(get(rampart.port, "/orders/slow"), 503)
    elapsed = time.monotonic() - began
    assert 0.25 <= elapsed < 1.0, elapsed
    # The worker was not blocked meanwhile: another request is served at once.
    assert get(rampart.port, "/plain").status == 200
    assert upstream.targets() == ["/plain"]
    assert totals(rampart)["timeouts"] == "1"


def test_circuit_opens_after_consecutive_failures_then_probes(stack):
    auth = authorizer(stack)
    rampart, upstream = start(stack, auth.port,
                              circuit_breaker={"failures": 3, "open_for": "800ms"})
    for _ in range(6):
        assert_problem(get(rampart.port, "/orders/boom"), 503)
    assert len(auth.calls()) == 3  # the last three never reached it
    time.sleep(1.0)
    assert get(rampart.port, "/orders/fine").status == 200  # the half-open probe succeeds
    assert get(rampart.port, "/orders/fine2").status == 200  # closed again
    assert len(auth.calls()) == 5
    counts = totals(rampart)
    assert counts["circuit_opens"] == "1" and counts["short_circuited"] == "3", counts


def test_checks_reuse_a_keep_alive_connection(stack):
    auth = authorizer(stack)
    rampart, upstream = start(stack, auth.port)
    for i in range(5):
        assert get(rampart.port, f"/orders/{i}").status == 200
    assert {c["conn"] for c in auth.calls()} == {auth.calls()[0]["conn"]}
    assert len(auth.calls()) == 5


def test_client_leaving_while_its_check_is_out(stack):
    auth = authorizer(stack)
    rampart, upstream = start(stack, auth.port, timeout="1s")
    for _ in range(5):
        client = Client(rampart.port)
        client.send(helpers.build_request("GET", "/orders/slow"))
        time.sleep(0.05)
        client.close()
    # Still serving, and nothing went upstream for the clients that left.
    assert get(rampart.port, "/orders/ok").status == 200
    time.sleep(1.2)  # every abandoned call has timed out
    assert get(rampart.port, "/orders/ok2").status == 200
    assert upstream.targets() == ["/orders/ok", "/orders/ok2"]
    assert rampart.process.poll() is None
    counts = totals(rampart)
    assert counts["abandoned"] == "5", counts


def test_ext_authz_example_end_to_end(stack, tmp_path):
    # examples/ext-authz.yaml as documented, on free ports.
    import shutil
    shutil.copytree(helpers.ROOT / "examples" / "keys", tmp_path / "keys")
    auth = authorizer(stack)
    upstream = stack.upstream("demo")
    port = helpers.free_port()
    text = (helpers.ROOT / "examples" / "ext-authz.yaml").read_text()
    assert "127.0.0.1:9100" in text and "127.0.0.1:8082" in text and "[127.0.0.1:9000]" in text
    text = text.replace("127.0.0.1:9100", f"127.0.0.1:{auth.port}")
    text = text.replace("127.0.0.1:8082", f"127.0.0.1:{port}")
    text = text.replace("[127.0.0.1:9000]", f"[{upstream.address}]").replace("workers: auto", "workers: 1")
    rampart = stack.rampart(text, port)
    key = [("x-api-key", "demo-key-change-me")]
    response = get(port, "/orders/7", headers=key + [("X-User-Plan", "platinum")])
    assert response.status == 200
    assert helpers.echo_header(response.json(), "x-user-plan") == ["gold"]
    assert_problem(get(port, "/orders/deny", headers=key), 403)
    assert_problem(get(port, "/orders/7", headers=key, method="DELETE"), 403)  # local deny: no call
    assert get(port, "/orders/7", headers=key).status == 200  # cached: no call
    assert len(auth.calls()) == 2
    assert get(port, "/catalog/1").status == 200  # anonymous, the authorizer alone decides
    assert auth.header(auth.calls()[-1], "x-auth-subject") == []
    result = subprocess.run([helpers.rampart_bin(), "validate", "-c",
                             str(helpers.ROOT / "examples" / "ext-authz.yaml")],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr


def test_authorizer_restart_on_the_same_port_costs_no_failure(stack):
    # The pooled connection dies with the old process; the next check must
    # go out on a fresh one, not fail.
    auth = authorizer(stack)
    rampart, upstream = start(stack, auth.port)
    assert get(rampart.port, "/orders/1").status == 200
    auth.stop()
    again = Authorizer(stack.workdir, port=auth.port)
    stack.processes.append(again)
    for i in range(3):
        assert get(rampart.port, f"/orders/{i}").status == 200
    assert len(again.calls()) == 3
    assert totals(rampart)["failures"] == "0"


def test_concurrent_misses_for_one_key_cost_one_call(stack):
    auth = authorizer(stack)
    rampart, upstream = start(stack, auth.port, timeout="3s",
                              cache={"key": ["principal", "route"], "ttl": "30s"})
    clients = [Client(rampart.port, timeout=10) for _ in range(5)]
    for client in clients:  # the authorizer takes 2 s over /slow: all five wait together
        client.send(helpers.build_request("GET", "/orders/slow", bearer("alice")))
    clients[4].close()  # one leaves; the others are still answered
    for client in clients[:4]:
        assert client.read_response().status == 200
        client.close()
    assert len(auth.calls()) == 1
    assert len(upstream.targets()) == 4
    counts = totals(rampart)
    assert counts["coalesced"] == "4" and counts["abandoned"] == "1", counts


def test_a_cluster_can_be_the_authorizer(stack):
    auth = authorizer(stack)
    stack.write("jwks.json", jose.jwks(KEY))
    upstream = stack.upstream("app")
    port = helpers.free_port()
    spec = authorizer_spec(auth.port)
    del spec["url"]
    spec.update({"cluster": "checks", "path": "/v1/allow?strict=1"})
    text = helpers.config(port, [helpers.cluster("app", [upstream.address]),
                                 helpers.cluster("checks", [f"127.0.0.1:{auth.port}"])],
                          [{"name": "api", "domains": ["*"], "routes": routes()}],
                          authentication=AUTHENTICATION, policies=POLICIES, authorizers=[spec])
    rampart = stack.rampart(text, port)
    assert get(rampart.port, "/orders/1").status == 200
    assert_problem(get(rampart.port, "/orders/deny"), 403)
    assert [c["target"] for c in auth.calls()] == ["/v1/allow?strict=1"] * 2


def test_the_authorizers_cache_control_can_shorten_or_forbid_caching(stack):
    auth = authorizer(stack)
    rampart, upstream = start(stack, auth.port,
                              cache={"key": ["principal", "path"], "ttl": "30s"})
    for _ in range(2):
        assert get(rampart.port, "/orders/nostore").status == 200
    assert len(auth.calls()) == 2  # no-store: asked every time
    for _ in range(2):
        assert get(rampart.port, "/orders/maxage1").status == 200
    assert len(auth.calls()) == 3  # max-age=1: cached...
    time.sleep(1.2)
    assert get(rampart.port, "/orders/maxage1").status == 200
    assert len(auth.calls()) == 4  # ...for one second, not the config's 30


def test_max_pending_bounds_the_checks_in_flight(stack):
    auth = authorizer(stack)
    rampart, upstream = start(stack, auth.port, timeout="3s", max_pending=1)
    first = Client(rampart.port, timeout=10)
    first.send(helpers.build_request("GET", "/orders/slow"))
    time.sleep(0.2)  # its check is out for 2 s
    began = time.monotonic()
    assert_problem(get(rampart.port, "/orders/other"), 503)  # no slot: failed closed at once
    assert time.monotonic() - began < 0.5
    assert get(rampart.port, "/lenient/other").status == 200  # failure_mode: allow
    assert first.read_response().status == 200
    first.close()
    assert len(auth.calls()) == 1
    assert totals(rampart)["short_circuited"] == "2"
