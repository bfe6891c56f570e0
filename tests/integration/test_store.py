"""The store through real processes: a real redis-server (and a 3-master
Redis Cluster) on loopback ports and two or three real rampart instances.
A global limit holds across instances within the documented overshoot; a
block and a revocation reach every instance within a second (and one
published while an instance was away is read back when it starts); Redis
killed and restarted mid-test: each limit's on_store_error is observed, a
route without global limits stays fast, and the store recovers by itself.
See docs/store.md."""
import hashlib
import subprocess
import time

import pytest

import helpers
import jose
from helpers import Client, assert_problem, build_request
from redis_server import Redis, create_cluster, make_certificates

ISSUER = "https://id.test"
HMAC = jose.HmacKey("hs-1", b"0123456789abcdef0123456789abcdef")


@pytest.fixture
def redis(tmp_path):
    server = Redis(tmp_path)
    yield server
    server.stop()


def store_section(addresses, mode="single", timeout="250ms", **extra):
    """250 ms: a loaded test machine can stall a redis-server for tens of
    milliseconds, which would (correctly) mark the store down mid-test."""
    section = {"redis": {"addresses": list(addresses), "mode": mode, "timeout": timeout},
               "expected_instances": 2}
    section.update(extra)
    return section


def limit(name, rate, burst, key="header:x-client", **extra):
    spec = {"name": name, "key": key, "rate": rate, "burst": burst, "scope": "global"}
    spec.update(extra)
    return spec


def start_instance(stack, upstream, store, routes, admin=False, **top):
    port = helpers.free_port()
    if admin:
        top["admin"] = {"address": f"127.0.0.1:{helpers.free_port()}"}
    text = helpers.config(port, [helpers.cluster("app", [upstream.address])],
                          [{"name": "api", "domains": ["*"], "routes": routes}], store=store,
                          **top)
    rampart = stack.rampart(text, port)
    rampart.admin_port = int(top["admin"]["address"].rsplit(":", 1)[1]) if admin else None
    return rampart


def wait_store_up(rampart, timeout=5.0):
    deadline = time.monotonic() + timeout
    while "store: connected to redis" not in rampart.stderr():
        assert time.monotonic() < deadline, rampart.stderr()
        time.sleep(0.02)


def status(port, target, headers=None, source=None):
    return helpers.get(port, target, headers=headers, source=source).status


def refused(port, target, source):
    """True when a request from `source` is refused: reset at accept (a
    blocked address), closed, or answered with anything but 200."""
    try:
        return helpers.get(port, target, source=source, timeout=2.0).status != 200
    except (ConnectionError, helpers.Closed, OSError):
        return True


def stats(rampart):
    return helpers.get(rampart.admin_port, "/stats").json()


def local_decisions(instances):
    """Requests decided by a local share so far, summed over `instances`:
    before a key's first lease came back (bridged) or while Redis was down."""
    total = 0
    for rampart in instances:
        state = stats(rampart)["store"]
        total += state.get("bridged", 0) + state.get("degraded", 0)
    return total


def spend_and_check(instances, client, count):
    """`count` requests for `client` over the instances, then the accounting
    of docs/store.md, "Overshoot": Redis granted at most the burst (20,
    shared by two instances of one worker each); everything else that passed
    was decided by a local share (burst 10 per worker), at most
    instances x workers x 10 for a key before its first lease. Leased tokens
    unused at the end (a lease of 2 plus the prefetch, per instance) only
    lower the count. Exact whatever the machine's load: a slow lease means
    more requests bridged, and they are counted."""
    before = local_decisions(instances)
    statuses = spend_budget(instances, client, count)
    local = local_decisions(instances) - before
    passed = statuses.count(200)
    assert set(statuses) <= {200, 429}, statuses
    # (`local` also counts requests the local share refused.)
    assert passed <= 20 + min(local, 2 * 1 * 10), (client, local, statuses)
    assert passed >= 20 - 2 * 3, (client, statuses)
    return statuses


GLOBAL_ROUTES = [
    {"name": "global", "match": {"prefix": "/g"}, "cluster": "app",
     "limits": [limit("per-client", "1/m", 20)]},
    {"name": "all", "match": {"prefix": "/"}, "cluster": "app"},
]


def spend_budget(instances, client, count):
    """`count` requests for one client, alternating between the instances."""
    statuses = []
    for i in range(count):
        statuses.append(status(instances[i % len(instances)].port, f"/g/{i}",
                               [("x-client", client)]))
    return statuses


def test_global_limit_holds_across_instances_and_redis_sees_few_operations(stack, redis):
    upstream = stack.upstream("app")
    store = store_section([redis.address])
    instances = [start_instance(stack, upstream, store, GLOBAL_ROUTES, admin=True)
                 for _ in range(2)]
    for rampart in instances:
        wait_store_up(rampart)
    before = redis.commandstats()
    spend_and_check(instances, "acme", 80)
    # Another client has its own budget, on both instances.
    assert status(instances[1].port, "/g/x", [("x-client", "other")]) == 200
    after = redis.commandstats()
    leases = after.get("evalsha", 0) + after.get("eval", 0) - before.get("evalsha", 0) - \
        before.get("eval", 0)
    # Leases of 2 tokens (burst 20 / 2 instances / 4): one Redis call per two
    # requests at most while the budget lasts, and none while Redis's
    # "not before" answer holds.
    assert 1 <= leases < 81 / 2, after
    answer = helpers.get(instances[0].port, "/g/late", [("x-client", "acme")])
    body = assert_problem(answer, 429)
    assert "per-client" in body["detail"]
    assert int(answer.header("retry-after")) >= 1


def test_a_global_listener_limit_by_prefix_is_one_bucket_for_the_prefix(stack, redis):
    """Phase 3, key prefix: addresses of one /24 share one global bucket,
    named the same by every instance; another /24 has its own."""
    upstream = stack.upstream("app")
    instances = []
    for _ in range(2):
        port = helpers.free_port()
        doc = helpers.config(port, [helpers.cluster("app", [upstream.address])],
                             [{"name": "api", "domains": ["*"], "routes": [
                                 {"name": "all", "match": {"prefix": "/"}, "cluster": "app"}]}],
                             store=store_section([redis.address], expected_instances=1))
        doc = doc.replace(f"  - name: main\n    address: 127.0.0.1:{port}\n",
                          f"  - name: main\n    address: 127.0.0.1:{port}\n    limits:\n"
                          "      - {name: per-net, key: prefix, rate: 1/m, burst: 6, "
                          "scope: global}\n")
        assert "per-net" in doc, doc
        instances.append(stack.rampart(doc, port))
    for rampart in instances:
        wait_store_up(rampart)
    passed = 0
    for i in range(24):
        rampart = instances[i % 2]
        source = f"127.0.5.{10 + i % 5}"  # five addresses of one /24
        passed += status(rampart.port, f"/p/{i}", source=source) == 200
    # Burst 6 for the /24 across both instances (local share: 6 / 2 workers
    # in all = 3 each before a first lease; see docs/store.md).
    assert 6 - 2 * 2 <= passed <= 6 + 2 * 3, passed
    assert status(instances[0].port, "/other", source="127.0.6.10") == 200


def test_block_and_revocation_reach_every_instance_within_a_second(stack, redis):
    upstream = stack.upstream("app")
    stack.write("jwks.json", jose.jwks(HMAC))
    digest = hashlib.sha256(b"key-partner-0001").hexdigest()
    stack.write("keys.yaml", "keys:\n"
                f"  - name: partner\n    sha256: {digest}\n    principal: partner\n"
                f"  - name: other\n    sha256: {hashlib.sha256(b'key-other-0002').hexdigest()}\n"
                "    principal: other\n")
    authentication = {"providers": [
        {"name": "users", "jwt": {"issuers": [{"issuer": ISSUER, "algorithms": ["HS256"],
                                               "jwks_file": "jwks.json", "audiences": ["orders"]}]}},
        {"name": "partners", "api_keys": {"file": "keys.yaml"}}]}
    routes = [
        {"name": "limited", "match": {"prefix": "/limited"}, "cluster": "app",
         "limits": [{"name": "per-ip", "key": "address", "rate": "1/m", "burst": 1}]},
        {"name": "orders", "match": {"prefix": "/orders"}, "cluster": "app",
         "auth": {"providers": ["users", "partners"]}},
        {"name": "all", "match": {"prefix": "/"}, "cluster": "app"},
    ]
    shield = {"escalation": {"after": 3, "within": "10s", "block_for": "30s", "max_block": "60s"}}
    store = store_section([redis.address])
    a, b = [start_instance(stack, upstream, store, routes, shield=shield,
                           authentication=authentication) for _ in range(2)]
    for rampart in (a, b):
        wait_store_up(rampart)

    # A block decided by escalation on A ...
    source = "127.0.0.31"
    assert status(b.port, "/fine", source=source) == 200
    with Client(a.port, source=source) as client:
        assert client.request("GET", "/limited/0").status == 200
        for i in range(3):
            assert client.request("GET", f"/limited/{i + 1}").status == 429
    started = time.monotonic()
    # ... is enforced by B within a second: requests from that address refused.
    while not refused(b.port, "/fine", source):
        assert time.monotonic() - started < 1.0, "block not applied by B within 1 s"
        time.sleep(0.02)
    assert status(b.port, "/fine", source="127.0.0.32") == 200  # others are served
    assert redis.cli("ZSCORE", "rampart:blocks", source).strip() != ""

    # Revocation of an API key and of a JWT (by jti), written to Redis with
    # redis-cli as docs/store.md shows; both credentials were verified and
    # cached on both instances first.
    token = jose.token(HMAC, jti="token-77")
    for rampart in (a, b):
        assert status(rampart.port, "/orders/1", [("x-api-key", "key-partner-0001")]) == 200
        assert status(rampart.port, "/orders/2", [("authorization", f"Bearer {token}")]) == 200
    # The key with redis-cli (docs/store.md), the token with `rampart store revoke`.
    until = int(time.time() * 1000) + 60_000
    redis.cli("ZADD", "rampart:revoked", until, f"key:{digest}")
    redis.cli("PUBLISH", "rampart:events", f"revoke key:{digest} {until}")
    cli = subprocess.run([helpers.rampart_bin(), "store", "revoke", "-c",
                          str(stack.workdir / f"rampart-{a.port}.yaml"), "jti:token-77",
                          "--for", "1m"], capture_output=True, text=True, timeout=10)
    assert cli.returncode == 0, cli.stderr
    assert "revoked jti:token-77" in cli.stdout
    started = time.monotonic()
    for rampart in (a, b):
        while status(rampart.port, "/orders/3", [("x-api-key", "key-partner-0001")]) != 401:
            assert time.monotonic() - started < 1.0, "key revocation not applied within 1 s"
            time.sleep(0.02)
        while status(rampart.port, "/orders/4", [("authorization", f"Bearer {token}")]) != 401:
            assert time.monotonic() - started < 1.0, "jti revocation not applied within 1 s"
            time.sleep(0.02)
    answer = helpers.get(b.port, "/orders/5", [("x-api-key", "key-partner-0001")])
    assert assert_problem(answer, 401)["detail"] == "credential revoked"
    # Other credentials keep working.
    assert status(b.port, "/orders/6", [("x-api-key", "key-other-0002")]) == 200
    other = jose.token(HMAC, jti="token-78")
    assert status(a.port, "/orders/7", [("authorization", f"Bearer {other}")]) == 200

    # An instance that starts later (it missed every message) reads the
    # current blocks and revocations from Redis when it subscribes.
    c = start_instance(stack, upstream, store, routes, shield=shield,
                       authentication=authentication)
    wait_store_up(c)
    deadline = time.monotonic() + 2
    while status(c.port, "/orders/8", [("x-api-key", "key-partner-0001")]) != 401:
        assert time.monotonic() < deadline, c.stderr()
        time.sleep(0.02)
    assert refused(c.port, "/fine", source)
    assert status(c.port, "/fine", source="127.0.0.33") == 200


def test_a_block_started_at_accept_is_shared_too(stack, redis):
    """Escalation from connection refusals (no request ever read): the block
    reaches the other instance as one started by 429s does."""
    upstream = stack.upstream("app")
    routes = [{"name": "all", "match": {"prefix": "/"}, "cluster": "app"}]
    shield = {"admission": {"max_connections_per_address": 1},
              "escalation": {"after": 3, "within": "10s", "block_for": "30s",
                             "max_block": "60s"}}
    store = store_section([redis.address])
    a, b = [start_instance(stack, upstream, store, routes, shield=shield) for _ in range(2)]
    for rampart in (a, b):
        wait_store_up(rampart)
    source = "127.0.0.41"
    assert not refused(b.port, "/before", source)
    with Client(a.port, source=source) as held:  # the one connection it may have on A
        held.send(b"GET /held HTTP/1.1\r\nHost: x\r\n")  # an unfinished head keeps it open
        for _ in range(4):
            assert refused(a.port, "/over-the-cap", source)
        started = time.monotonic()
        while not refused(b.port, "/fine", source):
            assert time.monotonic() - started < 1.0, "accept-time block not shared within 1 s"
            time.sleep(0.02)
    assert not refused(b.port, "/fine", "127.0.0.42")
    # An operator's block, with the command line: both instances refuse it.
    cli = subprocess.run([helpers.rampart_bin(), "store", "block", "-c",
                          str(stack.workdir / f"rampart-{a.port}.yaml"), "127.0.0.43",
                          "--for", "1m"], capture_output=True, text=True, timeout=10)
    assert cli.returncode == 0, cli.stderr
    started = time.monotonic()
    for rampart in (a, b):
        while not refused(rampart.port, "/fine", "127.0.0.43"):
            assert time.monotonic() - started < 1.0, "CLI block not applied within 1 s"
            time.sleep(0.02)
    assert not refused(a.port, "/fine", "127.0.0.44")


def test_redis_killed_and_restarted(stack, redis):
    upstream = stack.upstream("app")
    routes = [
        {"name": "open", "match": {"prefix": "/open"}, "cluster": "app",
         "limits": [limit("open", "1/m", 40, on_store_error="open")]},
        {"name": "closed", "match": {"prefix": "/closed"}, "cluster": "app",
         "limits": [limit("closed", "100/s", 100, on_store_error="closed")]},
        {"name": "plain", "match": {"prefix": "/"}, "cluster": "app"},
    ]
    store = store_section([redis.address])
    rampart = start_instance(stack, upstream, store, routes, admin=True)
    wait_store_up(rampart)
    assert status(rampart.port, "/closed/1", [("x-client", "c")]) == 200
    assert stats(rampart)["store"]["state"] == "up"

    redis.kill()
    # Fail closed: 503 once the loss is seen (a closed socket is seen at once;
    # a silent one within the store timeout or the subscriber's PING).
    deadline = time.monotonic() + 3
    while True:
        response = helpers.get(rampart.port, "/closed/2", [("x-client", "c")])
        if response.status == 503:
            break
        assert response.status == 200
        assert time.monotonic() < deadline, "fail-closed limit never refused with Redis down"
        time.sleep(0.02)
    assert assert_problem(response, 503)["detail"] == "rate limit store unavailable; retry later"
    assert response.header("retry-after") == "1"
    # Fail open: the local share, 40 / 2 expected instances = burst 20 here.
    opened = [status(rampart.port, f"/open/{i}", [("x-client", "o")]) for i in range(30)]
    assert opened.count(200) == 20, opened
    assert set(opened) == {200, 429}
    # No worker stalls: a route without global limits answers at once, every time.
    for i in range(20):
        started = time.monotonic()
        assert status(rampart.port, f"/plain/{i}") == 200
        assert time.monotonic() - started < 0.2
    state = stats(rampart)["store"]
    assert state["state"] == "degraded"
    assert state["degraded"] >= 30 and state["down_transitions"] >= 1
    metrics = helpers.get(rampart.admin_port, "/metrics").body.decode()
    assert "rampart_store_up 0" in metrics
    assert "store: redis unavailable" in rampart.stderr()

    redis.start()  # the same port: recovery without a restart of rampart
    deadline = time.monotonic() + 5
    while "store: redis available again" not in rampart.stderr():
        assert time.monotonic() < deadline, rampart.stderr()
        time.sleep(0.05)
    deadline = time.monotonic() + 2
    while status(rampart.port, "/closed/3", [("x-client", "c")]) != 200:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert stats(rampart)["store"]["state"] == "up"
    assert "rampart_store_up 1" in helpers.get(rampart.admin_port, "/metrics").body.decode()
    # A new key leases from the restarted Redis, which lost the script cache:
    # its NOSCRIPT was answered by EVAL, and the next lease uses EVALSHA again.
    for i in range(40):
        assert status(rampart.port, f"/closed/new/{i}", [("x-client", "c2")]) == 200
    deadline = time.monotonic() + 2
    while redis.commandstats().get("evalsha", 0) < 2:
        assert time.monotonic() < deadline, redis.commandstats()
        time.sleep(0.05)
    assert redis.commandstats().get("eval", 0) == 1


def test_a_hung_redis_never_holds_a_request_longer_than_the_store_timeout(stack, redis):
    """Redis stopped (SIGSTOP: connections stay open, nothing answers): the
    first unanswered lease marks it down within the store timeout; requests
    never wait for it; SIGCONT brings it back without a restart."""
    upstream = stack.upstream("app")
    routes = [
        {"name": "closed", "match": {"prefix": "/closed"}, "cluster": "app",
         "limits": [limit("closed", "1000/s", 8, on_store_error="closed")]},
        {"name": "plain", "match": {"prefix": "/"}, "cluster": "app"},
    ]
    rampart = start_instance(stack, upstream, store_section([redis.address], timeout="50ms"),
                             routes, admin=True)
    wait_store_up(rampart)
    redis.pause()
    try:
        statuses = []
        slowest = 0.0
        deadline = time.monotonic() + 3
        # New clients need new leases: each asks Redis, none may wait for it.
        i = 0
        while 503 not in statuses[-3:]:
            assert time.monotonic() < deadline, statuses
            started = time.monotonic()
            statuses.append(status(rampart.port, f"/closed/{i}", [("x-client", f"k{i}")]))
            slowest = max(slowest, time.monotonic() - started)
            started = time.monotonic()
            assert status(rampart.port, f"/plain/{i}") == 200
            slowest = max(slowest, time.monotonic() - started)
            i += 1
        assert set(statuses) <= {200, 503}
        assert slowest < 0.2, slowest  # 50 ms store timeout; loopback requests take ~1 ms
        assert stats(rampart)["store"]["state"] == "degraded"
        assert "no answer within the store timeout" in rampart.stderr()
    finally:
        redis.resume()
    deadline = time.monotonic() + 5
    while stats(rampart)["store"]["state"] != "up":
        assert time.monotonic() < deadline, rampart.stderr()
        time.sleep(0.05)
    assert status(rampart.port, "/closed/after", [("x-client", "after")]) == 200


def test_global_limit_in_a_three_master_cluster(stack, tmp_path):
    nodes = []
    try:
        for _ in range(3):  # appended one by one: a failed start still stops the others
            nodes.append(Redis(tmp_path, cluster=True))
        create_cluster(nodes)
        # The slot function against the cluster's own (docs: CRC16 vectors).
        assert nodes[0].cli("CLUSTER", "KEYSLOT", "foo").strip() == "12182"
        upstream = stack.upstream("app")
        store = store_section([nodes[0].address, nodes[1].address], mode="cluster")
        instances = [start_instance(stack, upstream, store, GLOBAL_ROUTES, admin=True)
                     for _ in range(2)]
        for rampart in instances:
            wait_store_up(rampart)
        for i in range(6):
            spend_and_check(instances, f"tenant-{i}", 40)
        # The buckets are spread over the masters by key slot.
        holders = [n for n in nodes if int(n.cli("DBSIZE").strip() or 0) > 0]
        assert len(holders) >= 2, [n.cli("DBSIZE") for n in nodes]
    finally:
        for node in nodes:
            node.stop()


def test_tls_to_redis_verified_against_the_configured_ca(stack, tmp_path):
    cert, key, ca, other_ca = make_certificates(tmp_path)
    server = Redis(tmp_path, tls=(cert, key, ca))
    try:
        upstream = stack.upstream("app")
        store = store_section([server.address])
        store["redis"]["tls"] = {"ca": str(ca)}
        instances = [start_instance(stack, upstream, store, GLOBAL_ROUTES, admin=True)
                     for _ in range(2)]
        for rampart in instances:
            wait_store_up(rampart)
        spend_and_check(instances, "tls-client", 40)
        assert server.commandstats().get("evalsha", 0) >= 1
        # A server whose certificate the configured CA did not sign is refused:
        # the store stays down (fail open: the local share), and says why.
        store["redis"]["tls"] = {"ca": str(other_ca)}
        wrong = start_instance(stack, upstream, store, GLOBAL_ROUTES, admin=True)
        deadline = time.monotonic() + 3
        while "certificate verify failed" not in wrong.stderr():
            assert time.monotonic() < deadline, wrong.stderr()
            time.sleep(0.05)
        assert stats(wrong)["store"]["state"] == "degraded"
        assert status(wrong.port, "/g/1", [("x-client", "w")]) == 200
    finally:
        server.stop()
