"""The test stack's servers: ports the kernel never hands to an outgoing connection, and why one did not start."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devtools.stack import LOOPBACK, StackError, _outside_ephemeral, _share, free_port, wait_http


def test_a_free_port_lies_outside_the_kernels_ephemeral_range_and_can_be_bound() -> None:
    low, high = (int(f) for f in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    ports = [free_port() for _ in range(200)]
    assert all(not low <= port <= high for port in ports), sorted(ports)
    assert len(set(ports)) == len(ports), "a port is handed out once: its server may not have bound it yet"
    with socket.socket() as sock:
        sock.bind((LOOPBACK, ports[0]))


@pytest.mark.parametrize(
    ("environ", "share"),
    [
        ({}, range(20000, 32768)),
        ({"PYTEST_XDIST_WORKER": "gw0", "PYTEST_XDIST_WORKER_COUNT": "2"}, range(20000, 32768, 2)),
        ({"PYTEST_XDIST_WORKER": "gw1", "PYTEST_XDIST_WORKER_COUNT": "2"}, range(20001, 32768, 2)),
        ({"PYTEST_XDIST_WORKER": "gw4", "PYTEST_XDIST_WORKER_COUNT": "3"}, range(20001, 32768, 3)),
        ({"PYTEST_XDIST_WORKER": "gw0", "PYTEST_XDIST_WORKER_COUNT": "1"}, range(20000, 32768)),
        ({"PYTEST_XDIST_WORKER": "master", "PYTEST_XDIST_WORKER_COUNT": "2"}, range(20000, 32768)),
    ],
)
def test_each_test_worker_draws_from_a_share_of_its_own(environ: dict[str, str], share: range) -> None:
    assert _share(range(20000, 32768), environ) == share


@pytest.mark.parametrize(
    ("ranges", "stretch"),
    [
        ("32768\t60999\n", range(20000, 32768)),
        ("40000 50000", range(20000, 40000)),
        ("20500 50000", range(50001, 65536)),
        ("1024 65535", range(20000, 1024)),
        ("not numbers", range(20000, 32768)),
    ],
)
def test_the_stretch_is_the_larger_side_of_the_ephemeral_range(tmp_path: Path, ranges: str, stretch: range) -> None:
    (tmp_path / "ip_local_port_range").write_text(ranges)
    assert _outside_ephemeral(tmp_path / "ip_local_port_range") == stretch


def test_a_server_that_does_not_answer_is_reported_with_the_os_error_it_logged_before_its_last_lines(
    tmp_path: Path,
) -> None:
    log = tmp_path / "server.log"
    log.write_text(
        "[Errno 98] error while attempting to bind on address ('127.0.0.1', 30000): address already in use\n"
        + "".join(f"warning {n}\n" for n in range(40))
    )
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(StackError) as raised:
            wait_http(f"http://{LOOPBACK}:{free_port()}/ready", sleeper, log, time.monotonic() + 0.3)
    finally:
        sleeper.kill()
        sleeper.wait()
    lines = str(raised.value).splitlines()
    assert lines[1].startswith("[Errno 98] error while attempting to bind")
    assert lines[2:4] == ["[...]", "warning 10"]
    assert lines[-1] == "warning 39"
