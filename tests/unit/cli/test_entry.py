"""The installed command (`kserve-gitops`, and `python -m generator`) is `main` in a process of its own: it exits
with main's code, and what is still alive then is frozen out of the cyclic collector, so that the interpreter's
last collections at exit have nothing to walk."""

from __future__ import annotations

import gc
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.cli import entry

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _nothing_frozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # this test process goes on: what entry froze is given back to the collector


def test_the_installed_command_is_the_entry_point() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"kserve-gitops": "generator.cli:entry"}
    assert "entry()" in (ROOT / "generator" / "__main__.py").read_text()


@pytest.mark.parametrize(("argv", "code"), [(["--version"], 0), (["no-such-command"], 2)])
def test_the_entry_point_exits_with_mains_code_and_freezes_what_is_left(
    argv: list[str], code: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["kserve-gitops", *argv])
    assert gc.get_freeze_count() == 0
    assert entry() == code
    assert gc.get_freeze_count() > 0
    capsys.readouterr()
