"""The origin's and the peers' configurations, and a Target: what wrk is pointed at.

Settings are equivalent across peers (bench-method.md): one worker, upstream
keep-alive, X-Forwarded-For, no access log.
"""

import http.client
import json
import os
import socket
import ssl
import subprocess
import time

from tokens import AUDIENCE, ISSUER

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENS_LUA = os.path.join(HERE, "tokens.lua")
# The targets whose requests carry a token (wrk -s tokens.lua) and whose config
# is rampart_conf(): rampart-jwt checks the token, rampart-tokens, its control,
# forwards it unchecked.
TOKEN_TARGETS = ("rampart-tokens", "rampart-jwt")
# The TLS column: each proxy terminates TLS 1.3 with the same certificate
# (EC P-256, made once per run in the temp dir) and the same suite; wrk speaks
# https over keep-alive, so the handshakes are few and the records are what
# is measured. Upstream stays cleartext for all three.
TLS_TARGETS = ("rampart-tls", "nginx-tls", "haproxy-tls")
TLS_SUITE = "TLS_AES_128_GCM_SHA256"
# The HTTP/2 column: each proxy serves cleartext HTTP/2 with prior knowledge
# (h2c) and forwards HTTP/1.1 to the same origin; h2load drives it with
# several streams per connection (bench.py H2_STREAMS).
H2_TARGETS = ("rampart-h2", "nginx-h2", "haproxy-h2")


def tls_files(tmp):
    """The run's certificate, key, and the two in one file (HAProxy's crt); made once."""
    cert, key, both = (os.path.join(tmp, n) for n in ("tls.pem", "tls.key", "tls-both.pem"))
    if not os.path.exists(both):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=30)
        with open(both, "w") as f:
            f.write(open(cert).read() + open(key).read())
    return cert, key, both


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"exited with code {proc.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return None
        except OSError:
            time.sleep(0.05)
    return f"not listening on 127.0.0.1:{port} after {timeout:.0f} s"


def check_answers(port, headers=None, want_status=200, what="GET /", tls=False):
    """One GET through the target: it must answer 200 "ok" (the origin's reply),
    or, with want_status other than 200, that status whatever the body.
    `tls`: over TLS 1.3 (the run's self-signed certificate, not verified)."""
    try:
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.minimum_version = ssl.TLSVersion.TLSv1_3
            c = http.client.HTTPSConnection("127.0.0.1", port, timeout=3, context=context)
        else:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        c.request("GET", "/", headers=headers or {})
        resp = c.getresponse()
        body = resp.read()
        c.close()
    except (OSError, http.client.HTTPException) as e:
        return f"{what} failed: {e!r}"
    if want_status == 200 and (resp.status != 200 or body != b"ok"):
        return f"{what} answered {resp.status} {body[:60]!r}, want 200 'ok'"
    if want_status != 200 and resp.status != want_status:
        return f"{what} answered {resp.status} {body[:60]!r}, want {want_status}"
    return None


def check_jwt_answers(port, pool):
    """rampart-jwt must serve a valid token and refuse none and a forged one:
    otherwise the run would measure something else than authentication."""
    bearer = lambda token: {"Authorization": f"Bearer {token}"}
    return (check_answers(port, bearer(pool.tokens[0]), 200, "GET / with a valid token")
            or check_answers(port, bearer(pool.tokens[-1]), 200, "GET / with another valid token")
            or check_answers(port, None, 401, "GET / without a token")
            or check_answers(port, bearer(pool.tampered()), 401, "GET / with a bad signature"))


def check_tokens_answers(port, pool):
    """rampart-tokens must serve a request with a token and, since it checks
    nothing, one without a token and one with a bad signature just the same:
    otherwise it would not be the control without authentication."""
    bearer = lambda token: {"Authorization": f"Bearer {token}"}
    return (check_answers(port, bearer(pool.tokens[0]), 200, "GET / with a token")
            or check_answers(port, None, 200, "GET / without a token")
            or check_answers(port, bearer(pool.tampered()), 200, "GET / with a bad signature"))


def nginx_common(tmp, name):
    return f"""worker_processes 1;
pid {tmp}/{name}.pid;
error_log {tmp}/{name}-error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/{name}-temp/body;
    proxy_temp_path {tmp}/{name}-temp/proxy;
    fastcgi_temp_path {tmp}/{name}-temp/fastcgi;
    uwsgi_temp_path {tmp}/{name}-temp/uwsgi;
    scgi_temp_path {tmp}/{name}-temp/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
"""


def origin_conf(tmp, port):
    return nginx_common(tmp, "origin") + f"""    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{ return 200 "ok"; }}
    }}
}}
"""


def nginx_proxy_conf(tmp, port, origin, tls=None, h2=False, name=None):
    # keepalive_requests is raised on both sides (defaults: 1000) so that
    # nginx, like HAProxy, does not close busy keep-alive connections.
    listen = f"listen 127.0.0.1:{port} backlog=4096;"
    if h2:  # h2c with prior knowledge (nginx 1.22 syntax)
        listen = (f"listen 127.0.0.1:{port} http2 backlog=4096;\n"
                  "        http2_max_concurrent_streams 128;")
    if tls:
        cert, key, _ = tls
        listen = (f"listen 127.0.0.1:{port} ssl backlog=4096;\n"
                  f"        ssl_certificate {cert};\n"
                  f"        ssl_certificate_key {key};\n"
                  f"        ssl_protocols TLSv1.3;\n"
                  f"        ssl_conf_command Ciphersuites {TLS_SUITE};\n"
                  f"        ssl_session_tickets on;")
    return nginx_common(tmp, name or ("nginx-tls" if tls else "nginx")) + f"""    upstream origin {{
        server 127.0.0.1:{origin};
        keepalive 256;
        keepalive_requests 10000000;
        keepalive_timeout 300s;
    }}
    server {{
        {listen}
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


def rampart_conf(name, port, origin, pool):
    """`rampart proxy --workers 1`'s config (src/cli/main.cc, proxyConfig: every
    other setting left at its default), plus a JWT provider. For rampart-jwt
    the route requires it; for rampart-tokens the config is the same but the
    route has no `auth`, so the Authorization header is only forwarded."""
    if name == "rampart-jwt":
        what = "plus JWT authentication on every request."
        route_auth = "\n        auth: {providers: [users]}"
    elif name == "rampart-tokens":
        what = ("plus rampart-jwt's JWT provider, but NOT on the route:\n"
                "# the control of rampart-jwt, same requests (with tokens), no authentication.")
        route_auth = ""
    else:
        raise AssertionError(name)
    return f"""# {name}: what `rampart proxy --listen 127.0.0.1:{port} --to 127.0.0.1:{origin}
# --workers 1` runs, {what}
workers: 1
listeners:
  - name: proxy
    address: "127.0.0.1:{port}"
clusters:
  - name: upstream
    endpoints: ["127.0.0.1:{origin}"]
authentication:
  # Per worker; above the pool of {pool.count} tokens so that, once warm, every
  # token is a cache hit (the cache holds {pool.count} distinct entries).
  token_cache_entries: {2 * pool.count}
  providers:
    - name: users
      jwt:
        issuers:
          - issuer: {json.dumps(ISSUER)}
            algorithms: [ES256]
            jwks_file: {json.dumps(pool.jwks_path)}
            audiences: [{json.dumps(AUDIENCE)}]
virtual_hosts:
  - name: any
    domains: ["*"]
    routes:
      - name: all
        match: {{prefix: /}}
        cluster: upstream
        public: true{route_auth}
"""


def rampart_h2_conf(port, origin):
    """`rampart proxy --workers 1`'s config with the listener taking h2c (prior knowledge)."""
    return f"""# rampart-h2: what `rampart proxy --workers 1` runs, the listener serving HTTP/2 too
workers: 1
listeners:
  - name: proxy
    address: "127.0.0.1:{port}"
    http2: true
clusters:
  - name: upstream
    endpoints: ["127.0.0.1:{origin}"]
virtual_hosts:
  - name: any
    domains: ["*"]
    routes:
      - {{name: all, match: {{prefix: /}}, cluster: upstream, public: true}}
"""


def check_h2_answers(port):
    """One GET over h2c (curl, prior knowledge): 200 "ok" over HTTP/2."""
    try:
        out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-w", " %{http_version} %{http_code}",
                              f"http://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"h2c GET / failed: {e!r}"
    if out.stdout != "ok 2 200":
        return f"h2c GET / answered {out.stdout[:60]!r} {out.stderr[:120]!r}, want 'ok' over HTTP/2"
    return None


def rampart_tls_conf(port, origin, tls):
    """`rampart proxy --workers 1`'s config with the listener terminating TLS 1.3."""
    cert, key, _ = tls
    return f"""# rampart-tls: what `rampart proxy --workers 1` runs, the listener terminating TLS 1.3
workers: 1
listeners:
  - name: proxy
    address: "127.0.0.1:{port}"
    tls:
      certificates: [{{cert: {json.dumps(cert)}, key: {json.dumps(key)}}}]
      min_version: "1.3"
      ciphersuites: {TLS_SUITE}
clusters:
  - name: upstream
    endpoints: ["127.0.0.1:{origin}"]
virtual_hosts:
  - name: any
    domains: ["*"]
    routes:
      - {{name: all, match: {{prefix: /}}, cluster: upstream, public: true}}
"""


def haproxy_conf(port, origin, tls=None, h2=False):
    bind = f"bind 127.0.0.1:{port}"
    if h2:
        bind += " proto h2"
    if tls:
        bind += f" ssl crt {tls[2]} ssl-min-ver TLSv1.3 ciphersuites {TLS_SUITE}"
    return f"""global
    nbthread 1
    maxconn 8192

defaults
    mode http
    option http-keep-alive
    option forwardfor
    http-reuse safe
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 300s

frontend fe
    {bind}
    default_backend be

backend be
    server origin 127.0.0.1:{origin}
"""


class Target:
    """One thing wrk is pointed at: the origin itself, or a proxy in front of it."""

    def __init__(self, name, procs, tmp, settings, origin_port, pool=None):
        self.name = name
        self.pool = pool  # tokens.TokenPool, for TOKEN_TARGETS
        self.procs = procs
        self.tmp = tmp
        self.settings = settings
        self.origin_port = origin_port
        self.proc = None
        self.port = origin_port if name == "direct" else None
        self.failure = None  # why the target is out of the run, if it is
        self.restarts = 0

    def argv(self):
        tmp, s = self.tmp, self.settings
        if self.name == "rampart":
            return [s.rampart_bin, "proxy", "--listen", f"127.0.0.1:{self.port}",
                    "--to", f"127.0.0.1:{self.origin_port}", "--workers", "1"] + s.rampart_args
        if self.name in TOKEN_TARGETS or self.name in ("rampart-tls", "rampart-h2"):
            return [s.rampart_bin, "serve", "-c", self.conf_path()] + s.rampart_args
        tls = tls_files(tmp) if self.name in TLS_TARGETS else None
        if self.name in ("nginx", "nginx-tls", "nginx-h2"):
            conf = os.path.join(tmp, f"{self.name}.conf")
            with open(conf, "w") as f:
                f.write(nginx_proxy_conf(tmp, self.port, self.origin_port, tls,
                                         h2=self.name == "nginx-h2", name=self.name))
            os.makedirs(os.path.join(tmp, f"{self.name}-temp"), exist_ok=True)
            return ["nginx", "-p", tmp, "-e", os.path.join(tmp, f"{self.name}-error.log"),
                    "-c", conf, "-g", "daemon off;"]
        if self.name in ("haproxy", "haproxy-tls", "haproxy-h2"):
            conf = os.path.join(tmp, f"{self.name}.cfg")
            with open(conf, "w") as f:
                f.write(haproxy_conf(self.port, self.origin_port, tls, h2=self.name == "haproxy-h2"))
            return ["haproxy", "-f", conf, "-db"]
        raise AssertionError(self.name)

    def conf_path(self):
        return os.path.join(self.tmp, f"{self.name}.yaml")

    def write_rampart_conf(self):
        """Writes the config and has `rampart validate` accept it; None or why not."""
        if self.name == "rampart-h2":
            text = rampart_h2_conf(self.port, self.origin_port)
        elif self.name == "rampart-tls":
            text = rampart_tls_conf(self.port, self.origin_port, tls_files(self.tmp))
        elif self.pool is None:
            return "no token pool"
        else:
            text = rampart_conf(self.name, self.port, self.origin_port, self.pool)
        with open(self.conf_path(), "w") as f:
            f.write(text)
        try:
            p = subprocess.run([self.settings.rampart_bin, "validate", "-c", self.conf_path()],
                               capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"rampart validate failed: {e}"
        if p.returncode != 0:
            return (f"rampart validate -c {self.conf_path()} exited {p.returncode}: "
                    + (p.stdout + p.stderr).strip()[-400:])
        return None

    def wrk_args(self):
        """What wrk needs beyond the URL: rampart-jwt's and rampart-tokens' requests
        carry a token."""
        if self.name in TOKEN_TARGETS:
            return ["-s", TOKENS_LUA, self.url(), self.pool.tokens_path]
        return [self.url()]

    def check(self):
        if self.name == "rampart-jwt":
            return check_jwt_answers(self.port, self.pool)
        if self.name == "rampart-tokens":
            return check_tokens_answers(self.port, self.pool)
        if self.name in H2_TARGETS:
            return check_h2_answers(self.port)
        return check_answers(self.port, tls=self.name in TLS_TARGETS)

    def start(self):
        """Starts the proxy and checks it answers; returns None or why not."""
        if self.name == "direct":
            return None
        self.port = free_port()
        if self.name in TOKEN_TARGETS or self.name in ("rampart-tls", "rampart-h2"):
            why = self.write_rampart_conf()
            if why:
                return why
        log = os.path.join(self.tmp, f"{self.name}.log")
        self.proc = self.procs.start(self.name, self.argv(), log)
        why = wait_listening(self.port, self.proc) or self.check()
        if why:
            tail = ""
            try:
                with open(log, errors="replace") as f:
                    tail = f.read()[-600:].strip()
            except OSError:
                pass
            self.procs.stop(self.proc)
            self.proc = None
            return why + (f"; its output ends: {tail}" if tail else "")
        return None

    def alive(self):
        return self.name == "direct" or (self.proc is not None and self.proc.poll() is None)

    def ensure(self):
        """Before each run: a proxy that died is restarted once per death, and noted."""
        if self.failure or self.alive():
            return self.failure is None
        code = self.proc.returncode if self.proc else None
        self.procs.forget(self.proc)
        self.restarts += 1
        print(f"  !! {self.name} exited (code {code}); restarting", flush=True)
        why = self.start()
        if why:
            self.failure = f"exited with code {code} mid-run, restart failed: {why}"
            return False
        return True

    def url(self):
        scheme = "https" if self.name in TLS_TARGETS else "http"
        return f"{scheme}://127.0.0.1:{self.port}/"
