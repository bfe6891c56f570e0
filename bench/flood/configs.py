"""The three targets' configurations, for the same limits (bench-method.md):
100 requests/s per client address with a burst of 50, at most 256
connections per address, a request head within 10 s; and on Rampart, JWT
authentication on the route (the legitimate clients carry valid tokens;
nginx and HAProxy just forward the header).

Rampart's `shield:` and `limits:` keys follow the agreed syntax of the shield
issue; with LIMITS=0 every target runs without limits (Rampart keeps its JWT).
"""

import json

RATE = 100          # requests/s per address
BURST = 50
CONN_PER_ADDRESS = 256
HEAD_TIMEOUT_S = 10


def nginx_conf(tmp, port, origin, limits):
    limit_zones = limit_use = ""
    if limits:
        limit_zones = f"""    limit_req_zone $binary_remote_addr zone=perip:16m rate={RATE}r/s;
    limit_req_status 429;
    limit_conn_zone $binary_remote_addr zone=perconn:16m;
    limit_conn_status 503;
"""
        limit_use = f"""            limit_req zone=perip burst={BURST} nodelay;
            limit_conn perconn {CONN_PER_ADDRESS};
"""
    return f"""worker_processes 1;
worker_rlimit_nofile 20000;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log error;
events {{ worker_connections 19000; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/nginx-temp/body;
    proxy_temp_path {tmp}/nginx-temp/proxy;
    fastcgi_temp_path {tmp}/nginx-temp/fastcgi;
    uwsgi_temp_path {tmp}/nginx-temp/uwsgi;
    scgi_temp_path {tmp}/nginx-temp/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_header_timeout {HEAD_TIMEOUT_S}s;
{limit_zones}    upstream origin {{
        server 127.0.0.1:{origin};
        keepalive 256;
        keepalive_requests 10000000;
        keepalive_timeout 300s;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
{limit_use}            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


def haproxy_conf(port, origin, limits):
    track = ""
    if limits:
        track = f"""    stick-table type ip size 1m expire 30s store http_req_rate(1s),conn_cur
    tcp-request connection track-sc0 src
    tcp-request connection reject if {{ sc_conn_cur(0) gt {CONN_PER_ADDRESS} }}
    http-request deny deny_status 429 if {{ sc_http_req_rate(0) gt {RATE} }}
"""
    return f"""global
    nbthread 1
    maxconn 9000

defaults
    mode http
    option http-keep-alive
    option forwardfor
    http-reuse safe
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 300s
    timeout http-request {HEAD_TIMEOUT_S}s

frontend fe
    bind 127.0.0.1:{port}
    maxconn 9000
{track}    default_backend be

backend be
    server origin 127.0.0.1:{origin}
"""


def rampart_conf(port, origin, pool, limits, issuer, audience):
    shield = listener_limits = ""
    if limits:
        # The agreed shield syntax (helper-briefs/shield-config.md), same limits as the peers.
        shield = f"""shield:
  max_tracked_keys: 1000000
  admission:
    max_connections: 19000
    max_connections_per_address: {CONN_PER_ADDRESS}
    accept_rate_per_address: {{rate: 200/s, burst: 400}}
  escalation:
    after: 50
    within: 10s
    block_for: 30s
    max_block: 1h
  auth_failures: {{rate: 20/s, burst: 40}}
  signature_verifications: {{rate: 500/s, burst: 10}}
  slow_clients:
    head_timeout: {HEAD_TIMEOUT_S}s
    body_min_rate: 1024
    body_grace: 5s
"""
        listener_limits = f"""
    limits:
      - {{name: per-ip, key: address, rate: {RATE}/s, burst: {BURST}}}"""
    return f"""# bench/flood: Rampart, 1 worker, JWT on every request{", the shield's limits" if limits else ", NO limits (LIMITS=0)"}.
workers: 1
http:
  head_timeout: {HEAD_TIMEOUT_S}s
{shield}listeners:
  - name: public
    address: "127.0.0.1:{port}"{listener_limits}
clusters:
  - name: origin
    endpoints: ["127.0.0.1:{origin}"]
authentication:
  token_cache_entries: {max(2 * pool.count, 1000)}
  providers:
    - name: users
      jwt:
        issuers:
          - issuer: {json.dumps(issuer)}
            algorithms: [ES256]
            jwks_file: {json.dumps(pool.jwks_path)}
            audiences: [{json.dumps(audience)}]
virtual_hosts:
  - name: any
    domains: ["*"]
    routes:
      - name: all
        match: {{prefix: /}}
        cluster: origin
        public: true
        auth: {{providers: [users]}}
"""
