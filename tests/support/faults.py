"""A loopback server that misbehaves on purpose, for the fault-injection tests of every outbound client.

Raw sockets rather than http.server, so it can do what no well-behaved server does:
never answer, drip the answer (or its status line) one byte at a time, send an
endless body, or reset the connection. Every connection is served by a daemon
thread that stops when the client hangs up, when the server is stopped, or after
`LIFETIME` seconds at the latest; each answer is recorded.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

LOOPBACK = "127.0.0.1"
LIFETIME = 60.0  # seconds any one connection is kept at most
Mode = Literal["status", "hang", "drip", "drip-headers", "huge", "reset", "not-http"]


@dataclass
class Fault:
    """What to do with every request: `mode`, and for "status" the status, headers and JSON body to answer."""

    mode: Mode
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: object = field(default_factory=lambda: {"error_code": "INTERNAL_ERROR", "message": "injected"})
    interval: float = 1.0  # seconds between two bytes of a drip
    huge: int = 32 << 20  # bytes of a "huge" body: past every test's cap, small enough to hold if read whole
    requests: list[str] = field(default_factory=list)  # "METHOD /path" of each request received
    _stop: threading.Event = field(default_factory=threading.Event)

    def serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        with conn:
            request = _read_request(conn)
            if request is None:
                return
            self.requests.append(request)
            getattr(self, "_" + self.mode.replace("-", "_"))(conn)

    def _status(self, conn: socket.socket) -> None:
        payload = (
            self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        )  # bytes: sent as they are
        head = {"Content-Type": "application/json", "Content-Length": str(len(payload)), "Connection": "close"}
        conn.sendall(_head(self.status, head | self.headers) + payload)

    def _hang(self, conn: socket.socket) -> None:
        self._stop.wait(LIFETIME)

    def _drip(self, conn: socket.socket) -> None:
        conn.sendall(_head(200, {"Content-Type": "application/json", "Content-Length": "1000000"}))
        self._trickle(conn, b" " * 1_000_000)

    def _drip_headers(self, conn: socket.socket) -> None:
        self._trickle(conn, _head(200, {"Content-Length": "2"}) + b"{}")

    def _huge(self, conn: socket.socket) -> None:
        conn.sendall(_head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
        chunk = b"%x\r\n%s\r\n" % (1 << 16, b"x" * (1 << 16))
        end = time.monotonic() + LIFETIME
        with contextlib.suppress(OSError):
            for _ in range(self.huge >> 16):
                if self._stop.is_set() or time.monotonic() > end:
                    return
                conn.sendall(chunk)
            conn.sendall(b"0\r\n\r\n")

    def _not_http(self, conn: socket.socket) -> None:
        """Another service at the port: an SSH server's greeting, and two lines more."""
        conn.sendall(b"SSH-2.0-OpenSSH_8.9\r\nProtocol mismatch.\r\n\x1b[31m\r\n")

    def _reset(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST

    def _trickle(self, conn: socket.socket, data: bytes) -> None:
        end = time.monotonic() + LIFETIME
        with contextlib.suppress(OSError):
            for byte in data:
                if self._stop.wait(self.interval) or time.monotonic() > end:
                    return
                conn.sendall(bytes([byte]))


@contextlib.contextmanager
def faulty(fault: Fault) -> Iterator[str]:
    """Serve `fault` on a loopback port; yields the base URL. Stopping releases every connection."""
    listener = socket.create_server((LOOPBACK, 0))
    listener.settimeout(0.05)
    threads: list[threading.Thread] = []

    def accept() -> None:
        while not fault._stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=_guard, args=(fault, conn), daemon=True)
            thread.start()
            threads.append(thread)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"http://{LOOPBACK}:{listener.getsockname()[1]}"
    finally:
        fault._stop.set()
        acceptor.join(5)
        listener.close()
        for thread in threads:
            thread.join(5)


def _guard(fault: Fault, conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        fault.serve(conn)


def _read_request(conn: socket.socket) -> str | None:
    """The request line, after reading the head and a Content-Length body (enough for every client here)."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return None
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0)
    while len(rest) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        rest += piece
    method, path, _ = lines[0].split(" ", 2)
    return f"{method} {path}"


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


_REASONS = {
    200: "OK",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
