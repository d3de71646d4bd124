"""`webhook serve` lets go of a client that connects and sends nothing, or half a request, at the request deadline:
such clients cannot use up the service's sockets, and a request that arrives whole is answered as before."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devtools.stack import free_port
from tests.support.paths import REPO_ROOT
from tests.unit.webhook.support import REPOSITORY

LOOPBACK = "127.0.0.1"
SAFETY = 30.0  # seconds: far beyond the 2 s deadline the service is given here


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """`kserve-gitops webhook serve --request-deadline 2`, serving /mlflow; yields its host and port."""
    with serving(tmp_path, "--request-deadline", "2") as (address, _):
        yield address


@contextlib.contextmanager
def serving(tmp_path: Path, *options: str) -> Iterator[tuple[tuple[str, int], list[str]]]:
    """`kserve-gitops webhook serve OPTIONS`, serving /mlflow; yields its host and port, and its log lines so far
    (complete once the block is left)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "GITHUB_", "KSERVE_GITOPS_"))}
    env |= {
        "GITHUB_TOKEN": "ghp_not-a-real-token",
        "GITHUB_REPOSITORY": REPOSITORY,
        "KSERVE_GITOPS_MLFLOW_WEBHOOK_SECRET": "mlflow-secret-value",
        "PYTHONPATH": str(REPO_ROOT),
    }
    argv = [sys.executable, "-m", "generator", "webhook", "serve", "--host", LOOPBACK, "--port", str(port)]
    argv += ["--github-api-url", "http://127.0.0.1:9", "--state-dir", str(tmp_path), *options]
    lines: list[str] = []
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        try:
            deadline = time.monotonic() + SAFETY
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    requests.get(f"http://{LOOPBACK}:{port}/healthz", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            yield (LOOPBACK, port), lines
        finally:
            proc.send_signal(signal.SIGTERM)
            lines += proc.communicate(timeout=SAFETY)[0].splitlines()


def connected(address: tuple[str, int], sent: bytes = b"") -> socket.socket:
    conn = socket.create_connection(address, timeout=SAFETY)
    conn.sendall(sent)
    return conn


def status_of_answer(conn: socket.socket) -> int:
    """The status of one whole answer read from the connection, however the network splits it."""
    response = http.client.HTTPResponse(conn)
    response.begin()
    response.read()
    return response.status


def closed_by_the_server(conn: socket.socket) -> bool:
    with conn:
        try:
            return conn.recv(1024) == b""  # the server's close; an answer would be bytes
        except ConnectionResetError:
            return True


def test_connections_that_send_nothing_or_half_a_request_are_closed_at_the_deadline(
    service: tuple[str, int],
) -> None:
    silent = connected(service)
    half_head = connected(service, b"POST /mlflow HTTP/1.1\r\nHost: webhook\r\nContent-Type: appl")
    half_body = connected(service, b"POST /mlflow HTTP/1.1\r\nHost: webhook\r\nContent-Length: 100\r\n\r\n{")
    after_an_answer = connected(service, b"GET /healthz HTTP/1.1\r\nHost: webhook\r\n\r\n")
    first = status_of_answer(after_an_answer)
    after_an_answer.sendall(b"GET /healthz HTTP/1.1\r\n")  # keep-alive: half of a second request, then nothing

    assert first == 200
    assert [closed_by_the_server(c) for c in (silent, half_head, half_body, after_an_answer)] == [True] * 4


def test_a_request_that_arrives_whole_within_the_deadline_is_answered(service: tuple[str, int]) -> None:
    with connected(service, b"GET /healthz HTTP/1.1\r\n") as slow:
        time.sleep(0.2)
        slow.sendall(b"Host: webhook\r\n\r\n")
        status = status_of_answer(slow)

    assert status == 200


def test_a_client_that_does_not_read_its_answers_is_let_go_at_the_deadline(service: tuple[str, int]) -> None:
    """Slowloris the other way: requests pipelined whole, their answers never read. The answer then waits for the
    client's window to open, no request is outstanding, and without a deadline on it the socket is held forever."""
    conn = socket.socket()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    conn.connect(service)
    conn.setblocking(False)
    requests_ = b"GET /healthz HTTP/1.1\r\nHost: webhook\r\n\r\n" * 1000
    blocked_since = time.monotonic()
    give_up = blocked_since + SAFETY
    while time.monotonic() - blocked_since < 1.0 and time.monotonic() < give_up:  # until both ways are full
        try:
            conn.send(requests_)
            blocked_since = time.monotonic()
        except BlockingIOError:
            time.sleep(0.05)

    assert _dropped(conn)  # 2 s after the answers stop moving


def _dropped(conn: socket.socket) -> bool:
    """Whether the service drops the (non-blocking) connection within SAFETY seconds: a byte sent then is refused."""
    give_up = time.monotonic() + SAFETY
    with conn:
        while time.monotonic() < give_up:
            try:
                conn.send(b"G")
            except BlockingIOError:
                pass
            except (ConnectionResetError, BrokenPipeError):
                return True
            time.sleep(0.1)
    return False


def _unsent(server_port: int, client_port: int) -> int:
    """Bytes the kernel holds for the service's end of one loopback connection, not yet taken by the client."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{server_port:04X}") and fields[2].endswith(f":{client_port:04X}"):
            return int(fields[4].split(":")[0], 16)
    return -1


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the kernel's send queue from /proc")
def test_a_client_that_has_not_taken_its_last_answer_is_let_go_at_the_deadline(service: tuple[str, int]) -> None:
    """As above, but the answers not taken fit in the service's buffer, so writing never pauses: every request is
    answered and none is outstanding, and closing the connection would wait for those answers to leave first."""
    conn = socket.socket()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    conn.connect(service)
    batch = b"GET /healthz HTTP/1.1\r\nHost: webhook\r\n\r\n" * 200  # some 25 kB of answers, a third of the buffer
    queued = _unsent(service[1], conn.getsockname()[1])
    give_up = time.monotonic() + SAFETY
    while time.monotonic() < give_up:  # until the kernel takes no more: the last batch's answers stay with the service
        conn.sendall(batch)
        time.sleep(0.15)
        before, queued = queued, _unsent(service[1], conn.getsockname()[1])
        if queued - before < 20_000:
            break

    conn.setblocking(False)
    assert _dropped(conn)


def test_connections_beyond_max_connections_are_answered_503_and_closed_and_logged_once(tmp_path: Path) -> None:
    """A flood of connections, each within its deadline, is held to `--max-connections`: the ones beyond are told to
    come back (MLflow retries a 503) without being read, and the service answers again once some have gone."""
    with serving(tmp_path, "--request-deadline", "30", "--max-connections", "3") as (address, log):
        held = [connected(address) for _ in range(3)]
        beyond = [connected(address, b"GET /healthz HTTP/1.1\r\nHost: webhook\r\n\r\n") for _ in range(5)]
        refused = [status_of_answer(conn) for conn in beyond]
        closed = [closed_by_the_server(conn) for conn in beyond]
        held.pop().close()
        time.sleep(0.2)  # the service sees it gone
        with connected(address, b"GET /healthz HTTP/1.1\r\nHost: webhook\r\n\r\n") as again:
            answered = status_of_answer(again)
        for conn in held:
            conn.close()

    assert refused == [503] * 5
    assert closed == [True] * 5
    assert answered == 200
    logged = [json.loads(line) for line in log if "refused-connection" in line]
    assert [(line["level"], line["message"]) for line in logged] == [
        ("warning", "refused 1 connection(s): 3 already open")
    ]
