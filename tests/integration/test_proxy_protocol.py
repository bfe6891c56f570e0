"""The PROXY protocol through the real binary: a listener with
`proxy_protocol: true` takes a v1 or v2 header from a trusted proxy and
judges the client it names (X-Forwarded-For upstream, rate limits, the accept
gate's deny list and per-address cap); a header from any other peer is
refused, as are a malformed, missing or late header from a trusted proxy.

Loopback stands in for the network: the trusted proxy is 127.0.0.2, direct
clients bind other 127.x.y.z source addresses. One worker (helpers.config),
so per-worker state is the whole state."""
import re
import socket
import struct
import time

import helpers
from helpers import Client, assert_problem, build_request

PROXY = "127.0.0.2"  # the only trusted proxy
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(source, destination="127.0.0.1", sport=40000, dport=443, protocol="TCP4"):
    return f"PROXY {protocol} {source} {destination} {sport} {dport}\r\n".encode()


def v2(source=None, destination="127.0.0.1", sport=40000, dport=443, command=1, tlvs=b"",
       version=2, family=None):
    """A v2 header; `source` None is LOCAL (command 0) with no addresses."""
    if source is None:
        return V2_SIGNATURE + bytes([(version << 4) | 0, 0]) + struct.pack("!H", 0)
    six = ":" in source
    af = socket.AF_INET6 if six else socket.AF_INET
    block = (socket.inet_pton(af, source) + socket.inet_pton(af, destination) +
             struct.pack("!HH", sport, dport) + tlvs)
    fam = family if family is not None else (0x21 if six else 0x11)
    return V2_SIGNATURE + bytes([(version << 4) | command, fam]) + struct.pack("!H", len(block)) + block


def start(stack, shield=None, listener_limits=None, http=None, proxy_protocol=True, admin=None):
    upstream = stack.upstream("app")
    port = helpers.free_port()
    shield = dict(shield or {})
    shield.setdefault("trusted_proxies", [f"{PROXY}/32"])
    listener = {"name": "edge", "address": f"127.0.0.1:{port}", "proxy_protocol": proxy_protocol}
    if listener_limits:
        listener["limits"] = listener_limits
    settings = {"max_head_bytes": "8KiB", "max_headers": 32, "head_timeout": "10s"}
    settings.update(http or {})
    doc = {"workers": 1, "drain_timeout": "5s", "http": settings, "shield": shield,
           "listeners": [listener],
           "clusters": [helpers.cluster("app", [upstream.address])],
           "virtual_hosts": helpers.public_unless_governed([{"name": "api", "domains": ["*"], "routes": [
               {"name": "all", "match": {"prefix": "/"}, "cluster": "app"}]}])}
    if admin:
        doc["admin"] = admin
    rampart = stack.rampart(helpers.to_yaml(doc) + "\n", port)
    return rampart, upstream


def via_proxy(port, header, target, headers=None, source=PROXY):
    """One request on a fresh connection from `source` opened with `header`."""
    with Client(port, source=source) as client:
        client.send(header)
        return client.request("GET", target, headers)


def refused(port, data, source, timeout=3.0):
    """Sends `data` from `source`; True when the connection closes with no
    response byte (a reset counts as closed)."""
    with Client(port, source=source) as client:
        try:
            client.send(data)
        except (BrokenPipeError, ConnectionResetError):
            return True
        closed, received = client.wait_closed(timeout)
        return closed and received == b""


def xff(upstream, target):
    return helpers.echo_header(upstream.wait_for(lambda r: r["target"] == target), "x-forwarded-for")


def stopped_counters(rampart):
    rampart.stop()
    line = [l for l in rampart.stderr().splitlines() if "stopped:" in l][-1]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def test_v1_and_v2_headers_name_the_client_upstream_sees(stack):
    rampart, upstream = start(stack)
    assert via_proxy(rampart.port, v1("198.51.100.7"), "/v1").status == 200
    assert xff(upstream, "/v1") == ["198.51.100.7"]
    assert via_proxy(rampart.port, v1("2001:db8::7", "::1", protocol="TCP6"), "/v1-six").status == 200
    assert xff(upstream, "/v1-six") == ["2001:db8::7"]
    assert via_proxy(rampart.port, v2("203.0.113.9"), "/v2").status == 200
    assert xff(upstream, "/v2") == ["203.0.113.9"]
    aws_tlv = bytes([0xEA]) + struct.pack("!H", 9) + b"\x01vpce-abc"
    assert via_proxy(rampart.port, v2("2001:db8::9", "::1", tlvs=aws_tlv), "/v2-six").status == 200
    assert xff(upstream, "/v2-six") == ["2001:db8::9"]
    # The named client is not trusted: its own X-Forwarded-For is dropped, not extended.
    forged = via_proxy(rampart.port, v1("198.51.100.8"), "/forged", [("X-Forwarded-For", "6.6.6.6")])
    assert forged.status == 200
    assert xff(upstream, "/forged") == ["198.51.100.8"]
    # LOCAL (the proxy's own health check): the proxy itself is the client.
    assert via_proxy(rampart.port, v2(None), "/local").status == 200
    assert xff(upstream, "/local") == [PROXY]
    counters = stopped_counters(rampart)
    assert counters["proxy_headers"] == 6 and counters["proxy_header_refused"] == 0


def test_the_header_is_read_once_and_holds_for_the_connection(stack):
    rampart, upstream = start(stack)
    with Client(rampart.port, source=PROXY) as client:
        header = v2("198.51.100.20")
        for byte in header:  # delivered byte by byte
            client.send(bytes([byte]))
            time.sleep(0.005)
        assert client.request("GET", "/first").status == 200
        assert client.request("GET", "/second").status == 200
        # A second header on the same connection is not a header: HTTP refuses it.
        client.send(v1("198.51.100.21") + build_request("GET", "/third"))
        assert_problem(client.read_response(), 400)
    assert xff(upstream, "/first") == ["198.51.100.20"]
    assert xff(upstream, "/second") == ["198.51.100.20"]
    assert "/third" not in upstream.targets()


def test_a_rate_limit_by_address_counts_the_proxy_address(stack):
    rampart, upstream = start(stack, listener_limits=[
        {"name": "per-ip", "key": "address", "rate": "1/m", "burst": 2}])
    for i in range(2):
        assert via_proxy(rampart.port, v1("198.51.100.1"), f"/a/{i}").status == 200
    over = via_proxy(rampart.port, v2("198.51.100.1"), "/a/over")
    assert assert_problem(over, 429)["detail"] == "rate limit 'per-ip' exceeded"
    # Another client behind the same proxy has its own budget: the proxy's
    # address is not what the limit counts.
    for i in range(2):
        assert via_proxy(rampart.port, v1("198.51.100.2"), f"/b/{i}").status == 200
    assert "/a/over" not in upstream.targets()


def test_an_untrusted_peers_header_is_refused_and_its_plain_requests_served(stack):
    rampart, upstream = start(stack)
    request = build_request("GET", "/spoofed")
    assert refused(rampart.port, v1("198.51.100.99") + request, source="127.0.0.3")
    assert refused(rampart.port, v2("198.51.100.99") + request, source="127.0.0.3")
    # Without a header the same peer is an ordinary direct client, judged by its socket.
    direct = helpers.get(rampart.port, "/direct", source="127.0.0.3")
    assert direct.status == 200
    assert xff(upstream, "/direct") == ["127.0.0.3"]
    assert "/spoofed" not in upstream.targets()
    counters = stopped_counters(rampart)
    assert counters["proxy_header_refused"] == 2 and counters["proxy_headers"] == 0


def test_a_trusted_proxy_with_a_malformed_or_missing_header_is_refused(stack):
    rampart, upstream = start(stack)
    request = build_request("GET", "/bad")
    for header in (b"PROXY TCP4 198.51.100.1 127.0.0.1 99999 443\r\n",  # port out of range
                   b"PROXY TCP4 198.51.100.1 127.0.0.1 1 2\n",  # bare LF
                   b"PROXY TCP4 " + b"1" * 120,  # no CRLF within 107 bytes
                   v2("198.51.100.1", version=1),  # not version 2
                   v2("198.51.100.1", family=0x12),  # UDP
                   V2_SIGNATURE + b"\x21\x11\x00\x0e" + b"\x00" * 14,  # a TLV cut short
                   b""):  # no header at all: plain HTTP from the proxy
        assert refused(rampart.port, header + request, source=PROXY), header
    assert "/bad" not in upstream.targets()
    assert via_proxy(rampart.port, v1("198.51.100.1"), "/good").status == 200
    counters = stopped_counters(rampart)
    assert counters["proxy_header_refused"] == 7 and counters["proxy_headers"] == 1


def test_a_header_not_complete_within_the_head_timeout_closes(stack):
    rampart, upstream = start(stack, http={"head_timeout": "1s"})
    with Client(rampart.port, source=PROXY) as client:
        client.send(b"PROXY TCP4 198.51.100.1")
        started = time.monotonic()
        closed, received = client.wait_closed(5)
        assert closed and received == b"", "closed without an HTTP reply: no HTTP was spoken"
        assert 0.5 < time.monotonic() - started < 4
    assert stopped_counters(rampart)["proxy_header_refused"] == 1


def test_the_accept_gate_judges_the_proxy_address(stack):
    rampart, upstream = start(stack, shield={"admission": {"max_connections_per_address": 2,
                                                            "deny": ["198.51.100.66/32"]}})
    # Deny list: the named client, not the proxy.
    assert refused(rampart.port, v1("198.51.100.66") + build_request("GET", "/denied"), PROXY)
    assert via_proxy(rampart.port, v1("198.51.100.67"), "/allowed").status == 200
    # Per-address cap: two open connections of one client through the proxy,
    # a third of the same client refused, another client's fine (the proxy
    # itself, with four open, is not capped).
    held = []
    try:
        for i in range(2):
            client = Client(rampart.port, source=PROXY)
            held.append(client)
            client.send(v1("198.51.100.70"))
            assert client.request("GET", f"/held/{i}").status == 200
        assert refused(rampart.port, v1("198.51.100.70") + build_request("GET", "/third"), PROXY)
        assert via_proxy(rampart.port, v1("198.51.100.71"), "/other").status == 200
    finally:
        for client in held:
            client.close()
    assert "/denied" not in upstream.targets() and "/third" not in upstream.targets()
    counters = stopped_counters(rampart)
    assert counters["shield_refused_at_accept"] == 2 and counters["proxy_header_refused"] == 0


def test_an_operator_block_judges_the_proxy_address(stack):
    admin_port = helpers.free_port()
    rampart, upstream = start(stack, admin={"address": f"127.0.0.1:{admin_port}"})
    helpers.wait_port(admin_port)
    blocked = helpers.get(admin_port, "/clients/block", method="POST",
                          body=b'{"address": "198.51.100.0/24"}')
    assert blocked.status == 200
    time.sleep(0.2)  # posted to the worker's loop
    assert refused(rampart.port, v1("198.51.100.9") + build_request("GET", "/blocked"), PROXY)
    assert via_proxy(rampart.port, v1("203.0.113.9"), "/served").status == 200
    assert "/blocked" not in upstream.targets()


def test_without_the_option_a_header_is_just_a_bad_request(stack):
    rampart, upstream = start(stack, proxy_protocol=False)
    with Client(rampart.port, source=PROXY) as client:
        client.send(v1("198.51.100.1") + build_request("GET", "/plain"))
        assert_problem(client.read_response(), 400)
    assert "/plain" not in upstream.targets()
