#!/usr/bin/python3
"""Demo origin for `make run`: answers every request with a JSON echo of what
it received, so you can see the canonical target Rampart forwarded and the
headers it added (X-Forwarded-*, Via, x-request-id).

    python3 examples/demo_upstream.py [--host 127.0.0.1] [--port 9000]
"""
import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so Rampart can reuse connections
    server_version = "rampart-demo-upstream"

    def answer(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = self.read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        payload = {
            "message": "hello from the demo upstream",
            "method": self.command,
            "target": self.path,  # exactly as received: Rampart's canonical form
            "headers": dict(self.headers.items()),
            "body_bytes": len(body),
        }
        data = (json.dumps(payload, indent=2) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_chunked(self):
        body = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return body
            body += self.rfile.read(size)
            self.rfile.readline()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = answer

    def log_message(self, fmt, *args):
        sys.stderr.write("demo-upstream: %s\n" % (fmt % args))


def main():
    parser = argparse.ArgumentParser(description="Rampart demo upstream (JSON echo)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Echo)
    server.daemon_threads = True
    print(f"demo upstream listening on http://{args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
