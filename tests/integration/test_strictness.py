"""Request smuggling and malformed requests: 400, connection closed, and
nothing after the bad request ever reaches the upstream. Also the size limits."""
import pytest

import helpers
from helpers import Client, assert_problem

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"

H = b"POST /in HTTP/1.1\r\nHost: localhost\r\n"

# (id, bytes of the bad request, whether the head itself is bad so nothing at all may reach the upstream)
BAD_REQUESTS = [
    ("cl-and-te", H + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", True),
    ("te-and-cl", H + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", True),
    ("two-differing-cl", H + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", True),
    ("cl-plus", H + b"Content-Length: +5\r\n\r\nhello", True),
    ("cl-space", H + b"Content-Length: 5 5\r\n\r\nhello", True),
    ("cl-hex", H + b"Content-Length: 0x5\r\n\r\nhello", True),
    ("cl-list", H + b"Content-Length: 5,5\r\n\r\nhello", True),
    ("cl-negative", H + b"Content-Length: -1\r\n\r\n", True),
    ("te-chunked-identity", H + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", True),
    ("te-xchunked", H + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", True),
    ("te-identity", H + b"Transfer-Encoding: identity\r\n\r\n0\r\n\r\n", True),
    ("te-twice", H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", True),
    ("te-obs-fold", H + b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", True),
    ("obs-fold", b"GET /in HTTP/1.1\r\nHost: localhost\r\nX-Long: a\r\n b\r\n\r\n", True),
    ("space-before-colon", b"GET /in HTTP/1.1\r\nHost: localhost\r\nX-Name : v\r\n\r\n", True),
    ("te-space-before-colon", H + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", True),
    ("nul-in-value", b"GET /in HTTP/1.1\r\nHost: localhost\r\nX-Nul: a\x00b\r\n\r\n", True),
    ("bare-lf-header", b"GET /in HTTP/1.1\r\nHost: localhost\r\nX-A: 1\nX-B: 2\r\n\r\n", True),
    ("bare-lf-request-line", b"GET /in HTTP/1.1\nHost: localhost\r\n\r\n", True),
    ("bare-cr", b"GET /in HTTP/1.1\r\nHost: localhost\r\nX-A: 1\rX-B: 2\r\n\r\n", True),
    ("no-host-http11", b"GET /in HTTP/1.1\r\nX-A: 1\r\n\r\n", True),
    ("two-hosts", b"GET /in HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n", True),
    ("request-line-2-parts", b"GET /in\r\nHost: localhost\r\n\r\n", True),
    ("request-line-4-parts", b"GET /in HTTP/1.1 extra\r\nHost: localhost\r\n\r\n", True),
    ("http-2.0", b"GET /in HTTP/2.0\r\nHost: localhost\r\n\r\n", True),
    ("http-1.2", b"GET /in HTTP/1.2\r\nHost: localhost\r\n\r\n", True),
    ("chunk-size-not-hex", H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", False),
    ("chunk-size-overflow", H + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n", False),
]


@pytest.mark.parametrize("bad,head_is_bad", [(b, h) for _, b, h in BAD_REQUESTS],
                         ids=[i for i, _, _ in BAD_REQUESTS])
def test_bad_request_is_refused_and_closes(proxy, bad, head_is_bad):
    rampart, upstream = proxy
    with Client(rampart.port, timeout=5) as client:
        client.send(bad + SMUGGLED)
        response = client.read_response()
        assert_problem(response, 400)
        closed, rest = client.wait_closed(3)
        assert closed, "connection stayed open after a 400"
        assert b"HTTP/1." not in rest, f"something answered the smuggled request: {rest[:200]!r}"
    # A sentinel on a fresh connection: once it is seen, anything forwarded earlier is too.
    assert helpers.get(rampart.port, "/sentinel").status == 200
    targets = upstream.targets()
    assert "/smuggled" not in targets, targets
    if head_is_bad:
        assert targets == ["/sentinel"], targets


def test_good_pipeline_after_valid_chunked_body_is_served(proxy):
    """The control for the matrix above: the same bytes, framed correctly, are all served."""
    rampart, upstream = proxy
    with Client(rampart.port, timeout=5) as client:
        client.send(H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + SMUGGLED)
        first = client.read_response()
        second = client.read_response()
    assert first.status == 200 and first.json()["body_len"] == 5
    assert second.status == 200 and second.json()["target"] == "/smuggled"


def test_request_trailer_fields_never_reach_the_upstream(proxy):
    """A chunked request's trailer section is cut to its final CRLF: an
    upstream that merged trailers into the headers would otherwise take an
    identity or routing field Rampart never checked (nginx drops them too).
    The body, and a request pipelined after it, are untouched."""
    rampart, upstream = proxy
    trailers = (b"X-Auth-Subject: admin\r\nX-Rampart-Route: admin\r\n"
                b"X-Checksum: " + b"7" * 3000 + b"\r\n")
    with Client(rampart.port, timeout=5) as client:
        # The trailer section arrives in pieces, as a slow client sends it.
        client.send(H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n")
        client.send(trailers[:40])
        client.send(trailers[40:] + b"\r\n" + SMUGGLED)
        first = client.read_response()
        second = client.read_response()
    assert first.status == 200
    echo = first.json()
    assert echo["body_len"] == 11 and echo["trailers"] == []
    assert second.status == 200 and second.json()["target"] == "/smuggled"
    rampart.stop()
    line = [l for l in rampart.stderr().splitlines() if "stopped:" in l][-1]
    assert "request_trailers_dropped=1" in line, line


def test_a_chunked_request_without_trailers_is_forwarded_as_sent(proxy):
    rampart, upstream = proxy
    with Client(rampart.port, timeout=5) as client:
        client.send(H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        response = client.read_response()
    assert response.status == 200 and response.json()["body_len"] == 5
    assert response.json()["trailers"] == []


@pytest.fixture
def limited(stack):
    # simple_config: max_head_bytes 8KiB, max_headers 32, max_target_bytes 2KiB, /limited 1KiB body
    return stack.simple()


def test_head_over_max_head_bytes_is_431(limited):
    rampart, upstream = limited
    response = helpers.get(rampart.port, "/big", headers=[("X-Big", "a" * 10000)])
    assert_problem(response, 431)
    assert upstream.requests() == []


def test_too_many_headers_is_431(limited):
    rampart, upstream = limited
    response = helpers.get(rampart.port, "/many", headers=[(f"X-H{i}", "v") for i in range(40)])
    assert_problem(response, 431)
    assert upstream.requests() == []


def test_target_over_max_target_bytes_is_414(limited):
    rampart, upstream = limited
    assert_problem(helpers.get(rampart.port, "/" + "t" * 3000), 414)
    assert upstream.requests() == []


def test_limits_are_not_hit_just_below(limited):
    rampart, _ = limited
    assert helpers.get(rampart.port, "/" + "t" * 1500, headers=[(f"X-H{i}", "v") for i in range(20)]).status == 200


def test_body_over_route_limit_is_413(limited):
    rampart, upstream = limited
    assert_problem(helpers.get(rampart.port, "/limited/up", method="POST", body=b"x" * 2000), 413)
    assert "/limited/up" not in upstream.targets()
    ok = helpers.get(rampart.port, "/limited/up", method="POST", body=b"x" * 1000)
    assert ok.status == 200 and ok.json()["body_len"] == 1000
    # The limit is per route: the catch-all takes bigger bodies.
    big = helpers.get(rampart.port, "/other", method="POST", body=b"x" * 5000)
    assert big.status == 200 and big.json()["body_len"] == 5000


def test_chunked_body_over_route_limit_is_refused(limited):
    rampart, upstream = limited
    with Client(rampart.port, timeout=5) as client:
        client.send(b"POST /limited/c HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(4):
                client.send(b"400\r\n" + b"y" * 1024 + b"\r\n")
            client.send(b"0\r\n\r\n")
        except OSError:
            pass  # rampart may close as soon as the limit is crossed
        response = client.read_response()
    assert_problem(response, 413)
