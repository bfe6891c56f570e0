"""1 GiB through Rampart each way, with its resident memory sampled the whole time."""
import time
import zlib

import helpers
from helpers import Client, RssSampler, build_request

GIB = 1 << 30
# Growth over the process's own resident size at rest: 1 GiB streamed must
# not move it by more than this. (Measured from rest rather than from zero:
# an AddressSanitizer build of the binary alone is ~70 MiB resident.)
RSS_GROWTH_LIMIT_KIB = 48 * 1024


def test_1gib_upload_streams_in_bounded_memory(proxy):
    rampart, upstream = proxy
    at_rest = rampart.rss_kib()
    with RssSampler(rampart) as rss, Client(rampart.port, timeout=30) as client:
        started = time.monotonic()
        client.send(build_request("POST", "/upload?sha=0", [("Content-Length", str(GIB))]))
        crc = 0
        for index in range(GIB // helpers.BLOCK):
            block = helpers.pattern_block(index)
            crc = zlib.crc32(block, crc)
            client.send(block)
        response = client.read_response()
        elapsed = time.monotonic() - started
    assert response.status == 200, response
    echo = response.json()
    assert echo["body_len"] == GIB
    assert echo["body_crc32"] == crc
    assert len(rss.samples) > 5, "too few RSS samples"
    assert rss.max_kib - at_rest < RSS_GROWTH_LIMIT_KIB, (
        f"rampart RSS grew from {at_rest} to {rss.max_kib} KiB while uploading")
    print(f"upload: {elapsed:.1f}s, max RSS {rss.max_kib} KiB")


def test_1gib_download_streams_in_bounded_memory(proxy):
    rampart, upstream = proxy
    state, sink = helpers.crc_sink()
    at_rest = rampart.rss_kib()
    with RssSampler(rampart) as rss, Client(rampart.port, timeout=30) as client:
        started = time.monotonic()
        client.send(build_request("GET", f"/download?bytes={GIB}"))
        response = client.read_response(sink=sink)
        elapsed = time.monotonic() - started
    assert response.status == 200
    assert state["len"] == GIB
    assert state["crc"] == helpers.pattern_crc32(GIB)
    assert len(rss.samples) > 5, "too few RSS samples"
    assert rss.max_kib - at_rest < RSS_GROWTH_LIMIT_KIB, (
        f"rampart RSS grew from {at_rest} to {rss.max_kib} KiB while downloading")
    print(f"download: {elapsed:.1f}s, max RSS {rss.max_kib} KiB")


def test_slow_reader_download_stays_bounded(proxy):
    """A client that stops reading must not make Rampart buffer the upstream's response."""
    rampart, _ = proxy
    total = 256 * helpers.BLOCK
    state, sink = helpers.crc_sink()
    at_rest = rampart.rss_kib()
    with Client(rampart.port, timeout=30) as client:
        client.send(build_request("GET", f"/download?bytes={total}"))
        response = client.read_response_head()
        time.sleep(2.0)  # the upstream keeps writing; rampart must apply backpressure
        rss_while_stalled = rampart.rss_kib()
        assert response.status == 200
        client.read_body(response, sink=sink)
    assert rss_while_stalled - at_rest < RSS_GROWTH_LIMIT_KIB, (
        f"rampart RSS grew from {at_rest} to {rss_while_stalled} KiB while the client stalled")
    assert state["len"] == total and state["crc"] == helpers.pattern_crc32(total)
