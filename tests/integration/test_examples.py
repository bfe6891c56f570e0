"""The shipped examples work as their docs say: every examples/*.yaml
validates, and examples/jwt-api.yaml with the demo upstream behaves as
docs/authentication.md shows (token minted the documented way)."""
import base64
import hashlib
import hmac
import json
import re
import shutil
import subprocess
import time

import pytest

import helpers
from helpers import ROOT, assert_problem, get

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates(path):
    result = subprocess.run([helpers.rampart_bin(), "validate", "-c", str(path)],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr


def mint_documented_token():
    """The snippet of docs/authentication.md, as written there."""
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "example-hs256"}).encode())
    body = b64(json.dumps({"iss": "https://id.example.com", "aud": "orders-api", "sub": "alice",
                           "tenant": "acme", "scope": "orders:read",
                           "exp": int(time.time()) + 600}).encode())
    secret = b"rampart-example-secret-do-not-use-in-production"
    sig = b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def test_the_documented_secret_is_the_example_key():
    doc = (ROOT / "docs" / "authentication.md").read_text()
    assert 'b"rampart-example-secret-do-not-use-in-production"' in doc
    assert "demo-key-change-me" in doc
    digest = hashlib.sha256(b"demo-key-change-me").hexdigest()
    assert digest in (ROOT / "examples" / "keys" / "api-keys.yaml").read_text()


def test_jwt_api_example_end_to_end(stack, tmp_path):
    # The example with its keys, on free ports instead of 8081/9000.
    shutil.copytree(ROOT / "examples" / "keys", tmp_path / "keys")
    upstream = stack.upstream("demo")
    port = helpers.free_port()
    text = (ROOT / "examples" / "jwt-api.yaml").read_text()
    text = text.replace("127.0.0.1:8081", f"127.0.0.1:{port}")
    text = text.replace("[127.0.0.1:9000]", f"[{upstream.address}]")
    text = re.sub(r"workers: auto", "workers: 1", text)
    rampart = stack.rampart(text, port)

    assert_problem(get(port, "/orders"), 401)
    response = get(port, "/orders", headers=[("x-api-key", "demo-key-change-me")])
    assert response.status == 200, response
    assert helpers.echo_header(response.json(), "x-auth-subject") == ["partner-demo"]
    response = get(port, "/orders", headers=[("Authorization", f"Bearer {mint_documented_token()}")])
    assert response.status == 200, response
    echo = response.json()
    assert helpers.echo_header(echo, "x-auth-subject") == ["alice"]
    assert helpers.echo_header(echo, "x-auth-account") == ["acme"]
    assert get(port, "/healthz").status == 200
    assert get(port, "/catalog/1").status == 200
    # The policy: own account yes, another account no, DELETE never.
    token = [("Authorization", f"Bearer {mint_documented_token()}")]
    assert get(port, "/accounts/acme/invoices", headers=token).status == 200
    assert_problem(get(port, "/accounts/globex/invoices", headers=token), 403)
    assert_problem(get(port, "/orders/1", headers=token, method="DELETE"), 403)
    assert_problem(get(port, "/admin", headers=[("Authorization", f"Bearer {mint_documented_token()}")]), 403)
    assert rampart.process.poll() is None
