#!/usr/bin/python3
"""A real HTTP/1.1 origin for Rampart's integration tests.

Strict, raw-socket parsing (no http.server): what this server logs is exactly
what arrived on the wire. One thread per connection; it counts accepted
connections and logs each request head as one JSON line, at the moment the
head is read (before the body), so a test can see what reached the upstream
even when the request never completes.

Usage: upstream_server.py --port 0 --name NAME [--log FILE] [--host 127.0.0.1] [--delay-ms N]
                          [--health-path /health] [--health-status N] [--fail-status N]
Prints "PORT <n>" on stdout once listening.

--delay-ms N (default 0) delays every answer by N ms after the body is read,
as a slow application would; /_upstream/delay changes it while running.

Endpoints (the path, before '?'):
  default          JSON echo: method, target, version, headers, body_len,
                   body_sha256 (null with ?sha=0), body_crc32, name, conn
  /slow?ms=N       reads the body, waits N ms, then echoes
  /status/N        answers status N (no body for 1xx/204/304)
  /chunked?n=K     chunked response: K chunks "chunk-<i>\\n" (&trailer=V: then
                   the trailer field "X-Checksum: V")
  /download?bytes=N[&chunked=1]  N bytes of pattern_block() data
  /unframed?bytes=N  N bytes with neither Content-Length nor chunked: the
                   body ends with the connection (RFC 9112 6.3, last rule)
  /close           reads the request and closes without a response
  /truncate        answers a head promising 100 bytes, sends 10, and closes
  /garbage         answers bytes that are not HTTP, then closes
Control (for tests talking to the upstream directly; never delayed, never
counted as in flight):
  /_upstream/delay?ms=N   sets the delay of every other request to N ms
  /_upstream/stats        JSON {in_flight, max_in_flight, served}: requests being
                          served now, the most at once, and those completed;
                          ?reset=1 first resets max_in_flight to in_flight now
  /_control?health_status=N&fail_status=N&retry_after=V
                   changes the failure modes below at run time (0 turns one
                   off; retry_after=none too) and answers 204; not
                   logged, so a test's request log holds only the traffic it
                   is about
Any request body is read (Content-Length or chunked) and counted.
"Expect: 100-continue" is answered with "100 Continue" before the body is read.

Failure modes (off by default, so the endpoints above behave as always):
  --health-status N  the health path (--health-path, default /health) answers
                     status N with a small JSON body instead of the echo
  --fail-status N    every other request (not /_control, not the health
                     path) answers status N with a small JSON body
  retry_after (only through /_control) adds "Retry-After: V" to those answers
Each logged record says which status the mode answered ("answered").
"""
import argparse
import hashlib
import json
import socket
import ssl
import struct
import sys
import threading
import time
import zlib
from urllib.parse import parse_qs

BLOCK = 1 << 20
_BASE = bytes(range(256)) * (BLOCK // 256)
MAX_HEAD = 256 * 1024


def pattern_block(index):
    """Block `index` (1 MiB) of the deterministic download/upload pattern.

    Each block starts with its own index, so a lost, repeated or reordered
    block changes the CRC of the stream."""
    return struct.pack("<Q", index) + _BASE[8:]


def pattern_crc32(total):
    """CRC-32 of the first `total` bytes of the pattern."""
    crc, index, left = 0, 0, total
    while left > 0:
        block = pattern_block(index)
        n = min(left, BLOCK)
        crc = zlib.crc32(memoryview(block)[:n], crc)
        left -= n
        index += 1
    return crc


class BadRequest(Exception):
    pass


class PeerClosed(Exception):
    pass


class Reader:
    """Buffered reads from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.scratch = bytearray(BLOCK)

    def _fill(self):
        n = self.sock.recv_into(self.scratch)
        if n == 0:
            raise PeerClosed()
        self.buf += memoryview(self.scratch)[:n]

    def read_head(self):
        """Bytes up to and including the blank line; None on clean EOF before any byte."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(self.buf[: end + 4])
                del self.buf[: end + 4]
                return head
            if len(self.buf) > MAX_HEAD:
                raise BadRequest("head too large")
            try:
                self._fill()
            except PeerClosed:
                if not self.buf:
                    return None
                raise

    def read_line(self, limit=4096):
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buf[:end])
                del self.buf[: end + 2]
                return line
            if len(self.buf) > limit:
                raise BadRequest("line too long")
            self._fill()

    def read_exact_into(self, count, consume):
        """Reads `count` bytes, handing each piece to consume(memoryview)."""
        left = count
        if self.buf:
            n = min(left, len(self.buf))
            consume(bytes(self.buf[:n]))
            del self.buf[:n]
            left -= n
        view = memoryview(self.scratch)
        while left > 0:
            n = self.sock.recv_into(view[: min(left, BLOCK)])
            if n == 0:
                raise PeerClosed()
            consume(view[:n])
            left -= n


class Body:
    def __init__(self, sha):
        self.length = 0
        self.crc = 0
        self.sha = hashlib.sha256() if sha else None

    def __call__(self, piece):
        self.length += len(piece)
        self.crc = zlib.crc32(piece, self.crc)
        if self.sha is not None:
            self.sha.update(piece)


def parse_head(head):
    lines = head[:-4].split(b"\r\n")
    for line in lines:
        if b"\n" in line or b"\r" in line or b"\0" in line:
            raise BadRequest("bare CR/LF or NUL in head")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        raise BadRequest("bad request line")
    method, target, version = (p.decode("latin-1") for p in parts)
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise BadRequest("bad version")
    headers = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            raise BadRequest("obs-fold")
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise BadRequest("bad header line")
        headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    return method, target, version, headers


def header_values(headers, name):
    name = name.lower()
    return [v for n, v in headers if n.lower() == name]


class Server:
    def __init__(self, name, log_path, delay_ms=0, health_path="/health", health_status=0,
                 fail_status=0):
        self.name = name
        self.log_path = log_path
        self.lock = threading.Lock()
        self.accepted = 0
        self.delay_ms = delay_ms
        self.in_flight = 0
        self.max_in_flight = 0
        self.served = 0
        self.health_path = health_path
        self.health_status = health_status  # 0: the health path echoes like any other
        self.fail_status = fail_status      # 0: requests are served normally
        self.retry_after = ""               # with fail_status: a Retry-After value to send
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None
        self.tls_context = None  # set by main() with --tls-cert
        self.tls_peers = {}      # conn id -> the client certificate's CN ("" none)
        self.tls_resumed = {}    # conn id -> the TLS session was resumed

    def log(self, record):
        if self.log_file is None:
            return
        with self.lock:
            self.log_file.write(json.dumps(record) + "\n")
            self.log_file.flush()

    def serve(self, listener):
        while True:
            sock, peer = listener.accept()
            with self.lock:
                self.accepted += 1
                conn_id = self.accepted
            threading.Thread(target=self.connection, args=(sock, peer, conn_id), daemon=True).start()

    def connection(self, sock, peer, conn_id):
        sock.settimeout(300)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls_context is not None:  # --tls-cert: serve HTTPS (the handshake in this thread)
            try:
                sock = self.tls_context.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError) as error:
                self.log({"conn": conn_id, "tls_error": str(error)})
                sock.close()
                return
            self.tls_peers[conn_id] = tls_peer(sock)
            self.tls_resumed[conn_id] = sock.session_reused
        reader = Reader(sock)
        try:
            while self.one_request(sock, reader, peer, conn_id):
                pass
        except BadRequest as error:
            self.log({"conn": conn_id, "error": str(error)})
            try:
                body = b"bad request\n"
                sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                             % (len(body), body))
            except OSError:
                pass
        except (PeerClosed, OSError):
            pass
        finally:
            sock.close()

    def one_request(self, sock, reader, peer, conn_id):
        """Serves one request; returns whether the connection stays open."""
        head = reader.read_head()
        if head is None:
            return False
        method, target, version, headers = parse_head(head)
        path, _, query_text = target.partition("?")
        query = {k: v[-1] for k, v in parse_qs(query_text).items()}
        if path == "/_control":
            return self.failure_control(sock, query)
        if path.startswith("/_upstream/"):
            return self.control(sock, path, query)
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self.serve_request(sock, reader, peer, conn_id, method, target, version, headers,
                                      path, query)
        finally:
            with self.lock:
                self.in_flight -= 1
                self.served += 1

    def control(self, sock, path, query):
        with self.lock:
            if path == "/_upstream/delay":
                self.delay_ms = int(query.get("ms", "0"))
            if query.get("reset") == "1":
                self.max_in_flight = self.in_flight
            state = {"in_flight": self.in_flight, "max_in_flight": self.max_in_flight,
                     "served": self.served, "delay_ms": self.delay_ms}
        payload = (json.dumps(state) + "\n").encode()
        self.send_head(sock, 200, [("Content-Type", "application/json"),
                                   ("Content-Length", str(len(payload)))])
        sock.sendall(payload)
        return True

    def serve_request(self, sock, reader, peer, conn_id, method, target, version, headers, path, query):
        # The status a failure mode answers with, decided (and logged) as the head arrives.
        with self.lock:
            if path == self.health_path:
                forced = self.health_status
            else:
                forced = self.fail_status
            retry_after = self.retry_after
        record = {"conn": conn_id, "peer": peer[0], "method": method, "target": target,
                  "version": version, "headers": headers, "time": time.time()}
        if forced:
            record["answered"] = forced
        self.log(record)

        connection_tokens = {t.strip().lower() for v in header_values(headers, "connection") for t in v.split(",")}
        if version == "HTTP/1.1":
            keep_alive = "close" not in connection_tokens
        else:
            keep_alive = "keep-alive" in connection_tokens

        te = header_values(headers, "transfer-encoding")
        cl = header_values(headers, "content-length")
        if te and cl:
            raise BadRequest("both Transfer-Encoding and Content-Length")
        chunked = False
        length = 0
        if te:
            codings = [t.strip().lower() for v in te for t in v.split(",")]
            if codings != ["chunked"]:
                raise BadRequest("unsupported transfer coding")
            chunked = True
        elif cl:
            if len(cl) != 1 or not cl[0].isdigit():
                raise BadRequest("bad Content-Length")
            length = int(cl[0])

        expects = [v.lower() for v in header_values(headers, "expect")]
        if "100-continue" in expects and version == "HTTP/1.1" and (chunked or length > 0):
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

        body = Body(query.get("sha", "1") != "0")
        trailers = []
        if chunked:
            self.read_chunked(reader, body, trailers)
        else:
            reader.read_exact_into(length, body)

        if self.delay_ms > 0:
            time.sleep(self.delay_ms / 1000.0)
        base = [("x-upstream-name", self.name), ("x-upstream-connections", str(self.accepted)),
                ("x-upstream-conn-id", str(conn_id))]
        if not keep_alive:
            base.append(("Connection", "close"))

        if forced:
            payload = (json.dumps({"name": self.name, "status": forced}) + "\n").encode()
            extra = [("Retry-After", retry_after)] if retry_after and path != self.health_path else []
            self.send_head(sock, forced, base + extra + [("Content-Type", "application/json"),
                                                         ("Content-Length", str(len(payload)))])
            if method != "HEAD":
                sock.sendall(payload)
            return keep_alive
        if path == "/close":
            return False
        if path == "/truncate":  # a response head and part of its body, then the connection drops
            self.send_head(sock, 200, base + [("Content-Length", "100")])
            sock.sendall(b"x" * 10)
            return False
        if path == "/garbage":
            sock.sendall(b"\x00\x01\x02 this is not HTTP \xff\xfe\r\n\r\n")
            return False
        if path == "/slow":
            time.sleep(int(query.get("ms", "1000")) / 1000.0)
        if path.startswith("/status/"):
            status = int(path[len("/status/"):])
            if status in (204, 304) or 100 <= status < 200:
                self.send_head(sock, status, base)
                return keep_alive
        else:
            status = 200
        if path == "/chunked":
            self.send_chunked(sock, method, int(query.get("n", "3")), base, query.get("trailer"))
            return keep_alive
        if path == "/download":
            self.send_download(sock, method, int(query.get("bytes", "0")), query.get("chunked") == "1", base)
            return keep_alive
        if path == "/unframed":
            self.send_head(sock, 200, base + [("Content-Type", "application/octet-stream")])
            if method != "HEAD":
                sock.sendall(b"u" * int(query.get("bytes", "0")))
            return False

        echo = {"method": method, "target": target, "version": version, "headers": headers,
                "body_len": body.length, "body_sha256": body.sha.hexdigest() if body.sha else None,
                "body_crc32": body.crc, "name": self.name, "conn": conn_id, "peer": peer[0],
                "trailers": trailers}
        if conn_id in self.tls_peers:
            echo["tls_client_cn"] = self.tls_peers[conn_id]
            echo["tls_resumed"] = self.tls_resumed.get(conn_id, False)
        payload = (json.dumps(echo) + "\n").encode()
        self.send_head(sock, status, base + [("Content-Type", "application/json"),
                                             ("Content-Length", str(len(payload)))])
        if method != "HEAD":
            sock.sendall(payload)
        return keep_alive

    def failure_control(self, sock, query):
        """/_control: sets the failure modes; answers 204 and closes."""
        with self.lock:
            if "health_status" in query:
                self.health_status = int(query["health_status"])
            if "fail_status" in query:
                self.fail_status = int(query["fail_status"])
            if "retry_after" in query:
                value = query["retry_after"]
                self.retry_after = "" if value == "none" else value
        sock.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        return False

    @staticmethod
    def read_chunked(reader, body, trailers=None):
        while True:
            line = reader.read_line()
            size_text = line.split(b";", 1)[0]
            if not size_text or len(size_text) > 16 or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
                raise BadRequest("bad chunk size")
            size = int(size_text, 16)
            if size == 0:
                while (line := reader.read_line()) != b"":  # trailer fields
                    if trailers is not None:
                        name, _, value = line.decode("latin-1").partition(":")
                        trailers.append([name.strip().lower(), value.strip()])
                return
            reader.read_exact_into(size, body)
            if reader.read_line() != b"":
                raise BadRequest("chunk not followed by CRLF")

    @staticmethod
    def send_head(sock, status, headers):
        lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status"))]
        lines += ["%s: %s" % (n, v) for n, v in headers]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def send_chunked(self, sock, method, count, base, trailer=None):
        self.send_head(sock, 200, base + [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")])
        if method == "HEAD":
            return
        for i in range(count):
            data = b"chunk-%d\n" % i
            sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
        if trailer is not None:  # one trailer field: X-Checksum: <trailer>
            sock.sendall(b"0\r\nX-Checksum: %s\r\n\r\n" % trailer.encode())
            return
        sock.sendall(b"0\r\n\r\n")

    def send_download(self, sock, method, total, chunked, base):
        framing = ("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(total))
        self.send_head(sock, 200, base + [("Content-Type", "application/octet-stream"), framing])
        if method == "HEAD":
            return
        index, left = 0, total
        while left > 0:
            n = min(left, BLOCK)
            block = pattern_block(index) if n == BLOCK else pattern_block(index)[:n]
            if chunked:
                sock.sendall(b"%x\r\n" % n)
            sock.sendall(block)
            if chunked:
                sock.sendall(b"\r\n")
            left -= n
            index += 1
        if chunked:
            sock.sendall(b"0\r\n\r\n")


def tls_peer(sock):
    """The CN of a TLS client's certificate, or "" without one."""
    cert = sock.getpeercert()
    if not cert:
        return ""
    subject = dict(x[0] for x in cert.get("subject", ()))
    return subject.get("commonName", "")


REASONS = {100: "Continue", 200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently",
           304: "Not Modified", 400: "Bad Request", 404: "Not Found", 418: "I'm a teapot",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--name", default="upstream")
    parser.add_argument("--log", default=None)
    parser.add_argument("--delay-ms", type=int, default=0)
    parser.add_argument("--health-path", default="/health")
    parser.add_argument("--health-status", type=int, default=0)
    parser.add_argument("--fail-status", type=int, default=0)
    parser.add_argument("--tls-cert", default=None, help="serve TLS with this PEM chain")
    parser.add_argument("--tls-key", default=None)
    parser.add_argument("--tls-client-ca", default=None, help="require client certificates from this CA")
    args = parser.parse_args()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(4096)  # a burst of 600 proxied connections must not overflow it
    server = Server(args.name, args.log, args.delay_ms, args.health_path, args.health_status,
                    args.fail_status)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_client_ca:
            context.load_verify_locations(args.tls_client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
        server.tls_context = context
    print("PORT %d" % listener.getsockname()[1], flush=True)
    try:
        server.serve(listener)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
