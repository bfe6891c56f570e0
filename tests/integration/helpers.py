"""Processes, configs and a raw HTTP/1.1 client for the integration tests.

Everything here talks to real processes over loopback: the rampart binary
(RAMPART_BIN) and upstream_server.py. Every wait is bounded; every process
started here is stopped by its PID.
"""
import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
import zlib
from pathlib import Path

import upstream_server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
UPSTREAM_SCRIPT = HERE / "upstream_server.py"
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"

pattern_block = upstream_server.pattern_block
pattern_crc32 = upstream_server.pattern_crc32
BLOCK = upstream_server.BLOCK


def rampart_bin():
    path = os.environ.get("RAMPART_BIN")
    if not path:
        for candidate in ("build/rampart", "build-itest/rampart"):
            if (ROOT / candidate).exists():
                path = str(ROOT / candidate)
                break
    assert path, "set RAMPART_BIN to the rampart binary"
    assert os.access(path, os.X_OK), f"RAMPART_BIN={path} is not an executable"
    return path


def free_port():
    """A port nothing listens on right now (bind 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0, process=None, host="127.0.0.1"):
    """Polls a TCP connect until it succeeds; fails if `process` exits first."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listening on {host}:{port} after {timeout}s")
            time.sleep(0.02)


def stop_process(process, sig=signal.SIGTERM, timeout=10.0):
    """Signals a process we started (by PID), waits, then kills it; returns its exit code."""
    if process.poll() is None:
        try:
            os.kill(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    return process.returncode


class Upstream:
    """upstream_server.py as a separate process."""

    def __init__(self, workdir, name="app", port=0, extra_args=()):
        """`port`: 0 for any free one, or a given one (to restart a stopped
        upstream where its cluster expects it). `extra_args`: more
        upstream_server.py options (--fail-status 500, --health-status 503)."""
        self.name = name
        self.log_path = Path(workdir) / f"upstream-{name}.log"
        self.err_path = Path(workdir) / f"upstream-{name}.stderr"
        self.log_path.touch()
        self.err_file = open(self.err_path, "ab")
        self.process = subprocess.Popen(
            [PYTHON, str(UPSTREAM_SCRIPT), "--port", str(port), "--name", name, "--log", str(self.log_path)]
            + list(extra_args),
            stdout=subprocess.PIPE, stderr=self.err_file, stdin=subprocess.DEVNULL)
        ready, _, _ = select.select([self.process.stdout], [], [], 10)
        line = self.process.stdout.readline().decode() if ready else ""
        match = re.match(r"PORT (\d+)", line)
        if not match:
            self.stop()
            raise AssertionError(f"upstream {name} did not report its port: {line!r}")
        self.port = int(match.group(1))
        self.address = f"127.0.0.1:{self.port}"

    def records(self):
        """Every request head the upstream logged, in arrival order."""
        out = []
        with open(self.log_path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    out.append(json.loads(line))
        return out

    def requests(self):
        return [r for r in self.records() if "method" in r]

    def targets(self):
        return [r["target"] for r in self.requests()]

    def wait_for(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in self.requests():
                if predicate(record):
                    return record
            time.sleep(0.02)
        raise AssertionError(f"upstream {self.name} never logged the expected request; saw {self.targets()}")

    def control(self, **modes):
        """Sets failure modes at run time (health_status=503, fail_status=500; 0 = off),
        talking to the upstream directly, not through rampart."""
        query = "&".join(f"{k}={v}" for k, v in modes.items())
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(f"GET /_control?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            answer = s.recv(1024)
        assert answer.startswith(b"HTTP/1.1 204"), answer

    def stop(self):
        stop_process(self.process, timeout=5)
        if self.process.stdout:
            self.process.stdout.close()
        self.err_file.close()


class Rampart:
    """The real rampart binary, started with `args`; waits until `port` accepts."""

    def __init__(self, workdir, args, port, ready=True):
        self.workdir = Path(workdir)
        self.port = port
        self.err_path = self.workdir / f"rampart-{port}.stderr"
        self.out_path = self.workdir / f"rampart-{port}.stdout"
        self.err_file = open(self.err_path, "wb")
        self.out_file = open(self.out_path, "wb")
        self.process = subprocess.Popen([rampart_bin()] + list(args), stdout=self.out_file,
                                        stderr=self.err_file, stdin=subprocess.DEVNULL)
        self.pid = self.process.pid
        if ready:
            try:
                wait_port(port, 10, self.process)
            except AssertionError as error:
                self.stop()
                raise AssertionError(f"{error}\nrampart stderr:\n{self.stderr()}") from None

    def stderr(self):
        if not self.err_file.closed:
            self.err_file.flush()
        return self.err_path.read_text(errors="replace")

    def rss_kib(self):
        """VmRSS of the rampart process in KiB (0 if it has exited)."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        code = stop_process(self.process, sig, timeout)
        self.err_file.close()
        self.out_file.close()
        return code


class RssSampler:
    """Samples a process's VmRSS every `interval` seconds in a thread."""

    def __init__(self, rampart, interval=0.05):
        self.rampart = rampart
        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            value = self.rampart.rss_kib()
            if value:
                self.samples.append(value)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def max_kib(self):
        return max(self.samples) if self.samples else 0


# ---------------------------------------------------------------- config

_PLAIN = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./:-]*$")


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and text not in ("true", "false", "null", "yes", "no", "on", "off", "~"):
        return text
    return json.dumps(text)


def to_yaml(value, indent=0):
    """Block YAML for dicts/lists of dicts; flow lists for scalar lists."""
    pad = "  " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict):
                lines.append(f"{pad}{key}:")
                lines.append(to_yaml(item, indent + 1))
            elif isinstance(item, list) and any(isinstance(x, dict) for x in item):
                lines.append(f"{pad}{key}:")
                lines.append(to_yaml(item, indent + 1))
            elif isinstance(item, list):
                lines.append(f"{pad}{key}: [{', '.join(_scalar(x) for x in item)}]")
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            body = to_yaml(item, indent + 1).split("\n")
            first = body[0][len(pad) + 2:]
            lines.append(f"{pad}- {first}")
            lines.extend(body[1:])
    return "\n".join(lines)


def cluster(name, endpoints, **overrides):
    spec = {"name": name, "endpoints": list(endpoints), "balance": "round_robin",
            "connect_timeout": "1s", "response_timeout": "5s", "max_idle": 64,
            "idle_timeout": "60s", "max_requests": 0}
    spec.update(overrides)
    return spec


def route(name, cluster_name, **match):
    spec = {"name": name, "match": match or {"prefix": "/"}, "cluster": cluster_name}
    return spec


def public_unless_governed(vhosts):
    """Routes are denied unless they name a policy or say `public: true`
    (deny by default). Tests about other things make their routes public;
    a route that names a policy or an authorizer (ext_authz), or sets
    `public` itself, is left alone.
    Pass `_deny_by_default=True` in a route to leave it uncovered."""
    out = []
    for vhost in vhosts:
        vhost = dict(vhost)
        routes = []
        for route in vhost.get("routes", []):
            route = dict(route)
            uncovered = route.pop("_deny_by_default", False)
            governed = "policy" in route or "public" in route or "ext_authz" in route
            if not uncovered and not governed:
                route["public"] = True
            routes.append(route)
        vhost["routes"] = routes
        out.append(vhost)
    return out


def config(port, clusters, vhosts, http=None, **top):
    """A complete config: one listener on 127.0.0.1:`port`."""
    settings = {"max_head_bytes": "8KiB", "max_headers": 32, "max_target_bytes": "2KiB",
                "head_timeout": "10s", "idle_timeout": "60s", "min_body_rate": "1KiB",
                "body_rate_window": "10s", "max_body_bytes": 0}
    settings.update(http or {})
    doc = {"workers": 1, "drain_timeout": "5s"}
    doc.update(top)
    doc["http"] = settings
    doc["canonical"] = {"merge_slashes": True, "allow_encoded_slash": False,
                        "allow_encoded_backslash": False, "allow_fragment": False}
    doc["listeners"] = [{"name": "main", "address": f"127.0.0.1:{port}"}]
    doc["clusters"] = clusters
    doc["virtual_hosts"] = public_unless_governed(vhosts)
    return to_yaml(doc) + "\n"


def simple_config(port, upstream_address, http=None, cluster_overrides=None, **top):
    """One cluster `app`; a 1 KiB-limited route /limited, then everything else."""
    routes = [
        {"name": "limited", "match": {"prefix": "/limited"}, "cluster": "app", "max_body_bytes": "1KiB"},
        {"name": "all", "match": {"prefix": "/"}, "cluster": "app"},
    ]
    return config(port, [cluster("app", [upstream_address], **(cluster_overrides or {}))],
                  [{"name": "default", "domains": ["*"], "routes": routes}], http=http, **top)


# ---------------------------------------------------------------- client

class Closed(Exception):
    """The peer closed the connection before a complete response."""


class Response:
    def __init__(self, version, status, reason, headers, body=b"", interim=None, raw_head=b""):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.interim = interim or []
        self.raw_head = raw_head

    def header(self, name):
        values = self.all(name)
        return values[0] if values else None

    def all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.headers} {self.body[:300]!r}>"


def parse_response_head(head):
    lines = head.split(b"\r\n")
    match = re.match(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
    assert match, f"bad status line {lines[0]!r}"
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        assert sep, f"bad response header line {line!r}"
        headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
    return match.group(1).decode(), int(match.group(2)), (match.group(3) or b"").decode("latin-1"), headers


class Client:
    """One raw TCP connection speaking HTTP/1.1 byte by byte."""

    def __init__(self, port, timeout=5.0, source=None, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.scratch = bytearray(BLOCK)

    def settimeout(self, timeout):
        self.sock.settimeout(timeout)

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self):
        n = self.sock.recv_into(self.scratch)
        if n == 0:
            raise Closed(bytes(self.buf))
        self.buf += memoryview(self.scratch)[:n]

    def _take(self, n):
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_response_head(self):
        """The next response head (1xx included) as a Response with no body yet."""
        raw = self.read_head()
        version, status, reason, headers = parse_response_head(raw[:-4])
        return Response(version, status, reason, headers, raw_head=raw)

    def read_head(self):
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                return self._take(end + 4)
            self._fill()

    def _line(self):
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line = self._take(end)
                del self.buf[:2]
                return line
            self._fill()

    def read_exact(self, n, sink=None):
        """n bytes; returned, or handed to sink(memoryview) piece by piece."""
        out = bytearray() if sink is None else None
        take = min(n, len(self.buf))
        if take:
            piece = self._take(take)
            sink(piece) if sink else out.extend(piece)
            n -= take
        view = memoryview(self.scratch)
        while n > 0:
            got = self.sock.recv_into(view[: min(n, BLOCK)])
            if got == 0:
                raise Closed(b"")
            sink(view[:got]) if sink else out.extend(view[:got])
            n -= got
        return bytes(out) if out is not None else None

    def read_to_close(self, sink=None):
        out = bytearray()
        if self.buf:
            piece = self._take(len(self.buf))
            sink(piece) if sink else out.extend(piece)
        view = memoryview(self.scratch)
        while True:
            got = self.sock.recv_into(view)
            if got == 0:
                return bytes(out)
            sink(view[:got]) if sink else out.extend(view[:got])

    def read_chunked(self, sink=None):
        out = bytearray()
        while True:
            line = self._line()
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while self._line() != b"":
                    pass
                return bytes(out)
            if sink:
                self.read_exact(size, sink)
            else:
                out += self.read_exact(size)
            assert self._line() == b"", "chunk data not followed by CRLF"

    def read_response(self, method="GET", sink=None, interim=False):
        """The next final response (1xx are collected in .interim, or returned if interim=True)."""
        seen = []
        while True:
            raw = self.read_head()
            version, status, reason, headers = parse_response_head(raw[:-4])
            response = Response(version, status, reason, headers, raw_head=raw)
            if 100 <= status < 200:
                seen.append(response)
                if interim:
                    return response
                continue
            response.interim = seen
            break
        return self.read_body(response, method, sink)

    def read_body(self, response, method="GET", sink=None):
        """Reads the body of `response` (whose head was just read) by its framing."""
        status = response.status
        te = [v.lower() for v in response.all("transfer-encoding")]
        if method == "HEAD" or status in (204, 304):
            response.body = b""
        elif te:
            assert te[-1].split(",")[-1].strip() == "chunked", f"unexpected Transfer-Encoding {te}"
            response.body = self.read_chunked(sink)
        elif response.header("content-length") is not None:
            response.body = self.read_exact(int(response.header("content-length")), sink)
        else:
            response.body = self.read_to_close(sink)
        return response

    def request(self, method, target, headers=None, body=b"", host="localhost", version="HTTP/1.1"):
        self.send(build_request(method, target, headers, body, host, version))
        return self.read_response(method)

    def wait_closed(self, timeout):
        """Reads until EOF; returns (closed, bytes received). closed=False on timeout."""
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        data = bytearray(self.buf)
        self.buf.clear()
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False, bytes(data)
                self.sock.settimeout(left)
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True, bytes(data)
                data += chunk
        except socket.timeout:
            return False, bytes(data)
        except ConnectionResetError:
            return True, bytes(data)
        finally:
            self.sock.settimeout(old)


def build_request(method, target, headers=None, body=b"", host="localhost", version="HTTP/1.1"):
    lines = [f"{method} {target} {version}"]
    names = set()
    if host is not None:
        lines.append(f"Host: {host}")
    for name, value in (headers or []):
        names.add(name.lower())
        lines.append(f"{name}: {value}")
    if body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def get(port, target, headers=None, host="localhost", method="GET", body=b"", timeout=5.0, source=None):
    """One request on a fresh connection."""
    with Client(port, timeout=timeout, source=source) as client:
        return client.request(method, target, headers, body, host)


def echo_header(echo, name):
    """Values of header `name` in an upstream echo, in order."""
    return [v for n, v in echo["headers"] if n.lower() == name.lower()]


def assert_problem(response, status):
    """A response Rampart made itself: problem+json with status/title/request_id and x-request-id."""
    assert response.status == status, f"expected {status}, got {response!r}"
    content_type = response.header("content-type") or ""
    assert content_type.split(";")[0].strip().lower() == "application/problem+json", response
    body = json.loads(response.body)
    assert body["status"] == status and isinstance(body["status"], int), body
    assert isinstance(body.get("title"), str) and body["title"], body
    assert isinstance(body.get("request_id"), str) and body["request_id"], body
    request_id = response.header("x-request-id")
    assert request_id, f"no x-request-id header: {response!r}"
    assert request_id == body["request_id"], (request_id, body)
    return body


def crc_sink():
    state = {"crc": 0, "len": 0}

    def sink(piece):
        state["crc"] = zlib.crc32(piece, state["crc"])
        state["len"] += len(piece)

    return state, sink
