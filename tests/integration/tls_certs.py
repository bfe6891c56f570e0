"""Certificates for the TLS tests, made at test time with the openssl CLI in
the test's own directory: a CA, server certificates it signs (by name), a
client certificate, and a stranger's CA with its own client certificate."""
import subprocess
from pathlib import Path


def _run(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=30)


def make_ca(directory, name="ca", subject="/O=Rampart Test/CN=Test CA"):
    directory = Path(directory)
    _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", subject,
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign,cRLSign",
         cwd=directory)
    return directory / f"{name}.pem"


def make_leaf(directory, name, subject, sans, ca="ca", client=False):
    """`sans`: "DNS:a.test,URI:spiffe://x". Writes name.pem (leaf then the CA:
    a chain) and name.key; returns (cert, key)."""
    directory = Path(directory)
    ext = directory / f"{name}.ext"
    usage = "clientAuth" if client else "serverAuth"
    lines = [f"extendedKeyUsage={usage}", "basicConstraints=CA:FALSE"]
    if sans:
        lines.append(f"subjectAltName={sans}")
    ext.write_text("\n".join(lines) + "\n")
    _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=directory)
    _run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
         "-CAcreateserial", "-out", f"{name}.leaf", "-days", "2", "-extfile", ext.name, cwd=directory)
    leaf = (directory / f"{name}.leaf").read_text()
    (directory / f"{name}.pem").write_text(leaf)
    return directory / f"{name}.pem", directory / f"{name}.key"


def subject_of(pem_path):
    out = subprocess.run(["openssl", "x509", "-in", str(pem_path), "-noout", "-serial"],
                         check=True, capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


def make_ocsp_response(directory, name, ca="ca"):
    """A DER OCSP response from the CA saying `name`.pem is good, as a
    responder would staple it: name.ocsp."""
    directory = Path(directory)
    out = subprocess.run(["openssl", "x509", "-in", f"{name}.pem", "-noout", "-serial", "-subject",
                          "-nameopt", "compat", "-enddate"], cwd=directory, check=True,
                         capture_output=True, text=True, timeout=10).stdout.splitlines()
    fields = dict(line.split("=", 1) for line in out)
    (directory / "index.txt").write_text(
        f"V\t991231235959Z\t\t{fields['serial']}\tunknown\t{fields['subject'].strip()}\n")
    _run("ocsp", "-issuer", f"{ca}.pem", "-cert", f"{name}.pem", "-reqout", f"{name}.ocsp-req",
         "-no_nonce", cwd=directory)
    _run("ocsp", "-index", "index.txt", "-rsigner", f"{ca}.pem", "-rkey", f"{ca}.key",
         "-CA", f"{ca}.pem", "-reqin", f"{name}.ocsp-req", "-respout", f"{name}.ocsp",
         "-ndays", "1", cwd=directory)
    return directory / f"{name}.ocsp"
