"""A pipeline command (the writing ones, validate) pauses Python's cyclic garbage collector for its work, and gives
it back as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.cli import main
from generator.cli._build import collector_paused


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_inside_and_back_on_after() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_failure_inside_still_gives_the_collector_back() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError
    assert gc.isenabled()


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_what_a_job_made_is_handed_to_the_oldest_generation_where_a_full_collection_still_frees_it() -> None:
    with collector_paused():
        made = _Node()
    assert not any(obj is made for obj in gc.get_objects(generation=0))
    assert any(obj is made for obj in gc.get_objects(generation=2))
    assert gc.get_freeze_count() == 0
    del made
    assert gc.collect() >= 1


def test_a_collector_someone_else_turned_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        ("apiVersion: kserve-gitops/v1\nenvironments: {dev: {namespace: d}}\nmodels: {}\n", 0),
        ("apiVersion: kserve-gitops/v1\nmodels: [\n", 1),  # refused: invalid YAML
    ],
)
def test_a_repository_command_gives_the_collector_back_whatever_its_outcome(
    tmp_path: Path, spec: str, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "models.yaml").write_text(spec)
    monkeypatch.setenv("KSERVE_GITOPS_CACHE_DIR", "off")
    assert main(["render", "--repo", str(tmp_path)]) == code
    assert gc.isenabled()
