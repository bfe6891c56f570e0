"""Request mirroring (`mirror:`) through the real binary with real upstream
processes (docs/cutover.md#mirroring): the shadow cluster gets about its
share of the requests, copies of the very requests the primary got; the
client's answers are the primary's whether the shadow is fast, slow or
down; and with `diff` the shadow's answers are compared with the primary's
and counted by result in rampart_mirror_total."""
import re
import time

import helpers
import prometheus_text
from helpers import Client

RESULTS = ("match", "status_mismatch", "header_mismatch", "body_mismatch", "failed", "skipped",
           "unchecked")


def start(stack, primary_address, shadow_address, mirror, workers=1, shadow_overrides=None):
    port, admin_port = helpers.free_port(), helpers.free_port()
    route = {"name": "orders", "match": {"prefix": "/"}, "cluster": "app",
             "mirror": dict({"cluster": "shadow"}, **mirror)}
    text = helpers.config(
        port, [helpers.cluster("app", [primary_address]),
               helpers.cluster("shadow", [shadow_address], **(shadow_overrides or {}))],
        [{"name": "default", "domains": ["*"], "routes": [route]}], workers=workers,
        admin={"address": f"127.0.0.1:{admin_port}"})
    rampart = stack.rampart(text, port)
    helpers.wait_port(admin_port, 10, rampart.process)
    return rampart, admin_port


def mirror_counts(admin_port, route="orders"):
    response = helpers.get(admin_port, "/metrics")
    assert response.status == 200
    families = prometheus_text.parse(response.body.decode())
    return {r: prometheus_text.value(families, "rampart_mirror_total", route=route, result=r)
            for r in RESULTS}


def settled(admin_port, total, timeout=5.0, route="orders"):
    """The counts once `total` mirrors are counted (the shadow side ends on its own time)."""
    deadline = time.monotonic() + timeout
    while True:
        counts = mirror_counts(admin_port, route)
        if sum(counts.values()) >= total or time.monotonic() > deadline:
            return counts
        time.sleep(0.05)


def header(record, name):
    return [v for n, v in record["headers"] if n.lower() == name]


def send(port, count, target="/download?bytes=2000", method="GET", body=b"", headers=None):
    """`count` requests in turn on one keep-alive connection; returns [(status, upstream, seconds)]."""
    out = []
    with Client(port) as client:
        for i in range(count):
            started = time.monotonic()
            sep = "&" if "?" in target else "?"
            response = client.request(method, f"{target}{sep}i={i}", headers=headers or [], body=body)
            out.append((response.status, response.header("x-upstream-name"),
                        time.monotonic() - started))
    return out


def test_the_shadow_gets_its_share_of_copies_and_equal_answers_match(stack):
    primary, shadow = stack.upstream("app"), stack.upstream("shadow")
    rampart, admin_port = start(stack, primary.address, shadow.address,
                                {"percent": 25, "diff": True, "max_active": 1000}, workers=2)
    answers = send(rampart.port, 400)
    assert all(status == 200 and name == "app" for status, name, _ in answers)
    counts = settled(admin_port, 1)
    time.sleep(0.3)
    counts = mirror_counts(admin_port)
    copies = shadow.requests()
    # Binomial(400, 0.25): mean 100, sigma 8.7; 60..140 is beyond 4.5 sigma.
    assert 60 <= len(copies) <= 140, len(copies)
    # The same bytes of the same pattern on both sides (Content-Length framed): match.
    assert counts == {"match": len(copies), "status_mismatch": 0, "header_mismatch": 0,
                      "body_mismatch": 0,
                      "failed": 0, "skipped": 0, "unchecked": 0}, counts
    # Each copy is a request the primary got, marked, with the same request id.
    primary_ids = {header(r, "x-request-id")[0]: r["target"] for r in primary.requests()}
    for copy in copies:
        assert header(copy, "x-rampart-mirror") == ["1"], copy
        (request_id,) = header(copy, "x-request-id")
        assert primary_ids[request_id] == copy["target"]
    assert len(primary.requests()) == 400
    assert "mirror" not in rampart.stderr().split("listening on")[-1]


def test_a_request_body_goes_along_when_read_whole_and_chunked_ones_are_skipped(stack):
    primary, shadow = stack.upstream("app"), stack.upstream("shadow")
    rampart, admin_port = start(stack, primary.address, shadow.address,
                                {"percent": 100, "diff": True, "max_body_bytes": "1KiB"})
    assert all(s == 200 for s, _, _ in send(rampart.port, 5, "/download?bytes=10", "POST", b"x" * 100))
    assert all(s == 200 for s, _, _ in send(rampart.port, 3, "/download?bytes=10", "POST", b"y" * 2000))
    with Client(rampart.port) as client:
        response = client.request("POST", "/download?bytes=10",
                                  headers=[("Transfer-Encoding", "chunked")], body=b"5\r\nhello\r\n0\r\n\r\n")
        assert response.status == 200
    counts = settled(admin_port, 9)
    assert counts["match"] == 5 and counts["skipped"] == 4, counts
    copies = shadow.requests()
    assert len(copies) == 5
    assert all(c["method"] == "POST" and header(c, "content-length") == ["100"] for c in copies)


def test_a_slow_shadow_never_delays_the_client(stack):
    primary = stack.upstream("app")
    shadow = stack.upstream("shadow", extra_args=["--delay-ms", "1500"])
    rampart, admin_port = start(stack, primary.address, shadow.address,
                                {"percent": 100, "diff": True, "timeout": "400ms", "max_active": 3})
    answers = send(rampart.port, 30)
    assert all(status == 200 and name == "app" for status, name, _ in answers)
    # Each answer came at the primary's pace, not the shadow's 1.5 s.
    assert max(seconds for _, _, seconds in answers) < 0.5, answers
    counts = settled(admin_port, 30)
    # Three at a time reached the shadow and timed out there; the rest were skipped.
    assert counts["failed"] >= 3 and counts["skipped"] >= 1, counts
    assert counts["failed"] + counts["skipped"] == 30, counts
    assert counts["match"] == 0


def test_a_shadow_that_is_down_changes_nothing_for_the_client(stack):
    primary = stack.upstream("app")
    nobody = f"127.0.0.1:{helpers.free_port()}"  # nothing listens there
    rampart, admin_port = start(stack, primary.address, nobody, {"percent": 100, "diff": True})
    answers = send(rampart.port, 20)
    assert all(status == 200 and name == "app" for status, name, _ in answers)
    counts = settled(admin_port, 20)
    assert counts["failed"] == 20, counts
    assert rampart.process.poll() is None


def test_diff_counts_and_logs_a_mismatching_shadow(stack):
    primary = stack.upstream("app")
    failing = stack.upstream("shadow", extra_args=["--fail-status", "500"])
    rampart, admin_port = start(stack, primary.address, failing.address,
                                {"percent": 100, "diff": True})
    assert all(s == 200 for s, _, _ in send(rampart.port, 10))
    counts = settled(admin_port, 10)
    assert counts["status_mismatch"] == 10 and counts["match"] == 0, counts
    lines = re.findall(r"mirror status_mismatch on route 'orders' \(request ([0-9a-f-]+)\): primary "
                       r"answered 200, shadow cluster 'shadow' answered 500", rampart.stderr())
    # At most 5 lines a second per worker: 5, or up to 10 across a second's edge.
    assert 5 <= len(lines) <= 10, rampart.stderr()[-2000:]
    assert len(set(lines)) == len(lines)
    # The echo names the upstream that wrote it: same status, different bodies.
    failing.control(fail_status=0)
    time.sleep(1.1)  # a fresh second of log lines
    assert all(s == 200 for s, _, _ in send(rampart.port, 10, "/echo")) 
    counts = settled(admin_port, 20)
    assert counts["body_mismatch"] == 10, counts
    assert "mirror body_mismatch on route 'orders'" in rampart.stderr()


def test_without_diff_copies_are_sent_and_counted_unchecked(stack):
    primary, shadow = stack.upstream("app"), stack.upstream("shadow")
    rampart, admin_port = start(stack, primary.address, shadow.address, {"percent": 100})
    assert all(s == 200 for s, _, _ in send(rampart.port, 10, "/echo"))
    counts = settled(admin_port, 10)
    assert counts["unchecked"] == 10 and counts["body_mismatch"] == 0, counts
    assert len(shadow.requests()) == 10


def test_the_rollout_example_runs_as_documented(stack):
    """examples/rollout.yaml with real upstreams in place of its addresses:
    orders starts its ramp at 1%, accounts copies about a tenth of its
    requests to the new accounts service and compares the answers."""
    import json
    names = {"monolith": 9000, "orders": 9001, "accounts": 9002}
    upstreams = {name: stack.upstream(name) for name in names}
    port, admin_port = helpers.free_port(), helpers.free_port()
    text = (helpers.ROOT / "examples" / "rollout.yaml").read_text()
    text = text.replace("127.0.0.1:8080", f"127.0.0.1:{port}").replace("workers: auto", "workers: 1")
    text = text.replace("127.0.0.1:9901", f"127.0.0.1:{admin_port}")
    for name, example_port in names.items():
        text = text.replace(f"127.0.0.1:{example_port}", upstreams[name].address)
    stack.rampart(text, port)
    helpers.wait_port(admin_port, 10)
    (orders,) = json.loads(helpers.get(admin_port, "/rollouts").body)["rollouts"]
    assert (orders["route"], orders["cluster"], orders["from"], orders["weight"], orders["state"],
            orders["hold_ms"]) == ("orders", "orders", "monolith", 1, "advancing", 600000)
    answers = send(port, 200, "/accounts/me")
    assert all(status == 200 and name == "monolith" for status, name, _ in answers)
    copies = upstreams["accounts"].requests()
    # Binomial(200, 0.1): mean 20, sigma 4.2.
    assert 5 <= len(copies) <= 40, len(copies)
    counts = settled(admin_port, len(copies), timeout=5, route="accounts")
    # The echo names its upstream: same status, different body, every time.
    assert counts["body_mismatch"] == len(copies), counts
    assert helpers.get(port, "/orders/1", headers=[("Cookie", "session=s1")]).status == 200


def test_ignored_json_fields_and_compared_headers(stack):
    """The echo differs only in members naming its upstream (`name`, `conn`)
    and the request headers it saw (the copy carries x-rampart-mirror):
    left out, the bodies are equal as JSON. A compared header that names
    the upstream differs every time."""
    primary, shadow = stack.upstream("app"), stack.upstream("shadow")
    rampart, admin_port = start(stack, primary.address, shadow.address,
                                {"percent": 100, "diff": True,
                                 "ignore_json_fields": ["name", "conn", "headers"]})
    assert all(s == 200 for s, _, _ in send(rampart.port, 10, "/echo", "POST", b'{"a": 1}'))
    counts = settled(admin_port, 10)
    assert counts["match"] == 10 and counts["body_mismatch"] == 0, counts
    assert rampart.stop() == 0
    # The same with `name` counted: each upstream writes its own.
    rampart, admin_port = start(stack, primary.address, shadow.address,
                                {"percent": 100, "diff": True,
                                 "ignore_json_fields": ["conn", "headers"]})
    send(rampart.port, 5, "/echo")
    assert settled(admin_port, 5)["body_mismatch"] == 5
    assert rampart.stop() == 0
    rampart, admin_port = start(stack, primary.address, shadow.address,
                                {"percent": 100, "diff": True,
                                 "compare_headers": ["content-type", "X-Upstream-Name"]})
    send(rampart.port, 5, "/download?bytes=100")
    counts = settled(admin_port, 5)
    assert counts["header_mismatch"] == 5 and counts["match"] == 0, counts
    assert "with different compared headers" in rampart.stderr()
    rampart, admin_port = start(stack, primary.address, shadow.address,
                                {"percent": 100, "diff": True, "compare_headers": ["content-type"]})
    send(rampart.port, 5, "/download?bytes=100")
    assert settled(admin_port, 5)["match"] == 5
