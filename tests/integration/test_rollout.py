"""Progressive rollouts (`ramp:`) through the real binary with real upstream
processes (docs/cutover.md): the new cluster's weight climbs step by step
under a steady client load without a failed request, and a new cluster that
answers 500s or answers slowly is stepped back by itself, after which no
request reaches it. The state is read from /rollouts and /metrics."""
import json
import re
import threading
import time

import yaml

import helpers
import prometheus_text
from helpers import Client


class Load:
    """`threads` clients on keep-alive connections sending requests in
    turn, counting every answer; bounded in count and time. With `fresh`,
    a new connection per request (Connection: close), as across a handover
    between two processes, where a draining one closes idle keep-alive
    connections."""

    def __init__(self, port, threads=4, limit=6000, seconds=30.0, pause=0.002, fresh=False):
        self.port, self.limit, self.seconds, self.pause = port, limit, seconds, pause
        self.fresh = fresh
        self.answers, self.errors = [], []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(threads)]
        for thread in self.threads:
            thread.start()

    def count(self):
        with self.lock:
            return len(self.answers) + len(self.errors)

    def run(self, index):
        deadline = time.monotonic() + self.seconds
        client = None
        i = 0
        while self.count() < self.limit and time.monotonic() < deadline \
                and not self.stopping.is_set():
            try:
                if client is None:
                    client = Client(self.port)
                headers = [("Connection", "close")] if self.fresh else []
                response = client.request("GET", f"/load?t={index}&i={i}", headers=headers)
                with self.lock:
                    self.answers.append((time.monotonic(), response.status,
                                         response.header("x-upstream-name")))
                if self.fresh or response.header("connection") == "close":
                    client.close()
                    client = None
            except Exception as error:  # noqa: BLE001 - every failure is counted, not raised
                with self.lock:
                    self.errors.append(repr(error))
                if client is not None:
                    client.close()
                client = None
            i += 1
            time.sleep(self.pause)
        if client is not None:
            client.close()

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)


def start(stack, old, new, ramp, workers=2):
    port, admin_port = helpers.free_port(), helpers.free_port()
    route = {"name": "shift", "match": {"prefix": "/"},
             "clusters": [{"cluster": "old", "weight": 100}, {"cluster": "new", "weight": 0}],
             "ramp": ramp}
    text = helpers.config(
        port, [helpers.cluster("old", [old.address]), helpers.cluster("new", [new.address])],
        [{"name": "default", "domains": ["*"], "routes": [route]}], workers=workers,
        admin={"address": f"127.0.0.1:{admin_port}"})
    rampart = stack.rampart(text, port)
    helpers.wait_port(admin_port, 10, rampart.process)
    return rampart, admin_port


def rollout(admin_port):
    response = helpers.get(admin_port, "/rollouts")
    assert response.status == 200, response
    assert response.header("content-type") == "application/json"
    rollouts = json.loads(response.body)["rollouts"]
    assert len(rollouts) == 1, rollouts
    return rollouts[0]


def metrics(admin_port):
    """The rollout families from /metrics, strictly parsed."""
    response = helpers.get(admin_port, "/metrics")
    assert response.status == 200, response
    families = prometheus_text.parse(response.body.decode())
    v = prometheus_text.value
    states = {s: v(families, "rampart_rollout_state", route="shift", state=s)
              for s in ("advancing", "holding", "stepped_back", "done")}
    assert sum(states.values()) == 1, states
    return {"weight": v(families, "rampart_rollout_weight", route="shift", cluster="new"),
            "step": v(families, "rampart_rollout_step", route="shift"),
            "state": next(s for s, on in states.items() if on == 1),
            "step_backs": v(families, "rampart_rollout_step_backs_total", route="shift"),
            "split_new": v(families, "rampart_route_cluster_weight", route="shift", cluster="new")}


def distinct_weights(seen):
    """The weights in `seen` without repeats in a row (a step may be seen
    advancing, then holding)."""
    weights = [weight for _, weight, _ in seen]
    return [w for i, w in enumerate(weights) if i == 0 or weights[i - 1] != w]


def watch(admin_port, until, timeout):
    """Polls /rollouts every 20 ms until `until(state)`; returns every
    distinct (step, weight, state) seen, in order."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        state = rollout(admin_port)
        point = (state["step"], state["weight"], state["state"])
        if not seen or seen[-1] != point:
            seen.append(point)
        if until(state):
            return seen, state
        assert time.monotonic() < deadline, seen
        time.sleep(0.02)


def test_a_rollout_walks_every_step_to_100_under_load_without_a_failed_request(stack):
    old, new = stack.upstream("old"), stack.upstream("new")
    rampart, admin_port = start(stack, old, new, {
        "cluster": "new", "steps": [5, 25, 50, 100], "hold": "300ms",
        "guard": {"max_error_rate": 0.01, "max_p99": "500ms", "min_requests": 5}})
    first = rollout(admin_port)
    assert (first["step"], first["weight"], first["steps"], first["from"]) == (0, 5, [5, 25, 50, 100], "old")
    assert first["guard"] == {"max_error_rate": 0.01, "max_p99_ms": 500, "min_requests": 5}
    assert metrics(admin_port)["weight"] == 5
    load = Load(rampart.port)
    try:
        seen, final = watch(admin_port, lambda s: s["state"] == "done", timeout=25)
        # Once done, every request goes to the new cluster.
        done_at = time.monotonic()
        time.sleep(0.3)
    finally:
        load.stop()
    assert load.errors == [], load.errors[:5]
    assert load.answers and all(status == 200 for _, status, _ in load.answers)
    # Every step was visible in turn, and each only after the previous one.
    assert distinct_weights(seen) == [5, 25, 50, 100], seen
    steps = [step for step, _, _ in seen]
    assert steps == sorted(steps), seen
    assert final["state"] == "done" and final["weight"] == 100 and final["step_backs"] == 0
    assert final["window"]["requests"] >= 5 and final["window"]["failures"] == 0
    after = [name for t, _, name in load.answers if t > done_at + 0.05]
    assert after and set(after) == {"new"}, after[:20]
    assert {name for _, _, name in load.answers} == {"old", "new"}
    assert metrics(admin_port) == {"weight": 100, "step": 3, "state": "done", "step_backs": 0,
                                   "split_new": 100}
    log = rampart.stderr()
    assert len(re.findall(r"rollout on route 'shift': cluster 'new' advances to", log)) == 3, log[-3000:]
    assert "rollout on route 'shift' done: cluster 'new' holds 100%" in log
    assert "step-back" not in log


def test_a_new_cluster_answering_500_is_stepped_back_and_gets_nothing_afterwards(stack):
    old = stack.upstream("old")
    new = stack.upstream("new", extra_args=["--fail-status", "500"])
    rampart, admin_port = start(stack, old, new, {
        "cluster": "new", "steps": [10, 50, 100], "hold": "300ms",
        "guard": {"max_error_rate": 0.05, "min_requests": 10}})
    load = Load(rampart.port)
    try:
        seen, final = watch(admin_port, lambda s: s["state"] == "stepped_back", timeout=20)
        stepped_at = time.monotonic()
        to_new = len(new.requests())
        # Give the load more time: none of it may reach the new cluster.
        time.sleep(0.5)
        count_then = load.count()
        while load.count() < count_then + 200:
            time.sleep(0.02)
    finally:
        load.stop()
    assert load.errors == [], load.errors[:5]
    # It never left the first step: the guard broke at 10%.
    assert distinct_weights(seen) == [10, 0], seen
    assert final["breach"] == "max_error_rate" and final["step_backs"] == 1
    assert final["step"] == 0 and final["weight"] == 0
    assert final["window"]["failures"] >= 10 and final["window"]["error_rate"] > 0.05
    assert len(new.requests()) == to_new, "a request reached the stepped-back cluster"
    failed = [(t, status, name) for t, status, name in load.answers if status != 200]
    assert failed and all(status == 500 and name == "new" for _, status, name in failed)
    # Only the first step's share failed: about a tenth of the requests sent
    # before the step-back (the timer ticks every 30 ms; generous slack).
    before = [a for a in load.answers if a[0] <= stepped_at]
    assert len(failed) <= 0.1 * len(before) + 40, (len(failed), len(before))
    after = [name for t, _, name in load.answers if t > stepped_at + 0.05]
    assert len(after) >= 200 and set(after) == {"old"}
    assert metrics(admin_port) == {"weight": 0, "step": 0, "state": "stepped_back",
                                   "step_backs": 1, "split_new": 0}
    lines = re.findall(r"rollout step-back on route 'shift': cluster 'new' broke max_error_rate "
                       r"at 10% \(step 1 of 3\): (\d+) of (\d+) requests failed", rampart.stderr())
    assert len(lines) == 1, rampart.stderr()[-3000:]
    assert lines[0][0] == lines[0][1]


def test_a_slow_new_cluster_is_stepped_back_by_the_p99_guard(stack):
    old = stack.upstream("old")
    new = stack.upstream("new", extra_args=["--delay-ms", "250"])
    rampart, admin_port = start(stack, old, new, {
        "cluster": "new", "steps": [20, 100], "hold": "5s",
        "guard": {"max_p99": "100ms", "min_requests": 5}})
    load = Load(rampart.port)
    try:
        seen, final = watch(admin_port, lambda s: s["state"] == "stepped_back", timeout=20)
        to_new = len(new.requests())
        count_then = load.count()
        while load.count() < count_then + 200:
            time.sleep(0.02)
    finally:
        load.stop()
    assert load.errors == [], load.errors[:5]
    # Slow is not failed: every client got its 200.
    assert all(status == 200 for _, status, _ in load.answers)
    assert final["breach"] == "max_p99" and final["weight"] == 0
    assert final["window"]["p99_ms"] > 200 and final["window"]["failures"] == 0
    # A 5 s hold: it stepped back long before it could have advanced.
    assert distinct_weights(seen) == [20, 0], seen
    # In-flight requests chosen before the step-back may still arrive; none after.
    time.sleep(0.3)
    assert len(new.requests()) <= to_new + 4
    assert metrics(admin_port)["state"] == "stepped_back"
    assert "broke max_p99 at 20%" in rampart.stderr()


def test_a_rollout_waits_at_its_step_while_too_few_requests_came(stack):
    old, new = stack.upstream("old"), stack.upstream("new")
    rampart, admin_port = start(stack, old, new, {
        "cluster": "new", "steps": [50, 100], "hold": "200ms", "guard": {"min_requests": 20}},
        workers=1)
    time.sleep(0.5)
    state = rollout(admin_port)
    assert (state["state"], state["weight"], state["window"]["requests"]) == ("holding", 50, 0)
    assert metrics(admin_port)["state"] == "holding"
    # 20 requests to the new side, then the next tick advances it.
    sent = 0
    with Client(rampart.port) as client:
        while len(new.requests()) < 20:
            assert client.request("GET", f"/x?i={sent}").status == 200
            sent += 1
            assert sent < 400
    _, state = watch(admin_port, lambda s: s["weight"] == 100, timeout=5)
    assert state["step"] == 1


def start_on(stack, port, admin_port, clusters, ramp, name):
    """A Rampart on `port` (which another one may serve too: SO_REUSEPORT) in
    a directory of its own; returns once it is serving."""
    route = {"name": "shift", "match": {"prefix": "/"},
             "clusters": [{"cluster": clusters[0][0], "weight": 100},
                          {"cluster": clusters[1][0], "weight": 0}],
             "ramp": ramp}
    text = helpers.config(port, [helpers.cluster(n, [u.address]) for n, u in clusters],
                          [{"name": "default", "domains": ["*"], "routes": [route]}], workers=2,
                          admin={"address": f"127.0.0.1:{admin_port}"})
    workdir = stack.workdir / name
    workdir.mkdir()
    path = workdir / "rampart.yaml"
    path.write_text(text)
    rampart = helpers.Rampart(workdir, ["serve", "-c", str(path)], port, ready=False)
    stack.processes.append(rampart)
    helpers.wait_port(admin_port, 10, rampart.process)
    deadline = time.monotonic() + 10
    while "listening on" not in rampart.stderr():
        assert time.monotonic() < deadline and rampart.process.poll() is None, rampart.stderr()
        time.sleep(0.02)
    return rampart


def test_the_full_cutover_good_shift_then_a_bad_cluster_rolled_back(stack):
    """Issue 6's cutover test: under one steady load counting every response,
    old -> new through every step with no failed request; then a bad
    cluster (500s) is rolled forward from new and rolled back by itself
    before more than its first step's share failed; nothing reaches it after."""
    old, new = stack.upstream("old"), stack.upstream("new")
    bad = stack.upstream("bad", extra_args=["--fail-status", "500"])
    port = helpers.free_port()
    guard = {"max_error_rate": 0.02, "max_p99": "1s", "min_requests": 10}
    first_admin = helpers.free_port()
    first = start_on(stack, port, first_admin, [("old", old), ("new", new)],
                     {"cluster": "new", "steps": [1, 5, 25, 50, 100], "hold": "300ms",
                      "guard": guard}, "good")
    load = Load(port, limit=20000, seconds=60, fresh=True)
    try:
        seen, _ = watch(first_admin, lambda s: s["state"] == "done", timeout=40)
        good_until = time.monotonic()
        time.sleep(0.2)
        # The next migration: a new Rampart beside it ramps `bad` from `new`;
        # the first one drains.
        second_admin = helpers.free_port()
        second = start_on(stack, port, second_admin, [("new", new), ("bad", bad)],
                          {"cluster": "bad", "steps": [5, 50, 100], "hold": "300ms",
                           "guard": guard}, "bad")
        handed_over = time.monotonic()
        assert first.stop() == 0
        _, final = watch(second_admin, lambda s: s["state"] == "stepped_back", timeout=20)
        stepped_at = time.monotonic()
        to_bad = len(bad.requests())
        count_then = load.count()
        while load.count() < count_then + 400:
            time.sleep(0.02)
    finally:
        load.stop()
    assert load.errors == [], load.errors[:5]
    assert distinct_weights(seen) == [1, 5, 25, 50, 100], seen
    good = [a for a in load.answers if a[0] <= good_until]
    assert len(good) > 500 and all(status == 200 for _, status, _ in good)
    failed = [a for a in load.answers if a[1] != 200]
    assert failed and all(status == 500 and name == "bad" for _, status, name in failed)
    assert final["breach"] == "max_error_rate" and final["step"] == 0
    # Only the first step's share (5%) of the bad phase's requests failed,
    # with slack for the timer's tick and the in-flight requests.
    bad_phase = [a for a in load.answers if handed_over <= a[0] <= stepped_at]
    assert len(failed) <= 0.05 * len(bad_phase) + 20, (len(failed), len(bad_phase))
    after = [a for a in load.answers if a[0] > stepped_at + 0.05]
    assert len(after) >= 200 and all(a[1:] == (200, "new") for a in after)
    assert len(bad.requests()) == to_bad
    assert second.stop() == 0


def test_a_reload_keeps_the_rollouts_step_and_a_changed_ramp_starts_again(stack):
    """A reload that leaves the ramped route alone (here: a route added)
    keeps the rollout at its step; one that changes the ramp starts it at
    its first step (docs/operations.md)."""
    old, new = stack.upstream("old"), stack.upstream("new")
    ramp = {"cluster": "new", "steps": [10, 50, 100], "hold": "300ms",
            "guard": {"min_requests": 5}}
    rampart, admin_port = start(stack, old, new, ramp, workers=1)
    path = stack.workdir / f"rampart-{rampart.port}.yaml"
    load = Load(rampart.port, threads=2, limit=4000, seconds=20)
    try:
        watch(admin_port, lambda s: s["weight"] == 50, timeout=10)
        # The same route, plus one more in front of it.
        config = yaml.safe_load(path.read_text())
        config["virtual_hosts"][0]["routes"].insert(
            0, {"name": "extra", "match": {"prefix": "/extra"}, "cluster": "old", "public": True})
        path.write_text(yaml.safe_dump(config))
        with Client(admin_port, timeout=10) as admin:
            answer = admin.request("POST", "/reload")
        assert answer.status == 200 and json.loads(answer.body)["result"] == "ok", answer.body
        state = rollout(admin_port)
        assert state["weight"] >= 50, state
        assert metrics(admin_port)["split_new"] >= 50
        # A changed ramp (another hold) starts again at its first step.
        config["virtual_hosts"][0]["routes"][1]["ramp"]["hold"] = "5s"
        path.write_text(yaml.safe_dump(config))
        with Client(admin_port, timeout=10) as admin:
            answer = admin.request("POST", "/reload")
        assert answer.status == 200, answer.body
        state = rollout(admin_port)
        assert (state["step"], state["weight"]) == (0, 10), state
    finally:
        load.stop()
    assert load.errors == [], load.errors[:5]
