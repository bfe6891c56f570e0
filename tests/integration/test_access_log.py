"""The access log (phase 10) and W3C trace context through the real binary:
one JSON line per request with its fields, refusals with their cause,
the canonical path, sampling that never hides a refusal, a full ring that
drops and counts, and traceparent propagated or replaced."""
import hashlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import time

import helpers
import prometheus_text

FIELDS = {"time", "request_id", "client", "method", "path", "route", "status", "bytes_in",
          "bytes_out", "rampart_us", "upstream_us", "principal", "account", "decision", "cause",
          "trace_id"}
INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def write_keys(stack):
    digest = hashlib.sha256(b"key-alice-0001").hexdigest()
    stack.write("keys.yaml", f"keys:\n  - name: alice\n    sha256: {digest}\n"
                             f"    principal: alice\n    account: acme\n")


def gateway(stack, access_log, admin_port=None):
    """Routes: /pub public, /limited one request a minute per address,
    /secure an API key, /closed no policy (403); anything else 404."""
    write_keys(stack)
    upstream = stack.upstream("app")
    port = helpers.free_port()
    routes = [
        {"name": "pub", "match": {"prefix": "/pub"}, "cluster": "app"},
        {"name": "limited", "match": {"prefix": "/limited"}, "cluster": "app",
         "limits": [{"name": "one", "key": "address", "rate": "1/m", "burst": 1}]},
        {"name": "secure", "match": {"prefix": "/secure"}, "cluster": "app", "public": True,
         "auth": {"providers": ["partners"]}},
        {"name": "closed", "match": {"prefix": "/closed"}, "cluster": "app",
         "_deny_by_default": True},
    ]
    top = {"access_log": access_log,
           "authentication": {"providers": [{"name": "partners",
                                             "api_keys": {"file": "keys.yaml"}}]}}
    if admin_port:
        top["admin"] = {"address": f"127.0.0.1:{admin_port}"}
    text = helpers.config(port, [helpers.cluster("app", [upstream.address])],
                          [{"name": "default", "domains": ["*"], "routes": routes}], **top)
    rampart = stack.rampart(text, port)
    if admin_port:
        helpers.wait_port(admin_port, 10, rampart.process)
    return rampart, upstream


def read_lines(path, count, timeout=5.0):
    """The log's lines once there are at least `count` (the log thread writes
    every few milliseconds)."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text() if path.exists() else ""
        lines = [line for line in text.split("\n") if line]
        if len(lines) >= count or time.monotonic() > deadline:
            return [json.loads(line) for line in lines]
        time.sleep(0.02)


def by_id(lines, request_id):
    found = [line for line in lines if line["request_id"] == request_id]
    assert len(found) == 1, (request_id, lines)
    return found[0]


def test_one_line_per_request_with_every_field_and_cause(stack):
    path = stack.workdir / "access.log"
    rampart, upstream = gateway(stack, {"path": str(path)})
    ok = helpers.get(rampart.port, "/pub/hello", body=b"12345", method="POST")
    assert ok.status == 200
    assert helpers.get(rampart.port, "/limited/a").status == 200
    over = helpers.get(rampart.port, "/limited/b")
    assert over.status == 429
    unauthenticated = helpers.get(rampart.port, "/secure/x")
    assert unauthenticated.status == 401
    authenticated = helpers.get(rampart.port, "/secure/y", headers=[("X-Api-Key", "key-alice-0001")])
    assert authenticated.status == 200
    denied = helpers.get(rampart.port, "/closed/z")
    assert denied.status == 403
    missing = helpers.get(rampart.port, "/nowhere")
    assert missing.status == 404
    with helpers.Client(rampart.port) as client:  # refused by the strict parser
        client.send(b"GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")
        bad = client.read_response()
    assert bad.status == 400
    lines = read_lines(path, 8)
    assert len(lines) == 8, lines
    for line in lines:
        assert set(line) == FIELDS, line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"]), line
        assert line["client"] == "127.0.0.1"

    first = by_id(lines, ok.header("x-request-id"))
    assert (first["method"], first["path"], first["route"], first["status"]) == ("POST", "/pub/hello", "pub", 200)
    assert (first["decision"], first["cause"]) == ("allow", "")
    assert first["bytes_in"] > 5 and first["bytes_out"] == len(ok.raw_head) + len(ok.body), (first, ok)
    assert first["upstream_us"] > 0 and first["rampart_us"] > 0
    assert re.fullmatch(r"[0-9a-f]{32}", first["trace_id"]) and first["trace_id"] != "0" * 32

    limited = by_id(lines, over.header("x-request-id"))
    assert (limited["status"], limited["decision"], limited["cause"], limited["route"]) == (429, "deny", "rate-limit", "limited")
    assert limited["upstream_us"] == 0

    auth = by_id(lines, unauthenticated.header("x-request-id"))
    assert (auth["status"], auth["cause"], auth["principal"]) == (401, "auth", "")
    alice = by_id(lines, authenticated.header("x-request-id"))
    assert (alice["status"], alice["principal"], alice["account"], alice["cause"]) == (200, "alice", "acme", "")
    policy = by_id(lines, denied.header("x-request-id"))
    assert (policy["status"], policy["decision"], policy["cause"], policy["route"]) == (403, "deny", "policy", "closed")
    nowhere = by_id(lines, missing.header("x-request-id"))
    assert (nowhere["status"], nowhere["cause"], nowhere["route"], nowhere["path"]) == (404, "route", "", "/nowhere")
    parser = by_id(lines, bad.header("x-request-id"))
    assert (parser["status"], parser["cause"], parser["method"], parser["path"]) == (400, "bad-request", "", "")
    assert len(upstream.requests()) == 3


def test_the_canonical_path_is_logged_never_the_raw_one(stack):
    path = stack.workdir / "access.log"
    rampart, upstream = gateway(stack, {"path": str(path)})
    response = helpers.get(rampart.port, "/pub/./a/%62/../c%2d?q=%22x%22")
    assert response.status == 200
    sent = upstream.requests()[-1]["target"]
    line = read_lines(path, 1)[0]
    # What the upstream got, less the query: one target for routing, policy, upstream and log.
    assert line["path"] == sent.split("?")[0] == "/pub/a/c-", (line, sent)


def test_sampling_zero_keeps_every_refusal_and_no_success(stack):
    path = stack.workdir / "access.log"
    rampart, _ = gateway(stack, {"path": str(path), "sample_success": 0})
    for _ in range(5):
        assert helpers.get(rampart.port, "/pub/ok").status == 200
    assert helpers.get(rampart.port, "/secure/x").status == 401
    assert helpers.get(rampart.port, "/nowhere").status == 404
    assert helpers.get(rampart.port, "/limited/1").status == 200
    assert helpers.get(rampart.port, "/limited/2").status == 429
    lines = read_lines(path, 3)
    time.sleep(0.2)  # anything else would have been written by now
    lines = read_lines(path, 3)
    assert sorted(line["status"] for line in lines) == [401, 404, 429], lines


def test_configured_fields_only_and_stderr(stack):
    rampart, _ = gateway(stack, {"path": "-", "fields": ["status", "path", "trace_id"]})
    assert helpers.get(rampart.port, "/pub/x").status == 200
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [l for l in rampart.stderr().splitlines() if l.startswith('{"path":"/pub/x"')]
        if found:
            break
        time.sleep(0.02)
    assert found, rampart.stderr()
    line = json.loads(found[0])
    assert set(line) == {"path", "status", "trace_id"} and line["status"] == 200


def test_traceparent_continued_with_a_new_parent_and_tracestate_passed(stack):
    path = stack.workdir / "access.log"
    rampart, upstream = gateway(stack, {"path": str(path)})
    response = helpers.get(rampart.port, "/pub/t", headers=[("traceparent", INCOMING),
                                                              ("tracestate", "vendor=abc,other=1")])
    assert response.status == 200
    echo = upstream.requests()[-1]
    sent = helpers.echo_header(echo, "traceparent")
    assert len(sent) == 1, echo
    version, trace_id, parent, flags = sent[0].split("-")
    assert (version, trace_id, flags) == ("00", "4bf92f3577b34da6a3ce929d0e0e4736", "01")
    assert re.fullmatch(r"[0-9a-f]{16}", parent) and parent != "00f067aa0ba902b7"
    assert helpers.echo_header(echo, "tracestate") == ["vendor=abc,other=1"]
    assert read_lines(path, 1)[0]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_an_invalid_traceparent_is_replaced_and_its_tracestate_dropped(stack):
    path = stack.workdir / "access.log"
    rampart, upstream = gateway(stack, {"path": str(path)})
    bad = INCOMING.upper().replace("X", "x")  # uppercase hex is not valid
    assert helpers.get(rampart.port, "/pub/t", headers=[("traceparent", bad),
                                                          ("tracestate", "vendor=abc")]).status == 200
    assert helpers.get(rampart.port, "/pub/u").status == 200  # none at all: started
    echoes = upstream.requests()
    logged = [line["trace_id"] for line in read_lines(path, 2)]
    for echo, trace in zip(echoes, logged):
        sent = helpers.echo_header(echo, "traceparent")
        assert len(sent) == 1 and re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00", sent[0]), echo
        assert sent[0].split("-")[1] == trace
        assert sent[0].split("-")[1] != "4bf92f3577b34da6a3ce929d0e0e4736"
        assert helpers.echo_header(echo, "tracestate") == []
    assert logged[0] != logged[1]


def test_a_full_ring_drops_and_counts(stack):
    """A ring of 16 lines and a burst written faster than the log thread's
    20 ms tick: the lines over the ring are dropped and counted, and the
    written lines plus the dropped ones are every request."""
    path = stack.workdir / "access.log"
    admin_port = helpers.free_port()
    rampart, _ = gateway(stack, {"path": str(path), "buffer_lines": 16}, admin_port=admin_port)
    total = 0
    deadline = time.monotonic() + 10
    dropped = 0
    with helpers.Client(rampart.port) as client:
        # Refusals are cheap and always logged: 404s on one connection,
        # pipelined in batches so the ring fills between two ticks.
        while time.monotonic() < deadline and total < 4000:
            batch = 200
            client.send(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n" * batch)
            for _ in range(batch):
                assert client.read_response().status == 404
            total += batch
            metrics = prometheus_text.parse(helpers.get(admin_port, "/metrics").body.decode())
            dropped = prometheus_text.value(metrics, "rampart_access_log_dropped_total")
            if dropped > 0 and total >= 1000:
                break
    assert dropped > 0, total
    rampart.stop()
    written = len(read_lines(path, 0))
    assert written + dropped == total, (written, dropped, total)
    stopped = [l for l in rampart.stderr().splitlines() if "stopped:" in l][-1]
    assert f"access_log_dropped={int(dropped)}" in stopped, stopped


def test_a_stalled_sink_never_blocks_the_workers(stack):
    """A FIFO whose reader never reads: the pipe fills and the log thread
    cannot write. Requests are still served at once, the lines over the
    rings are dropped and counted, shutdown is not held up, and every line
    is accounted for: in the pipe, dropped by a worker, or lost at exit."""
    fifo = stack.workdir / "stalled.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # opened, never read until the end
    try:
        admin_port = helpers.free_port()
        rampart, _ = gateway(stack, {"path": str(fifo), "buffer_lines": 16}, admin_port=admin_port)
        total = 0
        began = time.monotonic()
        with helpers.Client(rampart.port) as client:
            while total < 3000 and time.monotonic() - began < 20:
                client.send(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n" * 100)
                for _ in range(100):
                    assert client.read_response().status == 404
                total += 100
        assert total == 3000
        started = time.monotonic()
        assert helpers.get(rampart.port, "/pub/still-served").status == 200
        assert time.monotonic() - started < 1.0
        total += 1
        metrics = prometheus_text.parse(helpers.get(admin_port, "/metrics").body.decode())
        dropped = int(prometheus_text.value(metrics, "rampart_access_log_dropped_total"))
        assert dropped > total // 2, (dropped, total)
        started = time.monotonic()
        assert rampart.stop() == 0
        assert time.monotonic() - started < 5.0
        in_pipe = b""
        while True:
            try:
                chunk = os.read(reader, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            in_pipe += chunk
    finally:
        os.close(reader)
    summary = [l for l in rampart.stderr().splitlines() if "access log:" in l][-1]
    written, lost = map(int, re.search(r"(\d+) lines written, (\d+) lost", summary).groups())
    assert written == in_pipe.count(b"\n"), (summary, in_pipe.count(b"\n"))
    # The final count, from the shutdown line: a worker logs a request after
    # its response is sent, so the last line may be dropped after /metrics was read.
    final_dropped = int(re.search(r"stopped: .*\baccess_log_dropped=(\d+)", rampart.stderr()).group(1))
    assert final_dropped >= dropped
    assert written + lost + final_dropped == total, (written, lost, final_dropped, total)


def test_upstream_failures_and_aborts_are_logged_with_their_cause(stack):
    path = stack.workdir / "access.log"
    upstream = stack.upstream("app")
    port = helpers.free_port()
    dead = f"127.0.0.1:{helpers.free_port()}"  # nothing listens there
    routes = [{"name": "dead", "match": {"prefix": "/dead"}, "cluster": "dead"},
              {"name": "app", "match": {"prefix": "/"}, "cluster": "app"}]
    text = helpers.config(port, [helpers.cluster("app", [upstream.address]),
                                 helpers.cluster("dead", [dead])],
                          [{"name": "default", "domains": ["*"], "routes": routes}],
                          access_log={"path": str(path)})
    rampart = stack.rampart(text, port)
    failed = helpers.get(rampart.port, "/dead/x")
    assert failed.status == 502
    # A client that leaves before its response: the line says so.
    with helpers.Client(rampart.port) as client:
        client.send(b"GET /slow?ms=400 HTTP/1.1\r\nHost: x\r\n\r\n")
        upstream.wait_for(lambda r: r["target"].startswith("/slow"))
        time.sleep(0.05)  # the upstream's head (sent at once) reaches Rampart
        # A reset, not a FIN: Rampart's next write fails whatever the timing
        # (a FIN alone may let the last bytes go into the socket buffer).
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    lines = read_lines(path, 2)
    line = by_id(lines, failed.header("x-request-id"))
    assert (line["status"], line["decision"], line["cause"], line["route"]) == (
        502, "error", "upstream-connect-failure", "dead"), line
    aborted = [l for l in lines if l["path"] == "/slow"]
    # The slow upstream sends its head at once: the status went out, the body never did.
    assert len(aborted) == 1 and aborted[0]["decision"] == "abort", lines
    assert aborted[0]["status"] in (0, 200) and aborted[0]["cause"] == "", lines


def test_sigusr1_reopens_the_file_after_rotation(stack):
    path = stack.workdir / "access.log"
    rampart, _ = gateway(stack, {"path": str(path)})
    assert helpers.get(rampart.port, "/pub/before").status == 200
    assert [l["path"] for l in read_lines(path, 1)] == ["/pub/before"]
    rotated = stack.workdir / "access.log.1"
    path.rename(rotated)
    rampart.process.send_signal(signal.SIGUSR1)
    time.sleep(0.2)  # the log thread reopens on its next tick
    assert helpers.get(rampart.port, "/pub/after").status == 200
    assert [l["path"] for l in read_lines(path, 1)] == ["/pub/after"]
    assert [l["path"] for l in read_lines(rotated, 1)] == ["/pub/before"]
    assert rampart.stop() == 0


def test_a_bad_access_log_config_is_refused_with_its_position(stack):
    port = helpers.free_port()
    upstream = stack.upstream("app")
    text = helpers.simple_config(port, upstream.address,
                                 access_log={"path": "-", "fields": ["status", "colour"],
                                             "sample_success": 2})
    config = stack.write("bad.yaml", text)
    result = subprocess.run([helpers.rampart_bin(), "validate", "-c", str(config)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    lines = text.split("\n")
    colour_line = next(i for i, l in enumerate(lines) if "colour" in l) + 1
    sample_line = next(i for i, l in enumerate(lines) if "sample_success" in l) + 1
    assert re.search(rf"bad.yaml:{colour_line}:\d+: fields: unknown field 'colour'", output), output
    assert re.search(rf"bad.yaml:{sample_line}:\d+: sample_success: expected a number from 0.0 to 1.0",
                     output), output
