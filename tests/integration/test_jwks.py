"""JWKS URLs through the real binary: keys fetched from a key server on
loopback, rotated without a restart, unknown kids refreshing early but
rate-limited, and a key server that goes down (old keys serve until
stale_after, then a clear refusal)."""
import http.server
import threading
import time

import pytest

import helpers
import jose
from helpers import assert_problem, get

ISSUER = "https://id.test"


class KeyServer:
    """Serves a JWKS document that the test can change; counts fetches."""

    def __init__(self):
        self.document = '{"keys":[]}'
        self.hits = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits += 1
                body = server.document.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, *keys):
        self.document = jose.jwks(*keys)

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


@pytest.fixture
def key_server():
    server = KeyServer()
    yield server
    server.stop()


def start(stack, key_server, **schedule):
    upstream = stack.upstream("app")
    port = helpers.free_port()
    issuer = {"issuer": ISSUER, "algorithms": ["ES256"],
              "jwks_url": f"http://127.0.0.1:{key_server.port}/.well-known/jwks.json",
              "fetch_timeout": "1s"}
    issuer.update(schedule)
    text = helpers.config(
        port, [helpers.cluster("app", [upstream.address])],
        [{"name": "api", "domains": ["*"], "routes": [
            {"name": "all", "match": {"prefix": "/"}, "cluster": "app",
             "auth": {"providers": ["users"]}}]}],
        authentication={"providers": [{"name": "users", "jwt": {"issuers": [issuer]}}]})
    return stack.rampart(text, port)


def bearer(tok):
    return [("Authorization", f"Bearer {tok}")]


def status_of(rampart, tok):
    return get(rampart.port, "/x", headers=bearer(tok)).status


def eventually(predicate, timeout=6.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_keys_come_from_the_url_and_rotate_without_restart(stack, key_server):
    old, new = jose.EcKey("2026-11"), jose.EcKey("2026-12")
    key_server.serve(old)
    rampart = start(stack, key_server, refresh_interval="1h", min_refresh_interval="1s")
    old_token = jose.token(old)
    assert status_of(rampart, old_token) == 200  # fetched before the first request
    assert status_of(rampart, old_token) == 200  # and again from the cache

    key_server.serve(new)  # the issuer rotates: only the new key is published
    new_token = jose.token(new)
    # The new kid is unknown at first; that asks for an early refresh.
    assert eventually(lambda: status_of(rampart, new_token) == 200), rampart.stderr()
    # The old key is gone, and so is its cached token.
    assert_problem(get(rampart.port, "/x", headers=bearer(old_token)), 401)
    assert "now has keys [2026-12]" in rampart.stderr()


def test_unknown_kids_cannot_make_rampart_hammer_the_key_server(stack, key_server):
    key_server.serve(jose.EcKey("real"))
    rampart = start(stack, key_server, refresh_interval="1h", min_refresh_interval="2s")
    forger = jose.EcKey("forged")
    began = time.monotonic()
    before = key_server.hits
    for i in range(200):
        assert status_of(rampart, jose.token(forger, header={"kid": f"kid-{i}"})) == 401
    elapsed = time.monotonic() - began
    fetched = key_server.hits - before
    # At most one early refresh per min_refresh_interval (2 s), plus one.
    assert fetched <= elapsed / 2 + 2, (fetched, elapsed)


def test_key_server_down_keeps_old_keys_until_stale_then_refuses(stack, key_server):
    key = jose.EcKey("k1")
    key_server.serve(key)
    rampart = start(stack, key_server, refresh_interval="1s", min_refresh_interval="1s",
                    stale_after="4s")
    tok = jose.token(key)
    assert status_of(rampart, tok) == 200
    fetched_at = time.monotonic()
    key_server.stop()
    # Within stale_after of the last good fetch, the old keys still verify.
    time.sleep(1.5)
    assert status_of(rampart, jose.token(key, subject="bob")) == 200  # a fresh token: no cache
    assert time.monotonic() - fetched_at < 4
    # Past it, the keys are dropped: a clear refusal, and a clear log line.
    assert eventually(lambda: status_of(rampart, tok) == 401, timeout=8.0), rampart.stderr()
    assert "were dropped" in rampart.stderr()
    body = assert_problem(get(rampart.port, "/x", headers=bearer(tok)), 401)
    assert body.get("detail")
