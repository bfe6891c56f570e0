"""Authentication through the real binary: JWT and API keys verified at the
edge, identities passed upstream in Rampart's own headers, forged identity
headers never reaching an upstream, refusals as problem+json with
WWW-Authenticate."""
import hashlib
import time

import pytest

import helpers
import jose
from helpers import assert_problem, echo_header, get

ISSUER = "https://id.test"


@pytest.fixture
def keys():
    return {"ec": jose.EcKey("ec-1"), "rsa": jose.RsaKey("rsa-1"),
            "hmac": jose.HmacKey("hs-1", b"0123456789abcdef0123456789abcdef")}


def auth_config(stack, keys, port, upstream, extra_routes=()):
    stack.write("jwks.json", jose.jwks(*keys.values()))
    digest = hashlib.sha256(b"key-billing-0001").hexdigest()
    stack.write("api-keys.yaml", "keys:\n"
                f"  - name: billing\n    sha256: {digest}\n    principal: billing-svc\n"
                "    account: acme\n    scopes: [orders:read, orders:write]\n")
    authentication = {
        "identity_headers": {"principal": "x-auth-subject", "account": "x-auth-account",
                             "scopes": "x-auth-scopes"},
        "providers": [
            {"name": "users", "jwt": {"issuers": [{
                "issuer": ISSUER, "algorithms": ["ES256", "RS256", "HS256"],
                "jwks_file": "jwks.json", "audiences": ["orders"], "clock_skew": "5s",
                "claims": {"principal": "sub", "account": "tenant", "scopes": "scope"}}]}},
            {"name": "partners", "api_keys": {"file": "api-keys.yaml"}},
        ]}
    routes = list(extra_routes) + [
        {"name": "admin", "match": {"prefix": "/admin"}, "cluster": "app",
         "auth": {"providers": ["users"], "required_scopes": ["admin"]}},
        {"name": "optional", "match": {"prefix": "/optional"}, "cluster": "app",
         "auth": {"providers": ["users"], "allow_anonymous": True}},
        {"name": "open", "match": {"prefix": "/open"}, "cluster": "app"},
        {"name": "orders", "match": {"prefix": "/"}, "cluster": "app",
         "auth": {"providers": ["users", "partners"]}},
    ]
    return helpers.config(port, [helpers.cluster("app", [upstream.address])],
                          [{"name": "api", "domains": ["*"], "routes": routes}],
                          authentication=authentication)


@pytest.fixture
def gateway(stack, keys):
    upstream = stack.upstream("app")
    port = helpers.free_port()
    rampart = stack.rampart(auth_config(stack, keys, port, upstream), port)
    return rampart, upstream


def bearer(tok):
    return [("Authorization", f"Bearer {tok}")]


@pytest.mark.parametrize("kind", ["ec", "rsa", "hmac"])
def test_valid_token_reaches_upstream_with_identity_headers(gateway, keys, kind):
    rampart, upstream = gateway
    tok = jose.token(keys[kind], tenant="acme", scope="orders:read orders:write")
    response = get(rampart.port, "/orders/1", headers=bearer(tok))
    assert response.status == 200, response
    echo = response.json()
    assert echo_header(echo, "x-auth-subject") == ["alice"]
    assert echo_header(echo, "x-auth-account") == ["acme"]
    assert echo_header(echo, "x-auth-scopes") == ["orders:read orders:write"]


def test_forged_identity_headers_never_reach_the_upstream(gateway, keys):
    rampart, upstream = gateway
    forged = [("X-Auth-Subject", "root"), ("x-auth-account", "evil"), ("X-AUTH-SCOPES", "admin")]
    # On a route that checks nothing, the forged headers are simply dropped...
    response = get(rampart.port, "/open/x", headers=forged)
    assert response.status == 200, response
    echo = response.json()
    for name in ("x-auth-subject", "x-auth-account", "x-auth-scopes"):
        assert echo_header(echo, name) == [], echo
    # ...on an anonymous-allowed route too...
    echo = get(rampart.port, "/optional/x", headers=forged).json()
    assert echo_header(echo, "x-auth-subject") == []
    # ...and with a valid token only Rampart's values arrive, once each.
    tok = jose.token(keys["ec"], tenant="acme", scope="orders:read")
    echo = get(rampart.port, "/orders", headers=forged + bearer(tok)).json()
    assert echo_header(echo, "x-auth-subject") == ["alice"]
    assert echo_header(echo, "x-auth-account") == ["acme"]
    assert echo_header(echo, "x-auth-scopes") == ["orders:read"]


def test_missing_credential_is_401_with_every_challenge(gateway):
    rampart, upstream = gateway
    response = get(rampart.port, "/orders")
    body = assert_problem(response, 401)
    assert "credential" in body["detail"]
    challenges = response.all("www-authenticate")
    assert any(c.startswith("Bearer ") for c in challenges), challenges
    assert any(c.startswith("ApiKey ") for c in challenges), challenges
    assert upstream.requests() == []


@pytest.mark.parametrize("case", [
    "expired", "wrong_audience", "wrong_issuer", "tampered", "alg_none", "unknown_kid",
    "jku_header", "not_yet_valid", "garbage",
])
def test_bad_tokens_are_401_and_never_forwarded(gateway, keys, case):
    rampart, upstream = gateway
    ec = keys["ec"]
    tok = {
        "expired": lambda: jose.token(ec, lifetime=-60),
        "wrong_audience": lambda: jose.token(ec, audience="billing"),
        "wrong_issuer": lambda: jose.token(ec, issuer="https://evil.test"),
        "tampered": lambda: jose.token(ec)[:-4] + "AAAA",
        "alg_none": lambda: jose.token(ec, header={"alg": "none"}).rsplit(".", 1)[0] + ".",
        "unknown_kid": lambda: jose.token(ec, header={"kid": "nope"}),
        "jku_header": lambda: jose.token(ec, header={"jku": "http://127.0.0.1:1/jwks"}),
        "not_yet_valid": lambda: jose.token(ec, nbf=int(__import__("time").time()) + 3600),
        "garbage": lambda: "not.a.token",
    }[case]()
    response = get(rampart.port, "/orders", headers=bearer(tok))
    body = assert_problem(response, 401)
    assert body.get("detail"), body
    challenge = response.header("www-authenticate")
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge, challenge
    assert upstream.requests() == []


def test_hmac_key_confusion_with_a_public_key_is_refused(gateway, keys):
    """An HS256 token 'signed' with the RSA key's public JWK text must not verify."""
    rampart, upstream = gateway
    public_text = jose.jwks(keys["rsa"]).encode()
    forged_key = jose.HmacKey("rsa-1", public_text)
    response = get(rampart.port, "/orders", headers=bearer(jose.token(forged_key)))
    assert_problem(response, 401)
    assert upstream.requests() == []


def test_api_key_authenticates_and_a_wrong_one_is_refused(gateway):
    rampart, upstream = gateway
    response = get(rampart.port, "/orders", headers=[("X-Api-Key", "key-billing-0001")])
    assert response.status == 200, response
    echo = response.json()
    assert echo_header(echo, "x-auth-subject") == ["billing-svc"]
    assert echo_header(echo, "x-auth-account") == ["acme"]
    # The key itself is passed on only as the client sent it, never as identity.
    response = get(rampart.port, "/orders", headers=[("X-Api-Key", "key-billing-0002")])
    body = assert_problem(response, 401)
    assert "API key" in body["detail"]
    assert response.header("www-authenticate").startswith("ApiKey ")


def test_a_bad_token_is_not_passed_over_for_an_api_key(gateway, keys):
    rampart, upstream = gateway
    headers = bearer(jose.token(keys["ec"], lifetime=-60)) + [("X-Api-Key", "key-billing-0001")]
    assert_problem(get(rampart.port, "/orders", headers=headers), 401)


def test_two_authorization_headers_are_refused(gateway, keys):
    rampart, upstream = gateway
    headers = bearer(jose.token(keys["ec"])) + bearer(jose.token(keys["rsa"], subject="mallory"))
    assert_problem(get(rampart.port, "/orders", headers=headers), 401)


def test_anonymous_where_allowed_and_token_still_checked(gateway, keys):
    rampart, upstream = gateway
    assert get(rampart.port, "/optional/a").status == 200
    assert_problem(get(rampart.port, "/optional/a", headers=bearer("bad.to.ken")), 401)
    echo = get(rampart.port, "/optional/a", headers=bearer(jose.token(keys["ec"]))).json()
    assert echo_header(echo, "x-auth-subject") == ["alice"]


def test_missing_scope_is_403(gateway, keys):
    rampart, upstream = gateway
    response = get(rampart.port, "/admin", headers=bearer(jose.token(keys["ec"], scope="orders:read")))
    assert_problem(response, 403)
    assert 'error="insufficient_scope"' in response.header("www-authenticate")
    ok = get(rampart.port, "/admin", headers=bearer(jose.token(keys["ec"], scope="admin")))
    assert ok.status == 200, ok


def test_repeated_token_served_from_cache_still_expires(stack, keys):
    """A cached token stops working when it expires, not when the cache forgets it."""
    import time
    upstream = stack.upstream("app")
    port = helpers.free_port()
    rampart = stack.rampart(auth_config(stack, keys, port, upstream), port)
    tok = jose.token(keys["hmac"], lifetime=2)
    for _ in range(3):
        assert get(rampart.port, "/orders", headers=bearer(tok)).status == 200
    # exp + clock_skew (5 s) must pass; the coarse clock may lag by a few ms.
    time.sleep(2 + 5 + 1.2)
    assert_problem(get(rampart.port, "/orders", headers=bearer(tok)), 401)


def test_control_characters_in_identity_are_refused(gateway, keys):
    rampart, upstream = gateway
    tok = jose.token(keys["ec"], subject="alice\r\nx-auth-account: evil")
    assert_problem(get(rampart.port, "/orders", headers=bearer(tok)), 401)
    assert upstream.requests() == []


def test_config_refuses_unknown_provider_and_alg_none(stack, tmp_path):
    stack.write("jwks.json", jose.jwks(jose.EcKey("k")))
    text = helpers.config(
        helpers.free_port(), [helpers.cluster("app", ["127.0.0.1:9"])],
        [{"name": "api", "domains": ["*"], "routes": [
            {"name": "r", "match": {"prefix": "/"}, "cluster": "app",
             "auth": {"providers": ["nobody"]}}]}],
        authentication={"providers": [{"name": "users", "jwt": {"issuers": [{
            "issuer": ISSUER, "algorithms": ["none", "ES256"], "jwks_file": "jwks.json"}]}}]})
    path = stack.write("bad.yaml", text)
    import subprocess
    result = subprocess.run([helpers.rampart_bin(), "validate", "-c", str(path)],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 1, result
    assert "'none' can never be accepted" in result.stdout + result.stderr
    assert "undefined provider 'nobody'" in result.stdout + result.stderr
    for line in (result.stdout + result.stderr).splitlines():
        if "never be accepted" in line or "undefined provider" in line:
            assert line.startswith(str(path) + ":"), line


def key_file(*entries):
    lines = ["keys:"]
    for key, principal in entries:
        digest = hashlib.sha256(key.encode()).hexdigest()
        lines += [f"  - name: {principal}", f"    sha256: {digest}",
                  f"    principal: {principal}", "    account: acme"]
    return "\n".join(lines) + "\n"


def wait_status(port, key, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        status = get(port, "/orders", headers=[("X-Api-Key", key)]).status
        if status == want or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_editing_the_key_file_revokes_and_adds_keys_without_a_reload(stack):
    """The key file is watched: a key removed from it is refused, a key added
    works, within the watch interval; a broken edit is reported with its
    file:line and the last good keys keep serving."""
    upstream = stack.upstream("app")
    port = helpers.free_port()
    stack.write("keys.yaml", key_file(("key-alpha-0001", "alpha"), ("key-beta-0001", "beta")))
    authentication = {
        "identity_headers": {"principal": "x-auth-subject"},
        "providers": [{"name": "partners",
                       "api_keys": {"file": "keys.yaml", "watch_interval": "200ms"}}]}
    routes = [{"name": "orders", "match": {"prefix": "/"}, "cluster": "app",
               "auth": {"providers": ["partners"]}}]
    conf = helpers.config(port, [helpers.cluster("app", [upstream.address])],
                          [{"name": "api", "domains": ["*"], "routes": routes}],
                          authentication=authentication)
    rampart = stack.rampart(conf, port)
    assert wait_status(port, "key-alpha-0001", 200, timeout=0) == 200
    assert wait_status(port, "key-gamma-0001", 401, timeout=0) == 401

    # Revoke alpha, add gamma.
    stack.write("keys.yaml", key_file(("key-beta-0001", "beta"), ("key-gamma-0001", "gamma")))
    assert wait_status(port, "key-alpha-0001", 401) == 401
    response = get(port, "/orders", headers=[("X-Api-Key", "key-gamma-0001")])
    assert response.status == 200, response
    assert echo_header(response.json(), "x-auth-subject") == ["gamma"]
    assert wait_status(port, "key-beta-0001", 200, timeout=0) == 200

    # A broken edit: logged with where and why; the last good keys go on.
    stack.write("keys.yaml", "keys:\n  - name: x\n    sha256: not-a-digest\n    principal: x\n")
    deadline = time.monotonic() + 5
    while "keys.yaml:3:" not in rampart.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = rampart.stderr()
    assert "not reloaded, keeping the last good keys" in log, log
    assert "keys.yaml:3:" in log, log
    assert wait_status(port, "key-gamma-0001", 200, timeout=0) == 200
    assert wait_status(port, "key-alpha-0001", 401, timeout=0) == 401
