"""One writer at a time per repository; readers never overlap a writer.

The lock is an flock(2) on the repository directory itself, not on a lock
file: readers (`--check`, `validate`) then need no write access and leave no
file behind, and the directory's inode never changes, whereas models.yaml and
models.lock are replaced by rename on every write. Writers take it exclusive,
readers shared. A second process waits up to the timeout, then fails naming
the holder (read from /proc/locks where the system has it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from generator.diagnostics import Diagnostic
from generator.errors import EnvironmentProblem

DEFAULT_TIMEOUT = 5.0
TIMEOUT_ENV = "KSERVE_GITOPS_LOCK_TIMEOUT"
_POLL = 0.05


class RepoLock:
    """A held flock on the repository directory; `acquire` takes or converts it (shared ↔ exclusive)."""

    def __init__(self, root: Path, timeout: float) -> None:
        self.root = root
        self.timeout = timeout
        self.exclusive = False
        self._locked = _nearest_directory(root)  # a repository `init` is yet to create: the directory it goes in
        try:
            self._fd: int | None = os.open(self._locked, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):  # a file in its place: the command says what is wrong
            self._fd = None
        except OSError as exc:  # a loop of symbolic links, a directory this user may not read
            raise EnvironmentProblem(
                Diagnostic(
                    message=f"cannot open the repository {root}: {exc.strerror or exc}",
                    hint="give a directory this user can read, reached through no loop of symbolic links",
                )
            ) from None

    def acquire(self, *, exclusive: bool) -> None:
        if self._fd is None:
            return
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self._fd, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise self._busy() from None
                time.sleep(_POLL)
            except OSError as exc:
                raise EnvironmentProblem(
                    Diagnostic(
                        message=f"cannot lock the repository {self.root}: {exc.strerror or exc}",
                        hint="run kserve-gitops on a local filesystem that supports flock(2)",
                    )
                ) from None
            else:
                self.exclusive = exclusive
                return

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None

    def in_place(self) -> bool:
        """Whether the locked directory is still the one at its path: a repository moved or deleted while a command
        ran would have its files written to a new directory at the old path, under no lock, as if all went well."""
        if self._fd is None:
            return True
        try:
            here = os.stat(self._locked)
        except OSError:
            return False
        locked = os.fstat(self._fd)
        return (here.st_dev, here.st_ino) == (locked.st_dev, locked.st_ino)

    def _busy(self) -> EnvironmentProblem:
        names = holder_names(self._locked)
        return EnvironmentProblem(
            Diagnostic(
                message=f"the repository {self.root} is in use by {names}; gave up after waiting "
                f"{self.timeout:g} s so as not to interleave with it",
                hint=f"let it finish and run again, or wait longer with --lock-timeout SECONDS ({TIMEOUT_ENV})",
            )
        )


_HELD: dict[Path, RepoLock] = {}  # by repository, while held: `ensure_in_place` asks the one a write goes to


@contextlib.contextmanager
def held(root: Path, timeout: float) -> Iterator[RepoLock]:
    """The lock object for ROOT, released on exit whatever happens; call `acquire` to take it."""
    lock = RepoLock(root, timeout)
    _HELD[root.absolute()] = lock
    try:
        yield lock
    finally:
        _HELD.pop(root.absolute(), None)
        lock.close()


def ensure_in_place(root: Path) -> None:
    """Refuse to write to ROOT when the directory this process locked for it was moved or deleted since."""
    lock = _HELD.get(root.absolute())
    if lock is not None and not lock.in_place():
        raise EnvironmentProblem.simple(
            f"the repository {root} was moved or deleted while kserve-gitops ran; nothing was written",
            hint="run the command again in the repository where it is now",
        )


def _nearest_directory(root: Path) -> Path:
    """`root`, or when it does not exist yet, the nearest directory above it that does: two runs of `init` into one
    new directory are one after the other as two runs in one repository are."""
    path = root.absolute()
    while not path.exists() and not path.is_symlink() and path != path.parent:
        path = path.parent
    return path


def holders(root: Path) -> list[int]:
    """Processes holding a lock on ROOT's inode, from Linux's /proc/locks (elsewhere: none known)."""
    info = os.stat(root)
    wanted = (os.major(info.st_dev), os.minor(info.st_dev), info.st_ino)
    found: list[int] = []
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if "->" in fields or len(fields) < 6:  # "->" marks a waiter, not a holder
            continue
        major, minor, inode = fields[5].split(":")
        pid = int(fields[4])
        if (int(major, 16), int(minor, 16), int(inode)) == wanted and pid != os.getpid() and pid not in found:
            found.append(pid)
    return found


def holder_names(path: Path) -> str:
    """The processes holding a lock on PATH, each with its command line, for a message; "another process" when none
    can be named."""
    return ", ".join(_describe(pid) for pid in holders(path)) or "another process"


def _describe(pid: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return f"process {pid}"
    return f"process {pid} ({command})" if command else f"process {pid}"
