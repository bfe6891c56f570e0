"""WebSocket through the real binary (docs/websocket.md): an upgrade request
passes every phase (here: authentication) like any other, is forwarded with
Connection: Upgrade to a route that allows it, and after the upstream's 101
becomes a byte tunnel both ways, closed by either side, by the idle timeout
or by the maximum lifetime. The upstream is websocket_echo.py."""
import base64
import hashlib
import json
import os
import re
import select
import subprocess
import time

import yaml

import helpers
from helpers import Client
from websocket_echo import GUID, frame, read_frame

ECHO_SCRIPT = helpers.HERE / "websocket_echo.py"
KEY = "ws-secret-key"


class Echo:
    def __init__(self, workdir):
        self.log_path = workdir / "ws-echo.log"
        self.log_path.touch()
        self.process = subprocess.Popen([helpers.PYTHON, str(ECHO_SCRIPT), "--log", str(self.log_path)],
                                        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        ready, _, _ = select.select([self.process.stdout], [], [], 10)
        line = self.process.stdout.readline().decode() if ready else ""
        match = re.match(r"PORT (\d+)", line)
        assert match, f"echo server did not report its port: {line!r}"
        self.address = f"127.0.0.1:{match.group(1)}"

    def records(self):
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

    def stop(self):
        helpers.stop_process(self.process)


def start(stack, websocket=None, tls=None, admin_port=None, http2=False, app=None):
    """`app`: an upstream_server.py (no WebSocket) behind a route that allows them, at /app."""
    echo = Echo(stack.workdir)
    stack.processes.append(echo)
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    stack.write("keys.yaml", f"keys:\n  - {{name: ws, sha256: {digest}, principal: ws-user}}\n")
    port = helpers.free_port()
    routes = [
        {"name": "chat", "match": {"prefix": "/chat"}, "cluster": "echo", "websocket": True,
         "auth": {"providers": ["keys"]}},
        {"name": "plain", "match": {"prefix": "/"}, "cluster": "echo"},
    ]
    if app:
        routes.insert(1, {"name": "app", "match": {"prefix": "/app"}, "cluster": "app",
                          "websocket": True})
    doc = {"workers": 1, "drain_timeout": "2s",
           "listeners": [{"name": "main", "address": f"127.0.0.1:{port}", **({"tls": tls} if tls else {}),
                          **({"http2": True} if http2 else {})}],
           "clusters": [helpers.cluster("echo", [echo.address])]
                       + ([helpers.cluster("app", [app.address])] if app else []),
           "authentication": {"providers": [{"name": "keys", "api_keys": {
               "file": str(stack.workdir / "keys.yaml")}}]},
           "virtual_hosts": helpers.public_unless_governed(
               [{"name": "any", "domains": ["*"], "routes": routes}])}
    if websocket:
        doc["websocket"] = websocket
    if admin_port:
        doc["admin"] = {"address": f"127.0.0.1:{admin_port}"}
    rampart = stack.rampart(helpers.to_yaml(doc) + "\n", port)
    if admin_port:
        helpers.wait_port(admin_port, 10, rampart.process)
    return rampart, echo


def counters(admin_port):
    return json.loads(helpers.get(admin_port, "/stats").body)["counters"]


def upgrade(client, target="/chat", key=KEY):
    nonce = base64.b64encode(os.urandom(16)).decode()
    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
               ("Sec-WebSocket-Key", nonce), ("Sec-WebSocket-Version", "13")]
    if key:
        headers.append(("X-Api-Key", key))
    client.send(helpers.build_request("GET", target, headers))
    response = client.read_response_head()
    return response, nonce


def send_text(client, text):
    client.send(frame(0x1, text.encode(), mask=os.urandom(4)))


def receive(client):
    opcode, payload, rest = read_frame(client.sock, bytes(client.buf))
    client.buf = bytearray(rest)
    return opcode, payload


def test_an_upgrade_becomes_a_tunnel_after_every_phase(stack):
    rampart, echo = start(stack)
    with Client(rampart.port) as client:
        response, nonce = upgrade(client)
        assert response.status == 101, response
        expected = base64.b64encode(hashlib.sha1((nonce + GUID).encode()).digest()).decode()
        assert response.header("sec-websocket-accept") == expected
        assert response.header("upgrade").lower() == "websocket"
        assert "upgrade" in response.header("connection").lower()
        for text in ("hello", "x" * 70000, "bye"):
            send_text(client, text)
            opcode, payload = receive(client)
            assert (opcode, payload) == (0x1, text.encode())
        client.send(frame(0x8, struct_code(1000), mask=os.urandom(4)))
        opcode, _ = receive(client)
        assert opcode == 0x8
        closed, _ = client.wait_closed(5)
        assert closed
    record = echo.records()[0]
    names = {name.lower(): value for name, value in record["headers"]}
    assert names["upgrade"] == "websocket" and names["connection"] == "Upgrade"
    assert names["x-auth-subject"] == "ws-user"  # phase 5 ran; its identity went upstream
    assert "x-api-key" in names


def struct_code(code):
    return code.to_bytes(2, "big")


def test_an_upgrade_without_its_credential_is_refused_before_the_upstream(stack):
    rampart, echo = start(stack)
    with Client(rampart.port) as client:
        response, _ = upgrade(client, key=None)
        assert response.status == 401
    with Client(rampart.port) as client:
        response, _ = upgrade(client, key="wrong")
        assert response.status == 401
    assert echo.records() == []


def test_a_route_without_websocket_forwards_no_upgrade(stack):
    rampart, echo = start(stack)
    with Client(rampart.port) as client:
        response, _ = upgrade(client, target="/elsewhere")
        assert response.status == 426  # the upstream never saw Upgrade
    names = {name.lower() for name, _ in echo.records()[0]["headers"]}
    assert "upgrade" not in names


def test_idle_tunnels_are_closed(stack):
    admin_port = helpers.free_port()
    rampart, _ = start(stack, websocket={"idle_timeout": "500ms", "max_lifetime": "1h"},
                       admin_port=admin_port)
    with Client(rampart.port) as client:
        response, _ = upgrade(client)
        assert response.status == 101
        started = time.monotonic()
        closed, _ = client.wait_closed(5)
        assert closed and 0.4 < time.monotonic() - started < 3
    seen = counters(admin_port)
    assert seen["websocket_upgrades"] == 1 and seen["websocket_idle_closes"] == 1
    assert seen["websocket_lifetime_closes"] == 0


def test_a_busy_tunnel_ends_at_its_lifetime(stack):
    admin_port = helpers.free_port()
    rampart, _ = start(stack, websocket={"idle_timeout": "10s", "max_lifetime": "1s"},
                       admin_port=admin_port)
    with Client(rampart.port) as client:
        response, _ = upgrade(client)
        assert response.status == 101
        started = time.monotonic()
        closed_at = None
        while time.monotonic() - started < 5:
            try:
                send_text(client, "tick")
                receive(client)
            except (helpers.Closed, ConnectionError, OSError):
                closed_at = time.monotonic() - started
                break
            time.sleep(0.1)
        assert closed_at is not None and 0.9 < closed_at < 3, closed_at
    seen = counters(admin_port)
    assert seen["websocket_lifetime_closes"] == 1 and seen["websocket_idle_closes"] == 0


def test_a_tunnel_over_tls(stack, tmp_path):
    """The same tunnel through a TLS listener: records both ways, unparsed."""
    import ssl

    import tls_certs
    from test_tls import TlsClient

    tls_certs.make_ca(tmp_path)
    cert, key = tls_certs.make_leaf(tmp_path, "ws", "/CN=ws.test", "DNS:ws.test")
    rampart, _ = start(stack, tls={"certificates": [{"cert": str(cert), "key": str(key)}]})
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    with TlsClient(rampart.port, context, "ws.test") as client:
        response, _ = upgrade(client)
        assert response.status == 101
        for text in ("over", "tls" * 30000):
            send_text(client, text)
            assert receive(client) == (0x1, text.encode())


def test_an_open_tunnel_survives_a_reload_that_changes_other_routes(stack):
    """issue 8: a reload leaves long-lived connections alone. The tunnel keeps
    echoing after the config gained a route (a new generation), and new
    upgrades are served by the new config."""
    admin_port = helpers.free_port()
    rampart, echo = start(stack, admin_port=admin_port)
    path = stack.workdir / f"rampart-{rampart.port}.yaml"
    with Client(rampart.port) as client:
        response, _ = upgrade(client)
        assert response.status == 101, response
        send_text(client, "before")
        assert receive(client) == (0x1, b"before")
        config = yaml.safe_load(path.read_text())
        config["virtual_hosts"][0]["routes"].insert(
            0, {"name": "extra", "match": {"prefix": "/extra"}, "cluster": "echo", "public": True})
        path.write_text(yaml.safe_dump(config))
        with Client(admin_port, timeout=10) as admin:
            answer = admin.request("POST", "/reload")
        assert answer.status == 200 and json.loads(answer.body)["result"] == "ok", answer.body
        for text_out in ("after", "y" * 30000):
            send_text(client, text_out)
            assert receive(client) == (0x1, text_out.encode())
    with Client(rampart.port) as again:
        response, _ = upgrade(again)
        assert response.status == 101, response
    helpers.get(rampart.port, "/extra/x")  # routed by the new config's route
    routes = json.loads(helpers.get(admin_port, "/stats").body)["routes"]
    assert any(r["route"] == "extra" and r["requests"] == 1 for r in routes), routes


# -- WebSocket over HTTP/2 (RFC 8441): an extended CONNECT on a stream.

def h2_websocket(client, target="/chat", key=KEY, protocol="websocket", end=False):
    """Opens an extended CONNECT stream; returns it once its response head came."""
    headers = [(":protocol", protocol)]
    headers += [("sec-websocket-version", "13")] + ([("x-api-key", key)] if key else [])
    stream = client.request("CONNECT", target, headers, end=end)
    deadline = time.monotonic() + client.timeout
    while client.streams[stream]["status"] is None and not client.streams[stream]["done"]:
        assert time.monotonic() < deadline, "no response head in time"
        assert client.pump(), "the server closed the connection"
    return stream


def h2_send(client, stream, opcode, payload, end=False):
    client.send_body(stream, frame(opcode, payload, mask=os.urandom(4)), end=end)


def h2_receive(client, stream):
    """The next whole server frame from the stream's DATA (unmasked)."""
    deadline = time.monotonic() + client.timeout
    state = client.streams[stream]
    while True:
        body = bytes(state["body"])
        if len(body) >= 2:
            length, at = body[1] & 0x7F, 2
            if length == 126 and len(body) >= 4:
                length, at = int.from_bytes(body[2:4], "big"), 4
            elif length == 127 and len(body) >= 10:
                length, at = int.from_bytes(body[2:10], "big"), 10
            if length < 126 or at > 2:
                if len(body) >= at + length:
                    del state["body"][:at + length]
                    return body[0] & 0x0F, body[at:at + length]
        assert time.monotonic() < deadline, "no whole frame in time"
        assert client.pump(), "the server closed the connection"


def test_websocket_over_http2_is_a_tunnel_after_every_phase(stack):
    from test_http2 import H2Client
    rampart, echo = start(stack, http2=True)
    with H2Client(rampart.port) as client:
        stream = h2_websocket(client)
        assert client.conn.remote_settings.enable_connect_protocol == 1
        state = client.streams[stream]
        names = dict(state["headers"])
        assert state["status"] == 200 and not state["done"], state
        assert "sec-websocket-accept" not in names and "upgrade" not in names
        for text in (b"hello", b"x" * 70000, b"bye"):
            h2_send(client, stream, 0x1, text)
            assert h2_receive(client, stream) == (0x1, text)
        # A second tunnel on the same connection, beside the first.
        other = h2_websocket(client)
        h2_send(client, other, 0x2, b"\x00\x01")
        assert h2_receive(client, other) == (0x2, b"\x00\x01")
        # Close: the echo answers and hangs up, the stream ends.
        h2_send(client, stream, 0x8, struct_code(1000))
        assert h2_receive(client, stream)[0] == 0x8
        client.wait([stream])
        assert state["reset"] in (None, 0), state  # ended, or NO_ERROR after its END_STREAM
        # The client's END_STREAM is the tunnel's end, as a FIN is over
        # HTTP/1.1: the upstream connection is closed and the stream ends.
        h2_send(client, other, 0x1, b"last", end=True)
        client.wait([other])
        assert client.streams[other]["reset"] in (None, 0)
        assert client.get("/elsewhere")["status"] == 426  # the connection serves on
    records = echo.records()
    assert [r["request"] for r in records] == ["GET /chat HTTP/1.1"] * 2 + ["GET /elsewhere HTTP/1.1"]
    for record in records[:2]:
        assert record["request"] == "GET /chat HTTP/1.1"
        names = {name.lower(): value for name, value in record["headers"]}
        assert names["upgrade"] == "websocket" and names["connection"] == "Upgrade"
        assert len(base64.b64decode(names["sec-websocket-key"], validate=True)) == 16
        assert names["x-auth-subject"] == "ws-user"  # phase 5 ran on the stream


def test_websocket_over_http2_refusals(stack):
    from test_http2 import H2Client
    app = stack.upstream("app")
    rampart, echo = start(stack, http2=True, app=app)
    with H2Client(rampart.port) as client:
        # Without its credential: refused by phase 5, as over HTTP/1.1.
        stream = h2_websocket(client, key=None)
        assert client.wait([stream])[0]["status"] == 401
        # A route without `websocket: true`: 403, where a plain GET upstream
        # would have answered 2xx and looked like an open tunnel.
        stream = h2_websocket(client, target="/elsewhere")
        assert client.wait([stream])[0]["status"] == 403
        # A plain CONNECT, and another :protocol, are not served.
        stream = client.conn.get_next_available_stream_id()
        client.conn.send_headers(stream, [(":method", "CONNECT"), (":authority", "a.test:443")])
        client.flush()
        client.streams[stream] = {"status": None, "headers": [], "body": bytearray(),
                                  "done": False, "reset": None}
        assert client.wait([stream])[0]["status"] == 501
        stream = h2_websocket(client, protocol="webtransport")
        assert client.wait([stream])[0]["status"] == 501
        # An upstream that answers the upgrade with 200 (it speaks no
        # WebSocket): 502, never a 200 that would read as an open tunnel.
        stream = h2_websocket(client, target="/app/ws")
        assert client.wait([stream])[0]["status"] == 502
        assert len(app.records()) == 1
        # The connection serves on.
        assert client.get("/elsewhere")["status"] == 426
    assert [r["request"] for r in echo.records()] == ["GET /elsewhere HTTP/1.1"]
