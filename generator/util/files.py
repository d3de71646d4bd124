"""Reading a file that anyone may have put in a repository: only a regular file is read, and quickly; creating one
that was not there.

A FIFO, a device or a socket where a file is expected would block `open()`, never end, or not open at all, so
the file is opened without blocking and refused unless it is a regular file (checked on the open descriptor, so
it cannot be swapped between the check and the read; a socket, which `open()` refuses, is refused alike). A run
reads thousands of small files (the write plan, the run record, `validate`): a few system calls each, without
Python's file objects, which cost more than the reads.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

MAX_YAML_BYTES = 16 * 1024 * 1024  # the largest YAML file read (yamlio); larger ones are refused unread


class Refused(OSError):
    """A file that is not read at all."""


class NotRegularFile(Refused):
    """Something other than a regular file or a directory (a FIFO, a device, a socket)."""


class TooLarge(Refused):
    """A regular file larger than the reader's limit."""


class SymbolicLink(Refused):
    """A link where a file of the repository is read without following links: it could point anywhere on the
    machine (a pull request can commit `models.lock -> /etc/shadow`), and what is read may be quoted back."""


def read_regular(path: str | Path, limit: int | None = None, *, follow: bool = True) -> bytes:
    """The bytes of the regular file at `path`, a link at its end followed unless `follow` is false (then
    SymbolicLink). Raises FileNotFoundError or NotADirectoryError when nothing is there, IsADirectoryError for a
    directory, NotRegularFile for anything else, and TooLarge past `limit` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW))
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.ENODEV):  # open(2) refuses a socket, and a device with no driver
            raise NotRegularFile("not a regular file (a FIFO, device or socket)") from None
        if exc.errno == errno.ELOOP and not follow:
            raise SymbolicLink(
                "a symbolic link: kserve-gitops reads the repository's own files only as regular files in it"
            ) from None
        raise
    try:
        info = os.fstat(fd)
        mode, size = info.st_mode, info.st_size
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(mode):
            raise NotRegularFile("not a regular file (a FIFO, device or socket)")
        if limit is not None and size > limit:
            raise TooLarge(f"larger than {limit} bytes")
        data = os.read(fd, size + 1)  # one read, unless it grew since fstat (or is past what one read returns)
        if len(data) == size:
            return data
        chunks, total = [data], len(data)
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            total += len(chunk)
            if limit is not None and total > limit:
                raise TooLarge(f"larger than {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def create_new(path: str | Path, content: bytes, mode: int = 0o644) -> None:
    """A new file at `path` holding `content`, with exactly `mode` whatever the umask; raises FileExistsError when
    anything is there, a link included (never written through). System calls, no file object: thousands of files
    are created in a run (staged for kustomize, staged for the write). A write that fails (a full disk) removes the
    file it created: none is left holding part of its content."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)
        written = memoryview(content)
        while written:
            written = written[os.write(fd, written) :]
    except BaseException:
        with contextlib.suppress(OSError):
            if os.path.samestat(os.fstat(fd), os.lstat(path)):  # still the file created here
                os.unlink(path)
        raise
    finally:
        os.close(fd)
