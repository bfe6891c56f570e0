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


def start(stack, websocket=None, tls=None, admin_port=None):
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
    doc = {"workers": 1, "drain_timeout": "2s",
           "listeners": [{"name": "main", "address": f"127.0.0.1:{port}", **({"tls": tls} if tls else {})}],
           "clusters": [helpers.cluster("echo", [echo.address])],
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
