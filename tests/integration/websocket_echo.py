"""A tiny WebSocket echo server (RFC 6455) for the integration tests: answers
an opening handshake with 101 and echoes every text or binary message; a
close frame is answered and the connection closed. A request that is not an
upgrade gets 426. Every request head is logged as one JSON line (--log).
Prints "PORT n" when listening. Python 3 stdlib only."""
import argparse
import base64
import hashlib
import json
import socket
import struct
import threading

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return None, b""
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def read_exact(sock, n, buf):
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf[:n], buf[n:]


def read_frame(sock, buf):
    header, buf = read_exact(sock, 2, buf)
    opcode = header[0] & 0x0F
    masked = header[1] & 0x80
    length = header[1] & 0x7F
    if length == 126:
        ext, buf = read_exact(sock, 2, buf)
        length = struct.unpack("!H", ext)[0]
    elif length == 127:
        ext, buf = read_exact(sock, 8, buf)
        length = struct.unpack("!Q", ext)[0]
    mask = b""
    if masked:
        mask, buf = read_exact(sock, 4, buf)
    payload, buf = read_exact(sock, length, buf)
    if masked:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload, buf


def frame(opcode, payload, mask=None):
    """A final frame; `mask` (4 bytes) for client frames."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


class Server:
    def __init__(self, log_path):
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None
        self.lock = threading.Lock()

    def log(self, record):
        if self.log_file:
            with self.lock:
                self.log_file.write(json.dumps(record) + "\n")
                self.log_file.flush()

    def serve(self, listener):
        while True:
            sock, _ = listener.accept()
            threading.Thread(target=self.connection, args=(sock,), daemon=True).start()

    def connection(self, sock):
        try:
            head, buf = read_head(sock)
            if head is None:
                return
            lines = head.split("\r\n")
            headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
            self.log({"request": lines[0], "headers": headers})
            values = {name.lower(): value for name, value in headers}
            key = values.get("sec-websocket-key")
            if values.get("upgrade", "").lower() != "websocket" or not key:
                body = b"upgrade required\n"
                sock.sendall(b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: %d\r\n"
                             b"Connection: close\r\n\r\n%s" % (len(body), body))
                return
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").encode())
            while True:
                opcode, payload, buf = read_frame(sock, buf)
                if opcode == 0x8:  # close: answer it and end
                    sock.sendall(frame(0x8, payload[:2]))
                    return
                if opcode == 0x9:  # ping
                    sock.sendall(frame(0xA, payload))
                    continue
                sock.sendall(frame(opcode, payload))
        except (ConnectionError, OSError):
            pass
        finally:
            sock.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", default=None)
    args = parser.parse_args()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(128)
    print("PORT %d" % listener.getsockname()[1], flush=True)
    Server(args.log).serve(listener)


if __name__ == "__main__":
    main()
