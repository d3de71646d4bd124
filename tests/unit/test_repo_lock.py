"""One writer at a time; readers share; a second writer waits, then fails naming the holder."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.errors import EXIT_ENVIRONMENT, EnvironmentProblem
from generator.repo_lock import held

HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX if sys.argv[2] == "exclusive" else fcntl.LOCK_SH)
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the repository lock exclusively until the test ends."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path), "exclusive"],
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stdout.readline() == "held\n"
    yield process
    process.communicate("")


def test_a_second_writer_gives_up_after_the_timeout_naming_the_holder(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    with held(tmp_path, 0.2) as lock, pytest.raises(EnvironmentProblem) as caught:
        lock.acquire(exclusive=True)
    message = str(caught.value)
    assert caught.value.exit_code == EXIT_ENVIRONMENT
    assert f"the repository {tmp_path} is in use by process {holder.pid} ({sys.executable} -c" in message
    assert "gave up after waiting 0.2 s" in message
    assert "--lock-timeout SECONDS (KSERVE_GITOPS_LOCK_TIMEOUT)" in message


def test_a_reader_also_waits_for_a_writer(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    with held(tmp_path, 0.1) as lock, pytest.raises(EnvironmentProblem, match="is in use by"):
        lock.acquire(exclusive=False)


def test_readers_share_the_lock_and_keep_writers_out(tmp_path: Path) -> None:
    with held(tmp_path, 0.1) as first, held(tmp_path, 0.1) as second, held(tmp_path, 0.1) as writer:
        first.acquire(exclusive=False)
        second.acquire(exclusive=False)
        with pytest.raises(EnvironmentProblem):
            writer.acquire(exclusive=True)


def test_the_lock_is_free_again_once_released(tmp_path: Path) -> None:
    with held(tmp_path, 0.1) as first:
        first.acquire(exclusive=True)
    with held(tmp_path, 0.1) as second:
        second.acquire(exclusive=True)
        assert second.exclusive


def test_a_missing_repository_is_nothing_to_lock(tmp_path: Path) -> None:
    with held(tmp_path / "absent", 0.1) as lock:
        lock.acquire(exclusive=True)


def test_a_repository_yet_to_be_created_is_locked_through_the_directory_it_goes_in(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    """Two `init`s into one new directory: the second waits for the first, as in an existing repository."""
    with held(tmp_path / "new" / "platform", timeout=0.2) as lock, pytest.raises(EnvironmentProblem) as caught:
        lock.acquire(exclusive=True)
    assert f"in use by process {holder.pid}" in str(caught.value)
