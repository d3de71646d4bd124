"""A real HTTP server on loopback that records what it receives and answers what the test sets."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeServer:
    url: str
    status: int = 200
    answer: bytes = b"{}"
    seen: list[Recorded] = field(default_factory=list)

    def answer_json(self, value: Any, status: int = 200) -> None:
        self.status, self.answer = status, json.dumps(value).encode()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    state = FakeServer("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.seen.append(Recorded(self.path, dict(self.headers), json.loads(self.rfile.read(length))))
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.answer)))
            self.end_headers()
            self.wfile.write(state.answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest shows what matters."""

    with serving(Handler) as state.url:
        yield state


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` on a loopback port until the block ends; yields the base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


class RecordingArtifacts(BaseHTTPRequestHandler):
    """An artifact server that records the headers of every request (`seen`, shared: clear it first), and has
    nothing."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        RecordingArtifacts.seen.append(dict(self.headers))
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""
