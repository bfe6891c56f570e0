"""Cutover through the real binary with two real upstream processes, `old`
and `new` (docs/cutover.md): a weighted route splits by weight, a sticky key
keeps each user on one side, raising the new side's weight only moves keys
from old to new, a failing new cluster is stepped back by itself, and a
shift under steady load loses no request."""
import json
import re
import threading
import time

import helpers
import prometheus_text
from helpers import Client

MASK = (1 << 64) - 1


def cohort_point(key):
    """routing::cohortPoint, written again: FNV-1a 64, the splitmix64
    finalizer, modulo 10000. The same key must land on the same point in
    every process; this checks it against an independent implementation."""
    h = 14695981039346656037
    for byte in key.encode():
        h ^= byte
        h = (h * 1099511628211) & MASK
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & MASK
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & MASK
    h ^= h >> 31
    return h % 10000


def config_text(old, new, new_weight, port, workers=1, top=None, **route_keys):
    route = {"name": "shift", "match": {"prefix": "/"},
             "clusters": [{"cluster": "old", "weight": 100 - new_weight},
                          {"cluster": "new", "weight": new_weight}]}
    route.update(route_keys)
    clusters = [helpers.cluster("old", [old.address]), helpers.cluster("new", [new.address])]
    return helpers.config(port, clusters, [{"name": "default", "domains": ["*"], "routes": [route]}],
                          workers=workers, **(top or {}))


def start(stack, old, new, new_weight, workers=1, top=None, **route_keys):
    port = helpers.free_port()
    return stack.rampart(config_text(old, new, new_weight, port, workers, top, **route_keys), port)


def split_state(admin_port):
    """The route's weights and stepped_back from /metrics (strictly parsed) and /stats."""
    response = helpers.get(admin_port, "/metrics")
    assert response.status == 200, response
    families = prometheus_text.parse(response.body.decode())
    v = prometheus_text.value
    metrics = ({c: v(families, "rampart_route_cluster_weight", route="shift", cluster=c)
                for c in ("old", "new")},
               v(families, "rampart_route_stepped_back", route="shift"))
    stats = json.loads(helpers.get(admin_port, "/stats").body)
    assert stats["splits"] == [{"route": "shift", "stepped_back": bool(metrics[1]),
                                "weights": metrics[0]}], stats["splits"]
    return metrics


def start_beside(stack, old, new, new_weight, port, step):
    """A Rampart on a port another one already serves (SO_REUSEPORT), in its
    own directory so their config and stderr files stay apart; returns once
    it is serving (the port answering proves nothing: the other one does)."""
    workdir = stack.workdir / f"step-{step}"
    workdir.mkdir()
    path = workdir / "rampart.yaml"
    path.write_text(config_text(old, new, new_weight, port))
    rampart = helpers.Rampart(workdir, ["serve", "-c", str(path)], port, ready=False)
    stack.processes.append(rampart)
    deadline = time.monotonic() + 10
    while "listening on" not in rampart.stderr():
        assert time.monotonic() < deadline and rampart.process.poll() is None, rampart.stderr()
        time.sleep(0.02)
    return rampart


def served(port, count, headers_of=lambda i: []):
    """Sends `count` requests in turn on keep-alive connections; returns
    [(status, x-upstream-name)]."""
    out = []
    client = Client(port)
    try:
        for i in range(count):
            response = client.request("GET", f"/x?i={i}", headers=headers_of(i))
            out.append((response.status, response.header("x-upstream-name")))
            if response.header("connection") == "close":
                client.close()
                client = Client(port)
    finally:
        client.close()
    return out


def counter(stderr, name):
    match = re.search(rf"stopped: .*\b{name}=(\d+)", stderr)
    assert match, f"no {name} in the shutdown line:\n{stderr[-2000:]}"
    return int(match.group(1))


def test_a_90_10_split_lands_within_tolerance(stack):
    old, new = stack.upstream("old"), stack.upstream("new")
    rampart = start(stack, old, new, 10)
    answers = served(rampart.port, 400)
    assert all(status == 200 for status, _ in answers), answers
    to_new = sum(1 for _, name in answers if name == "new")
    assert sum(1 for _, name in answers if name == "old") + to_new == 400
    # Binomial(400, 0.1): mean 40, sigma 6; 18..66 is beyond 3.5 sigma either way.
    assert 18 <= to_new <= 66, to_new
    assert len(new.requests()) == to_new


def test_sticky_header_keeps_each_key_on_its_cohort_side(stack):
    old, new = stack.upstream("old"), stack.upstream("new")
    rampart = start(stack, old, new, 30, workers=2, sticky={"key": "header:X-Account"})
    keys = [f"acct-{i}" for i in range(60)]
    # Each key four times, interleaved, so consecutive requests differ in key.
    answers = served(rampart.port, 240, lambda i: [("X-Account", keys[i % 60])])
    sides = {}
    for i, (status, name) in enumerate(answers):
        assert status == 200
        sides.setdefault(keys[i % 60], set()).add(name)
    for key, names in sides.items():
        assert len(names) == 1, f"{key} flipped between {names}"
        expected = "old" if cohort_point(key) < 7000 else "new"
        assert names == {expected}, (key, cohort_point(key), names)
    assert {"old", "new"} <= {name for names in sides.values() for name in names}


def test_a_cookie_is_a_sticky_key_too(stack):
    old, new = stack.upstream("old"), stack.upstream("new")
    rampart = start(stack, old, new, 50, sticky={"key": "cookie:session"})
    for i in range(20):
        key = f"s{i}"
        expected = "old" if cohort_point(key) < 5000 else "new"
        answers = served(rampart.port, 3, lambda _: [("Cookie", f"theme=dark; session={key}")])
        assert [name for _, name in answers] == [expected] * 3, (key, answers)


def test_raising_the_weight_moves_keys_only_from_old_to_new(stack):
    old, new = stack.upstream("old"), stack.upstream("new")
    keys = [f"user-{i}" for i in range(200)]

    def sides(weight):
        rampart = start(stack, old, new, weight, sticky={"key": "header:x-user"})
        answers = served(rampart.port, len(keys), lambda i: [("x-user", keys[i])])
        assert rampart.stop() == 0
        assert all(status == 200 for status, _ in answers)
        return {key: name for key, (_, name) in zip(keys, answers)}

    at_10 = sides(10)  # two Rampart runs: the cohorts survive a restart
    at_50 = sides(50)
    on_new_10 = {k for k, side in at_10.items() if side == "new"}
    on_new_50 = {k for k, side in at_50.items() if side == "new"}
    assert on_new_10 <= on_new_50, f"moved back to old: {sorted(on_new_10 - on_new_50)}"
    # The share on the new side follows the weight (200 keys: sigma 4.2 and 7.1).
    assert 6 <= len(on_new_10) <= 36, len(on_new_10)
    assert 70 <= len(on_new_50) <= 130, len(on_new_50)
    assert len(on_new_50 - on_new_10) > 0


def test_a_failing_new_cluster_is_stepped_back_and_nothing_fails_afterwards(stack):
    old = stack.upstream("old")
    new = stack.upstream("new", extra_args=["--fail-status", "500"])
    admin_port = helpers.free_port()
    rampart = start(stack, old, new, 50, workers=2, top={"admin": {"address": f"127.0.0.1:{admin_port}"}},
                    step_back={"watch": "new", "max_error_rate": 0.2, "min_requests": 20,
                               "window": "30s", "to": 0})
    helpers.wait_port(admin_port, 10, rampart.process)
    assert split_state(admin_port) == ({"old": 50, "new": 50}, 0)
    # Eight keep-alive connections taken in turn, one request at a time:
    # SO_REUSEPORT spreads them over both workers.
    clients = [Client(rampart.port) for _ in range(8)]
    answers = []
    try:
        for i in range(300):
            response = clients[i % 8].request("GET", f"/x?i={i}")
            answers.append((response.status, response.header("x-upstream-name")))
    finally:
        for client in clients:
            client.close()
    failed = [i for i, (status, _) in enumerate(answers) if status != 200]
    assert failed, "the new cluster never answered"
    assert all(answers[i][1] == "new" and answers[i][0] == 500 for i in failed)
    # The window is shared by both workers: the 20th failure, wherever it
    # lands, trips it (100% > 20% with 20 requests), not one more. Windows
    # per worker would let each worker see 20 of its own first.
    assert len(failed) == 20, failed
    after = answers[failed[-1] + 1:]
    assert len(after) > 100
    assert all(answer == (200, "old") for answer in after), after
    match = re.findall(r"cutover step-back on route 'shift': (\d+) of (\d+) requests to cluster "
                       r"'new'", rampart.stderr())
    assert match == [("20", "20")], rampart.stderr()[-2000:]
    assert split_state(admin_port) == ({"old": 100, "new": 0}, 1)
    assert rampart.stop() == 0
    assert counter(rampart.stderr(), "cutover_step_backs") == 1
    assert len(new.requests()) == 20


def test_a_healthy_new_cluster_is_not_stepped_back(stack):
    old, new = stack.upstream("old"), stack.upstream("new")
    rampart = start(stack, old, new, 50,
                    step_back={"watch": "new", "max_error_rate": 0.2, "min_requests": 5})
    answers = served(rampart.port, 100)
    assert all(status == 200 for status, _ in answers)
    assert 25 <= sum(1 for _, name in answers if name == "new") <= 75
    assert rampart.stop() == 0
    assert counter(rampart.stderr(), "cutover_step_backs") == 0
    assert "step-back" not in rampart.stderr()


class SteadyLoad:
    """One client sending requests in turn, a new connection each, counting
    every answer; bounded in count and time."""

    def __init__(self, port, limit=600, seconds=40.0):
        self.port, self.limit, self.seconds = port, limit, seconds
        self.answers, self.errors = [], []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        deadline = time.monotonic() + self.seconds
        while len(self.answers) + len(self.errors) < self.limit and time.monotonic() < deadline \
                and not self.stopping.is_set():
            try:
                response = helpers.get(self.port, f"/load?i={len(self.answers)}",
                                       headers=[("Connection", "close")])
                self.answers.append((response.status, response.header("x-upstream-name")))
            except Exception as error:  # noqa: BLE001 - every failure is counted, not raised
                self.errors.append(repr(error))
            time.sleep(0.005)

    def wait_for(self, count, timeout=20.0):
        deadline = time.monotonic() + timeout
        while len(self.answers) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.answers) >= count, (len(self.answers), self.errors)

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=30)


def test_zero_downtime_cutover_smoke(stack):
    """0% -> 50% -> 100% as config changes: each step is a new Rampart on the
    same port (SO_REUSEPORT) with the new weights, then the previous one
    drains (SIGTERM). Route reload is a later issue (docs/cutover.md)."""
    old, new = stack.upstream("old"), stack.upstream("new")
    port = helpers.free_port()
    running = start_beside(stack, old, new, 0, port, 0)
    load = SteadyLoad(port)
    try:
        load.wait_for(60)
        for weight in (50, 100):
            nxt = start_beside(stack, old, new, weight, port, weight)
            seen = len(load.answers)
            assert running.stop() == 0
            running = nxt
            load.wait_for(seen + 80)
    finally:
        load.stop()
    assert load.errors == [], load.errors[:5]
    assert all(status == 200 for status, _ in load.answers)
    names = [name for _, name in load.answers]
    assert names[:60] == ["old"] * 60
    assert names[-40:] == ["new"] * 40
    assert len(load.answers) <= 600


def test_the_cutover_example_routes_as_documented(stack):
    """examples/cutover.yaml with real upstreams in place of its addresses."""
    names = {"monolith": 9000, "orders": 9001, "accounts": 9002, "search": 9003}
    upstreams = {name: stack.upstream(name) for name in names}
    port = helpers.free_port()
    text = (helpers.ROOT / "examples" / "cutover.yaml").read_text()
    text = text.replace("127.0.0.1:8080", f"127.0.0.1:{port}").replace("workers: auto", "workers: 1")
    for name, example_port in names.items():
        text = text.replace(f"127.0.0.1:{example_port}", upstreams[name].address)
    stack.rampart(text, port)
    assert helpers.get(port, "/search?q=x").header("x-upstream-name") == "search"
    assert helpers.get(port, "/").header("x-upstream-name") == "monolith"
    for i in range(20):
        session = f"s-{i}"
        expected = "monolith" if cohort_point(session) < 5000 else "orders"
        got = {helpers.get(port, "/orders/1", headers=[("Cookie", f"session={session}")])
               .header("x-upstream-name") for _ in range(2)}
        assert got == {expected}, (session, got)
    on_accounts = 0
    for i in range(100):
        account = f"a-{i}"
        expected = "monolith" if cohort_point(account) < 9500 else "accounts"
        got = helpers.get(port, "/accounts/me", headers=[("X-Account", account)])
        assert got.status == 200 and got.header("x-upstream-name") == expected, (account, got)
        on_accounts += expected == "accounts"
    assert on_accounts < 20


def test_sticky_account_follows_the_verified_identity_not_a_header(stack):
    """`key: account` hashes phase 5's verified account; a client's own
    x-auth-account header (removed before forwarding) has no say."""
    import hashlib
    old, new = stack.upstream("old"), stack.upstream("new")
    accounts = [f"tenant-{i}" for i in range(30)]
    lines = ["keys:"]
    for i, account in enumerate(accounts):
        digest = hashlib.sha256(f"key-{i:04d}".encode()).hexdigest()
        lines += [f"  - name: k{i}", f"    sha256: {digest}", f"    principal: p{i}",
                  f"    account: {account}"]
    stack.write("api-keys.yaml", "\n".join(lines) + "\n")
    port = helpers.free_port()
    route = {"name": "shift", "match": {"prefix": "/"},
             "clusters": [{"cluster": "old", "weight": 50}, {"cluster": "new", "weight": 50}],
             "sticky": {"key": "account"}, "auth": {"providers": ["partners"]}}
    text = helpers.config(
        port, [helpers.cluster("old", [old.address]), helpers.cluster("new", [new.address])],
        [{"name": "default", "domains": ["*"], "routes": [route]}],
        authentication={"providers": [{"name": "partners",
                                       "api_keys": {"file": "api-keys.yaml"}}]})
    stack.rampart(text, port)
    for i, account in enumerate(accounts):
        expected = "old" if cohort_point(account) < 5000 else "new"
        # The forged header names an account on the other side of the split.
        other = next(a for a in accounts
                     if (cohort_point(a) < 5000) != (expected == "old"))
        for forged in ([], [("X-Auth-Account", other)]):
            response = helpers.get(port, "/x", headers=[("x-api-key", f"key-{i:04d}")] + forged)
            assert response.status == 200, response
            assert response.header("x-upstream-name") == expected, (account, forged)
            assert helpers.echo_header(response.json(), "x-auth-account") == [account]
