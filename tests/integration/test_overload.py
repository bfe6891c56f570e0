"""Overload through the real binary: priority classes and the shedder
(anonymous requests shed with 503 + Retry-After while authenticated ones are
served, a client refused a moment ago shed first, drop, count mode), and
learned baselines (a client bursting far above what it was learned at is
throttled with 429 once the total is far above its own baseline, a steady
client stays served, count mode refuses nothing, and what was learned
survives a SIGHUP reload and a restart through the state file).

Every test runs one worker, so per-worker state is the whole state. Requests
held in flight are /slow?ms=N on the real upstream (upstream_server.py)."""
import hashlib
import os
import re
import signal
import threading
import time

import helpers
from helpers import Client, assert_problem, build_request

KEYS = (("key-alice", "alice", "acme"), ("key-bob", "bob", "globex"))


def write_keys(stack):
    lines = ["keys:"]
    for key, principal, account in KEYS:
        digest = hashlib.sha256(key.encode()).hexdigest()
        lines.append(f"  - name: {principal}\n    sha256: {digest}\n    principal: {principal}\n"
                     f"    account: {account}")
    stack.write("api-keys.yaml", "\n".join(lines) + "\n")


def overload_config(port, upstream, shield):
    """One worker; `/limited` has a per-address limit of one request a
    minute; every other path takes an API key or nobody."""
    routes = [{"name": "limited", "match": {"prefix": "/limited"}, "cluster": "app",
               "limits": [{"name": "one", "key": "address", "rate": "1/m", "burst": 1}]},
              {"name": "all", "match": {"prefix": "/"}, "cluster": "app",
               "auth": {"providers": ["partners"], "allow_anonymous": True}}]
    doc = {"workers": 1, "drain_timeout": "5s",
           "http": {"idle_timeout": "60s", "max_body_bytes": 0},
           "shield": shield,
           "listeners": [{"name": "main", "address": f"127.0.0.1:{port}"}],
           "clusters": [helpers.cluster("app", [upstream.address])],
           "authentication": {"providers": [{"name": "partners",
                                             "api_keys": {"file": "api-keys.yaml"}}]},
           "virtual_hosts": helpers.public_unless_governed(
               [{"name": "api", "domains": ["*"], "routes": routes}])}
    return helpers.to_yaml(doc) + "\n"


def start(stack, shield):
    write_keys(stack)
    upstream = stack.upstream("app")
    port = helpers.free_port()
    path = stack.write(f"rampart-{port}.yaml", overload_config(port, upstream, shield))
    rampart = stack.rampart_args(["serve", "-c", str(path)], port)
    return rampart, upstream, path


def key(name):
    return [("x-api-key", name)]


def log_counters(rampart, prefix):
    """The counters of the last `<prefix>: a=1 b=2` line rampart logged."""
    lines = [l for l in rampart.stderr().splitlines() if f"{prefix}:" in l and "=" in l]
    assert lines, f"no '{prefix}:' line in the log"
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", lines[-1].split(f"{prefix}:", 1)[1])}


class InFlight:
    """A request to /slow held open on its own connection until read()."""

    def __init__(self, rampart, ms, source=None, headers=None, target=None):
        self.client = Client(rampart.port, timeout=10, source=source)
        self.client.send(build_request("GET", target or f"/slow?ms={ms}", headers))

    def read(self):
        try:
            return self.client.read_response()
        finally:
            self.client.close()


def wait_upstream_count(upstream, count, timeout=5.0, prefix="/slow"):
    deadline = time.monotonic() + timeout
    while len([t for t in upstream.targets() if t.startswith(prefix)]) < count:
        assert time.monotonic() < deadline, f"upstream saw {upstream.targets()}"
        time.sleep(0.02)


# Ceilings at capacity 4: authenticated 4, anonymous 2, suspicious 1.
# lag_target is far away so that a busy test machine (a late loop shrinks
# capacity) cannot change the ceilings these tests count on.
SHEDDING = {"capacity": 4, "reserved_authenticated": 0.5, "suspicious_share": 0.25,
            "retry_after": "2s", "lag_target": "10s"}


def test_anonymous_requests_are_shed_with_503_while_authenticated_ones_are_served(stack):
    rampart, upstream, _ = start(stack, {"overload": SHEDDING})
    held = [InFlight(rampart, 1500, source=f"127.0.4.{i}") for i in (1, 2)]
    wait_upstream_count(upstream, 2)
    shed = helpers.get(rampart.port, "/x", source="127.0.4.3")
    body = assert_problem(shed, 503)
    assert "overloaded" in body["detail"]
    assert shed.header("retry-after") == "2"
    # The reserved half of capacity is the authenticated class's alone.
    assert helpers.get(rampart.port, "/x", key("key-alice"), source="127.0.4.4").status == 200
    assert helpers.get(rampart.port, "/x", key("key-bob"), source="127.0.4.5").status == 200
    assert [h.read().status for h in held] == [200, 200]
    # Slots are given back when requests end: anonymous requests pass again.
    assert helpers.get(rampart.port, "/x", source="127.0.4.3").status == 200
    assert "/x" in upstream.targets()
    rampart.stop()
    counters = log_counters(rampart, "overload")
    assert counters["admitted_anonymous"] == 3
    assert counters["shed_anonymous"] == 1
    assert counters["admitted_authenticated"] == 2
    assert counters["shed_authenticated"] == 0


def test_slots_come_back_when_clients_leave_and_when_the_upstream_fails(stack):
    rampart, upstream, _ = start(stack, {"overload": SHEDDING})
    # Two clients that leave in the middle of a large response: writing to
    # them fails and their sessions close.
    gone = [InFlight(rampart, 0, source=f"127.0.8.{i}", target="/download?bytes=100000000")
            for i in (1, 2)]
    for request in gone:
        assert request.client.read_response_head().status == 200
        request.client.close()
    time.sleep(1.0)
    # An upstream that closes without answering: a 502, and the slot is freed.
    assert assert_problem(helpers.get(rampart.port, "/close", source="127.0.8.3"), 502)
    # Neither leaked nor counted twice: exactly two anonymous slots again.
    held = [InFlight(rampart, 1000, source=f"127.0.8.{i}") for i in (4, 5)]
    wait_upstream_count(upstream, 2)
    assert helpers.get(rampart.port, "/x", source="127.0.8.6").status == 503
    assert [h.read().status for h in held] == [200, 200]
    rampart.stop()
    counters = log_counters(rampart, "overload")
    assert counters["admitted_anonymous"] == 5
    assert counters["shed_anonymous"] == 1


def test_a_client_just_refused_is_suspicious_and_shed_first_by_dropping(stack):
    rampart, upstream, _ = start(stack, {"overload": SHEDDING})  # suspicious: drop (default)
    suspect = "127.0.5.9"
    assert helpers.get(rampart.port, "/limited", source=suspect).status == 200
    assert helpers.get(rampart.port, "/limited", source=suspect).status == 429
    held = InFlight(rampart, 1500, source="127.0.5.1")
    wait_upstream_count(upstream, 1)
    # One request in flight fills the suspicious share: the suspect's next
    # request, even with a valid key, is closed without a response.
    with Client(rampart.port, timeout=5, source=suspect) as client:
        client.send(build_request("GET", "/x", key("key-alice")))
        closed, data = client.wait_closed(3)
    assert closed and data == b""
    # An anonymous client in good standing still gets the second anonymous slot.
    assert helpers.get(rampart.port, "/x", source="127.0.5.2").status == 200
    assert held.read().status == 200
    assert "/x" in upstream.targets() and len(upstream.targets()) == 3  # /limited, /slow, /x
    rampart.stop()
    counters = log_counters(rampart, "overload")
    assert counters["shed_suspicious"] == 1
    assert counters["shed_anonymous"] == 0
    assert log_counters(rampart, "stopped")["shield_dropped"] == 1


def test_drop_action_closes_shed_anonymous_requests_without_a_response(stack):
    rampart, upstream, _ = start(stack, {"overload": dict(SHEDDING, action="drop")})
    held = [InFlight(rampart, 1500, source=f"127.0.6.{i}") for i in (1, 2)]
    wait_upstream_count(upstream, 2)
    with Client(rampart.port, timeout=5, source="127.0.6.3") as client:
        client.send(build_request("GET", "/x"))
        closed, data = client.wait_closed(3)
    assert closed and data == b""
    assert [h.read().status for h in held] == [200, 200]
    assert "/x" not in upstream.targets()
    rampart.stop()
    assert log_counters(rampart, "overload")["shed_anonymous"] == 1


def test_count_mode_sheds_nothing_but_counts_what_it_would(stack):
    rampart, upstream, _ = start(stack, {"overload": dict(SHEDDING, mode="count", capacity=1)})
    held = [InFlight(rampart, 1000, source=f"127.0.7.{i}") for i in (1, 2, 3)]
    wait_upstream_count(upstream, 3)
    assert [h.read().status for h in held] == [200, 200, 200]
    rampart.stop()
    counters = log_counters(rampart, "overload")
    assert counters["admitted_anonymous"] == 3
    assert counters["would_shed_anonymous"] == 2
    assert counters["shed_anonymous"] == 0


# One-second windows so that learning takes seconds: three windows make a
# baseline; "far above" is 3x.
BASELINES = {"key": "account", "window": "1s", "min_windows": 3, "horizon": 4, "factor": 3,
             "default_rate": "10/s", "retry_after": "1s"}


class Steady:
    """A client at `per_second` requests a second with its own key, on a thread."""

    def __init__(self, rampart, name, per_second):
        self.rampart, self.name, self.period = rampart, name, 1.0 / per_second
        self.statuses = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        next_at = time.monotonic()
        with Client(self.rampart.port, timeout=5) as client:
            while not self.stopping.is_set():
                self.statuses.append(client.request("GET", "/steady", key(self.name)).status)
                # No catching up after a stall of the test machine: a steady
                # client never bursts.
                next_at = max(next_at + self.period, time.monotonic())
                self.stopping.wait(max(0.0, next_at - time.monotonic()))

    def stop(self):
        self.stopping.set()
        self.thread.join(10)
        return self.statuses


def learn(rampart, seconds):
    """Alice (acme) and Bob (globex) at 4 requests a second each for `seconds`."""
    clients = [Steady(rampart, "key-alice", 4), Steady(rampart, "key-bob", 4)]
    time.sleep(seconds)
    return clients


def burst(rampart, name, seconds, limit=2000):
    """`name` flat out on one connection; returns the first non-200 response
    (or None) and how many were served before it."""
    served = 0
    deadline = time.monotonic() + seconds
    with Client(rampart.port, timeout=5) as client:
        while time.monotonic() < deadline and served < limit:
            response = client.request("GET", "/burst", key(name))
            if response.status != 200:
                return response, served
            served += 1
    return None, served


def test_a_client_far_above_its_baseline_is_throttled_while_a_steady_one_is_served(stack):
    rampart, _, _ = start(stack, {"baselines": BASELINES})
    alice, bob = learn(rampart, 4.5)
    bob.stop()
    refused, served = burst(rampart, "key-bob", 3)
    assert refused is not None, f"bob was never throttled after {served} requests"
    body = assert_problem(refused, 429)
    assert "usual rate" in body["detail"]
    assert refused.header("retry-after") == "1"
    assert re.fullmatch(r'"baseline";q=\d+;w=1', refused.header("ratelimit-policy"))
    assert refused.header("ratelimit") == '"baseline";r=0;t=1'
    time.sleep(0.6)  # alice keeps going through the flood
    statuses = alice.stop()
    assert statuses and set(statuses) == {200}, statuses
    rampart.stop()
    counters = log_counters(rampart, "baselines")
    assert counters["throttled"] >= 1 and counters["overloaded"] >= 1


def test_baselines_in_count_mode_refuse_nothing_but_report(stack):
    rampart, _, _ = start(stack, {"baselines": dict(BASELINES, mode="count")})
    alice, bob = learn(rampart, 4.5)
    bob.stop()
    refused, served = burst(rampart, "key-bob", 1.5, limit=400)
    assert refused is None, refused
    assert alice.stop() and set(alice.statuses) == {200}
    rampart.stop()
    counters = log_counters(rampart, "baselines")
    assert counters["throttled"] == 0
    assert counters["would_throttle"] >= 1


def test_baselines_survive_a_sighup_reload_and_a_restart(stack):
    state = stack.workdir / "baselines.state"
    rampart, _, path = start(stack, {"baselines": dict(BASELINES, state_file=str(state))})
    alice, bob = learn(rampart, 4.5)
    for client in (alice, bob):
        client.stop()
    # A real reload (the same content would be a no-op): another drain_timeout.
    text = path.read_text()
    assert "drain_timeout: 5s" in text
    path.write_text(text.replace("drain_timeout: 5s", "drain_timeout: 6s"))
    seen = rampart.stderr().count(" reloaded: generation")
    os.kill(rampart.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while rampart.stderr().count(" reloaded: generation") == seen:
        assert time.monotonic() < deadline, "no reload in the log"
        time.sleep(0.02)
    # Still known after the reload: bob bursting is throttled at once.
    refused, _ = burst(rampart, "key-bob", 3)
    assert refused is not None and refused.status == 429
    rampart.stop()
    assert state.exists() and (state.stat().st_mode & 0o777) == 0o600
    assert "learned state written to" in rampart.stderr()

    restarted = stack.rampart_args(["serve", "-c", str(path)], rampart.port)
    assert "learned state of 1 workers restored" in restarted.stderr()
    # Learned before the restart: nothing to learn again before bob is held back.
    alice = Steady(restarted, "key-alice", 4)
    time.sleep(0.3)
    refused, served = burst(restarted, "key-bob", 3)
    assert refused is not None and refused.status == 429, served
    assert set(alice.stop()) == {200}
