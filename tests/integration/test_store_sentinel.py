"""The store in sentinel mode through real processes: a master
redis-server, a replica of it, three `redis-server --sentinel` on loopback
ports, and a real rampart told only where the sentinels are. A global limit
is enforced through the master the sentinels name; the master is killed,
the sentinels promote the replica, and rampart follows it within seconds
(the limit is enforced through Redis again, on the new master). See
docs/store.md, "Sentinel"."""
import time

import pytest

import helpers
from redis_server import Redis, Sentinel
from test_store import limit, start_instance, stats, status, wait_store_up

ROUTES = [
    {"name": "global", "match": {"prefix": "/g"}, "cluster": "app",
     "limits": [limit("per-client", "1/m", 20, on_store_error="closed")]},
    {"name": "all", "match": {"prefix": "/"}, "cluster": "app"},
]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture
def sentinel_set(tmp_path):
    """(master, replica, [3 sentinels]) once every sentinel sees the
    replica and the two other sentinels (else a failover has no quorum)."""
    started = []
    try:
        # No 5 s wait before the replica's first full sync.
        master = Redis(tmp_path, args=["--repl-diskless-sync-delay", "0"])
        started.append(master)
        replica = Redis(tmp_path, args=["--replicaof", "127.0.0.1", master.port])
        started.append(replica)
        wait_for(lambda: "master_link_status:up" in replica.cli("INFO", "replication"), 10,
                 "the replica never synced")
        sentinels = []
        for _ in range(3):
            sentinels.append(Sentinel(tmp_path, master))
            started.append(sentinels[-1])

        def ready():
            for s in sentinels:
                state = s.master_state()
                if state.get("num-other-sentinels") != "2" or state.get("num-slaves") != "1":
                    return False
            return True

        wait_for(ready, 20, "the sentinels never saw each other and the replica")
        yield master, replica, sentinels
    finally:
        for process in reversed(started):
            process.stop()


def spend(rampart, client, count):
    return [status(rampart.port, f"/g/{client}/{i}", [("x-client", client)])
            for i in range(count)]


def leases(server):
    calls = server.commandstats()
    return calls.get("evalsha", 0) + calls.get("eval", 0)


def test_sentinel_mode_follows_a_failover(stack, sentinel_set):
    master, replica, sentinels = sentinel_set
    upstream = stack.upstream("app")
    store = {"redis": {"mode": "sentinel", "master_name": "mymaster", "timeout": "250ms",
                       "sentinels": [s.address for s in sentinels]},
             "expected_instances": 2}
    rampart = start_instance(stack, upstream, store, ROUTES, admin=True)
    wait_store_up(rampart)
    assert f"master mymaster at {master.address}" in rampart.stderr()

    # The limit holds through the master: burst 20, the local share (10 per
    # worker before the first lease) bounds what passes without Redis.
    statuses = spend(rampart, "before", 40)
    assert set(statuses) == {200, 429}, statuses
    assert statuses.count(200) <= 20 + 10, statuses
    assert leases(master) >= 1
    assert stats(rampart)["store"]["state"] == "up"

    master.kill()
    # The sentinels promote the replica (down after 500 ms, then an
    # election); rampart asks them again and follows.
    wait_for(lambda: "role:master" in replica.cli("INFO", "replication"), 20,
             "the sentinels never promoted the replica")
    wait_for(lambda: f"master mymaster at {replica.address}" in rampart.stderr(), 10,
             rampart.stderr())
    # Enforced through Redis again: a fail-closed limit answers 200 (not 503)
    # for a new client, and its leases come from the new master.
    wait_for(lambda: status(rampart.port, "/g/after/0", [("x-client", "after")]) == 200, 5,
             "the fail-closed limit never passed again after the failover")
    assert leases(replica) >= 1
    statuses = spend(rampart, "after", 40)
    assert set(statuses) == {200, 429}, statuses
    assert statuses.count(200) <= 20 + 10, statuses
    state = stats(rampart)["store"]
    assert state["state"] == "up"
    assert state["down_transitions"] >= 1
    # A route without global limits never waited on any of this.
    started = time.monotonic()
    assert status(rampart.port, "/plain") == 200
    assert time.monotonic() - started < 0.2


def test_sentinels_that_do_not_answer_are_skipped_in_order(stack, sentinel_set):
    """The first configured sentinel is down (nothing listens there): the
    next one names the master, and the store comes up."""
    master, _, sentinels = sentinel_set
    upstream = stack.upstream("app")
    store = {"redis": {"mode": "sentinel", "master_name": "mymaster", "timeout": "250ms",
                       "sentinels": [f"127.0.0.1:{helpers.free_port()}"] +
                                    [s.address for s in sentinels]},
             "expected_instances": 2}
    rampart = start_instance(stack, upstream, store, ROUTES, admin=True)
    wait_store_up(rampart)
    assert f"master mymaster at {master.address}" in rampart.stderr()
    assert status(rampart.port, "/g/x", [("x-client", "x")]) == 200
    wait_for(lambda: leases(master) >= 1, 2, "no lease reached the master")


def test_a_manual_failover_is_followed_though_the_old_master_stays_up(stack, sentinel_set):
    """SENTINEL FAILOVER: the old master keeps running, as a replica, and
    rampart's connection to it never fails; the +switch-master message (or
    a READONLY answer) sends rampart to the sentinels, and the leases move
    to the new master."""
    master, replica, sentinels = sentinel_set
    upstream = stack.upstream("app")
    store = {"redis": {"mode": "sentinel", "master_name": "mymaster", "timeout": "250ms",
                       "sentinels": [s.address for s in sentinels]},
             "expected_instances": 2}
    rampart = start_instance(stack, upstream, store, ROUTES, admin=True)
    wait_store_up(rampart)
    assert f"master mymaster at {master.address}" in rampart.stderr()
    assert "OK" in sentinels[1].cli("SENTINEL", "failover", "mymaster")
    wait_for(lambda: "role:master" in replica.cli("INFO", "replication"), 20,
             "the sentinels never promoted the replica")
    promoted = time.monotonic()
    wait_for(lambda: f"master mymaster at {replica.address}" in rampart.stderr(), 5,
             rampart.stderr())
    # Well before the 5 s re-check: a message or the demotion told us.
    assert time.monotonic() - promoted < 4, rampart.stderr()
    assert "+switch-master" in rampart.stderr() or "read-only" in rampart.stderr()
    wait_for(lambda: status(rampart.port, "/g/m/0", [("x-client", "m")]) == 200, 5,
             "the fail-closed limit never passed on the new master")
    assert leases(replica) >= 1
    # The sentinels turn the old master into a replica later (when their
    # INFO poll sees it, up to 10 s apart); its READONLY would send rampart to
    # the sentinels again, never back to it.
    wait_for(lambda: "role:slave" in master.cli("INFO", "replication"), 25,
             "the old master was never reconfigured as a replica")
    wait_for(lambda: status(rampart.port, "/g/m/1", [("x-client", "m")]) == 200, 5,
             "the limit did not pass on the new master after the demotion")
    assert f"master mymaster at {master.address} (was" not in rampart.stderr()
