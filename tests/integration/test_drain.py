"""Graceful shutdown: SIGTERM/SIGINT stop accepting at once, in-flight
requests finish within drain_timeout, then the process exits 0."""
import signal
import socket
import time

import pytest

import helpers
from helpers import Client, build_request


def new_connection_is_refused(port):
    """True when a new connection is refused or closed without any response."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=2)
    except ConnectionRefusedError:
        return True
    with sock:
        try:
            sock.sendall(build_request("GET", "/after-sigterm"))
            sock.settimeout(2)
            return sock.recv(100) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_drain_finishes_in_flight_request_then_exits_zero(stack, sig):
    rampart, upstream = stack.simple()
    with Client(rampart.port, timeout=8) as slow:
        slow.send(build_request("GET", "/slow?ms=1500"))
        upstream.wait_for(lambda r: r["target"].startswith("/slow"))
        signalled = time.monotonic()
        rampart.process.send_signal(sig)
        time.sleep(0.3)
        assert new_connection_is_refused(rampart.port), "a new connection was served after the signal"
        response = slow.read_response()
        assert response.status == 200
        assert response.json()["target"] == "/slow?ms=1500"
    code = rampart.process.wait(timeout=8)
    exited = time.monotonic() - signalled
    assert code == 0, rampart.stderr()[-2000:]
    assert exited < 5.5, f"exit took {exited:.1f}s with drain_timeout 5s"
    assert "/after-sigterm" not in upstream.targets()


def test_drain_with_only_idle_connections_exits_promptly(stack):
    rampart, _ = stack.simple()
    with Client(rampart.port, timeout=5) as idle:
        assert idle.request("GET", "/before").status == 200
        signalled = time.monotonic()
        rampart.process.send_signal(signal.SIGTERM)
        code = rampart.process.wait(timeout=8)
        exited = time.monotonic() - signalled
        closed, data = idle.wait_closed(1)
    assert code == 0
    assert exited < 5.5, f"exit took {exited:.1f}s with drain_timeout 5s"
    assert closed and data == b""


def test_drain_timeout_bounds_shutdown(stack):
    rampart, upstream = stack.simple(drain_timeout="1s")
    with Client(rampart.port, timeout=10) as slow:
        slow.send(build_request("GET", "/slow?ms=6000"))
        upstream.wait_for(lambda r: r["target"].startswith("/slow"))
        signalled = time.monotonic()
        rampart.process.send_signal(signal.SIGTERM)
        rampart.process.wait(timeout=8)
        exited = time.monotonic() - signalled
        closed, data = slow.wait_closed(2)
    assert exited < 3.0, f"exit took {exited:.1f}s with drain_timeout 1s"
    assert closed
    assert not data.startswith(b"HTTP/1.1 200"), data[:100]


def test_a_connection_accepted_before_the_signal_is_served_once(stack):
    """A client that connected just before the drain and sends its request
    just after must get its answer (with Connection: close), not a silent
    close: it never saw a response, so it cannot know the request is safe to
    send again. Idle keep-alive connections are still closed at once."""
    rampart, upstream = stack.simple()
    fresh = Client(rampart.port, timeout=5)
    with fresh, Client(rampart.port, timeout=5) as idle:
        assert idle.request("GET", "/before").status == 200
        fresh.send(b"")  # connected, nothing sent yet
        time.sleep(0.2)  # the worker has accepted it
        rampart.process.send_signal(signal.SIGTERM)
        closed, data = idle.wait_closed(2)
        assert closed and data == b""
        response = fresh.request("GET", "/late-first-request")
        assert response.status == 200
        assert response.header("connection") == "close"
        assert fresh.wait_closed(2)[0]
    assert rampart.process.wait(timeout=8) == 0
    assert "/late-first-request" in upstream.targets()
