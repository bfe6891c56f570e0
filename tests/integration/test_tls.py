"""TLS termination through the real binary (docs/tls.md): TLS 1.2 and 1.3,
certificates chosen by SNI (exact, wildcard, default), ALPN, session
resumption with tickets, client certificates (mTLS) whose subject reaches the
upstream as the principal, certificates reloaded on SIGHUP, and the
per-address handshake rate. Certificates are made at test time with the
openssl CLI (tls_certs.py); clients are Python's ssl module."""
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import zlib

import pytest

import helpers
import tls_certs
from helpers import Client


@pytest.fixture
def pki(tmp_path):
    d = tmp_path / "pki"
    d.mkdir()
    tls_certs.make_ca(d)
    tls_certs.make_leaf(d, "a", "/O=Rampart Test/CN=a.test", "DNS:a.test")
    tls_certs.make_leaf(d, "b", "/O=Rampart Test/CN=b.test", "DNS:b.test")
    tls_certs.make_leaf(d, "wild", "/O=Rampart Test/CN=wild", "DNS:*.w.test")
    tls_certs.make_leaf(d, "alice", "/O=Rampart Test/CN=alice",
                        "URI:spiffe://acme/alice,DNS:alice.test", client=True)
    tls_certs.make_ca(d, "stranger-ca", "/O=Elsewhere/CN=Stranger CA")
    tls_certs.make_leaf(d, "mallory", "/O=Elsewhere/CN=mallory", "", ca="stranger-ca", client=True)
    return d


class TlsClient(Client):
    """helpers.Client over TLS: same request/response helpers."""

    def __init__(self, port, context, server_hostname="a.test", session=None, timeout=5.0,
                 source=None):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                       source_address=(source, 0) if source else None)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = context.wrap_socket(raw, server_hostname=server_hostname, session=session)
        self.buf = bytearray()
        self.scratch = bytearray(helpers.BLOCK)


def client_context(pki, cert=None, maximum=None, minimum=None, alpn=("http/1.1",)):
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if maximum:
        context.maximum_version = maximum
    if minimum:
        context.minimum_version = minimum
    if cert:
        context.load_cert_chain(str(pki / f"{cert}.pem"), str(pki / f"{cert}.key"))
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


def tls_section(pki, **extra):
    section = {"certificates": [
        {"cert": str(pki / "a.pem"), "key": str(pki / "a.key")},
        {"cert": str(pki / "b.pem"), "key": str(pki / "b.key"), "names": ["b.test"]},
        {"cert": str(pki / "wild.pem"), "key": str(pki / "wild.key")},
    ]}
    section.update(extra)
    return section


def start(stack, pki, tls=None, routes=None, providers=None, admin_port=None, shield=None,
          **extra):
    upstream = stack.upstream("app")
    port = helpers.free_port()
    routes = routes or [{"name": "all", "match": {"prefix": "/"}, "cluster": "app"}]
    doc = {"workers": 1, "drain_timeout": "5s",
           "listeners": [{"name": "edge", "address": f"127.0.0.1:{port}",
                          "tls": tls or tls_section(pki, **extra)}],
           "clusters": [helpers.cluster("app", [upstream.address])],
           "virtual_hosts": helpers.public_unless_governed(
               [{"name": "api", "domains": ["*"], "routes": routes}])}
    if providers:
        doc["authentication"] = {"providers": providers}
    if admin_port:
        doc["admin"] = {"address": f"127.0.0.1:{admin_port}"}
    if shield:
        doc["shield"] = shield
    rampart = stack.rampart(helpers.to_yaml(doc) + "\n", port)
    if admin_port:
        helpers.wait_port(admin_port, 10, rampart.process)
    return rampart, upstream


class Seen:
    """What a TLS client saw of its connection, taken before it closed."""

    def __init__(self, sock):
        self.version = sock.version()
        self.session = sock.session
        self.session_reused = sock.session_reused
        self.alpn = sock.selected_alpn_protocol()
        self.der = sock.getpeercert(binary_form=True)
        cert = sock.getpeercert()
        self.cn = dict(x[0] for x in cert["subject"])["commonName"] if cert else None


def https_get(port, context, target="/", server_hostname="a.test", session=None, headers=None):
    with TlsClient(port, context, server_hostname, session) as client:
        response = client.request("GET", target, headers, host=server_hostname or "localhost")
        return response, Seen(client.sock)


def refused(port, context, server_hostname="a.test", source=None):
    """True when the handshake or the first exchange fails (TLS 1.3 clients
    learn that their certificate was refused only on their first read)."""
    try:
        with TlsClient(port, context, server_hostname, source=source) as client:
            client.request("GET", "/")
    except (ssl.SSLError, ConnectionError, helpers.Closed, OSError):
        return True
    return False


def stats(admin_port):
    return json.loads(helpers.get(admin_port, "/stats").body)["counters"]


def serial_of(der):
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem, text=True,
                         capture_output=True, check=True, timeout=10)
    return out.stdout.strip()


def test_tls12_and_tls13_serve_requests(stack, pki):
    rampart, upstream = start(stack, pki)
    for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        context = client_context(pki, maximum=version, minimum=version)
        response, sock = https_get(rampart.port, context, f"/v/{name}")
        assert response.status == 200, response
        assert sock.version == name
        record = upstream.wait_for(lambda r: r["target"] == f"/v/{name}")
        assert helpers.echo_header(record, "x-forwarded-proto") == ["https"]


def test_keep_alive_and_a_large_body_over_tls(stack, pki):
    rampart, upstream = start(stack, pki)
    context = client_context(pki)
    with TlsClient(rampart.port, context) as client:
        for i in range(5):
            assert client.request("GET", f"/k/{i}", host="a.test").status == 200
        body = os.urandom(300_000)
        response = client.request("POST", "/upload", body=body, host="a.test")
        assert response.status == 200
        assert response.json()["body_len"] == len(body)
        download = client.request("GET", f"/download?bytes={2_000_000}", host="a.test")
        assert download.status == 200 and len(download.body) == 2_000_000
        assert zlib.crc32(download.body) == helpers.pattern_crc32(2_000_000)
        # Chunked, small (head and body coalesced into one record) and large.
        chunked = client.request("GET", "/chunked?n=5", host="a.test")
        assert chunked.status == 200
        assert chunked.body == b"".join(b"chunk-%d\n" % i for i in range(5))
        big = client.request("GET", f"/download?bytes={300_000}&chunked=1", host="a.test")
        assert zlib.crc32(big.body) == helpers.pattern_crc32(300_000)
    # An HTTP/1.0 client over TLS gets the chunked body decoded, then a close.
    with TlsClient(rampart.port, context) as client:
        old = client.request("GET", "/chunked?n=3", host="a.test", version="HTTP/1.0")
        assert old.status == 200 and old.body == b"chunk-0\nchunk-1\nchunk-2\n"


def test_a_tls13_only_listener_refuses_tls12(stack, pki):
    rampart, _ = start(stack, pki, min_version="1.3")
    old = client_context(pki, maximum=ssl.TLSVersion.TLSv1_2)
    with pytest.raises(ssl.SSLError):
        https_get(rampart.port, old)
    response, sock = https_get(rampart.port, client_context(pki))
    assert response.status == 200 and sock.version == "TLSv1.3"


def test_sni_chooses_the_certificate(stack, pki):
    rampart, _ = start(stack, pki)
    context = client_context(pki)
    for name, cn in (("a.test", "a.test"), ("b.test", "b.test"), ("shop.w.test", "wild")):
        response, sock = https_get(rampart.port, context, server_hostname=name)
        assert response.status == 200
        assert sock.cn == cn
    # No SNI at all, or a name nothing answers for: the first (default) certificate.
    loose = client_context(pki)
    loose.check_hostname = False
    for name in (None, "unknown.test"):
        _, sock = https_get(rampart.port, loose, server_hostname=name)
        assert sock.cn == "a.test"


def test_alpn_settles_on_http11_and_refuses_only_h2(stack, pki):
    rampart, _ = start(stack, pki)
    _, sock = https_get(rampart.port, client_context(pki, alpn=("h2", "http/1.1")))
    assert sock.alpn == "http/1.1"
    with pytest.raises(ssl.SSLError):
        https_get(rampart.port, client_context(pki, alpn=("h2",)))


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_sessions_resume_with_tickets(stack, pki, version):
    admin_port = helpers.free_port()
    rampart, _ = start(stack, pki, admin_port=admin_port)
    context = client_context(pki, maximum=version, minimum=version)
    response, sock = https_get(rampart.port, context)
    assert response.status == 200 and not sock.session_reused
    session = sock.session
    assert session is not None and session.has_ticket
    response, sock = https_get(rampart.port, context, session=session)
    assert response.status == 200
    assert sock.session_reused
    counters = stats(admin_port)
    assert counters["tls_handshakes"] >= 2 and counters["tls_resumptions"] == 1


def test_session_tickets_can_be_turned_off(stack, pki):
    rampart, _ = start(stack, pki, session_tickets=False)
    context = client_context(pki, maximum=ssl.TLSVersion.TLSv1_2)
    _, sock = https_get(rampart.port, context)
    session = sock.session
    _, sock = https_get(rampart.port, context, session=session)
    assert not sock.session_reused


MTLS_ROUTES = [
    {"name": "who", "match": {"prefix": "/who"}, "cluster": "app",
     "auth": {"providers": ["certs"]}},
    {"name": "spiffe", "match": {"prefix": "/spiffe"}, "cluster": "app",
     "auth": {"providers": ["spiffe"]}},
    {"name": "open", "match": {"prefix": "/"}, "cluster": "app",
     "auth": {"providers": ["certs"], "allow_anonymous": True}},
]
MTLS_PROVIDERS = [{"name": "certs", "mtls": {"principal": "subject"}},
                  {"name": "spiffe", "mtls": {"principal": "san_uri"}}]


def test_required_client_certificates_name_the_principal_upstream(stack, pki):
    admin_port = helpers.free_port()
    rampart, upstream = start(stack, pki, routes=MTLS_ROUTES, providers=MTLS_PROVIDERS,
                              admin_port=admin_port,
                              client_certificates={"mode": "required", "ca": str(pki / "ca.pem")})
    alice = client_context(pki, cert="alice")
    spoof = [("X-Auth-Subject", "CN=admin")]
    response, _ = https_get(rampart.port, alice, "/who/1", headers=spoof)
    assert response.status == 200
    record = upstream.wait_for(lambda r: r["target"] == "/who/1")
    assert helpers.echo_header(record, "x-auth-subject") == ["CN=alice,O=Rampart Test"]
    assert helpers.echo_header(record, "x-auth-issuer") == ["CN=Test CA,O=Rampart Test"]
    response, _ = https_get(rampart.port, alice, "/spiffe/1")
    assert response.status == 200
    record = upstream.wait_for(lambda r: r["target"] == "/spiffe/1")
    assert helpers.echo_header(record, "x-auth-subject") == ["spiffe://acme/alice"]
    # No certificate, or one from another CA: the handshake is refused.
    assert refused(rampart.port, client_context(pki))
    assert refused(rampart.port, client_context(pki, cert="mallory"))
    counters = stats(admin_port)
    assert counters["tls_client_certificates"] == 2
    assert counters["tls_handshake_failures"] >= 2


def test_optional_client_certificates(stack, pki):
    rampart, upstream = start(stack, pki, routes=MTLS_ROUTES, providers=MTLS_PROVIDERS,
                              client_certificates={"mode": "optional", "ca": str(pki / "ca.pem")})
    anonymous = client_context(pki)
    response, _ = https_get(rampart.port, anonymous, "/who/anon")
    assert response.status == 401  # the route requires the mtls credential
    response, _ = https_get(rampart.port, anonymous, "/open/anon")
    assert response.status == 200
    record = upstream.wait_for(lambda r: r["target"] == "/open/anon")
    assert helpers.echo_header(record, "x-auth-subject") == []
    response, _ = https_get(rampart.port, client_context(pki, cert="alice"), "/who/alice")
    assert response.status == 200
    # A certificate that does not verify is refused even where it is optional.
    assert refused(rampart.port, client_context(pki, cert="mallory"))


def test_sighup_serves_a_new_certificate_to_new_connections(stack, pki):
    rampart, _ = start(stack, pki)
    context = client_context(pki)
    old_client = TlsClient(rampart.port, context)
    try:
        assert old_client.request("GET", "/before", host="a.test").status == 200
        old_serial = serial_of(old_client.sock.getpeercert(binary_form=True))
        # A new certificate for a.test, written where the config points.
        tls_certs.make_leaf(pki, "a", "/O=Rampart Test/CN=a.test", "DNS:a.test")
        os.kill(rampart.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        new_serial = old_serial
        while new_serial == old_serial and time.monotonic() < deadline:
            time.sleep(0.05)
            _, seen = https_get(rampart.port, context)
            new_serial = serial_of(seen.der)
        assert new_serial != old_serial, rampart.stderr()
        # The connection opened before keeps working on its own keys.
        assert old_client.request("GET", "/after", host="a.test").status == 200
    finally:
        old_client.close()
    assert "TLS certificates reloaded" in rampart.stderr()


def test_a_broken_certificate_on_sighup_keeps_the_running_one(stack, pki):
    rampart, _ = start(stack, pki)
    context = client_context(pki)
    _, seen = https_get(rampart.port, context)
    serial = serial_of(seen.der)
    (pki / "a.key").write_text("not a key\n")
    os.kill(rampart.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "refused" not in rampart.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "a.key" in rampart.stderr()
    response, seen = https_get(rampart.port, context)
    assert response.status == 200 and serial_of(seen.der) == serial


def test_a_handshake_flood_from_one_address_is_refused_at_accept(stack, pki):
    admin_port = helpers.free_port()
    rampart, _ = start(stack, pki, admin_port=admin_port,
                       handshake_rate_per_address={"rate": "1/m", "burst": 5})
    context = client_context(pki)
    # The start-up probe (helpers.wait_port) took one of the five.
    outcomes = [refused(rampart.port, context) for _ in range(12)]
    assert outcomes == [False] * 4 + [True] * 8, outcomes
    counters = stats(admin_port)
    assert counters["tls_handshakes_limited"] == 8
    assert counters["tls_handshakes"] == 4
    # Another address has its own budget.
    with TlsClient(rampart.port, context, source="127.0.0.3") as client:
        assert client.request("GET", "/other", host="a.test").status == 200


def test_config_errors_name_the_line(tmp_path, pki):
    config = tmp_path / "bad.yaml"
    config.write_text(
        "listeners:\n"
        "  - address: \"127.0.0.1:8443\"\n"
        "    tls:\n"
        "      certificates:\n"
        f"        - cert: {pki / 'a.pem'}\n"
        f"          key: {pki / 'b.key'}\n"
        "      min_version: \"1.1\"\n"
        "clusters: [{name: app, endpoints: [\"127.0.0.1:9\"]}]\n")
    result = subprocess.run([helpers.rampart_bin(), "validate", "-c", str(config)],
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    assert f"{config}:6:16: tls: " in result.stderr and "is not the private key of" in result.stderr, \
        result.stderr
    assert f"{config}:7:20: min_version" in result.stderr, result.stderr


def start_upstream_tls(stack, pki, tls, client_ca=None, name="secure", cluster_overrides=None):
    args = ["--tls-cert", str(pki / "upstream.pem"), "--tls-key", str(pki / "upstream.key")]
    if client_ca:
        args += ["--tls-client-ca", str(client_ca)]
    upstream = stack.upstream(name, extra_args=args)
    port = helpers.free_port()
    doc = {"workers": 1, "drain_timeout": "5s",
           "listeners": [{"name": "edge", "address": f"127.0.0.1:{port}"}],
           "clusters": [helpers.cluster("app", [upstream.address], tls=tls,
                                        **(cluster_overrides or {}))],
           "virtual_hosts": helpers.public_unless_governed([{"name": "api", "domains": ["*"], "routes": [
               {"name": "all", "match": {"prefix": "/"}, "cluster": "app"}]}])}
    rampart = stack.rampart(helpers.to_yaml(doc) + "\n", port)
    return rampart, upstream


def test_upstream_tls_is_verified_and_pooled(stack, pki):
    tls_certs.make_leaf(pki, "upstream", "/O=Rampart Test/CN=upstream", "DNS:upstream.internal")
    tls_certs.make_leaf(pki, "rampart-client", "/O=Rampart Test/CN=rampart", "", client=True)
    rampart, upstream = start_upstream_tls(
        stack, pki, {"ca": str(pki / "ca.pem"), "server_name": "upstream.internal",
                     "client_cert": str(pki / "rampart-client.pem"),
                     "client_key": str(pki / "rampart-client.key")},
        client_ca=pki / "ca.pem")
    with Client(rampart.port) as client:
        for i in range(3):
            response = client.request("GET", f"/up/{i}")
            assert response.status == 200, response
            assert json.loads(response.body)["tls_client_cn"] == "rampart"
    conns = {r["conn"] for r in upstream.requests()}
    assert len(conns) == 1  # one TLS connection, kept in the pool


def test_new_upstream_connections_resume_the_last_session(stack, pki):
    tls_certs.make_leaf(pki, "upstream", "/O=Rampart Test/CN=upstream", "DNS:upstream.internal")
    rampart, upstream = start_upstream_tls(
        stack, pki, {"ca": str(pki / "ca.pem"), "server_name": "upstream.internal"},
        cluster_overrides={"max_idle": 0})  # a new upstream connection per request
    resumed = []
    for i in range(3):
        response = helpers.get(rampart.port, f"/fresh/{i}")
        assert response.status == 200
        resumed.append(json.loads(response.body)["tls_resumed"])
    assert resumed == [False, True, True]
    assert len({r["conn"] for r in upstream.requests()}) == 3


def test_upstream_tls_refuses_a_certificate_for_another_name(stack, pki):
    tls_certs.make_leaf(pki, "upstream", "/O=Rampart Test/CN=upstream", "DNS:upstream.internal")
    rampart, upstream = start_upstream_tls(
        stack, pki, {"ca": str(pki / "ca.pem"), "server_name": "other.internal"})
    response = helpers.get(rampart.port, "/wrong-name")
    assert response.status == 502, response
    assert upstream.requests() == []
    assert "TLS to cluster 'app'" in rampart.stderr()


def test_upstream_tls_refuses_an_unknown_ca(stack, pki):
    tls_certs.make_leaf(pki, "upstream", "/O=Elsewhere/CN=upstream", "DNS:upstream.internal",
                        ca="stranger-ca")
    rampart, upstream = start_upstream_tls(
        stack, pki, {"ca": str(pki / "ca.pem"), "server_name": "upstream.internal"})
    assert helpers.get(rampart.port, "/unknown-ca").status == 502
    assert upstream.requests() == []


def s_client(port, *args, stdin=b"Q\n"):
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                          input=stdin, capture_output=True, timeout=20)


def test_ocsp_staple_is_sent_to_clients_that_ask(stack, pki):
    staple = tls_certs.make_ocsp_response(pki, "a")
    tls = tls_section(pki)
    tls["certificates"][0]["ocsp_staple"] = str(staple)
    rampart, _ = start(stack, pki, tls=tls)
    asked = s_client(rampart.port, "-servername", "a.test", "-status", "-CAfile", str(pki / "ca.pem"))
    text = asked.stdout.decode(errors="replace")
    assert "OCSP Response Status: successful" in text, text[-2000:]
    assert "Cert Status: good" in text
    # b.test has no staple: the client that asks gets none.
    other = s_client(rampart.port, "-servername", "b.test", "-status")
    assert "OCSP response: no response sent" in other.stdout.decode(errors="replace")


def test_tls_connections_count_against_the_accept_gate(stack, pki):
    """The gate judges a TLS connection before its handshake, like any other."""
    rampart, _ = start(stack, pki, shield={"admission": {"max_connections_per_address": 2}})
    context = client_context(pki)
    first = TlsClient(rampart.port, context, source="127.0.0.5")
    second = TlsClient(rampart.port, context, source="127.0.0.5")
    try:
        assert refused(rampart.port, context, source="127.0.0.5")  # a third from the same address
        assert refused(rampart.port, context, source="127.0.0.6") is False
        assert first.request("GET", "/one", host="a.test").status == 200
    finally:
        first.close()
        second.close()


def test_reloading_certificates_under_load_fails_no_request(stack, pki):
    """New connections keep being served while certificates are swapped."""
    import threading

    rampart, _ = start(stack, pki)
    context = client_context(pki)
    failures, served = [], [0]
    stop = threading.Event()

    def load():
        while not stop.is_set():
            try:
                response, _ = https_get(rampart.port, context, "/load")
                if response.status != 200:
                    failures.append(response.status)
                served[0] += 1
            except Exception as error:  # noqa: BLE001 - any failure is what we count
                failures.append(repr(error))

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(4):
            time.sleep(0.3)
            tls_certs.make_leaf(pki, "a", "/O=Rampart Test/CN=a.test", "DNS:a.test")
            os.kill(rampart.pid, signal.SIGHUP)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert failures == [] and served[0] > 10, (failures[:5], served[0])
    assert rampart.stderr().count("TLS certificates reloaded") >= 1
