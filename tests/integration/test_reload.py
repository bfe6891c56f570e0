"""Hot reload through the real binary and real upstreams (issue 8).

Two valid configs send everything to one of two upstreams, `blue` or `green`
(each answers with its name in x-upstream-name), so every response says which
config served it. Under steady load (keep-alive clients and a client opening
a new connection per request, both recording every response), the config is
reloaded N times alternating the two, M times with an invalid file, and the
binary is upgraded K times (to a copy of build/rampart, the new process
taking the listening sockets over SCM_RIGHTS, once with more workers and
once with fewer): nothing may fail or be reset, and every response must come
from a config that was live while its request was out.

How "live" is proved. A request is pinned to the worker's current
generation when its head is parsed, which happens between the moment the
client sent it (s) and the moment the response arrived (r). A reload i is
bracketed by b_i (just before POST /reload is sent) and e_i (its answer:
the server answers only once every worker has taken the new generation), so
at any instant t the worker's generation is the config of the last reload
with e_i <= t, or, inside some [b_i, e_i], that config or reload i's. A
response is therefore correct iff its upstream is among the configs live at
some instant of [s, r]: the one live at s, plus both sides of every reload
whose bracket overlaps [s, r]. Refused reloads change nothing, so they add
no bracket and a response during one must still name the config before it.

An upgrade keeps the config, so it adds no bracket: whichever process
answers, the answer must name the config live then. A keep-alive client
honours Connection: close (the old process says it on its last response,
then the client reconnects, to the new one); a connection closed without
it, or any error, is a failed request.

Counts: N=10, M=3, K=2 by default (CI); RAMPART_RELOAD_FULL=1 runs the
issue's 50, 10 and 3."""
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import zlib

import helpers
from helpers import Client, build_request

FULL = os.environ.get("RAMPART_RELOAD_FULL") == "1"
RELOADS = 50 if FULL else 10
REFUSED = 10 if FULL else 3
UPGRADES = 3 if FULL else 2

# An upgraded process is the child of the one it replaced; when that one
# exits, it is re-parented to this test process (a subreaper), which can then
# wait for it by PID.
PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def make_config(listen_ports, admin_port, upstream, routes=None, workers=2, extra_route=None,
                limits=None, endpoints=None, cluster_overrides=None, **top):
    """One cluster `app` on `upstream`; listeners on every port of `listen_ports`."""
    route_list = [{"name": "all", "match": {"prefix": "/"}, "cluster": "app", "public": True}]
    if limits is not None:
        route_list[0]["limits"] = limits
    if extra_route is not None:
        route_list.insert(0, extra_route)
    doc = {"workers": workers, "drain_timeout": "5s"}
    doc.update(top)
    doc["http"] = {"idle_timeout": "60s", "head_timeout": "10s"}
    doc["listeners"] = [{"name": f"l{port}", "address": f"127.0.0.1:{port}"} for port in listen_ports]
    doc["admin"] = {"address": f"127.0.0.1:{admin_port}"}
    doc["clusters"] = [helpers.cluster("app", endpoints or [upstream.address],
                                       **(cluster_overrides or {}))]
    doc["virtual_hosts"] = [{"name": "default", "domains": ["*"], "routes": routes or route_list}]
    return helpers.to_yaml(doc) + "\n"


class Gateway:
    """rampart on a config file the test rewrites, reloaded through the admin API."""

    def __init__(self, stack, text, port, admin_port):
        self.stack = stack
        self.path = stack.write("live.yaml", text)
        self.admin_port = admin_port
        self.rampart = stack.rampart_args(["serve", "-c", str(self.path)], port)
        helpers.wait_port(admin_port, 10, self.rampart.process)
        self.pid = self.rampart.pid  # the process serving now (changes with upgrades)
        self.upgrades = 0

    def write(self, text):
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.path)

    def upgrade(self, expect_ok=True, timeout=20.0, cli=False):
        """POST /upgrade (or `rampart upgrade -c`) to a fresh copy of the
        binary; waits until the old process exited (ok) or logged the
        failure. Returns the new pid."""
        self.upgrades += 1
        binary = self.stack.workdir / f"rampart-new-{self.upgrades}"
        shutil.copy(helpers.rampart_bin(), binary)
        before = self.rampart.stderr()
        old = self.pid
        if cli:
            done = subprocess.run([helpers.rampart_bin(), "upgrade", "-c", str(self.path),
                                   "--binary", str(binary)], capture_output=True, timeout=20)
            assert done.returncode == 0, done.stderr
            assert b'"started"' in done.stdout, done.stdout
        else:
            with Client(self.admin_port, timeout=10) as admin:
                response = admin.request("POST", f"/upgrade?binary={binary}")
            assert response.status == 202, response.body
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.rampart.stderr()[len(before):]
            if not expect_ok:
                if f"[{old}] upgrade failed" in log:
                    return old
            else:
                match = re.search(rf"\[{old}\] upgrade: new process (\d+) serves", log)
                if match:
                    self.pid = int(match.group(1))
                    wait_exit(old, deadline - time.monotonic(), self.rampart.process)
                    return self.pid
            time.sleep(0.02)
        raise AssertionError(f"upgrade did not finish: {self.rampart.stderr()[len(before):][-3000:]}")

    def stop(self):
        """Stops the process serving now (an upgraded one is not the stack's)."""
        if self.pid != self.rampart.pid:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            wait_exit(self.pid, 10)

    def reload(self, text=None):
        if text is not None:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(text)
            os.replace(tmp, self.path)  # whole files only, as an editor or deploy tool writes them
        with Client(self.admin_port, timeout=10) as admin:
            response = admin.request("POST", "/reload")
        return response.status, json.loads(response.body)

    def metric(self, name):
        with Client(self.admin_port, timeout=5) as admin:
            text = admin.request("GET", "/metrics").body.decode()
        match = re.search(r"^" + re.escape(name) + r" (\d+)$", text, re.M)
        assert match, f"{name} not in /metrics"
        return int(match.group(1))


def wait_exit(pid, timeout, process=None):
    """Waits for `pid` (the stack's process, or a re-parented child) to exit."""
    deadline = time.monotonic() + max(timeout, 0.1)
    while time.monotonic() < deadline:
        if process is not None and process.pid == pid:
            if process.poll() is not None:
                return process.returncode
        else:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not ours: poll its existence
                if not os.path.exists(f"/proc/{pid}"):
                    return 0
                done, status = 0, 0
            if done == pid:
                return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError(f"process {pid} did not exit within {timeout:.1f}s")


class Load(threading.Thread):
    """Requests in a loop until stopped: on `connections` keep-alive connections
    taking turns, or (keep_alive=False) a new connection per request. Records
    (sent, received, status, upstream) for every response and every failure."""

    def __init__(self, port, keep_alive, connections=2, limit_seconds=300):
        super().__init__(daemon=True)
        self.port = port
        self.keep_alive = keep_alive
        self.connections = connections
        self.deadline = time.monotonic() + limit_seconds  # bounded whatever happens
        self.done = threading.Event()
        self.records = []
        self.failures = []
        self.reconnects = 0  # after an error (each one also a failure)
        self.closes = 0  # after a response saying Connection: close

    def run(self):
        clients = []
        if self.keep_alive:
            clients = [Client(self.port, timeout=10) for _ in range(self.connections)]
        i = 0
        try:
            while not self.done.is_set() and time.monotonic() < self.deadline:
                target = f"/load/{'ka' if self.keep_alive else 'new'}/{i}"
                sent = time.monotonic()
                try:
                    if self.keep_alive:
                        response = clients[i % len(clients)].request("GET", target)
                    else:
                        with Client(self.port, timeout=10) as client:
                            response = client.request("GET", target)
                except (OSError, helpers.Closed) as error:
                    self.failures.append((sent, time.monotonic(), target, repr(error)))
                    if self.keep_alive:  # go on measuring on a fresh connection
                        clients[i % len(clients)].close()
                        clients[i % len(clients)] = Client(self.port, timeout=10)
                        self.reconnects += 1
                    i += 1
                    continue
                received = time.monotonic()
                self.records.append((sent, received, response.status,
                                     response.header("x-upstream-name"), target))
                if self.keep_alive and (response.header("connection") or "").lower() == "close":
                    clients[i % len(clients)].close()  # as announced; then a new connection
                    clients[i % len(clients)] = Client(self.port, timeout=10)
                    self.closes += 1
                i += 1
        finally:
            for client in clients:
                client.close()


def allowed_upstreams(sent, received, initial, switches):
    """The upstreams of every config live at some instant of [sent, received]."""
    names = set()
    current = initial
    for begin, end, before, after in switches:
        if end < sent:
            current = after
            continue
        if begin > received:
            break
        names.update((before, after))
    names.add(current)
    return names


def check_load(loads, initial, switches):
    total = 0
    for load in loads:
        assert not load.failures, f"{len(load.failures)} failed requests, first: {load.failures[:3]}"
        for sent, received, status, upstream, target in load.records:
            assert status == 200, (target, status)
            allowed = allowed_upstreams(sent, received, initial, switches)
            assert upstream in allowed, (
                f"{target} answered by {upstream}, but only {allowed} were live between "
                f"{sent:.6f} and {received:.6f}")
        total += len(load.records)
    return total


def test_reload_under_load_drops_nothing_and_answers_from_the_live_config(stack):
    blue, green = stack.upstream("blue"), stack.upstream("green")
    port, admin_port = helpers.free_port(), helpers.free_port()
    configs = {"blue": make_config([port], admin_port, blue),
               "green": make_config([port], admin_port, green)}
    gateway = Gateway(stack, configs["blue"], port, admin_port)
    try:
        run_reloads_under_load(gateway, configs, port)
    finally:
        gateway.stop()


def run_reloads_under_load(gateway, configs, port):
    loads = [Load(port, keep_alive=True, connections=3), Load(port, keep_alive=False)]
    for load in loads:
        load.start()
    time.sleep(0.3)
    switches = []  # (begin, end, before, after)
    live = "blue"
    refusals_left = REFUSED
    upgrades_left = UPGRADES
    ok_since_upgrade = refused_since_upgrade = 0
    for n in range(RELOADS):
        # The upgrades are spread over the run; the first to more workers,
        # the next to fewer (the config file says how many).
        if upgrades_left and n > 0 and n % max(1, RELOADS // (UPGRADES + 1)) == 0:
            workers = 3 if upgrades_left % 2 == UPGRADES % 2 else 1
            gateway.write(configs[live].replace("workers: 2", f"workers: {workers}"))
            gateway.upgrade()
            upgrades_left -= 1
            ok_since_upgrade = refused_since_upgrade = 0
        after = "green" if live == "blue" else "blue"
        begin = time.monotonic()
        status, body = gateway.reload(configs[after])
        end = time.monotonic()
        assert status == 200 and body["result"] == "ok", body
        ok_since_upgrade += 1
        switches.append((begin, end, live, after))
        live = after
        time.sleep(0.05)
        # The invalid reloads are spread over the run.
        if refusals_left and n % max(1, RELOADS // REFUSED) == 0:
            status, body = gateway.reload(configs[live] + "bogus_key: 1\n")
            assert status == 422 and body["result"] == "refused", body
            assert any(re.search(r"live\.yaml:\d+:\d+: ", error) for error in body["errors"]), body
            refusals_left -= 1
            refused_since_upgrade += 1
            gateway.reload(configs[live])  # put the valid file back (the same content: unchanged)
            time.sleep(0.05)
    time.sleep(0.3)
    for load in loads:
        load.done.set()
    for load in loads:
        load.join(30)
    total = check_load(loads, "blue", switches)
    served_new = sum(1 for record in loads[1].records)
    served_ka = sum(1 for record in loads[0].records)
    print(f"reloads ok={RELOADS} refused={REFUSED} upgrades={UPGRADES - upgrades_left}: "
          f"{total} responses ({served_ka} keep-alive, {served_new} new-connection), 0 failed; "
          f"keep-alive connections reopened after Connection: close: {loads[0].closes}")
    assert upgrades_left == 0
    assert served_ka > RELOADS and served_new > RELOADS, (served_ka, served_new)
    # Both configs really served (the alternation is visible in the answers).
    names = {record[3] for load in loads for record in load.records}
    assert names == {"blue", "green"}, names
    assert loads[0].reconnects == 0
    # Reloads never end a connection; only an upgrade's old process does, and
    # says so (at most once per connection and upgrade).
    assert loads[0].closes <= 3 * UPGRADES, loads[0].closes
    # Counted by the process serving now (a new one after each upgrade).
    assert gateway.metric('rampart_config_reloads_total{result="ok"}') == ok_since_upgrade
    assert gateway.metric('rampart_config_reloads_total{result="refused"}') == refused_since_upgrade
    assert os.path.exists(f"/proc/{gateway.pid}")


def test_refused_reload_keeps_serving_and_lists_every_error_with_its_position(stack):
    blue = stack.upstream("blue")
    port, admin_port = helpers.free_port(), helpers.free_port()
    text = make_config([port], admin_port, blue)
    gateway = Gateway(stack, text, port, admin_port)
    broken = text.replace('"127.0.0.1:' + str(blue.port) + '"', '"not an address"')
    broken = broken.replace("idle_timeout: 60s", "idle_timeout: soon", 1) + "bogus_key: 1\n"
    status, body = gateway.reload(broken)
    assert status == 422 and body["result"] == "refused"
    assert len(body["errors"]) >= 2, body
    for error in body["errors"]:
        assert re.match(r".*live\.yaml:\d+:\d+: \S", error), error
    with Client(port) as client:
        response = client.request("GET", "/still")
    assert response.status == 200 and response.header("x-upstream-name") == "blue"
    # SIGHUP takes the same path: refused, logged with positions, counted.
    gateway.rampart.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while gateway.metric('rampart_config_reloads_total{result="refused"}') < 2:
        assert time.monotonic() < deadline, "SIGHUP reload not counted"
        time.sleep(0.05)
    log = gateway.rampart.stderr()
    assert re.search(r"live\.yaml:\d+:\d+: .*bogus_key", log), log[-2000:]
    assert "SIGHUP: " in log and "refused" in log
    assert gateway.metric('rampart_config_reloads_total{result="ok"}') == 0


def test_reload_with_the_same_content_is_a_no_op(stack):
    blue = stack.upstream("blue")
    port, admin_port = helpers.free_port(), helpers.free_port()
    text = make_config([port], admin_port, blue)
    gateway = Gateway(stack, text, port, admin_port)
    status, body = gateway.reload(text)  # rewritten: new mtime, same bytes
    assert status == 200 and body["result"] == "unchanged" and body["generation"] == 1, body
    assert gateway.metric('rampart_config_reloads_total{result="unchanged"}') == 1
    assert gateway.metric('rampart_config_reloads_total{result="ok"}') == 0
    status, body = gateway.reload(text.replace("drain_timeout: 5s", "drain_timeout: 6s"))
    assert body["result"] == "ok" and body["generation"] == 2, body
    # Its one cluster did not change: its pool (and health) carried over.
    assert body["clusters_kept"] == 1


def test_limiter_state_survives_a_reload_unless_the_limit_changed(stack):
    blue = stack.upstream("blue")
    port, admin_port = helpers.free_port(), helpers.free_port()
    limit = [{"name": "per-ip", "key": "address", "rate": "1/m", "burst": 3}]
    text = make_config([port], admin_port, blue, workers=1, limits=limit)
    gateway = Gateway(stack, text, port, admin_port)
    with Client(port) as client:
        statuses = [client.request("GET", f"/n{i}").status for i in range(4)]
    assert statuses == [200, 200, 200, 429]
    # Another route added, this limit unchanged: the client is still over it.
    extra = {"name": "other", "match": {"prefix": "/other"}, "cluster": "app", "public": True}
    status, body = gateway.reload(make_config([port], admin_port, blue, workers=1, limits=limit,
                                              extra_route=extra))
    assert body["result"] == "ok", body
    with Client(port) as client:
        assert client.request("GET", "/after-reload").status == 429
    # The limit itself changed (a larger burst): a new limit, counted afresh.
    bigger = [{"name": "per-ip", "key": "address", "rate": "1/m", "burst": 5}]
    status, body = gateway.reload(make_config([port], admin_port, blue, workers=1, limits=bigger,
                                              extra_route=extra))
    assert body["result"] == "ok", body
    with Client(port) as client:
        assert client.request("GET", "/after-change").status == 200


def test_idle_keep_alive_and_a_slow_download_survive_a_reload(stack):
    blue, green = stack.upstream("blue"), stack.upstream("green")
    port, admin_port = helpers.free_port(), helpers.free_port()
    gateway = Gateway(stack, make_config([port], admin_port, blue, workers=1), port, admin_port)
    idle = Client(port, timeout=10)
    download = Client(port, timeout=10)
    try:
        assert idle.request("GET", "/first").header("x-upstream-name") == "blue"
        size = 8 << 20
        download.send(build_request("GET", f"/download?bytes={size}"))
        head = download.read_response_head()
        assert head.status == 200
        got = download.read_exact(256 << 10)  # a slow reader: most of it still to come
        status, body = gateway.reload(make_config([port], admin_port, green, workers=1))
        assert body["result"] == "ok", body
        time.sleep(0.2)
        got += download.read_exact(size - len(got))
        # Every byte, in order: the pattern's CRC (each 1 MiB block carries its index).
        assert zlib.crc32(got) == helpers.pattern_crc32(size)
        # The idle connection was not cut, and its next request uses the new config.
        again = idle.request("GET", "/second")
        assert again.status == 200 and again.header("x-upstream-name") == "green"
        # The download's connection, on a route the reload kept, stays open too.
        after = download.request("GET", "/third")
        assert after.status == 200 and after.header("x-upstream-name") == "green"
    finally:
        idle.close()
        download.close()


def refuses_connections(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def test_an_added_listener_accepts_and_a_removed_one_stops_after_its_connections_finish(stack):
    blue = stack.upstream("blue")
    port, extra, admin_port = helpers.free_port(), helpers.free_port(), helpers.free_port()
    gateway = Gateway(stack, make_config([port], admin_port, blue), port, admin_port)
    assert refuses_connections(extra)
    status, body = gateway.reload(make_config([port, extra], admin_port, blue))
    assert body["result"] == "ok" and body["listeners_added"] == 1, body
    with Client(extra) as client:
        assert client.request("GET", "/on-added").status == 200
    # A request in flight on the listener about to go: it finishes, then its
    # connection closes; new connections to that port are refused.
    busy = Client(extra, timeout=10)
    try:
        busy.send(build_request("GET", "/slow?ms=800"))
        blue.wait_for(lambda r: r["target"] == "/slow?ms=800")
        status, body = gateway.reload(make_config([port], admin_port, blue))
        assert body["result"] == "ok" and body["listeners_removed"] == 1, body
        assert refuses_connections(extra)
        response = busy.read_response()
        assert response.status == 200 and response.json()["target"] == "/slow?ms=800"
        closed, _ = busy.wait_closed(3)
        assert closed, "the removed listener's connection stayed open after its request"
    finally:
        busy.close()
    with Client(port) as client:
        assert client.request("GET", "/on-kept").status == 200


def test_a_taken_port_refuses_the_reload_and_changes_nothing(stack):
    blue = stack.upstream("blue")
    port, admin_port = helpers.free_port(), helpers.free_port()
    gateway = Gateway(stack, make_config([port], admin_port, blue), port, admin_port)
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen(1)
    try:
        taken = squatter.getsockname()[1]
        status, body = gateway.reload(make_config([port, taken], admin_port, blue))
        assert status == 422 and body["result"] == "refused", body
        assert any(f"127.0.0.1:{taken}" in error for error in body["errors"]), body
    finally:
        squatter.close()
    with Client(port) as client:
        assert client.request("GET", "/x").status == 200


def test_a_failed_upgrade_leaves_the_old_process_serving(stack):
    blue = stack.upstream("blue")
    port, admin_port = helpers.free_port(), helpers.free_port()
    text = make_config([port], admin_port, blue)
    gateway = Gateway(stack, text, port, admin_port)
    # The new binary refuses the config it finds (the file was broken since):
    # it exits, and the old process keeps serving on every socket.
    gateway.write(text + "bogus_key: 1\n")
    with Client(port, timeout=10) as held:
        assert held.request("GET", "/before").status == 200
        assert gateway.upgrade(expect_ok=False) == gateway.rampart.pid
        assert "configuration refused" in gateway.rampart.stderr()
        assert gateway.rampart.process.poll() is None
        # Neither the held connection nor new ones noticed.
        assert held.request("GET", "/after").status == 200
    for i in range(20):
        with Client(port) as client:
            assert client.request("GET", f"/new{i}").status == 200
    # And it can still upgrade once the file is good again (by the command).
    gateway.write(text)
    try:
        new_pid = gateway.upgrade(cli=True)
        assert new_pid != gateway.rampart.pid
        with Client(port) as client:
            assert client.request("GET", "/upgraded").status == 200
        assert gateway.rampart.process.poll() == 0
    finally:
        gateway.stop()


def test_the_watch_reloads_when_the_config_or_a_file_it_names_changes(stack):
    blue, green = stack.upstream("blue"), stack.upstream("green")
    port, admin_port = helpers.free_port(), helpers.free_port()
    policy = stack.write("policies.yaml", "policies:\n  - name: p\n    rules:\n"
                         "      - {effect: allow, authenticated: false}\n")
    routes = [{"name": "all", "match": {"prefix": "/"}, "cluster": "app", "policy": "p"}]

    def text(upstream):
        return make_config([port], admin_port, upstream, routes=routes, reload={"watch": True},
                           policy_files=[str(policy)])

    gateway = Gateway(stack, text(blue), port, admin_port)

    def served_by(name, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            with Client(port) as client:
                response = client.request("GET", "/w")
            if response.status == 200 and response.header("x-upstream-name") == name:
                return
            assert time.monotonic() < deadline, (response.status, response.header("x-upstream-name"))
            time.sleep(0.1)

    served_by("blue")
    time.sleep(1.2)  # the watch's first look
    gateway.write(text(green))  # the config itself
    served_by("green")
    assert gateway.metric('rampart_config_reloads_total{result="ok"}') == 1
    # A file the config names: the policy now denies anonymous callers.
    policy.write_text("policies:\n  - name: p\n    rules:\n"
                      "      - {effect: allow, authenticated: true}\n")
    deadline = time.monotonic() + 5
    while True:
        with Client(port) as client:
            if client.request("GET", "/w").status == 403:
                break
        assert time.monotonic() < deadline, "the policy file's change was not picked up"
        time.sleep(0.1)
    assert gateway.metric('rampart_config_reloads_total{result="ok"}') == 2
    # Touched, not changed: an unchanged reload, nothing else.
    os.utime(policy, None)
    deadline = time.monotonic() + 5
    while gateway.metric('rampart_config_reloads_total{result="unchanged"}') < 1:
        assert time.monotonic() < deadline, "the touched file was not looked at"
        time.sleep(0.1)
    assert gateway.metric('rampart_config_reloads_total{result="ok"}') == 2


def test_a_request_on_a_removed_route_finishes_then_its_connection_closes(stack):
    blue = stack.upstream("blue")
    port, admin_port = helpers.free_port(), helpers.free_port()
    old = {"name": "old", "match": {"prefix": "/slow"}, "cluster": "app", "public": True}
    gateway = Gateway(stack, make_config([port], admin_port, blue, extra_route=old), port,
                      admin_port)
    kept = Client(port, timeout=10)
    doomed = Client(port, timeout=10)
    try:
        assert kept.request("GET", "/kept").status == 200
        doomed.send(build_request("GET", "/slow?ms=800"))
        blue.wait_for(lambda r: r["target"] == "/slow?ms=800")
        status, body = gateway.reload(make_config([port], admin_port, blue))
        assert body["result"] == "ok", body
        response = doomed.read_response()
        assert response.status == 200 and response.json()["target"] == "/slow?ms=800"
        assert (response.header("connection") or "").lower() == "close"
        closed, _ = doomed.wait_closed(3)
        assert closed, "the removed route's connection stayed open"
        # A connection whose route was kept is not touched; /slow now falls to "all".
        again = kept.request("GET", "/slow?ms=1")
        assert again.status == 200 and (again.header("connection") or "").lower() != "close"
    finally:
        kept.close()
        doomed.close()


def test_an_unchanged_cluster_keeps_its_health_state_across_a_reload(stack):
    a, b = stack.upstream("a"), stack.upstream("b")
    port, admin_port = helpers.free_port(), helpers.free_port()
    check = {"path": "/health", "interval": "100ms", "timeout": "500ms",
             "healthy_threshold": 2, "unhealthy_threshold": 2}

    def text(**top):
        return make_config([port], admin_port, a, workers=1, endpoints=[a.address, b.address],
                           cluster_overrides={"health_check": check}, **top)

    gateway = Gateway(stack, text(), port, admin_port)
    b.control(health_status=503)
    deadline = time.monotonic() + 10
    while "unhealthy after 2 failed checks" not in gateway.rampart.stderr():
        assert time.monotonic() < deadline, gateway.rampart.stderr()[-2000:]
        time.sleep(0.05)
    status, body = gateway.reload(text(drain_timeout="6s"))
    assert body["result"] == "ok" and body["clusters_kept"] == 1, body
    # Had the reload reset it, b would start healthy and take every other request.
    with Client(port) as client:
        names = [client.request("GET", f"/h{i}").header("x-upstream-name") for i in range(10)]
    assert names == ["a"] * 10, names
