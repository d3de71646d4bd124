"""The delivery journal on disk: what it remembers, for how long, and across a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.errors import EnvironmentProblem
from generator.webhook.journal import Journal

PAYLOAD = {"model": "Wine", "alias": "champion", "version": "4", "event": "model_version_alias.created"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_finished_id_is_seen_until_its_replay_window_is_over(tmp_path: Path) -> None:
    clock = Clock()
    journal = Journal(tmp_path, ttl=600, clock=clock)

    assert journal.claim("a", None) == "new"
    clock.now += 599
    assert journal.claim("a", None) == "seen"
    clock.now += 1
    assert journal.claim("a", None) == "new"


def test_a_pending_delivery_is_never_forgotten_before_it_is_finished(tmp_path: Path) -> None:
    clock = Clock()
    journal = Journal(tmp_path, ttl=600, clock=clock)
    journal.claim("a", PAYLOAD)

    clock.now += 10_000
    assert journal.claim("a", PAYLOAD) == "pending"
    journal.finish("a", "done")
    assert journal.claim("a", PAYLOAD) == "new", "finished long after its window: forgotten"


def test_what_it_holds_survives_a_restart(tmp_path: Path) -> None:
    first = Journal(tmp_path, ttl=600)
    first.claim("sent", PAYLOAD)
    first.finish("sent", "done")
    first.claim("waiting", PAYLOAD)
    first.claim("ignored", None)

    again = Journal(tmp_path, ttl=600)

    assert [(e.delivery, e.payload) for e in again.pending()] == [("waiting", PAYLOAD)]
    assert again.claim("sent", PAYLOAD) == "seen"
    assert again.claim("ignored", None) == "seen"


def test_a_full_journal_refuses_new_ids_rather_than_forgetting_live_ones(tmp_path: Path) -> None:
    journal = Journal(tmp_path, ttl=600, capacity=2)
    journal.claim("a", None)
    journal.claim("b", None)

    assert journal.claim("c", None) == "full"
    assert journal.claim("a", None) == "seen"


def test_delivery_ids_never_become_paths_and_stray_files_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "garbage.json").write_text("{not json")
    journal = Journal(tmp_path, ttl=600)

    journal.claim("../../etc/passwd", None)

    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "garbage.json")[0].endswith(".json")
    assert all(p.parent == tmp_path for p in tmp_path.rglob("*"))


def test_an_unusable_directory_is_an_environment_problem(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")

    with pytest.raises(EnvironmentProblem, match=r"cannot use the delivery journal .*file/journal"):
        Journal(blocker / "journal", ttl=600)


@pytest.mark.parametrize("stray", ["directory", "dangling symlink"])
def test_an_unreadable_record_is_named_not_blamed_on_the_directory(tmp_path: Path, stray: str) -> None:
    """The directory is fine; the operator must be told which entry in it to look at."""
    record = tmp_path / "0123.json"
    if stray == "directory":
        record.mkdir()
    else:
        record.symlink_to(tmp_path / "gone")

    with pytest.raises(EnvironmentProblem, match=r"0123\.json"):
        Journal(tmp_path, ttl=600)
