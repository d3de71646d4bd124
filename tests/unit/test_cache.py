"""The store of content facts: what it cannot read or write is a miss, never an error, and the cache can be off."""

from __future__ import annotations

from pathlib import Path

from generator.cache import Store, key


def test_facts_come_back_by_kind_and_key(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.put("build", {"a": "[1]", "b": "[]"})
    store.put("clean", {"a": ""})
    assert store.get("build", ["a", "b", "c"]) == {"a": "[1]", "b": "[]"}
    assert store.get("clean", ["a", "b"]) == {"a": ""}
    store.close()
    assert Store.open(tmp_path).get("build", ["a"]) == {"a": "[1]"}, "kept across runs"


def test_a_damaged_store_is_a_miss_not_an_error(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    (database,) = tmp_path.glob("*.sqlite")
    database.write_bytes(b"not a database" * 100)
    store = Store.open(tmp_path)
    store.put("build", {"a": "[]"})
    assert store.get("build", ["a"]) == {}


def test_an_unwritable_place_turns_the_store_off(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    store = Store.open(tmp_path / "file" / "below")
    assert not store.enabled
    store.put("build", {"a": "[]"})
    assert store.get("build", ["a"]) == {}


def test_keys_tell_apart_sequences_that_concatenate_alike() -> None:
    assert key("ab", "c") != key("a", "bc")
    assert key(b"x") == key("x")


def test_a_store_grown_past_its_limit_starts_afresh(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.put("build", {"a": "[]"})
    store.close()
    (database,) = tmp_path.glob("*.sqlite")
    with database.open("ab") as handle:
        handle.truncate(300 * 2**20)
    store = Store.open(tmp_path)
    assert store.enabled
    assert store.get("build", ["a"]) == {}
    assert database.stat().st_size < 2**20
