"""Real redis-server processes for the store tests: a single server or a
3-master Redis Cluster on loopback ports, started with no persistence in the
test's own directory and stopped by PID."""
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import helpers

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def cluster_port():
    """A free port whose cluster bus port (+10000) is free and valid too."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as a, \
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as b:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if port > 55535:
                continue
            try:
                b.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
            return port
    raise AssertionError("no free port pair for a cluster node")


class Redis:
    """One redis-server on 127.0.0.1:`port` (a free one by default)."""

    def __init__(self, workdir, port=None, cluster=False, tls=None, args=()):
        """`tls`: (cert, key, ca) paths: the server speaks only TLS on `port`.
        `args`: more redis-server options (e.g. --replicaof host port)."""
        self.port = port or (cluster_port() if cluster else helpers.free_port())
        self.tls = tls
        self.args = [str(a) for a in args]
        self.dir = Path(workdir) / f"redis-{self.port}"
        self.dir.mkdir(exist_ok=True)
        self.cluster = cluster
        self.process = None
        self.start()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.dir), "--daemonize", "no",
                "--loglevel", "warning"] + self.args
        if self.tls:
            cert, key, ca = self.tls
            args[1:3] = ["--port", "0", "--tls-port", str(self.port)]
            args += ["--tls-cert-file", str(cert), "--tls-key-file", str(key),
                     "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no"]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file",
                     str(self.dir / "nodes.conf"), "--cluster-node-timeout", "2000"]
        self.log = open(self.dir / "redis.log", "ab")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        try:
            helpers.wait_port(self.port, 10, self.process)
            deadline = time.monotonic() + 10
            while self.cli("PING").strip() != "PONG":
                assert time.monotonic() < deadline, "redis-server does not answer PING"
                time.sleep(0.05)
        except BaseException:
            self.stop()  # never leave a server behind
            raise

    def kill(self):
        """SIGKILL, as a crash: no goodbye on any connection."""
        helpers.stop_process(self.process, signal.SIGKILL)
        self.log.close()

    def pause(self):
        """SIGSTOP: the server hangs with every connection open."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self):
        if self.process is not None:
            helpers.stop_process(self.process)
            self.log.close()

    def cli(self, *args, cluster_mode=False):
        cmd = [REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port)]
        if self.tls:
            cmd += ["--tls", "--cacert", str(self.tls[2])]
        if cluster_mode:
            cmd.append("-c")
        result = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                                timeout=10)
        return result.stdout

    def commandstats(self):
        """{command: calls} from INFO commandstats."""
        out = {}
        for line in self.cli("INFO", "commandstats").splitlines():
            if line.startswith("cmdstat_"):
                name, rest = line[len("cmdstat_"):].split(":", 1)
                fields = dict(item.split("=") for item in rest.split(","))
                out[name] = int(fields["calls"])
        return out


class Sentinel(Redis):
    """One `redis-server --sentinel` on 127.0.0.1:`port` monitoring `master`
    as `name` (quorum 2, down after 500 ms), its config file in its own
    directory (a sentinel rewrites it)."""

    def __init__(self, workdir, master, name="mymaster"):
        self.master = master
        self.name = name
        super().__init__(workdir)

    def start(self):
        conf = self.dir / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\nloglevel warning\n"
            f"sentinel monitor {self.name} 127.0.0.1 {self.master.port} 2\n"
            f"sentinel down-after-milliseconds {self.name} 500\n"
            f"sentinel failover-timeout {self.name} 2000\n")
        self.log = open(self.dir / "sentinel.log", "ab")
        self.process = subprocess.Popen([REDIS_SERVER, str(conf), "--sentinel"], stdout=self.log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            helpers.wait_port(self.port, 10, self.process)
        except BaseException:
            self.stop()
            raise

    def master_state(self):
        """SENTINEL master <name> as a dict (flat key/value lines)."""
        lines = self.cli("SENTINEL", "master", self.name).splitlines()
        return dict(zip(lines[0::2], lines[1::2]))


def create_cluster(nodes):
    """redis-cli --cluster create over `nodes` (3 masters, no replicas); waits until ok."""
    result = subprocess.run([REDIS_CLI, "--cluster", "create"] + [n.address for n in nodes] +
                            ["--cluster-replicas", "0", "--cluster-yes"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    deadline = time.monotonic() + 20
    for node in nodes:
        while "cluster_state:ok" not in node.cli("CLUSTER", "INFO"):
            assert time.monotonic() < deadline, "cluster not ok after 20 s"
            time.sleep(0.1)


def make_certificates(directory):
    """A CA and a server certificate for 127.0.0.1 (IP SAN), with openssl;
    returns (cert, key, ca) paths, and a second, unrelated CA."""
    d = Path(directory)

    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=30)

    for name in ("ca", "other-ca"):
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.pem"),
            "-days", "2", "-subj", f"/CN=test {name}")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(d / "redis.key"), "-out", str(d / "redis.csr"), "-subj", "/CN=redis")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", str(d / "redis.csr"), "-CA", str(d / "ca.pem"), "-CAkey",
        str(d / "ca.key"), "-CAcreateserial", "-out", str(d / "redis.pem"), "-days", "2",
        "-extfile", str(d / "san.ext"))
    return d / "redis.pem", d / "redis.key", d / "ca.pem", d / "other-ca.pem"
