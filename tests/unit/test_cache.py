"""The store of content facts: what it cannot read or write is a miss, never an error, and the cache can be off."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.cache import (
    CACHE_ENV,
    Memo,
    Store,
    TargetMemory,
    _dist_info_versions,
    _remembered_hash,
    crd_identity,
    key,
    keys_after,
    parse_missing,
    refuse_inside,
    remembered_parse,
)
from generator.crds import yaml_files
from generator.errors import EnvironmentProblem
from generator.generated import GENERATED_MARK
from generator.util.environ import scoped_environ
from generator.util.files import MAX_YAML_BYTES


def test_facts_come_back_by_kind_and_key(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.put("build", {"a": "[1]", "b": "[]"})
    store.put("clean", {"a": ""})
    assert store.get("build", ["a", "b", "c"]) == {"a": "[1]", "b": "[]"}
    assert store.get("clean", ["a", "b"]) == {"a": ""}
    store.close()
    assert Store.open(tmp_path).get("build", ["a"]) == {"a": "[1]"}, "kept across runs"


def test_a_new_store_has_16_kib_pages_and_one_made_before_keeps_its_own(tmp_path: Path) -> None:
    """16 KiB pages write a run's facts in a quarter of the writes; a store made with SQLite's default 4 KiB pages
    (before kserve-gitops chose them) is read and written as it is."""
    Store.open(tmp_path / "new").close()
    (database,) = (tmp_path / "new").glob("*.sqlite")
    (older := tmp_path / "old").mkdir()
    with contextlib.closing(sqlite3.connect(older / database.name)) as db, db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE fact (kind TEXT, key TEXT, value TEXT, PRIMARY KEY (kind, key))")
        db.execute("INSERT INTO fact VALUES ('build', 'a', '[1]')")
    store = Store.open(older)
    store.put("build", {"b": "[]"})
    assert store.get("build", ["a", "b"]) == {"a": "[1]", "b": "[]"}
    store.close()
    for directory, size in (("new", 16384), ("old", 4096)):
        with contextlib.closing(sqlite3.connect(tmp_path / directory / database.name)) as db:
            assert db.execute("PRAGMA page_size").fetchone() == (size,), directory


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


def test_a_store_file_that_is_a_link_turns_the_store_off_and_leaves_its_target_alone(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"")
    victim.chmod(0o644)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "facts-1.sqlite").symlink_to(victim)
    store = Store.open(tmp_path / "cache")
    assert not store.enabled
    assert victim.stat().st_mode & 0o777 == 0o644
    assert victim.read_bytes() == b""


def test_another_installation_of_a_judging_library_is_another_tool(tmp_path: Path) -> None:
    """A new jsonschema, kubernetes-validate, PyYAML… may judge differently: no fact or run remembered under the old
    one answers for it. Here `referencing` (small) is installed a second time, first on the path."""
    import referencing  # noqa: PLC0415

    shutil.copytree(Path(referencing.__file__).parent, tmp_path / "referencing")
    probe = [sys.executable, "-c", "from generator.cache import tool_identity; print(tool_identity())"]
    here = subprocess.run(probe, capture_output=True, text=True, check=True).stdout
    other = subprocess.run(
        probe, capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(tmp_path)}
    ).stdout
    assert here != other


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


def _parse_twice(cache: Path, text: str) -> tuple[object, object]:
    with scoped_environ({CACHE_ENV: str(cache)}):
        first = remembered_parse(text, yaml.safe_load)
        with sqlite3.connect(next(cache.glob("*.sqlite"))) as db:
            db.execute("UPDATE fact SET value = '\"recalled\"' WHERE kind = 'parse'")
        return first, remembered_parse(text, yaml.safe_load)


def test_a_large_text_is_parsed_once_and_recalled_from_then_on(tmp_path: Path) -> None:
    text = "".join(f"m{i}: {{version: '{i}', ok: true}}\n" for i in range(4000))
    first, second = _parse_twice(tmp_path, text)
    assert first == yaml.safe_load(text)
    assert second == "recalled"


def test_a_damaged_remembered_parse_is_parsed_again_and_put_right(tmp_path: Path) -> None:
    text = "".join(f"m{i}: {{version: '{i}', ok: true}}\n" for i in range(4000))
    with scoped_environ({CACHE_ENV: str(tmp_path)}):
        parsed = remembered_parse(text, yaml.safe_load)
        for damaged in ("not json", b"\x00\xff", "[1,", None):
            with sqlite3.connect(next(tmp_path.glob("*.sqlite"))) as db:
                db.execute("UPDATE fact SET value = ? WHERE kind = 'parse'", [damaged])
            assert remembered_parse(text, yaml.safe_load) == parsed
            with sqlite3.connect(next(tmp_path.glob("*.sqlite"))) as db:
                (value,) = db.execute("SELECT value FROM fact WHERE kind = 'parse'").fetchone()
            assert value is not None and json.loads(value) == parsed


def test_a_result_json_cannot_give_back_exactly_is_parsed_every_time(tmp_path: Path) -> None:
    text = "".join(f"{i}: 2026-11-30\n" for i in range(6000))  # integer keys and dates
    assert _parse_twice(tmp_path, text) == (yaml.safe_load(text), yaml.safe_load(text))


def _recall(cache: Path, context: str, inputs: dict[str, str]) -> dict[str, dict[str, tuple[bytes, str]]]:
    with scoped_environ({CACHE_ENV: str(cache)}), TargetMemory.open(lambda: context) as memory:
        return memory.recall(inputs)


def test_keys_after_some_parts_are_the_keys_of_all_of_them() -> None:
    of = keys_after("context", b"crds")
    assert of("inputs") == key("context", b"crds", "inputs")
    assert of("inputs", "more") == key("context", b"crds", "inputs", "more")
    assert of("other") != of("inputs")


def test_the_target_memory_gives_back_what_it_learned_only_for_the_same_inputs_and_context(tmp_path: Path) -> None:
    files = {"environments/dev/a.yaml": ("é: 1\n".encode(), "note a"), "environments/dev/a-smoke.yaml": (b"", "b")}
    with scoped_environ({CACHE_ENV: str(tmp_path)}), TargetMemory.open(lambda: "crds 1") as memory:
        assert memory.recall({"a/dev": "inputs of a"}) == {}
        memory.learn("inputs of a", files)

    assert _recall(tmp_path, "crds 1", {"a/dev": "inputs of a", "b/dev": "inputs of b"}) == {"a/dev": files}
    assert _recall(tmp_path, "crds 2", {"a/dev": "inputs of a"}) == {}, "another context"
    assert _recall(tmp_path, "crds 1", {"a/dev": "inputs of a, edited"}) == {}
    assert _recall(Path("off"), "crds 1", {"a/dev": "inputs of a"}) == {}


def test_a_damaged_target_fact_is_a_miss_beside_whole_ones(tmp_path: Path) -> None:
    files = {"a.yaml": (b"kind: A\n", "n")}
    with scoped_environ({CACHE_ENV: str(tmp_path)}), TargetMemory.open(lambda: "c") as memory:
        for inputs in ("x", "y", "z"):
            memory.learn(inputs, files)
    for damaged in (b'[["a.yaml", "n", 8]], 1\nkind: A\n', b"\nkind: A\n", b" \nkind: A\n"):
        with sqlite3.connect(next(tmp_path.glob("*.sqlite"))) as db:
            db.execute("UPDATE fact SET value = ? WHERE key = ?", [damaged, key("c", "y")])
        assert _recall(tmp_path, "c", {"t": "x", "u": "y", "v": "z"}) == {"t": files, "v": files}, damaged


def test_without_a_store_the_target_memory_never_works_out_its_context() -> None:
    def context() -> str:
        raise AssertionError("no store: hashing the CRDs would be work for nothing")

    with scoped_environ({CACHE_ENV: "off"}), TargetMemory.open(context) as memory:
        assert not memory.enabled
        assert memory.recall({"a/dev": "inputs of a"}) == {}


def test_a_damaged_target_fact_is_a_miss(tmp_path: Path) -> None:
    with scoped_environ({CACHE_ENV: str(tmp_path)}), TargetMemory.open(lambda: "c") as memory:
        memory.learn("x", {"a.yaml": (b"kind: A\n", "n")})
    damages = (b"not json\n", b'[["a.yaml", "n", 8]]\nkind: A\n and more', b'[["a.yaml", "n", 99]]\nkind: A\n')
    for damaged in (*damages, '[["a.yaml", "n", 8]]\nkind: A\n'):  # text where bytes belong: damaged too
        with sqlite3.connect(next(tmp_path.glob("*.sqlite"))) as db:
            db.execute("UPDATE fact SET value = ? WHERE kind = ?", [damaged, TargetMemory.KIND])
        assert _recall(tmp_path, "c", {"t": "x"}) == {}, damaged


def test_the_crd_identity_is_the_files_paths_and_bytes(tmp_path: Path) -> None:
    (tmp_path / "kserve").mkdir()
    (tmp_path / "kserve" / "a.yaml").write_text("kind: CustomResourceDefinition\n")
    (tmp_path / "kserve" / "gone.yaml").symlink_to(tmp_path / "nowhere")  # a dangling link is no file
    first = crd_identity(tmp_path)
    assert first == key("kserve/a.yaml", b"kind: CustomResourceDefinition\n")
    assert crd_identity(tmp_path) == first
    assert crd_identity(tmp_path / "missing") == key(), "no directory: no files"


def test_the_crd_identity_leaves_out_what_no_run_reads_there(tmp_path: Path) -> None:
    """`--crd-dir` may name any directory: its files of other names (a README, a binary) are never read as CRDs,
    so they neither change the identity nor are read whole to hash."""
    (tmp_path / "a.yml").write_text("kind: A\n")
    before = crd_identity(tmp_path)
    assert before == key("a.yml", b"kind: A\n")
    (tmp_path / "README.md").write_text("notes")
    (tmp_path / ".kserve-gitops").mkdir()
    (tmp_path / ".kserve-gitops" / "state.yaml").write_text("x: 1\n")
    assert crd_identity(tmp_path) == before


def test_the_crd_identity_holds_the_files_a_lock_lists_through_a_linked_directory(tmp_path: Path) -> None:
    """A CRD directory may link a release's directory from elsewhere: its files are read through the link, so their
    bytes are part of the identity; a link back up is walked once."""
    elsewhere, crds = tmp_path / "elsewhere", tmp_path / "crds"
    elsewhere.mkdir()
    crds.mkdir()
    (elsewhere / "isvc.yaml").write_text("kind: A\n")
    (crds / "kserve").symlink_to(elsewhere, target_is_directory=True)
    (crds / "kserve" / "up").symlink_to(crds, target_is_directory=True)
    assert yaml_files(crds) == [crds / "kserve" / "isvc.yaml"]
    before = crd_identity(crds)
    assert before == key("kserve/isvc.yaml", b"kind: A\n")
    (elsewhere / "isvc.yaml").write_text("kind: B\n")
    assert crd_identity(crds) == key("kserve/isvc.yaml", b"kind: B\n")


def test_a_yaml_file_that_cannot_be_read_is_known_by_its_stamps_not_a_crash(tmp_path: Path) -> None:
    """Reading /proc/self/mem fails (EIO): before, such a file under --crd-dir ended the run as a bug (exit 3)."""
    (tmp_path / "mem.yaml").symlink_to("/proc/self/mem")
    with (tmp_path / "huge.yaml").open("wb") as huge:
        huge.truncate(MAX_YAML_BYTES + 1)  # sparse: larger than any YAML file read, never read whole
    first = crd_identity(tmp_path)
    assert first == crd_identity(tmp_path)
    with (tmp_path / "huge.yaml").open("r+b") as huge:
        huge.write(b"x")  # its change time moves, and with it the identity
    assert crd_identity(tmp_path) != first


def test_a_crd_rewritten_in_place_with_the_same_size_changes_the_identity(tmp_path: Path) -> None:
    crd = tmp_path / "a.yaml"
    crd.write_text("kind: A\n")
    before = crd_identity(tmp_path)
    with crd.open("r+") as handle:  # same inode, same size: only the time stamp and the bytes tell
        handle.write("kind: B\n")
    assert crd_identity(tmp_path) != before
    crd.write_text("kind: A\n")
    assert crd_identity(tmp_path) == before


def test_a_crd_replaced_by_another_file_with_its_old_time_stamp_changes_the_identity(tmp_path: Path) -> None:
    crd = tmp_path / "a.yaml"
    crd.write_text("kind: A\n")
    before = crd_identity(tmp_path)
    stamp = crd.stat().st_mtime_ns
    replacement = tmp_path / "new"
    replacement.write_text("kind: B\n")
    os.utime(replacement, ns=(stamp, stamp))
    replacement.rename(crd)  # as `schemas fetch` writes: a new inode
    assert crd_identity(tmp_path) != before


def test_a_crd_remembered_by_its_stamps_and_then_rewritten_with_its_old_times_changes_the_identity(
    tmp_path: Path,
) -> None:
    """Files unchanged for two seconds are hashed once a process, by their stamps; a rewrite that puts the size and
    the modification time back (`cp -p`, tar) still moves the change time, which no one can set."""
    crd = tmp_path / "a.yaml"
    crd.write_text("kind: A\n")
    time.sleep(2.1)
    before = crd_identity(tmp_path)
    assert crd_identity(tmp_path) == before
    stamp = crd.stat().st_mtime_ns
    crd.write_text("kind: B\n")
    os.utime(crd, ns=(stamp, stamp))
    assert crd_identity(tmp_path) != before


def test_a_settled_crd_hash_is_kept_in_the_store_by_the_files_stamps_for_the_next_process(tmp_path: Path) -> None:
    """A new process (here: the per-process answers forgotten) takes the hash the store keeps for these stamps;
    what the store says is trusted as every other fact in it is (the forged hash shows that it was asked); a value
    that is no hash (damaged) is a miss, hashed again and put right."""
    crds, cache = tmp_path / "crds", tmp_path / "cache"
    crds.mkdir()
    (crds / "a.yaml").write_text("kind: A\n")
    time.sleep(2.1)
    with scoped_environ({CACHE_ENV: str(cache)}):
        first = crd_identity(crds)
        assert first == key("a.yaml", b"kind: A\n")
        for damaged in (b"\x00\xff", "forged", first[:-1], 7):
            with sqlite3.connect(next(cache.glob("*.sqlite"))) as db:
                assert db.execute("UPDATE fact SET value = ? WHERE kind = 'stamps'", [damaged]).rowcount == 1
            _remembered_hash.cache_clear()
            assert crd_identity(crds) == first
        with sqlite3.connect(next(cache.glob("*.sqlite"))) as db:
            assert db.execute("SELECT value FROM fact WHERE kind = 'stamps'").fetchall() == [(first,)]
            assert db.execute("UPDATE fact SET value = ? WHERE kind = 'stamps'", [key("forged")]).rowcount == 1
        _remembered_hash.cache_clear()
        assert crd_identity(crds) == key("forged")
        (crds / "a.yaml").write_text("kind: B\n")  # new stamps: hashed again, whatever the store says of the old
        assert crd_identity(crds) == key("a.yaml", b"kind: B\n")


def _memo_repo(tmp_path: Path) -> tuple[Path, Path]:
    repo, crds = tmp_path / "repo", tmp_path / "crds"
    repo.mkdir()
    crds.mkdir()
    (repo / "models.yaml").write_text("a: 1\n")
    return repo, crds


def test_a_memo_keys_the_inputs_as_they_are_when_first_asked_not_when_made(tmp_path: Path) -> None:
    """A run made its memo, then waited for the repository lock while someone changed models.yaml: it renders the
    new bytes, and its record must be found under them, not under the bytes it saw before it waited."""
    repo, crds = _memo_repo(tmp_path)
    with scoped_environ({CACHE_ENV: str(tmp_path / "cache")}):
        waited = Memo.open("render", repo, ["models.yaml"], crds)
        (repo / "models.yaml").write_text("a: 2\n")
        assert waited.recall(repo) is None
        waited.remember({}, [], [])
        assert Memo.open("render", repo, ["models.yaml"], crds).recall(repo) is not None  # keyed by "a: 2"
        (repo / "models.yaml").write_text("a: 1\n")
        assert Memo.open("render", repo, ["models.yaml"], crds).recall(repo) is None


def test_a_run_whose_inputs_changed_while_it_ran_is_not_remembered(tmp_path: Path) -> None:
    repo, crds = _memo_repo(tmp_path)
    with scoped_environ({CACHE_ENV: str(tmp_path / "cache")}):
        memo = Memo.open("render", repo, ["models.yaml"], crds)
        assert memo.recall(repo) is None  # keyed here
        (repo / "models.yaml").write_text("a: 3\n")  # while the pipeline runs: what it read is unknown
        memo.remember({}, [], [])
        assert not list((tmp_path / "cache").glob("*.json"))


def test_a_run_whose_crds_changed_while_it_ran_is_not_remembered(tmp_path: Path) -> None:
    """Its files were checked against CRDs that may be either: a record under the old CRDs' key would answer a later
    run against those for files they never checked."""
    repo, crds = _memo_repo(tmp_path)
    (crds / "a.yaml").write_text("kind: A\n")
    with scoped_environ({CACHE_ENV: str(tmp_path / "cache")}):
        memo = Memo.open("render", repo, ["models.yaml"], crds)
        assert memo.recall(repo) is None  # keyed here
        (crds / "a.yaml").write_text("kind: B\n")
        memo.remember({}, [], [])
        assert not list((tmp_path / "cache").glob("*.json"))


def _identity_with(path: Path | None) -> str:
    probe = [sys.executable, "-c", "from generator.cache import tool_identity; print(tool_identity())"]
    env = {**os.environ, "PYTHONPATH": str(path)} if path is not None else dict(os.environ)
    return subprocess.run(probe, capture_output=True, text=True, check=True, env=env).stdout


def test_the_same_release_of_a_judging_library_installed_again_is_the_same_tool(tmp_path: Path) -> None:
    """A CI job installs the libraries afresh: new files, new times, the same releases. Facts an earlier job learned
    must still be found (the Actions fact cache), and a library of another release must not find them."""
    import referencing  # noqa: PLC0415

    package = Path(referencing.__file__).parent
    (dist_info,) = package.parent.glob("referencing-*.dist-info")
    shutil.copytree(package, tmp_path / "referencing")
    shutil.copytree(dist_info, tmp_path / dist_info.name)
    assert _identity_with(tmp_path) == _identity_with(None)

    (tmp_path / dist_info.name).rename(tmp_path / "referencing-0.0.1.dist-info")
    assert _identity_with(tmp_path) != _identity_with(None)


def test_one_text_parsed_by_two_parsers_is_remembered_for_each_apart(tmp_path: Path) -> None:
    """A CRD file's text given as models.lock (by mistake, or by an attacker) is parsed there as a YAML tree: that
    tree must not come back where the CRD reader asks for its schemas, nor the other way round."""
    text = "".join(f"m{i}: {{version: '{i}'}}\n" for i in range(4000))

    def keys(text: str) -> list[str]:
        return sorted(yaml.safe_load(text))

    with scoped_environ({CACHE_ENV: str(tmp_path)}):
        tree = remembered_parse(text, yaml.safe_load)
        assert parse_missing(text, keys)
        assert remembered_parse(text, keys) == sorted(tree)
        assert not parse_missing(text, keys)
        assert remembered_parse(text, yaml.safe_load) == tree


def test_a_missing_input_is_keyed_apart_from_any_bytes_and_one_the_full_run_refuses_is_never_recalled(
    tmp_path: Path,
) -> None:
    repo, crds = _memo_repo(tmp_path)
    lock = repo / "models.lock"
    with scoped_environ({CACHE_ENV: str(tmp_path / "cache")}):

        def record() -> Path | None:
            return Memo.open("render", repo, ["models.yaml", "models.lock"], crds).record

        absent = record()
        records = {absent}
        for content in (b"", b"<missing>"):
            lock.write_bytes(content)
            records.add(record())
        assert None not in records
        assert len(records) == 3

        lock.unlink()
        lock.mkdir()
        assert record() is None
        lock.rmdir()
        lock.symlink_to(repo / "models.yaml")
        assert record() is None


def _remembered_tree(tmp_path: Path) -> tuple[Path, Memo]:
    """A repository whose memo remembers two generated files under `environments`, which are on disk."""
    repo, crds = _memo_repo(tmp_path)
    files = {f"environments/dev/{name}.yaml": f"{GENERATED_MARK}\nname: {name}\n".encode() for name in ("a", "b")}
    for path, content in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(content)
    memo = Memo.open("render", repo, ["models.yaml"], crds)
    memo.remember(files, ["environments"], [])
    return repo, memo


def _record(memo: Memo) -> dict[str, Any]:
    assert memo.record is not None
    return dict(json.loads(memo.record.read_text()))


def _forge_hashes(memo: Memo) -> None:
    """Every file's hash in the record made wrong: only a recall that reads the files finds out."""
    assert memo.record is not None
    record = _record(memo)
    record["outputs"] = {path: key("forged") for path in record["outputs"]}
    memo.record.write_text(json.dumps(record))


def test_files_written_within_two_seconds_are_known_by_their_bytes_and_their_stamps_are_not_kept(
    tmp_path: Path,
) -> None:
    with scoped_environ({CACHE_ENV: str(tmp_path / "cache")}):
        repo, memo = _remembered_tree(tmp_path)
        assert memo.recall(repo) is not None
        assert _record(memo)["stamps"] == {}
        _forge_hashes(memo)
        assert memo.recall(repo) is None


def test_settled_files_found_right_are_known_by_their_stamps_from_then_on(tmp_path: Path) -> None:
    """A recall that found settled files right by their bytes records their stamps under the repository's path; a
    later recall takes the stamps for the bytes (the forged hashes show that it read nothing), as git's index does."""
    with scoped_environ({CACHE_ENV: str(tmp_path / "cache")}):
        repo, memo = _remembered_tree(tmp_path)
        time.sleep(2.1)
        assert memo.recall(repo) is not None
        stamps = _record(memo)["stamps"]
        assert list(stamps) == [os.path.abspath(repo)]
        assert sorted(stamps[os.path.abspath(repo)]) == ["environments/dev/a.yaml", "environments/dev/b.yaml"]
        _forge_hashes(memo)
        assert memo.recall(repo) is not None


def test_a_file_rewritten_with_its_old_size_and_times_after_its_stamps_were_kept_is_read_again(tmp_path: Path) -> None:
    """The change time moves with every write, and no one can set it back: `cp -p` or tar cannot hide an edit."""
    with scoped_environ({CACHE_ENV: str(tmp_path / "cache")}):
        repo, memo = _remembered_tree(tmp_path)
        time.sleep(2.1)
        assert memo.recall(repo) is not None
        edited = repo / "environments/dev/a.yaml"
        before = edited.stat()
        edited.write_bytes(edited.read_bytes().replace(b"name: a", b"name: z"))
        os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert edited.stat().st_size == before.st_size
        assert memo.recall(repo) is None


def test_stamps_kept_for_one_repository_path_are_not_taken_for_another(tmp_path: Path) -> None:
    """A repository moved (its files keep inode and times) is read again: the record's stamps name where they were
    taken."""
    with scoped_environ({CACHE_ENV: str(tmp_path / "cache")}):
        repo, memo = _remembered_tree(tmp_path)
        time.sleep(2.1)
        assert memo.recall(repo) is not None
        _forge_hashes(memo)
        moved = repo.rename(tmp_path / "moved")
        assert memo.recall(moved) is None
        moved.rename(repo)
        assert memo.recall(repo) is not None


def test_a_record_that_cannot_be_put_in_place_leaves_no_temporary_file(tmp_path: Path) -> None:
    repo, crds = _memo_repo(tmp_path)
    with scoped_environ({CACHE_ENV: str(tmp_path / "cache")}):
        memo = Memo.open("render", repo, ["models.yaml"], crds)
        assert memo.record is not None
        (memo.record / "in-the-way").mkdir(parents=True)  # os.replace fails, as on a full disk
        memo.remember({}, [], [])
    assert not list((tmp_path / "cache").glob(".record.*"))


def test_a_cache_inside_the_checkout_is_refused_whichever_variable_put_it_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    cases = {
        str(repo / "cache"): True,
        "off": False,
        str(tmp_path / "elsewhere"): False,
        str(repo / ".git" / "kserve-gitops"): False,  # never committed
        str(loop / "cache"): False,  # unusable: the store turns itself off
    }
    for directory, refused in cases.items():
        monkeypatch.setenv(CACHE_ENV, directory)
        if refused:
            with pytest.raises(EnvironmentProblem, match="is inside the git checkout"):
                refuse_inside(repo)
        else:
            refuse_inside(repo)
    monkeypatch.setenv(CACHE_ENV, str(repo / "cache"))
    refuse_inside(tmp_path / "not-a-checkout")
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(repo / ".cache"))  # as a CI service may set it
    with pytest.raises(EnvironmentProblem, match="is inside the git checkout"):
        refuse_inside(repo / "platform")


def test_only_pip_s_dist_info_directories_name_a_library_s_release(tmp_path: Path) -> None:
    for name in ("jsonschema-4.26.0.dist-info", "jsonschema-rs-0.1.dist-info", "pyyaml.dist-info", "notes.txt"):
        (tmp_path / name).mkdir()
    os.mkdir(os.fsencode(tmp_path) + b"/referencing-0.3\xff.dist-info")

    assert _dist_info_versions(tmp_path) == {"jsonschema": "4.26.0", "jsonschema_rs": "0.1"}
