"""Downstream HTTP/2 through the real binary (docs/http2.md): prior knowledge
on a cleartext listener with `http2: true`, h2 over TLS by ALPN, the same
phases as HTTP/1.1 (a 401, a 429), many streams on one connection, flow
control both ways, and each flood protection. Clients are python's h2
(Debian's python3-h2) over raw sockets, so frames can be crafted; curl and
nghttp (nghttp2-client) as stock clients."""
import re
import socket
import ssl
import subprocess
import time
import zlib

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import hpack
import pytest

import helpers
import tls_certs

ENHANCE_YOUR_CALM = 0xB
REFUSED_STREAM = 0x7


class H2Client:
    """One HTTP/2 connection; every wait bounded by `timeout`."""

    def __init__(self, port, context=None, timeout=5.0, source=None, prefix=b""):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                       source_address=(source, 0) if source else None)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if prefix:  # a PROXY protocol header, before anything HTTP/2
            raw.sendall(prefix)
        self.sock = context.wrap_socket(raw, server_hostname="a.test") if context else raw
        self.timeout = timeout
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                      validate_outbound_headers=False,
                                      normalize_outbound_headers=False))
        self.conn.initiate_connection()
        self.flush()
        self.streams = {}
        self.goaway = None
        self.closed = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, method, path, headers=(), body=None, end=True):
        stream = self.conn.get_next_available_stream_id()
        fields = [(":method", method), (":path", path), (":scheme", "http"),
                  (":authority", "localhost")] + list(headers)
        self.conn.send_headers(stream, fields, end_stream=end and body is None)
        self.streams[stream] = {"status": None, "headers": [], "body": bytearray(),
                                "done": False, "reset": None}
        self.flush()
        if body is not None:
            self.send_body(stream, body, end)
        return stream

    def send_body(self, stream, body, end=True):
        view = memoryview(body)
        while view:
            window = min(self.conn.local_flow_control_window(stream),
                         self.conn.max_outbound_frame_size)
            if window == 0:
                self.pump()
                continue
            self.conn.send_data(stream, bytes(view[:window]))
            view = view[window:]
            self.flush()
        if end:
            self.conn.end_stream(stream)
            self.flush()

    def pump(self):
        """Reads once and handles the events; False once the server closed."""
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        if not data:
            self.closed = True
            return False
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                state = self.streams[event.stream_id]
                state["headers"] = event.headers
                state["status"] = int(dict(event.headers)[":status"])
            elif isinstance(event, h2.events.TrailersReceived):
                self.streams[event.stream_id]["trailers"] = event.headers
            elif isinstance(event, h2.events.DataReceived):
                self.streams[event.stream_id]["body"] += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.streams[event.stream_id]["done"] = True
            elif isinstance(event, h2.events.StreamReset):
                if event.stream_id in self.streams:
                    self.streams[event.stream_id]["reset"] = event.error_code
                    self.streams[event.stream_id]["done"] = True
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.goaway = event.error_code
        try:
            self.flush()
        except OSError:
            pass
        return True

    def wait(self, streams):
        deadline = time.monotonic() + self.timeout
        while not all(self.streams[s]["done"] for s in streams):
            assert time.monotonic() < deadline, "streams did not end in time"
            assert self.pump(), "the server closed the connection"
        return [self.streams[s] for s in streams]

    def get(self, path, headers=()):
        return self.wait([self.request("GET", path, headers)])[0]

    def wait_goaway(self):
        """Reads until the server sends GOAWAY or closes; returns its code."""
        deadline = time.monotonic() + self.timeout
        while self.goaway is None and time.monotonic() < deadline:
            if not self.pump():
                break
        return self.goaway

    def raw(self, data):
        self.sock.sendall(data)


def frame(kind, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def h2_config(port, upstream, listener=None, routes=None, **top):
    routes = routes or [{"name": "all", "match": {"prefix": "/"}, "cluster": "app"}]
    doc = {"workers": 1, "drain_timeout": "5s",
           "http": {"max_head_bytes": "8KiB", "max_headers": 32, "idle_timeout": "60s"},
           "listeners": [dict({"name": "main", "address": f"127.0.0.1:{port}", "http2": True},
                              **(listener or {}))],
           "clusters": [helpers.cluster("app", [upstream.address])],
           "virtual_hosts": helpers.public_unless_governed(
               [{"name": "api", "domains": ["*"], "routes": routes}])}
    doc.update(top)
    return helpers.to_yaml(doc) + "\n"


def start(stack, **kwargs):
    upstream = stack.upstream("app")
    port = helpers.free_port()
    rampart = stack.rampart(h2_config(port, upstream, **kwargs), port)
    return rampart, upstream


def stopped_counters(rampart):
    rampart.stop()
    line = [l for l in rampart.stderr().splitlines() if "stopped:" in l][-1]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def echo(state):
    import json
    return json.loads(bytes(state["body"]))


def test_prior_knowledge_get_and_post_reach_the_upstream_as_http11(stack):
    rampart, upstream = start(stack)
    with H2Client(rampart.port) as client:
        got = client.get("/hello?x=1", [("x-test", "one"), ("cookie", "a=1"), ("cookie", "b=2")])
        assert got["status"] == 200 and got["reset"] is None
        seen = echo(got)
        assert seen["method"] == "GET" and seen["target"] == "/hello?x=1"
        assert seen["version"] == "HTTP/1.1"
        headers = {k.lower(): v for k, v in seen["headers"]}
        assert headers["x-test"] == "one"
        assert headers["host"] == "localhost"
        assert headers["cookie"] == "a=1; b=2"
        # Bodies larger than the initial 64 KiB windows, both ways: with a
        # length, and without one (sent upstream chunked).
        body = bytes(range(256)) * 400  # 100 KiB
        sized = client.request("POST", "/upload", [("content-length", str(len(body)))], body)
        unsized = client.request("POST", "/upload2", [], body)
        for state in client.wait([sized, unsized]):
            assert state["status"] == 200
            assert echo(state)["body_len"] == len(body)
            assert echo(state)["body_crc32"] == zlib.crc32(body)
        big = client.get("/download?bytes=1000000")
        assert big["status"] == 200 and len(big["body"]) == 1000000
        chunked = client.get("/download?bytes=300000&chunked=1")
        assert chunked["status"] == 200 and len(chunked["body"]) == 300000
        # A chunked response's trailer fields arrive as HTTP/2 trailers.
        trailed = client.get("/chunked?n=3&trailer=abc123")
        assert bytes(trailed["body"]) == b"chunk-0\nchunk-1\nchunk-2\n"
        assert trailed.get("trailers") == [("x-checksum", "abc123")]
        assert "trailers" not in chunked
    # HTTP/1.1 is still served on the same listener.
    assert helpers.get(rampart.port, "/plain").status == 200
    # And a stock client: curl with prior knowledge.
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null",
                          "-w", "%{http_version} %{http_code}",
                          f"http://127.0.0.1:{rampart.port}/curl"],
                         capture_output=True, text=True, timeout=10)
    assert out.stdout == "2 200", out.stderr
    counters = stopped_counters(rampart)
    assert counters["h2_connections"] == 2
    assert counters["h2_streams"] == 7


def test_every_response_framing_reaches_the_stream_as_http2(stack):
    """The Session hands a stream its response head as fields, not bytes:
    each framing the head can imply must come out right, with the fields
    HTTP/2 allows (lower case, no connection-specific ones)."""
    rampart, _ = start(stack)
    with H2Client(rampart.port) as client:
        head = client.wait([client.request("HEAD", "/download?bytes=5000")])[0]
        no_content = client.get("/status/204")
        not_modified = client.get("/status/304")
        unframed = client.get("/unframed?bytes=70000")
        continued = client.request("POST", "/upload", [("content-length", "5"),
                                                       ("expect", "100-continue")], b"hello")
        sized = client.get("/download?bytes=3000")
        continued = client.wait([continued])[0]
    for state, status, body in ((head, 200, b""), (no_content, 204, b""),
                                (not_modified, 304, b""), (unframed, 200, b"u" * 70000),
                                (sized, 200, None)):
        assert state["status"] == status and state["reset"] is None, state
        if body is not None:
            assert bytes(state["body"]) == body
    assert len(sized["body"]) == 3000
    assert echo(continued)["body_len"] == 5
    for state in (head, no_content, unframed, sized, continued):
        names = [name for name, _ in state["headers"]]
        assert all(name == name.lower() for name in names), names
        assert not {"connection", "transfer-encoding", "keep-alive"} & set(names), names
        fields = dict(state["headers"])
        assert fields["via"].endswith("rampart"), fields
        assert len(fields["x-request-id"]) == 32 and fields["x-upstream-name"] == "app"
    assert dict(head["headers"])["content-length"] == "5000"  # informative, as for HTTP/1.1
    assert dict(sized["headers"])["content-length"] == "3000"
    assert "content-length" not in dict(unframed["headers"])


def test_a_listener_without_http2_does_not_take_the_preface(stack):
    rampart, upstream = start(stack, listener={"http2": False})
    with helpers.Client(rampart.port) as client:
        client.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        # The preface is not HTTP/1.1 either: refused as a bad request.
        assert client.read_response().status in (400, 505)
    assert upstream.targets() == []
    assert stopped_counters(rampart)["h2_connections"] == 0


@pytest.fixture
def pki(tmp_path):
    d = tmp_path / "pki"
    d.mkdir()
    tls_certs.make_ca(d)
    tls_certs.make_leaf(d, "a", "/O=Rampart Test/CN=a.test", "DNS:a.test")
    tls_certs.make_leaf(d, "alice", "/O=Rampart Test/CN=alice", "DNS:alice.test", client=True)
    return d


def test_h2_over_tls_by_alpn(stack, pki):
    tls = {"certificates": [{"cert": str(pki / "a.pem"), "key": str(pki / "a.key")}],
           "alpn": ["h2", "http/1.1"]}
    rampart, upstream = start(stack, listener={"http2": False, "tls": tls})
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    context.set_alpn_protocols(["h2"])
    with H2Client(rampart.port, context) as client:
        assert client.sock.selected_alpn_protocol() == "h2"
        streams = [client.request("GET", f"/tls/{i}") for i in range(5)]
        for i, state in enumerate(client.wait(streams)):
            assert state["status"] == 200 and echo(state)["target"] == f"/tls/{i}"
    # HTTP/1.1 clients still get http/1.1.
    context11 = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    context11.set_alpn_protocols(["http/1.1"])
    raw = socket.create_connection(("127.0.0.1", rampart.port), timeout=5)
    with context11.wrap_socket(raw, server_hostname="a.test") as sock:
        assert sock.selected_alpn_protocol() == "http/1.1"
        sock.sendall(helpers.build_request("GET", "/eleven"))
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
    assert stopped_counters(rampart)["h2_streams"] == 5


def test_streams_see_the_same_auth_and_limits_as_http11(stack):
    import hashlib
    digest = hashlib.sha256(b"secret-key").hexdigest()
    stack.write("api-keys.yaml", "keys:\n"
                f"  - name: billing\n    sha256: {digest}\n    principal: billing-svc\n")
    routes = [{"name": "keyed", "match": {"prefix": "/keyed"}, "cluster": "app",
               "auth": {"providers": ["partners"]}},
              {"name": "all", "match": {"prefix": "/"}, "cluster": "app"}]
    rampart, upstream = start(
        stack, routes=routes,
        listener={"limits": [{"name": "per-ip", "key": "address", "rate": "1/m", "burst": 5}]},
        authentication={"providers": [{"name": "partners", "api_keys": {"file": "api-keys.yaml"}}]})
    with H2Client(rampart.port) as client:
        refused = client.get("/keyed/a")
        assert refused["status"] == 401
        assert dict(refused["headers"]).get("www-authenticate")
        allowed = client.get("/keyed/b", [("x-api-key", "secret-key")])
        assert allowed["status"] == 200
        # An upload refused before its body is sent: the 401, then
        # RST_STREAM(NO_ERROR) so the client stops sending.
        upload = client.request("POST", "/keyed/upload", [("content-length", "100000")], end=False)
        refused_upload = client.wait([upload])[0]
        assert refused_upload["status"] == 401 and refused_upload["reset"] == 0
        assert client.get("/open/1")["status"] == 200
        assert client.get("/open/2")["status"] == 200
        limited = client.get("/open/3")
        assert limited["status"] == 429
        assert b"per-ip" in bytes(limited["body"])
    assert "/keyed/a" not in upstream.targets() and "/open/3" not in upstream.targets()


def test_many_concurrent_streams_on_one_connection(stack):
    rampart, upstream = start(stack)
    with H2Client(rampart.port, timeout=10) as client:
        client.pump()  # the server's SETTINGS (max_concurrent_streams)
        assert client.conn.remote_settings.max_concurrent_streams == 100
        streams = [client.request("GET", f"/slow?ms=300&i={i}") for i in range(60)]
        states = client.wait(streams)
    assert all(s["status"] == 200 for s in states)
    assert sorted(echo(s)["target"] for s in states) == sorted(f"/slow?ms=300&i={i}" for i in range(60))


def test_streams_over_the_concurrency_limit_are_refused(stack):
    rampart, upstream = start(stack)
    with H2Client(rampart.port, timeout=10) as client:
        # Before the server's SETTINGS arrive the client does not know the
        # limit: 130 streams at once, each held upstream for a while.
        streams = [client.request("GET", f"/slow?ms=1500&i={i}") for i in range(130)]
        states = client.wait(streams)
    refused = [s for s in states if s["reset"] == REFUSED_STREAM]
    served = [s for s in states if s["status"] == 200]
    assert len(refused) >= 30 and len(served) >= 1
    assert stopped_counters(rampart)["h2_refused_streams"] == len(refused)


def test_configured_limits_are_advertised_and_enforced(stack):
    http = {"max_head_bytes": "8KiB", "max_headers": 32, "idle_timeout": "60s",
            "http2": {"max_concurrent_streams": 5, "max_resets_per_second": 10,
                      "initial_window_bytes": "1MiB"}}
    rampart, upstream = start(stack, http=http)
    with H2Client(rampart.port, timeout=10) as client:
        client.pump()  # the server's SETTINGS
        settings = client.conn.remote_settings
        assert settings.max_concurrent_streams == 5
        assert settings.initial_window_size == 1024 * 1024
        # A 768 KiB upload within the larger window.
        body = bytes(range(256)) * 3072
        state = client.wait([client.request("POST", "/upload", body=body)])[0]
        assert state["status"] == 200 and echo(state)["body_crc32"] == zlib.crc32(body)
    with H2Client(rampart.port, timeout=10) as client:
        # 12 streams at once, sent before the SETTINGS that say 5 are read.
        states = client.wait([client.request("GET", f"/slow?ms=500&i={i}") for i in range(12)])
        assert sum(1 for s in states if s["reset"] == REFUSED_STREAM) >= 7
        assert sum(1 for s in states if s["status"] == 200) >= 1
    with H2Client(rampart.port) as client:
        for i in range(30):  # 11 resets in a second is over this listener's 10
            stream = client.request("GET", f"/reset/{i}")
            client.conn.reset_stream(stream, h2.errors.ErrorCodes.CANCEL)
            client.streams[stream]["done"] = True
            client.flush()
        assert client.wait_goaway() == ENHANCE_YOUR_CALM
    assert stopped_counters(rampart)["h2_rapid_resets"] == 1


def test_rapid_reset_is_cut_off_with_goaway(stack):
    rampart, upstream = start(stack)
    with H2Client(rampart.port) as client:
        for i in range(400):
            stream = client.request("GET", f"/reset/{i}")
            client.conn.reset_stream(stream, h2.errors.ErrorCodes.CANCEL)
            client.streams[stream]["done"] = True
            client.flush()
            if i % 50 == 49:
                pass
        assert client.wait_goaway() == ENHANCE_YOUR_CALM
    counters = stopped_counters(rampart)
    assert counters["h2_rapid_resets"] == 1
    # A well-behaved connection meanwhile is untouched: nothing else counted.
    assert counters["h2_control_floods"] == 0


def test_continuation_flood_is_cut_off(stack):
    rampart, upstream = start(stack)
    with H2Client(rampart.port) as client:
        block = hpack.Encoder().encode(
            [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")] +
            [(f"x-pad-{i}", "v" * 20) for i in range(40)])
        pieces = [block[i:i + 20] for i in range(0, len(block), 20)]
        assert len(pieces) > 20
        client.raw(frame(0x1, 0x0, 1, pieces[0]))  # HEADERS without END_HEADERS
        for piece in pieces[1:-1]:
            try:
                client.raw(frame(0x9, 0x0, 1, piece))  # CONTINUATION
            except OSError:
                break
        client.wait_goaway()
        assert client.goaway is not None or client.closed
    assert stopped_counters(rampart)["h2_continuation_floods"] == 1


@pytest.mark.parametrize("kind", ["ping", "settings", "empty_data"])
def test_control_frame_floods_are_cut_off(stack, kind):
    rampart, upstream = start(stack)
    with H2Client(rampart.port) as client:
        if kind == "empty_data":
            stream = client.request("POST", "/upload", end=False)
        payload = b""
        for i in range(300):
            if kind == "ping":
                payload += frame(0x6, 0x0, 0, i.to_bytes(8, "big"))
            elif kind == "settings":
                payload += frame(0x4, 0x0, 0, b"")
            else:
                payload += frame(0x0, 0x0, stream, b"")
        try:
            client.raw(payload)
        except OSError:
            pass
        assert client.wait_goaway() == ENHANCE_YOUR_CALM
    assert stopped_counters(rampart)["h2_control_floods"] == 1


def test_hpack_bomb_is_refused_at_the_head_limit(stack):
    rampart, upstream = start(stack)
    with H2Client(rampart.port) as client:
        # One 4000-byte field in the dynamic table, then referenced 10 times:
        # a few dozen bytes on the wire, 40 KB decoded (the head limit is 8 KiB).
        bomb = client.get("/bomb", [("x-bomb", "a" * 4000)] * 10)
        assert bomb["status"] == 431
        # The connection stays usable for honest requests.
        assert client.get("/after")["status"] == 200
    assert "/bomb" not in upstream.targets()
    assert stopped_counters(rampart)["h2_header_overflows"] == 1


def test_a_client_certificate_reaches_every_stream(stack, pki):
    tls = {"certificates": [{"cert": str(pki / "a.pem"), "key": str(pki / "a.key")}],
           "alpn": ["h2", "http/1.1"],
           "client_certificates": {"mode": "optional", "ca": str(pki / "ca.pem")}}
    routes = [{"name": "who", "match": {"prefix": "/who"}, "cluster": "app",
               "auth": {"providers": ["certs"]}},
              {"name": "all", "match": {"prefix": "/"}, "cluster": "app"}]
    rampart, upstream = start(
        stack, routes=routes, listener={"http2": False, "tls": tls},
        authentication={"providers": [{"name": "certs", "mtls": {"principal": "subject"}}]})
    alice = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    alice.load_cert_chain(str(pki / "alice.pem"), str(pki / "alice.key"))
    alice.set_alpn_protocols(["h2"])
    with H2Client(rampart.port, alice) as client:
        states = client.wait([client.request("GET", f"/who/{i}") for i in range(3)])
    assert [s["status"] for s in states] == [200, 200, 200]
    record = upstream.wait_for(lambda r: r["target"] == "/who/2")
    assert helpers.echo_header(record, "x-auth-subject") == ["CN=alice,O=Rampart Test"]
    anonymous = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    anonymous.set_alpn_protocols(["h2"])
    with H2Client(rampart.port, anonymous) as client:
        assert client.get("/who/anon")["status"] == 401


def test_a_drain_lets_streams_under_way_finish_after_goaway(stack):
    import signal
    rampart, upstream = start(stack)
    # nghttp (python's h2 treats a GOAWAY as the end of everything, and
    # curl 7.88 does not reuse an h2c connection): two streams on one
    # connection, the slow one under way when Rampart is told to stop.
    nghttp = subprocess.Popen(
        ["nghttp", "-nv", f"http://127.0.0.1:{rampart.port}/warm",
         f"http://127.0.0.1:{rampart.port}/slow?ms=800"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        upstream.wait_for(lambda r: r["target"] == "/slow?ms=800")
        rampart.process.send_signal(signal.SIGTERM)
        out, _ = nghttp.communicate(timeout=10)
    finally:
        if nghttp.poll() is None:
            nghttp.kill()
    assert nghttp.returncode == 0, out[-2000:]
    assert out.count(":status: 200") == 2, out[-2000:]
    assert re.search(r"recv GOAWAY frame.*\n.*error_code=NO_ERROR", out), out[-2000:]
    assert rampart.process.wait(timeout=10) == 0


def test_prior_knowledge_after_a_proxy_protocol_header(stack):
    rampart, upstream = start(stack, listener={"proxy_protocol": True},
                              trusted_proxies=["127.0.0.2/32"])
    header = b"PROXY TCP4 198.51.100.7 127.0.0.1 40000 443\r\n"
    with H2Client(rampart.port, source="127.0.0.2", prefix=header) as client:
        assert client.get("/behind-proxy")["status"] == 200
    record = upstream.wait_for(lambda r: r["target"] == "/behind-proxy")
    assert helpers.echo_header(record, "x-forwarded-for") == ["198.51.100.7"]


def test_a_reload_applies_to_the_next_stream_on_an_open_connection(stack):
    import json
    upstream = stack.upstream("app")
    port, admin_port = helpers.free_port(), helpers.free_port()
    admin = {"address": f"127.0.0.1:{admin_port}"}
    rampart = stack.rampart(h2_config(port, upstream, admin=admin), port)
    helpers.wait_port(admin_port, 10, rampart.process)
    with H2Client(port) as client:
        assert client.get("/before")["status"] == 200
        # The route loses its `public: true`: deny by default from now on.
        denied = [{"name": "all", "match": {"prefix": "/"}, "cluster": "app",
                   "_deny_by_default": True}]
        path = stack.workdir / f"rampart-{port}.yaml"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(h2_config(port, upstream, routes=denied, admin=admin))
        tmp.replace(path)
        with helpers.Client(admin_port, timeout=10) as control:
            response = control.request("POST", "/reload")
        assert response.status == 200, response.body
        assert client.get("/after")["status"] == 403
    assert "/after" not in upstream.targets()


def test_a_client_that_vanishes_mid_streams_leaves_nothing_open(stack):
    upstream = stack.upstream("app")
    port, admin_port = helpers.free_port(), helpers.free_port()
    rampart = stack.rampart(h2_config(port, upstream, admin={"address": f"127.0.0.1:{admin_port}"}),
                            port)
    helpers.wait_port(admin_port, 10, rampart.process)

    def open_connections():
        text = helpers.get(admin_port, "/metrics").body.decode()
        return int(re.search(r"^rampart_connections_open (\d+)$", text, re.M).group(1))

    client = H2Client(port)
    for i in range(20):
        client.request("GET", f"/slow?ms=700&i={i}")
    upstream.wait_for(lambda r: r["target"].startswith("/slow"))
    assert open_connections() > 1  # the connection and its streams' sessions
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    client.close()  # a reset, mid-responses
    deadline = time.monotonic() + 5
    while open_connections() != 0:
        assert time.monotonic() < deadline, "streams' sessions were left open"
        time.sleep(0.05)
    with H2Client(port) as again:
        assert again.get("/after")["status"] == 200


def test_stream_sessions_are_kept_alive_and_every_stream_gets_its_own_answer(stack):
    """A stream's Session serves the connection's later streams (HTTP/1.1
    keep-alive over the pipe): one after another they share one Session;
    in waves of mixed requests (GET, HEAD, POST with and without a length)
    each stream still gets the answer to its own request; a refused upload
    and a reset stream leave no Session behind that a later stream could
    inherit."""
    import json
    admin_port = helpers.free_port()
    rampart, upstream = start(stack, admin={"address": f"127.0.0.1:{admin_port}"})
    helpers.wait_port(admin_port, 10, rampart.process)
    body = bytes(range(256)) * 20
    with H2Client(rampart.port, timeout=10) as client:
        for i in range(20):
            got = client.get(f"/one/{i}")
            assert got["status"] == 200 and echo(got)["target"] == f"/one/{i}"
        seen = json.loads(helpers.get(admin_port, "/stats").body)["counters"]
        assert (seen["h2_streams"], seen["h2_stream_sessions"]) == (20, 1)
        for wave in range(3):
            streams = {}
            for i in range(30):
                target = f"/w{wave}/{i}"
                kind = i % 4
                if kind == 0:
                    streams[client.request("GET", target)] = (target, 0)
                elif kind == 1:
                    streams[client.request("HEAD", target)] = (target, None)
                elif kind == 2:
                    payload = body[: 100 + i]
                    streams[client.request("POST", target, [("content-length", str(len(payload)))],
                                           payload)] = (target, len(payload))
                else:
                    payload = body[: 200 + i]
                    streams[client.request("POST", target, [], payload)] = (target, len(payload))
            client.wait(list(streams))
            for stream, (target, length) in streams.items():
                state = client.streams[stream]
                assert state["status"] == 200 and state["reset"] is None, (target, state)
                if length is None:
                    assert bytes(state["body"]) == b""  # HEAD
                else:
                    assert echo(state)["target"] == target
                    assert echo(state)["body_len"] == length
        # A request the Session refuses as malformed (an encoded NUL in the
        # path): 400, and that Session is closed, not handed to the next stream.
        bad = client.get("/bad%00path")
        assert bad["status"] == 400, bad
        got = client.get("/after-bad")
        assert got["status"] == 200 and echo(got)["target"] == "/after-bad"
        # A reset stream (mid-request) and then more streams.
        cut = client.request("POST", "/cut", [("content-length", "1000")], body[:10], end=False)
        client.conn.reset_stream(cut)
        client.flush()
        for i in range(5):
            got = client.get(f"/after/{i}")
            assert got["status"] == 200 and echo(got)["target"] == f"/after/{i}"
    counters = stopped_counters(rampart)
    assert counters["h2_streams"] == 20 + 90 + 2 + 1 + 5
    # Each wave of 30 needed at most 30 Sessions, 16 of them parked from the
    # wave before; the reset stream's Session was not reused.
    assert counters["h2_stream_sessions"] <= 1 + 30 * 3 - 16 * 2 + 2 + 1 + 1, counters
