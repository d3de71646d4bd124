"""`compat --docker` leaves no container behind when it stops the load check (its deadline, Ctrl-C).

docker cannot run here, so `docker` is a stand-in on PATH that keeps the part of the CLI's contract this relies
on: `run --name NAME` starts a container that outlives the client (a process in a session of its own, as a
container lives in the daemon), and `rm --force NAME` stops and removes it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.compat.load import in_docker
from generator.errors import EnvironmentProblem
from generator.util.environ import scoped_environ

STAND_IN = f"""#!{sys.executable}
import os, subprocess, sys, time
from pathlib import Path
state = Path(os.environ["FAKE_DOCKER_STATE"])
args = sys.argv[1:]
if args[0] == "version":
    print("27.3.1")
elif args[0] == "run":
    name = args[args.index("--name") + 1]
    container = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    (state / name).write_text(str(container.pid))
    time.sleep(300)  # attached to a probe that never ends
elif args[0] == "rm" and args[1] == "--force":
    held = state / args[2]
    if not held.exists():
        sys.exit(f"Error response from daemon: No such container: {{args[2]}}")
    os.kill(int(held.read_text()), 9)
    held.rename(held.with_suffix(".removed"))
    print(args[2])
"""


@pytest.fixture
def docker(tmp_path: Path) -> Iterator[Path]:
    """The stand-in first on PATH; yields the directory of its containers: a file holding each one's pid, named
    NAME while it runs and NAME.removed once `rm --force` stopped it."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "docker").write_text(STAND_IN)
    (tmp_path / "bin" / "docker").chmod(0o755)
    state = tmp_path / "containers"
    state.mkdir()
    path = f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"
    with scoped_environ({"PATH": path, "FAKE_DOCKER_STATE": str(state)}):
        try:
            yield state
        finally:
            for held in state.iterdir():  # what a failing test left running
                _kill(int(held.read_text()))


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Running, not a zombie its new parent has yet to reap (the client that started it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="tells a zombie from a running process by /proc")
def test_a_container_still_loading_at_the_deadline_is_removed_with_its_client(docker: Path, tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    began = time.monotonic()
    with pytest.raises(EnvironmentProblem) as caught:
        in_docker("seldonio/mlserver:1.7.1", tmp_path / "model", None, what="wine version 1", timeout=1)

    assert str(caught.value).startswith("wine version 1: the load check itself did not run to the end")
    (container,) = docker.iterdir()
    assert container.suffix == ".removed"  # by the name `run` gave it
    assert not _alive(int(container.read_text()))
    assert time.monotonic() - began < 30
