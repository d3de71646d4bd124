"""Processes that write a repository, so tests can interrupt, kill and race real ones.

`python -m tests.support.writer ROOT COUNT LABEL` applies, through the real
`generator.write` and error handler, a plan of COUNT generated files spread over
seven environments whose content says LABEL (and prunes the rest), exiting
with the code the CLI would.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from generator.error_handler import Invocation, run
from generator.generated import GENERATED_MARK
from generator.repo_lock import holders
from generator.write import STATE_DIR, apply, plan
from tests.support.paths import REPO_ROOT

Tree = dict[str, bytes]


def desired(count: int, label: str) -> Tree:
    return {
        f"environments/e{i % 7}/f{i:05d}.yaml": f"{GENERATED_MARK}\nfile: {i}\nlabel: {label}\n".encode()
        for i in range(count)
    }


def tree(root: Path) -> Tree:
    """Every file under root, state directory included: strays must show up as differences."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class Process(subprocess.Popen[str]):
    """A child whose output goes to temporary files, not pipes: a child printing thousands of lines while
    the test waits on something else must never block on a full pipe (holding the repository lock)."""

    def __init__(self, argv: list[str]) -> None:
        # Closed by output(), which every test calls: a context manager cannot outlive __init__.
        self._out = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self._err = tempfile.TemporaryFile("w+")  # noqa: SIM115
        super().__init__(argv, cwd=REPO_ROOT, text=True, stdout=self._out, stderr=self._err)

    def output(self, timeout: float = 900) -> tuple[str, str]:
        """Wait for the end; (stdout, stderr)."""
        self.wait(timeout)
        with self._out, self._err:
            self._out.seek(0)
            self._err.seek(0)
            return self._out.read(), self._err.read()


def kserve_gitops(*args: str) -> Process:
    """The CLI as a separate process, importing this checkout."""
    return Process([sys.executable, "-m", "generator", *args])


def writer(root: Path, count: int, label: str) -> Process:
    return Process([sys.executable, "-m", "tests.support.writer", str(root), str(count), label])


def wait_until_swapped(root: Path, index: int, process: subprocess.Popen[str], deadline: float = 900) -> bool:
    """Poll until the swap under way has moved file INDEX's old version aside (files are swapped in order,
    so with INDEX+1 updates first in the plan, INDEX+1 files have moved); False if the process ended first.
    Cheap polls (one stat), so the poller does not slow the process it watches."""
    state = root / STATE_DIR
    stop = time.monotonic() + deadline
    while process.poll() is None and time.monotonic() < stop:
        try:
            runs = [p for p in state.iterdir() if p.name.startswith("run-")] if (state / "journal").exists() else []
        except FileNotFoundError:  # the write ended between the two looks
            runs = []
        if not runs:
            time.sleep(0.005)
            continue
        while process.poll() is None and not (runs[0] / "old" / str(index)).exists():
            time.sleep(0.0002)
        return process.poll() is None
    return False


def wait_for_lock(root: Path, process: subprocess.Popen[str]) -> None:
    """Until PROCESS holds the repository lock (or has ended)."""
    while process.poll() is None and process.pid not in holders(root):
        time.sleep(0.002)


def main() -> int:
    root, count, label = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

    def job() -> int:
        apply(root, plan(root, desired(count, label), ["environments"]))
        return 0

    return run(job, Invocation())


if __name__ == "__main__":
    sys.exit(main())
