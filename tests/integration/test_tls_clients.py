"""Stock TLS clients against the real binary (issue 9, docs/tls.md): curl over
TLS 1.3 and over HTTP/2 chosen by ALPN, curl and openssl s_client with and
without a client certificate on a listener that requires one. Python's ssl
module is one client (test_tls.py); these are the ones operators use. The
certificates, the listener and the routes are test_tls.py's."""
import subprocess
import time

import pytest

import helpers
from test_tls import MTLS_PROVIDERS, MTLS_ROUTES, pki, start, stats  # noqa: F401 (pki: a fixture)

REQUIRED = "required"


def curl(port, pki, path, *args, host="a.test"):
    """curl https://host:port/path with the test CA, the name resolved to
    loopback; returns (completed process, "http_code http_version")."""
    argv = ["curl", "-sS", "-v", "--max-time", "10", "--cacert", str(pki / "ca.pem"),
            "--resolve", f"{host}:{port}:127.0.0.1", "-o", "/dev/null",
            "-w", "%{http_code} %{http_version}", *args, f"https://{host}:{port}{path}"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)
    return done, done.stdout.strip()


def s_client(port, pki, request, *args):
    """openssl s_client to a.test with the test CA, verification errors fatal;
    sends `request` and waits for the server's close (-ign_eof)."""
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "a.test",
            "-CAfile", str(pki / "ca.pem"), "-verify_return_error", "-ign_eof", *args]
    return subprocess.run(argv, input=request, capture_output=True, timeout=20)


def counted(admin_port, before):
    """The TLS counters' growth since `before` (settled())."""
    now = stats(admin_port)
    return {k: now[k] - before.get(k, 0) for k in now if k.startswith("tls_")}


def get_request(path):
    return f"GET {path} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n".encode()


def mtls_listener(stack, pki, **extra):
    admin_port = helpers.free_port()
    rampart, upstream = start(stack, pki, routes=MTLS_ROUTES, providers=MTLS_PROVIDERS,
                              admin_port=admin_port,
                              client_certificates={"mode": REQUIRED, "ca": str(pki / "ca.pem")},
                              **extra)
    return rampart, upstream, admin_port


def settled(admin_port):
    """The counters once the start-up probe (a plain TCP connect to the TLS
    port, helpers.wait_port) is counted as the failed handshake it is: the
    worker may see its close after the admin answers, and a baseline taken
    before that would put it in the test's own count."""
    deadline = time.monotonic() + 5
    counters = stats(admin_port)
    while counters["tls_handshake_failures"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
        counters = stats(admin_port)
    assert counters["tls_handshake_failures"] == 1, counters
    return counters


def test_curl_over_tls13(stack, pki):
    rampart, upstream = start(stack, pki, min_version="1.3")
    done, out = curl(rampart.port, pki, "/curl/13", "--tlsv1.3")
    assert out == "200 1.1", (out, done.stderr[-1500:])
    # curl verified the chain against the test CA and the name a.test.
    assert "SSL connection using TLSv1.3" in done.stderr, done.stderr[-1500:]
    assert "SSL certificate verify ok" in done.stderr
    record = upstream.wait_for(lambda r: r["target"] == "/curl/13")
    assert helpers.echo_header(record, "x-forwarded-proto") == ["https"]
    # The same listener refuses a client that stops at TLS 1.2.
    old, out = curl(rampart.port, pki, "/curl/12", "--tls-max", "1.2")
    assert old.returncode != 0 and out.startswith("000"), (out, old.stderr[-800:])
    assert "/curl/12" not in upstream.targets()


def test_curl_http2_by_alpn(stack, pki):
    rampart, upstream = start(stack, pki, alpn=["h2", "http/1.1"])
    done, out = curl(rampart.port, pki, "/curl/h2", "--http2")
    assert out == "200 2", (out, done.stderr[-1500:])
    assert "ALPN: server accepted h2" in done.stderr, done.stderr[-1500:]
    record = upstream.wait_for(lambda r: r["target"] == "/curl/h2")
    # Downstream HTTP/2, upstream HTTP/1.1 (docs/http2.md).
    assert record["version"] == "HTTP/1.1"
    # A client that offers only http/1.1 on the same listener gets it.
    done, out = curl(rampart.port, pki, "/curl/h1", "--http1.1")
    assert out == "200 1.1", (out, done.stderr[-1500:])


def test_curl_without_h2_on_the_listener_stays_on_http11(stack, pki):
    rampart, _ = start(stack, pki)  # alpn defaults to [http/1.1]
    done, out = curl(rampart.port, pki, "/curl/h2-offered", "--http2")
    assert out == "200 1.1", (out, done.stderr[-1500:])


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_curl_with_a_client_certificate_on_an_mtls_listener(stack, pki, version):
    rampart, upstream, admin_port = mtls_listener(stack, pki)
    before = settled(admin_port)
    pin = ["--tlsv" + version, "--tls-max", version]
    done, out = curl(rampart.port, pki, "/who/curl", *pin, "--cert", str(pki / "alice.pem"),
                     "--key", str(pki / "alice.key"))
    assert out == "200 1.1", (out, done.stderr[-1500:])
    record = upstream.wait_for(lambda r: r["target"] == "/who/curl")
    assert helpers.echo_header(record, "x-auth-subject") == ["CN=alice,O=Rampart Test"]
    assert helpers.echo_header(record, "x-auth-issuer") == ["CN=Test CA,O=Rampart Test"]
    # Without a certificate the handshake is refused (TLS 1.3: the client
    # learns it on its first read); nothing reaches the upstream.
    refused, out = curl(rampart.port, pki, "/who/nocert", *pin)
    assert refused.returncode != 0 and out.startswith("000"), (out, refused.stderr[-800:])
    assert "/who/nocert" not in upstream.targets()
    counters = counted(admin_port, before)
    assert counters["tls_client_certificates"] == 1, counters
    assert counters["tls_handshakes"] == 1 and counters["tls_handshake_failures"] == 1, counters


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_s_client_with_a_client_certificate_on_an_mtls_listener(stack, pki, version):
    rampart, upstream, admin_port = mtls_listener(stack, pki)
    before = settled(admin_port)
    done = s_client(rampart.port, pki, get_request("/who/s_client"), version,
                    "-cert", str(pki / "alice.pem"), "-key", str(pki / "alice.key"))
    out = done.stdout.decode(errors="replace")
    assert "Verify return code: 0 (ok)" in out, out[-2000:]
    assert "HTTP/1.1 200" in out, out[-2000:] + done.stderr.decode(errors="replace")[-800:]
    record = upstream.wait_for(lambda r: r["target"] == "/who/s_client")
    assert helpers.echo_header(record, "x-auth-subject") == ["CN=alice,O=Rampart Test"]
    # The server asked for a certificate from the test CA.
    assert "Acceptable client certificate CA names" in out and "CN = Test CA" in out
    counters = counted(admin_port, before)
    assert counters["tls_client_certificates"] == 1 and counters["tls_handshakes"] == 1, counters


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_s_client_without_a_client_certificate_is_refused(stack, pki, version):
    rampart, upstream, admin_port = mtls_listener(stack, pki)
    before = settled(admin_port)
    done = s_client(rampart.port, pki, get_request("/who/anonymous"), version)
    out = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    assert "HTTP/1.1" not in out, out[-2000:]
    # The alert names the reason: TLS 1.3 has one for it (RFC 8446 6.2),
    # TLS 1.2 says handshake failure.
    alert = "alert certificate required" if version == "-tls1_3" else "alert handshake failure"
    assert alert in out, out[-2000:]
    assert "/who/anonymous" not in upstream.targets()
    counters = counted(admin_port, before)
    assert counters["tls_handshakes"] == 0 and counters["tls_handshake_failures"] == 1, counters
