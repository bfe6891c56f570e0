"""Authorization through the real binary: deny by default, the bypass family
against a route that needs role admin, shadow policies (counters and
rate-limited logs), and percentage rollouts that are stable per account."""
import subprocess

import pytest

import helpers
import jose
from helpers import Client, assert_problem, get

ISSUER = "https://id.test"
KEY = jose.HmacKey("hs-1", b"0123456789abcdef0123456789abcdef")


def token(subject="bob", roles=("user",), account="acme", **claims):
    return jose.token(KEY, subject=subject, roles=list(roles), tenant=account, **claims)


def bearer(tok):
    return [("Authorization", f"Bearer {tok}")]


AUTHENTICATION = {"providers": [{"name": "users", "jwt": {"issuers": [{
    "issuer": ISSUER, "algorithms": ["HS256"], "jwks_file": "jwks.json", "audiences": ["orders"],
    "claims": {"principal": "sub", "account": "tenant", "roles": "roles"}}]}}]}

POLICIES = [
    {"name": "admin-only", "rules": [{"name": "admins", "effect": "allow", "roles": ["admin"]}]},
    {"name": "items", "rules": [
        {"name": "read", "effect": "allow", "methods": ["GET", "POST"], "authenticated": True},
        {"name": "delete-admin", "effect": "allow", "methods": ["DELETE"], "roles": ["admin"]}]},
    {"name": "signed-in", "rules": [{"name": "anyone-signed-in", "effect": "allow",
                                     "authenticated": True}]},
]


def start(stack, routes, top=None, http_canonical=None):
    stack.write("jwks.json", jose.jwks(KEY))
    upstream = stack.upstream("app")
    port = helpers.free_port()
    extra = {"authentication": AUTHENTICATION, "policies": POLICIES}
    extra.update(top or {})
    text = helpers.config(port, [helpers.cluster("app", [upstream.address])],
                          [{"name": "api", "domains": ["*"], "routes": routes}], **extra)
    if http_canonical:
        for key, value in http_canonical.items():
            text = text.replace(f"  {key}: false", f"  {key}: {str(value).lower()}")
            if f"  {key}:" not in text:
                text = text.replace("canonical:\n", f"canonical:\n  {key}: {str(value).lower()}\n")
    return stack.rampart(text, port), upstream


def admin_routes():
    return [
        {"name": "admin", "match": {"prefix": "/admin"}, "cluster": "app",
         "auth": {"providers": ["users"], "allow_anonymous": True}, "policy": "admin-only"},
        {"name": "items", "match": {"prefix": "/items"}, "cluster": "app",
         "auth": {"providers": ["users"]}, "policy": "items", "method_override": True},
        {"name": "rest", "match": {"prefix": "/"}, "cluster": "app", "public": True},
    ]


def reached_admin(upstream):
    """Requests that reached the upstream at /admin or under it. Targets are
    Rampart's canonical form; paths are case-sensitive by default, so /ADMIN
    is another resource (test_uppercase_* covers it both ways)."""
    return [t for t in upstream.targets()
            if t == "/admin" or t.startswith("/admin/") or t.startswith("/admin?")]


def raw_request(port, target, headers=()):
    lines = [f"GET {target} HTTP/1.1", "Host: localhost", *[f"{n}: {v}" for n, v in headers],
             "Connection: close", "", ""]
    with Client(port, timeout=5) as client:
        client.send("\r\n".join(lines).encode("latin-1"))
        return client.read_response()


def test_admin_positive_control(stack):
    rampart, upstream = start(stack, admin_routes())
    assert get(rampart.port, "/admin/users", headers=bearer(token(roles=["admin"]))).status == 200
    assert_problem(get(rampart.port, "/admin/users", headers=bearer(token())), 403)
    assert_problem(get(rampart.port, "/admin/users"), 403)
    assert [t for t in upstream.targets()] == ["/admin/users"]


BYPASSES = ["//admin", "/./admin", "/x/../admin", "/%61dmin", "/admin%2f..", "/admin%2F..",
            "/admin;x=1", "/admin/.", "/admin%00", "/admin#", "/admin#frag", "/ADMIN",
            "/%2561dmin", "http://localhost/admin", "HTTP://LOCALHOST/admin", "/admin/..;/x",
            "/.%2e/admin", "/admin/%2e", "/%2e/admin"]


@pytest.mark.parametrize("target", BYPASSES)
@pytest.mark.parametrize("who", ["anonymous", "user"])
def test_bypass_family_never_reaches_admin(stack, target, who):
    rampart, upstream = start(stack, admin_routes())
    headers = [] if who == "anonymous" else bearer(token())
    response = raw_request(rampart.port, target, headers)
    assert reached_admin(upstream) == [], (target, upstream.targets(), response)
    if response.status >= 400:
        assert_problem(response, response.status)


def test_uppercase_is_a_different_path_unless_lowercasing(stack):
    # Case-sensitive by default: /ADMIN is not /admin, and the upstream sees /ADMIN as sent.
    rampart, upstream = start(stack, admin_routes())
    assert get(rampart.port, "/ADMIN").status == 200
    assert upstream.targets() == ["/ADMIN"]


def test_lowercase_path_sends_uppercase_through_the_admin_check(stack):
    rampart, upstream = start(stack, admin_routes(), http_canonical={"lowercase_path": True})
    assert_problem(get(rampart.port, "/ADMIN/Users", headers=bearer(token())), 403)
    assert get(rampart.port, "/ADMIN/Users", headers=bearer(token(roles=["admin"]))).status == 200
    assert upstream.targets() == ["/admin/users"]


@pytest.mark.parametrize("header", ["X-Original-URL", "X-Rewrite-URL"])
def test_rewrite_url_headers_are_never_honoured_or_forwarded(stack, header):
    rampart, upstream = start(stack, admin_routes())
    response = get(rampart.port, "/", headers=[(header, "/admin/users")])
    assert response.status == 200
    echo = response.json()
    assert echo["target"] == "/"
    assert helpers.echo_header(echo, header) == []
    assert reached_admin(upstream) == []


def test_method_override_stripped_where_the_route_does_not_honour_it(stack):
    rampart, upstream = start(stack, admin_routes())
    response = get(rampart.port, "/", method="POST", body=b"x",
                   headers=[("X-HTTP-Method-Override", "DELETE")])
    assert response.status == 200
    assert helpers.echo_header(response.json(), "x-http-method-override") == []


def test_policy_sees_the_overridden_method_where_honoured(stack):
    rampart, upstream = start(stack, admin_routes())
    user, admin = bearer(token()), bearer(token(roles=["admin"]))
    assert get(rampart.port, "/items/1", method="POST", body=b"x", headers=user).status == 200
    override = [("X-HTTP-Method-Override", "DELETE")]
    assert_problem(get(rampart.port, "/items/1", method="POST", body=b"x",
                       headers=user + override), 403)
    response = get(rampart.port, "/items/1", method="POST", body=b"x", headers=admin + override)
    assert response.status == 200
    assert helpers.echo_header(response.json(), "x-http-method-override") == ["DELETE"]
    two = override + [("X-HTTP-Method-Override", "GET")]
    assert_problem(get(rampart.port, "/items/1", method="POST", body=b"x", headers=user + two), 400)


def test_a_route_without_policy_is_denied_and_validate_fails(stack):
    routes = [{"name": "forgotten", "match": {"prefix": "/"}, "cluster": "app",
               "_deny_by_default": True}]
    rampart, upstream = start(stack, routes)
    assert_problem(get(rampart.port, "/anything"), 403)
    assert upstream.requests() == []
    path = stack.workdir / f"rampart-{rampart.port}.yaml"
    result = subprocess.run([helpers.rampart_bin(), "validate", "-c", str(path)],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 1, result
    assert "route 'forgotten' is not covered by any policy" in result.stderr


def test_validate_lists_public_routes(stack):
    rampart, _ = start(stack, admin_routes())
    path = stack.workdir / f"rampart-{rampart.port}.yaml"
    result = subprocess.run([helpers.rampart_bin(), "validate", "-c", str(path)],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result
    assert "public route 'rest'" in result.stdout
    assert "public route 'admin'" not in result.stdout


def test_shadow_policy_counts_and_logs_disagreements_at_a_bounded_rate(stack):
    routes = [{"name": "orders", "match": {"prefix": "/"}, "cluster": "app",
               "auth": {"providers": ["users"]}, "policy": "signed-in",
               "shadow_policy": "admin-only"}]
    rampart, upstream = start(stack, routes, top={"authorization": {"shadow_log_per_second": 5}})
    user = bearer(token(subject="bob", account="globex"))
    for i in range(40):
        assert get(rampart.port, f"/o/{i}", headers=user).status == 200  # enforced: allowed
    assert get(rampart.port, "/o/x", headers=bearer(token(roles=["admin"]))).status == 200
    assert rampart.stop() == 0
    log = rampart.stderr()
    lines = [line for line in log.splitlines() if "shadow policy 'admin-only' would deny" in line]
    assert 1 <= len(lines) <= 12, lines  # 5 per second, over at most ~2 s
    assert "principal=bob" in lines[0] and "account=globex" in lines[0], lines[0]
    assert "request_id=" in lines[0] and "route 'orders'" in lines[0]
    assert "shadow route 'orders': would_allow=0 would_deny=40" in log, log[-2000:]
    assert "shadow_would_deny=40" in log
    assert f"shadow_logs_dropped={40 - len(lines)}" in log


def test_listener_shadow_policy_watches_routes_without_their_own(stack):
    # Two listeners on one route table: only the one with a shadow_policy
    # counts disagreements, and a route's own shadow_policy takes precedence.
    stack.write("jwks.json", jose.jwks(KEY))
    upstream = stack.upstream("app")
    port, other = helpers.free_port(), helpers.free_port()
    routes = [{"name": "own", "match": {"prefix": "/own"}, "cluster": "app",
               "auth": {"providers": ["users"]}, "policy": "signed-in", "shadow_policy": "items"},
              {"name": "orders", "match": {"prefix": "/"}, "cluster": "app",
               "auth": {"providers": ["users"]}, "policy": "signed-in"}]
    text = helpers.config(port, [helpers.cluster("app", [upstream.address])],
                          [{"name": "api", "domains": ["*"], "routes": routes}],
                          authentication=AUTHENTICATION, policies=POLICIES)
    listeners = (f'listeners:\n  - name: main\n    address: 127.0.0.1:{port}\n'
                 f'    shadow_policy: admin-only\n  - name: inside\n    address: 127.0.0.1:{other}\n')
    text = text.replace(f'listeners:\n  - name: main\n    address: 127.0.0.1:{port}\n', listeners)
    assert "shadow_policy: admin-only" in text
    rampart = stack.rampart(text, port)
    helpers.wait_port(other)
    user = bearer(token(subject="bob"))
    for i in range(3):
        assert get(rampart.port, f"/o/{i}", headers=user).status == 200  # enforced: allowed
        assert get(other, f"/o/{i}", headers=user).status == 200
    # `items` allows GET for anyone signed in: the route's own shadow agrees.
    assert get(rampart.port, "/own/1", headers=user).status == 200
    assert rampart.stop() == 0
    log = rampart.stderr()
    assert "shadow route 'orders': would_allow=0 would_deny=3" in log, log[-2000:]
    assert "shadow route 'own'" not in log
    assert "shadow_would_deny=3" in log


def test_percentage_rollout_is_stable_per_account(stack):
    routes = [{"name": "orders", "match": {"prefix": "/"}, "cluster": "app",
               "auth": {"providers": ["users"]}, "policy": "signed-in",
               "rollout": {"policy": "admin-only", "percent": 30}}]

    def decisions(rampart):
        return {f"acct-{i}": get(rampart.port, "/o", headers=bearer(token(account=f"acct-{i}"))).status
                for i in range(200)}

    rampart, _ = start(stack, routes)
    first = decisions(rampart)
    again = decisions(rampart)
    assert first == again
    denied = sum(1 for s in first.values() if s == 403)
    assert set(first.values()) <= {200, 403}
    assert 40 <= denied <= 80, denied  # 30 % of 200, give or take sampling
    rampart.stop()
    restarted, _ = start(stack, routes)
    assert decisions(restarted) == first  # the same accounts, across restarts
