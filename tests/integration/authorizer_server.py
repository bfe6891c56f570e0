#!/usr/bin/python3
"""A real external authorizer (HTTP/1.1, keep-alive) for Rampart's tests.

Each check is logged as one JSON line (method, target, headers, connection
number) when its head is read, before it is answered. The decision comes
from X-Forwarded-Uri, so one server serves every case:

  contains /deny   -> 403        contains /unauth -> 401
  contains /boom   -> 500        contains /slow   -> waits 2 s, then 200
  anything else    -> 200 with X-User-Plan: gold and X-Authz-Subject: <x-auth-subject or ->
  and, on any answer: /nostore adds Cache-Control: no-store, /maxage1 Cache-Control: max-age=1

Usage: authorizer_server.py --port 0 --log FILE. Prints "PORT <n>" once listening.
"""
import argparse
import itertools
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
CONNECTIONS = itertools.count(1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.conn_id = next(CONNECTIONS)

    def log_message(self, *args):
        pass

    def do_GET(self):
        record = {"method": self.command, "target": self.path, "conn": self.conn_id,
                  "headers": [[n, v] for n, v in self.headers.items()]}
        with LOCK, open(self.server.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        uri = self.headers.get("X-Forwarded-Uri", "")
        body = b"no"
        if "/slow" in uri:
            time.sleep(2)
        if "/deny" in uri:
            status = 403
        elif "/unauth" in uri:
            status = 401
        elif "/boom" in uri:
            status = 500
        else:
            status, body = 200, b"ok"
        self.send_response(status)
        if status == 200:
            self.send_header("X-User-Plan", "gold")
            self.send_header("X-Authz-Subject", self.headers.get("x-auth-subject", "-"))
            self.send_header("X-Not-Copied", "1")
        if "/nostore" in uri:
            self.send_header("Cache-Control", "no-store")
        if "/maxage1" in uri:
            self.send_header("Cache-Control", "private, max-age=1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.log_path = args.log
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
