"""Reading what anyone may have put in a repository: a regular file only, never waiting on anything else."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from generator.util.files import NotRegularFile, SymbolicLink, TooLarge, read_regular


def test_a_regular_file_is_read_whole_through_a_link(tmp_path: Path) -> None:
    content = bytes(range(256)) * 1000
    (tmp_path / "file").write_bytes(content)
    (tmp_path / "link").symlink_to("file")
    assert read_regular(tmp_path / "link") == content
    assert read_regular(str(tmp_path / "file"), limit=len(content)) == content


def test_a_fifo_is_refused_at_once_instead_of_waiting_for_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(NotRegularFile):
        read_regular(tmp_path / "fifo")


def test_nothing_a_directory_and_a_file_past_the_limit_each_say_what_they_are(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 11)
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "missing")
    with pytest.raises(NotADirectoryError):
        read_regular(tmp_path / "big" / "below")
    with pytest.raises(IsADirectoryError):
        read_regular(tmp_path)
    with pytest.raises(TooLarge):
        read_regular(tmp_path / "big", limit=10)


def test_a_device_that_never_ends_is_refused_unread() -> None:
    """Refused for what it is, before a byte is read: were it read, the limit would stop it with TooLarge (and
    without one, the test would never end)."""
    with pytest.raises(NotRegularFile):
        read_regular("/dev/zero", limit=2**20)


def test_a_file_whose_size_says_less_than_it_holds_is_read_to_its_end() -> None:
    """/proc files say 0 bytes and hold more: the size only decides how much the first read asks for."""
    content = read_regular("/proc/self/status")
    assert content.startswith(b"Name:")
    assert content.endswith(b"\n")
    with pytest.raises(TooLarge):
        read_regular("/proc/self/status", limit=10)


def test_a_socket_which_cannot_be_opened_is_refused_like_a_fifo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a socket's path is limited to ~100 bytes: bound by a relative one
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind("socket")
        with pytest.raises(NotRegularFile):
            read_regular(tmp_path / "socket")


def test_a_link_at_the_end_is_refused_when_links_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"kind: A\n")
    (tmp_path / "link").symlink_to("file")
    with pytest.raises(SymbolicLink):
        read_regular(tmp_path / "link", follow=False)
    assert read_regular(tmp_path / "file", follow=False) == b"kind: A\n"
