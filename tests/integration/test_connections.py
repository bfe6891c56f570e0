"""Connection handling: keep-alive and upstream reuse, pipelining, HTTP/1.0,
HEAD/204/304, Expect: 100-continue, chunked both ways, head and idle timeouts."""
import hashlib
import os
import time

import helpers
from helpers import Client, assert_problem, build_request


def test_keep_alive_reuses_client_and_upstream_connections(proxy):
    rampart, upstream = proxy
    with Client(rampart.port) as client:
        for i in range(50):
            response = client.request("GET", f"/ka/{i}")
            assert response.status == 200
            assert response.json()["target"] == f"/ka/{i}"
    assert int(response.header("x-upstream-connections")) <= 2
    assert len({r["conn"] for r in upstream.requests()}) <= 2
    assert len(upstream.requests()) == 50


def test_upstream_connections_reused_across_client_connections(proxy):
    rampart, upstream = proxy
    for i in range(10):
        assert helpers.get(rampart.port, f"/fresh/{i}").status == 200
    assert len({r["conn"] for r in upstream.requests()}) <= 2


def test_pipelined_requests_answered_in_order(proxy):
    rampart, _ = proxy
    with Client(rampart.port) as client:
        client.send(b"".join(build_request("GET", f"/p/{i}") for i in (1, 2, 3)))
        targets = [client.read_response().json()["target"] for _ in range(3)]
    assert targets == ["/p/1", "/p/2", "/p/3"]


def test_pipelined_mixed_methods_and_bodies(proxy):
    rampart, _ = proxy
    with Client(rampart.port) as client:
        client.send(build_request("POST", "/m/1", body=b"abc") + build_request("HEAD", "/m/2")
                    + build_request("GET", "/status/204") + build_request("GET", "/m/4"))
        first = client.read_response("POST")
        second = client.read_response("HEAD")
        third = client.read_response()
        fourth = client.read_response()
    assert first.json()["body_len"] == 3 and first.json()["target"] == "/m/1"
    assert second.status == 200 and second.body == b""
    assert third.status == 204
    assert fourth.json()["target"] == "/m/4"


def test_http10_without_keep_alive_closes(proxy):
    rampart, _ = proxy
    with Client(rampart.port) as client:
        client.send(b"GET /old HTTP/1.0\r\n\r\n")
        response = client.read_response()
        assert response.status == 200
        assert response.json()["target"] == "/old"
        closed, rest = client.wait_closed(3)
    assert closed and rest == b""


def test_connection_close_closes_after_response(proxy):
    rampart, _ = proxy
    with Client(rampart.port) as client:
        response = client.request("GET", "/bye", headers=[("Connection", "close")])
        assert response.status == 200
        closed, rest = client.wait_closed(3)
    assert closed and rest == b""


def test_head_has_no_body(proxy):
    rampart, _ = proxy
    with Client(rampart.port) as client:
        head = client.request("HEAD", "/h")
        assert head.status == 200 and head.body == b""
        # If any body bytes had been sent, this response would not parse.
        after = client.request("GET", "/after-head")
        assert after.status == 200 and after.json()["target"] == "/after-head"


def test_204_and_304_pass_without_body(proxy):
    rampart, _ = proxy
    with Client(rampart.port) as client:
        assert client.request("GET", "/status/204").status == 204
        assert client.request("GET", "/status/304").status == 304
        after = client.request("GET", "/after")
        assert after.json()["target"] == "/after"


def test_other_upstream_statuses_pass_through(proxy):
    rampart, _ = proxy
    response = helpers.get(rampart.port, "/status/418")
    assert response.status == 418 and response.json()["target"] == "/status/418"


def test_expect_100_continue(proxy):
    rampart, upstream = proxy
    body = os.urandom(5000)
    with Client(rampart.port, timeout=5) as client:
        client.send(b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n"
                    b"Expect: 100-continue\r\n\r\n")
        interim = client.read_response(interim=True)
        assert interim.status == 100, interim
        client.send(body)
        final = client.read_response()
    assert final.status == 200
    assert final.json()["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_expect_100_continue_refused_before_body(proxy):
    rampart, upstream = proxy
    with Client(rampart.port, timeout=5) as client:
        client.send(b"POST /limited/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n"
                    b"Expect: 100-continue\r\n\r\n")
        response = client.read_response()  # the body is never sent
    assert_problem(response, 413)
    assert upstream.requests() == []


def test_chunked_request_body_reaches_upstream_intact(proxy):
    rampart, _ = proxy
    body = os.urandom(200_000)
    pieces = [body[:1], body[1:1001], body[1001:71001], body[71001:]]
    wire = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces[:2])
    wire += b"%x;ext=1\r\n%s\r\n" % (len(pieces[2]), pieces[2])
    wire += b"%X\r\n%s\r\n" % (len(pieces[3]), pieces[3]) + b"0\r\n\r\n"
    with Client(rampart.port, timeout=10) as client:
        client.send(b"POST /chunky HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n")
        client.send(wire[:5000])
        time.sleep(0.05)
        client.send(wire[5000:])
        response = client.read_response()
        echo = response.json()
        assert echo["body_len"] == len(body)
        assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()
        # The connection is still in sync afterwards.
        assert client.request("GET", "/next").json()["target"] == "/next"


def test_chunked_response_reaches_client_intact(proxy):
    rampart, _ = proxy
    response = helpers.get(rampart.port, "/chunked?n=200")
    assert response.status == 200
    assert response.body == b"".join(b"chunk-%d\n" % i for i in range(200))


def test_http10_client_gets_chunked_response_decoded_and_close_delimited(proxy):
    rampart, _ = proxy
    with Client(rampart.port) as client:
        client.send(b"GET /chunked?n=20 HTTP/1.0\r\nHost: localhost\r\n\r\n")
        raw = client.read_head()
        version, status, _, headers = helpers.parse_response_head(raw[:-4])
        assert status == 200
        names = {n.lower() for n, _ in headers}
        assert "transfer-encoding" not in names, headers
        body = client.read_to_close()
    expected = b"".join(b"chunk-%d\n" % i for i in range(20))
    length = [v for n, v in headers if n.lower() == "content-length"]
    assert body == expected and (not length or int(length[0]) == len(expected))


def test_download_with_chunked_upstream_framing(proxy):
    rampart, _ = proxy
    state, sink = helpers.crc_sink()
    total = 5 * helpers.BLOCK + 777
    with Client(rampart.port, timeout=10) as client:
        client.send(build_request("GET", f"/download?bytes={total}&chunked=1"))
        assert client.read_response(sink=sink).status == 200
    assert state["len"] == total and state["crc"] == helpers.pattern_crc32(total)


def test_head_timeout_closes_a_stalled_head(stack):
    rampart, upstream = stack.simple(http={"head_timeout": "1s"})
    with Client(rampart.port, timeout=5) as client:
        client.send(b"GET /stall HTTP/1.1\r\nHost: localhost\r\n")
        started = time.monotonic()
        closed, data = client.wait_closed(3.5)
        elapsed = time.monotonic() - started
    assert closed, "connection still open 3.5 s after a stalled head (head_timeout 1s)"
    assert elapsed >= 0.7, f"closed after {elapsed:.2f}s, before the head timeout"
    assert data == b"" or data.startswith(b"HTTP/1.1 408") or data.startswith(b"HTTP/1.0 408"), data[:100]
    assert upstream.requests() == []


def test_idle_keep_alive_closed_after_idle_timeout(stack):
    rampart, _ = stack.simple(http={"idle_timeout": "1s"})
    with Client(rampart.port, timeout=5) as client:
        assert client.request("GET", "/once").status == 200
        started = time.monotonic()
        closed, data = client.wait_closed(3.5)
        elapsed = time.monotonic() - started
    assert closed and data == b"", (closed, data[:100])
    assert elapsed >= 0.7, f"closed after {elapsed:.2f}s, before the idle timeout"


def test_connection_survives_below_idle_timeout(stack):
    rampart, _ = stack.simple(http={"idle_timeout": "2s"})
    with Client(rampart.port, timeout=5) as client:
        for i in range(3):
            assert client.request("GET", f"/tick/{i}").status == 200
            time.sleep(0.6)
        assert client.request("GET", "/tick/last").status == 200


def test_a_burst_of_new_connections_is_accepted_and_served(proxy):
    """Accepts are bounded per loop iteration (16) and new connections wait
    behind the proven ones: a burst of 600 connections queued in the backlog
    at once must still all be accepted and answered, promptly."""
    import select
    import socket
    rampart, upstream = proxy
    socks = [socket.create_connection(("127.0.0.1", rampart.port), timeout=5) for _ in range(600)]
    try:
        start = time.monotonic()
        for i, sock in enumerate(socks):
            sock.sendall(build_request("GET", f"/burst/{i}"))
        pending = {sock: b"" for sock in socks}
        answered = 0
        while pending and time.monotonic() - start < 20:
            ready, _, _ = select.select(list(pending)[:500], [], [], 1.0)
            for sock in ready:
                chunk = sock.recv(65536)
                pending[sock] += chunk
                if not chunk or b"\r\n\r\n" in pending[sock]:
                    assert pending[sock].startswith(b"HTTP/1.1 200"), pending[sock][:80]
                    del pending[sock]
                    answered += 1
        assert answered == 600, f"{len(pending)} connections unanswered"
        assert time.monotonic() - start < 10
    finally:
        for sock in socks:
            sock.close()
