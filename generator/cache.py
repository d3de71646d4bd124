"""Remember a run whose inputs have not changed, so that repeating it costs a few file reads.

A record is keyed by the hash of everything a `render` or `generate` (without --update or
--check) depends on: the bytes of models.yaml and models.lock, the CRD files, this tool's
source and version, and the kustomize binary that checked the builds. It holds the hash of
every file the run wanted on disk and the warnings it printed. A later run with the same key
whose files on disk still have those hashes (none edited by hand, none missing, no stale
generated file beside them) would plan nothing and print the same warnings, so it is answered
from the record; anything else, including a missing or unreadable record, takes the full path.
Files a recall found right and that had settled are known from then on by their stamps (`Memo.recall`).

Records live under $KSERVE_GITOPS_CACHE_DIR, else $XDG_CACHE_HOME/kserve-gitops, else
~/.cache/kserve-gitops: outside the repository, never tracked, safe to delete at any time.
`KSERVE_GITOPS_CACHE_DIR=off` turns it off.

Beside the records, a `Store` remembers facts of content (what kustomize makes of a file's bytes, which
objects passed every check under which CRDs, what a target rendered and that it passed): keyed by hashes of
everything they depend on, so a stale fact is never found, only missed; a missed fact is computed again, at
the full run's cost.

Damage (a truncated or garbled store or record, a value that does not decode or is of the wrong type) is a miss.
A value forged to look right is taken: the cache is trusted as this tool's own installed files are, by whoever
can write there (the user; in CI, runs of the same branch or its base, through the Actions cache: action.yml).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import re
import shutil
import sqlite3
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from generator import __version__
from generator.diagnostics import Diagnostic
from generator.generated import is_generated
from generator.util.files import MAX_YAML_BYTES, read_regular

CACHE_ENV = "KSERVE_GITOPS_CACHE_DIR"
_FORMAT = "1"
_SOURCE = Path(__file__).resolve().parent
_STORE_LIMIT = 256 * 2**20  # bytes; a full set of facts for 3,000 files is ~10 MB
# SQLite's page: its default, 4 KiB, has a first run of 1,000 models write ~10 MB of facts in ~13,000 writes of the
# write-ahead log; at 16 KiB the run spends ~0.08 s less (bench/README.md), and reading facts back costs the same.
_PAGE = 16384


@dataclass(frozen=True)
class Recalled:
    """What a remembered run said: its warnings (its plan was empty, or it would not have been recalled)."""

    warnings: list[Diagnostic]


class Memo:
    """One run's record: where it lives, keyed by the run's inputs as they are when the memo is first asked, which
    is inside the repository's lock (a run waiting for it must not key what it renders by files someone changed
    while it waited); `Memo.off()` remembers nothing. A run whose inputs changed while it ran is not remembered."""

    def __init__(self, key: Callable[[], _RunKey | None]) -> None:
        self._keying = key

    @classmethod
    def off(cls) -> Memo:
        return cls(lambda: None)

    @classmethod
    def open(cls, command: str, repo: Path, inputs: Iterable[str], crd_dir: Path) -> Memo:
        """The memo for `command` run in `repo`: `inputs` are the repository files it reads."""
        return cls(functools.partial(_run_key, command, repo, tuple(inputs), crd_dir))

    @functools.cached_property
    def _key(self) -> _RunKey | None:
        return self._keying()

    @property
    def record(self) -> Path | None:
        return None if self._key is None else self._key.record

    def recall(self, repo: Path) -> Recalled | None:
        """The remembered run, if the files on disk are exactly those it wanted, under the directories it
        prunes and beside them, and none of them a link (which the full run refuses). A record that is not what
        `remember` writes is a miss.

        A file is known by its bytes' hash, or by its stamps (size, times, inode, device) when the record holds
        them for this repository, as git's index does: a recall of 3,004 files took ~0.04 s reading them and ~0.02 s
        statting them, of a run with nothing to change of ~0.12 s. A record learns a file's stamps once a recall
        has found its bytes right and it has kept its stamps two seconds (`_settled`): any later write, `cp -p` and
        tar included, moves its change time, which no one can set back."""
        saved = _saved(self.record) if self.record is not None else None
        if saved is None:
            return None
        top = os.path.abspath(repo)
        since = time.time_ns()  # before the stamps are taken: what is written after them has a later change time
        if (present := _files(repo, saved.pruned)) is None:
            return None
        known = saved.stamps.get(top, {})
        unseen = dict(saved.outputs)
        learned = {}
        for path, stamp in present.items():
            expected = unseen.pop(path, None)
            if expected is not None and known.get(path) == stamp:
                continue
            content = _read(os.path.join(top, path))
            if expected is None:
                if content is not None and is_generated(content):
                    return None  # a stale generated file the full run would delete
            elif content is None or hashlib.sha256(content).hexdigest() != expected:
                return None  # edited by hand, or replaced
            elif _settled(stamp, since):
                learned[path] = stamp
        for path, expected in unseen.items():
            content = _read(os.path.join(top, path))
            if content is None or hashlib.sha256(content).hexdigest() != expected:
                return None
        if learned:
            _write_record(self.record, replace(saved, stamps={top: {**known, **learned}}))
        return Recalled(saved.warnings)

    def remember(self, files: Mapping[str, bytes], pruned: Iterable[str], warnings: Iterable[Diagnostic]) -> None:
        """Record a run that wants `files` on disk and prunes stale generated files under `pruned`, unless its inputs
        changed since they were keyed. Written atomically; failing to write it only costs the next run its time."""
        keyed = self._key
        if (
            keyed is None
            or _input_stamps(keyed.repo, keyed.inputs) != keyed.stamps
            or crd_identity(keyed.crd_dir) != keyed.crds
        ):
            return
        outputs = {p: hashlib.sha256(c).hexdigest() for p, c in files.items()}
        _write_record(keyed.record, _Record(outputs, list(pruned), list(warnings), {}))


def _write_record(record: Path | None, saved: _Record) -> None:
    """Put `saved` in place atomically; failing to only costs the next run its time."""
    if record is None:
        return
    encoded = {
        "outputs": saved.outputs,
        "pruned": saved.pruned,
        "warnings": [asdict(d) for d in saved.warnings],
        "stamps": saved.stamps,
    }
    with contextlib.suppress(OSError):
        record.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".record.", dir=record.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(encoded, handle)
            os.replace(name, record)
        except OSError:
            os.unlink(name)  # a full disk: no half-written record left beside the others
            raise


@dataclass(frozen=True)
class _RunKey:
    """A memo's record, the stamps its inputs had when their bytes were keyed, and the CRDs' identity then."""

    record: Path
    repo: Path
    inputs: tuple[str, ...]
    stamps: tuple[tuple[int, int, int, int] | None, ...]
    crd_dir: Path
    crds: str


def _run_key(command: str, repo: Path, inputs: tuple[str, ...], crd_dir: Path) -> _RunKey | None:
    directory = cache_directory()
    if directory is None:
        return None
    stamps = _input_stamps(repo, inputs)  # before the bytes: a change after this is seen by `remember`
    digest = hashlib.sha256()
    crds = crd_identity(crd_dir)
    # The CRD directory by its path too: a warning may name it, and two empty ones hash alike.
    for part in (tool_identity(), command, crds, os.fspath(crd_dir)):
        _feed(digest, part.encode())
    for name in inputs:
        try:
            content = read_regular(repo / name, MAX_YAML_BYTES, follow=False)
        except FileNotFoundError:
            content = None  # a run may go on without it (no models.lock yet): keyed as absent, never as some bytes
        except OSError:
            return None  # a link, a directory, a FIFO, a file too large: the full run says what is wrong with it
        _feed(digest, name.encode())
        _feed(digest, b"absent" if content is None else b"present")
        _feed(digest, content or b"")
    return _RunKey(directory / f"{digest.hexdigest()}.json", repo, inputs, stamps, crd_dir, crds)


def _input_stamps(repo: Path, inputs: Iterable[str]) -> tuple[tuple[int, int, int, int] | None, ...]:
    """Size, modification and change times and inode of each input: a file written again gets a new change time."""
    found: list[tuple[int, int, int, int] | None] = []
    for name in inputs:
        try:
            info = os.lstat(repo / name)
        except OSError:
            found.append(None)
            continue
        found.append((info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino))
    return tuple(found)


FileStamp = list[int]  # a file's size, modification and change times, inode and device, as JSON gives them back


@dataclass(frozen=True)
class _Record:
    """What `Memo.remember` writes: the hash of every file the run wanted, the directories it prunes, its warnings,
    and the stamps of files a recall found right, by the repository's absolute path (`Memo.recall`)."""

    outputs: dict[str, str]
    pruned: list[str]
    warnings: list[Diagnostic]
    stamps: dict[str, dict[str, FileStamp]]


def _saved(record: Path) -> _Record | None:
    """A record as `Memo.remember` writes it, or None. Stamps that are not what `recall` writes are left out."""
    try:
        saved = json.loads(record.read_text("utf-8"))
        outputs, pruned, stamps = saved["outputs"], saved["pruned"], saved.get("stamps", {})
        warnings = [Diagnostic(**d) for d in saved["warnings"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not (
        isinstance(outputs, dict)
        and all(isinstance(p, str) and isinstance(h, str) for p, h in outputs.items())
        and isinstance(pruned, list)
        and all(isinstance(p, str) for p in pruned)
        and all(w.severity == "warning" and _typed(w) for w in warnings)  # a run with errors is never remembered
    ):
        return None
    return _Record(outputs, pruned, warnings, stamps if _stamps_shaped(stamps) else {})


def _stamps_shaped(stamps: Any) -> bool:
    return isinstance(stamps, dict) and all(
        isinstance(files, dict)
        and all(isinstance(f, list) and len(f) == 5 and all(type(n) is int for n in f) for f in files.values())
        for files in stamps.values()
    )


def _settled(stamp: FileStamp, since: int) -> bool:
    """Whether a file's change time is two seconds before `since` (when its stamps were taken): a file written
    again within one tick of a coarse clock may keep its stamps, but not one written two seconds later."""
    return stamp[2] < since - 2 * 10**9


def _typed(diagnostic: Diagnostic) -> bool:
    """Whether each field holds what `Diagnostic` declares (JSON gives back exactly what `remember` wrote)."""
    return all(
        type(getattr(diagnostic, field.name)) is (int if field.type == "int" else str) for field in fields(diagnostic)
    )


class Store:
    """Facts of content under the cache directory (one SQLite file), by kind ("build", "clean", …) and key.

    Every key is a hash of all its fact depends on (`key`), so nothing is ever invalidated; what cannot be
    read or written (no cache, a damaged or locked file) is a miss, never an error. One thread uses it.
    """

    def __init__(self, connection: sqlite3.Connection | None) -> None:
        self._db = connection

    @classmethod
    def off(cls) -> Store:
        return cls(None)

    @classmethod
    def open(cls, directory: Path | None = None) -> Store:
        """The store under `directory`, by default the cache directory (none when the cache is off)."""
        directory = directory or cache_directory()
        if directory is None:
            return cls.off()
        path = directory / f"facts-{_FORMAT}.sqlite"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if path.is_file() and path.stat().st_size > _STORE_LIMIT:
                for part in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
                    part.unlink(missing_ok=True)  # facts of old tool versions and old files pile up: start afresh
            if path.is_symlink():  # SQLite would write where it points, and chmod would change that file's mode
                return cls.off()
            db = sqlite3.connect(path, timeout=5)
            path.chmod(0o600)  # as private as the records
            db.execute(f"PRAGMA page_size={_PAGE}")  # a new store's; one that exists keeps its own
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS fact (kind TEXT, key TEXT, value TEXT, PRIMARY KEY (kind, key))")
        except (OSError, sqlite3.Error):
            return cls.off()
        return cls(db)

    @property
    def enabled(self) -> bool:
        return self._db is not None

    def get(self, kind: str, keys: Iterable[str]) -> dict[str, Any]:
        """The facts known among `keys`, each as it was put: text, or bytes."""
        wanted = sorted(set(keys))
        if self._db is None or not wanted:
            return {}
        found: dict[str, Any] = {}
        try:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                found.update(
                    self._db.execute(
                        f"SELECT key, value FROM fact WHERE kind = ? AND key IN ({','.join('?' * len(chunk))})",
                        [kind, *chunk],
                    ).fetchall()
                )
        except sqlite3.Error:
            return {}
        return found

    def put(self, kind: str, facts: Mapping[str, str | bytes]) -> None:
        """Remember `facts`; failing to only costs a later run its time."""
        if self._db is None or not facts:
            return
        with contextlib.suppress(sqlite3.Error), self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO fact VALUES (?, ?, ?)", [(kind, k, v) for k, v in facts.items()]
            )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


_K = TypeVar("_K")
# path -> (its bytes, a note on what it holds: JSON, given back as JSON gives it)
Noted = Mapping[str, tuple[bytes, Any]]


class TargetMemory:
    """The files a target (a model in an environment) rendered, each with a note (what it holds, as the checks take
    it), by everything they were rendered from and checked against, once they passed every check: a run that changes
    one model of a thousand then renders and checks one model's files. `context`: what the checks depend on beyond
    the files (the CRDs, the validators, this tool, kustomize), found only when there is a store to ask; the
    caller's inputs say the rest."""

    KIND = "target"

    def __init__(self, store: Store, context: Callable[[], str]) -> None:
        self._store, self._context = store, context() if store.enabled else ""
        self._learned: dict[str, str | bytes] = {}

    @classmethod
    @contextlib.contextmanager
    def open(cls, context: Callable[[], str]) -> Iterator[TargetMemory]:
        """A memory for one run; what it learned is stored when the run is done with it."""
        with contextlib.closing(Store.open()) as store:
            memory = cls(store, context)
            yield memory
            store.put(cls.KIND, memory._learned)

    @property
    def enabled(self) -> bool:
        """Whether there is a store (without one, nothing is recalled: the caller need not say its inputs)."""
        return self._store.enabled

    def recall(self, inputs: Mapping[_K, str]) -> dict[_K, dict[str, tuple[bytes, Any]]]:
        """The remembered files of each target whose inputs (a text saying all it is rendered from) an earlier run
        saw pass."""
        if not self._store.enabled:
            return {}
        fact_of = keys_after(self._context)
        facts = {target: fact_of(text) for target, text in inputs.items()}
        known = self._store.get(self.KIND, facts.values())
        found = {target: known[fact] for target, fact in facts.items() if fact in known}
        # Every listing read at once, one JSON document instead of thousands. Exact: a listing that is not one JSON
        # value makes the array invalid (none at all: two commas) or longer than the facts (two or more values).
        try:
            values = list(found.values())
            listings = json.loads(b"[" + b",".join(value.partition(b"\n")[0] for value in values) + b"]")
            return {
                target: _unpacked(value, listing)
                for target, value, listing in zip(found, values, listings, strict=True)
            }
        except (ValueError, TypeError, AttributeError):  # one is damaged: each on its own, a damaged one a miss
            recalled = {}
            for target, value in found.items():
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    recalled[target] = _unpacked(value, json.loads(value.partition(b"\n")[0]))
            return recalled

    def learn(self, inputs: str, files: Noted) -> None:
        """Remember what a target with these inputs rendered, which passed every check."""
        if self._store.enabled:
            listing = [[path, note, len(content)] for path, (content, note) in files.items()]
            contents = b"".join(content for content, _ in files.values())
            self._learned[key(self._context, inputs)] = json.dumps(listing).encode("utf-8") + b"\n" + contents


def _unpacked(fact: bytes, listing: Any) -> dict[str, tuple[bytes, Any]]:
    """`TargetMemory.learn`'s packing, as bytes: a JSON line listing each file (path, note, length), `listing` read
    from it, then their bytes one after another (a JSON string of every text would cost a third more to read back,
    text to decode and encode again more than the bytes themselves)."""
    contents = fact.partition(b"\n")[2]
    files, start = {}, 0
    for path, note, length in listing:
        files[path] = (contents[start : start + length], note)
        start += length
    if start != len(contents):
        raise ValueError("the files are not those listed")
    return files


_WORTH_REMEMBERING = 64 * 1024  # characters: below this, parsing costs less than looking it up


def remembered_parse(text: str, parse: Callable[[str], Any]) -> Any:
    """`parse(text)`, remembered as JSON by the hash of the text, this tool and the YAML library when the text is
    large (a models.lock of thousands of entries): reading JSON is about ten times faster than YAML. A result JSON
    cannot give back exactly (a date, a key that is not a string) is never remembered; what `parse` raises, it
    raises every time."""
    if len(text) < _WORTH_REMEMBERING:
        return parse(text)
    with contextlib.closing(Store.open()) as store:
        if not store.enabled:
            return parse(text)
        fact = _parse_fact(text, _parser(parse))
        known = store.get("parse", [fact]).get(fact)
        if known is not None:
            with contextlib.suppress(ValueError, TypeError):  # a damaged one is a miss, put right below
                return json.loads(known)
        data = parse(text)
        if (encoded := _as_json(data)) is not None:
            store.put("parse", {fact: encoded})
        return data


class Parses:
    """`parse` results of many small texts, remembered as `remembered_parse` remembers one large text's, all looked up
    in one query and written in one transaction: the entries of a models.yaml of a thousand models, of which an edit
    changes one."""

    def __init__(self, store: Store, parse: Callable[[str], Any]) -> None:
        self._store = store
        self._key = _parse_keys(_parser(parse)) if store.enabled else str
        self._facts: dict[str, str] = {}  # each text's key, hashed once
        self._learned: dict[str, str] = {}

    @classmethod
    @contextlib.contextmanager
    def open(cls, parse: Callable[[str], Any]) -> Iterator[Parses]:
        """A memory of `parse`'s results for one reading; what it learned is stored when the reading is done."""
        with contextlib.closing(Store.open()) as store:
            memory = cls(store, parse)
            yield memory
            store.put("parse", memory._learned)

    @property
    def enabled(self) -> bool:
        """Whether there is a store to remember in."""
        return self._store.enabled

    def recall(self, texts: Iterable[str]) -> dict[str, Any]:
        """The remembered result of each of `texts` that has one, by text; a damaged one is a miss."""
        if not self._store.enabled:
            return {}
        facts = {text: self._fact(text) for text in texts}
        known = self._store.get("parse", facts.values())
        recalled = {}
        for text, fact in facts.items():
            if fact in known:
                with contextlib.suppress(ValueError, TypeError):
                    recalled[text] = json.loads(known[fact])
        return recalled

    def learn(self, text: str, data: Any) -> None:
        """Remember `data` as what `parse` makes of `text` (unless JSON cannot give it back exactly)."""
        if self._store.enabled and (encoded := _as_json(data)) is not None:
            self._learned[self._fact(text)] = encoded

    def _fact(self, text: str) -> str:
        if (fact := self._facts.get(text)) is None:
            fact = self._facts[text] = self._key(text)
        return fact


def _as_json(data: Any) -> str | None:
    """`data` as JSON, or None when JSON would not give it back exactly (a date, a key that is not a string)."""
    try:
        encoded = json.dumps(data, allow_nan=False)
        return encoded if json.loads(encoded) == data else None
    except (TypeError, ValueError):
        return None


def parse_missing(text: str, parse: Callable[[str], Any]) -> bool:
    """Whether the store is on and has no `remembered_parse` of `text`: another process may parse it and leave it
    there (validate.crd_prefetch)."""
    if len(text) < _WORTH_REMEMBERING:
        return False
    with contextlib.closing(Store.open()) as store:
        if not store.enabled:
            return False
        fact = _parse_fact(text, _parser(parse))
        return not store.get("parse", [fact])


def _parser(parse: Callable[[str], Any]) -> str:
    """The name of a parser: two parsers of one text give different results (a CRD file's schemas, its YAML tree)."""
    return f"{parse.__module__}.{parse.__qualname__}"


@functools.lru_cache(maxsize=4)
def _parse_fact(text: str, parser: str) -> str:
    """The key of `remembered_parse`'s entry for `text`, hashed once per process (a CRD file is 2 MB)."""
    return _parse_keys(parser)(text)


def _parse_keys(parser: str) -> Callable[[str], str]:
    """The key of each text's parse by `parser`. The YAML library is imported here, by a run that parses YAML
    anyway, not by one answered from its record (`Memo`)."""
    import yaml  # noqa: PLC0415

    return keys_after(tool_identity(), yaml.__version__, parser)


def key(*parts: str | bytes) -> str:
    """The hash of `parts` in order: the key of a fact that depends on exactly these."""
    digest = hashlib.sha256()
    for part in parts:
        _feed(digest, part.encode() if isinstance(part, str) else part)
    return digest.hexdigest()


def keys_after(*first: str | bytes) -> Callable[..., str]:
    """`key(*first, *rest)` for each call with `rest`, the first parts hashed once for all (thousands of targets'
    facts share a context)."""
    digest = hashlib.sha256()
    for part in first:
        _feed(digest, part.encode() if isinstance(part, str) else part)

    def of(*rest: str | bytes) -> str:
        each = digest.copy()
        for part in rest:
            _feed(each, part.encode() if isinstance(part, str) else part)
        return each.hexdigest()

    return of


def tool_identity() -> str:
    """This tool's code, the libraries that parse and judge for it and the kustomize binary: what every remembered
    fact, and every remembered run, depends on."""
    return key(_FORMAT, __version__, _tool_digest(), *_library_versions(), _kustomize_identity())


# The libraries that parse and judge for this tool: module -> its distribution's name as pip names its dist-info.
_JUDGES = {
    "jsonschema": "jsonschema",
    "jsonschema_rs": "jsonschema_rs",
    "referencing": "referencing",
    "kubernetes_validate": "kubernetes_validate",
    "yaml": "pyyaml",
}


@functools.cache
def _library_versions() -> tuple[str, ...]:
    """The installations of the libraries that parse and validate: a new jsonschema or kubernetes-validate may judge
    an object differently. Each is named by the `<name>-<version>.dist-info` directory beside its package, which pip
    writes for every install: a fresh CI job installing the same releases names them alike, where their files' times
    would differ from job to job and make every remembered fact a miss. A package installed without one (copied onto
    the path) is named by its path, size and modification time, as the kustomize binary is. importlib.metadata would
    cost more than the rest of a small run."""
    found = []
    for module, distribution in _JUDGES.items():
        spec = importlib.util.find_spec(module)  # found, not imported: a run with nothing to check needs none
        path = Path(spec.origin).resolve() if spec is not None and spec.origin is not None else None
        if path is None:
            found.append(f"{module}:<none>")
            continue
        top = path.parents[1] if path.name == "__init__.py" else path.parent
        version = _dist_info_versions(top).get(distribution)
        if version:
            found.append(f"{distribution} {version}")
        else:
            info = path.stat()
            found.append(f"{path}:{info.st_size}:{info.st_mtime_ns}")
    return tuple(found)


@functools.cache
def _dist_info_versions(directory: Path) -> dict[str, str]:
    """The version of each distribution installed in `directory` (site-packages), by its dist-info directory's name:
    `<name>-<version>.dist-info`, the name lower-cased with `-` and `.` as `_` (the wheel specification's form).
    Two for one distribution (an install that broke halfway) name it by both versions."""
    try:
        names = os.listdir(directory)
    except OSError:
        return {}
    found: dict[str, str] = {}
    for name in sorted(names):  # a broken install may leave two: both name it
        distribution, _, version = name.removesuffix(".dist-info").rpartition("-")
        if not (name.endswith(".dist-info") and name.isascii() and distribution and version[:1].isdigit()):
            continue  # not pip's (a name that is not text, no version): the package is then known by its file
        distribution = distribution.lower().replace("-", "_").replace(".", "_")
        found[distribution] = f"{found[distribution]}+{version}" if distribution in found else version
    return found


def crd_identity(crd_dir: Path) -> str:
    """The hash of every YAML file under `crd_dir` (crds.yaml_files: the lock and the files it may list, the only
    files a run reads there), its path and bytes: what a remembered run or verdict depends on among the CRDs
    (`files_hash`). Files of other names are left out: `--crd-dir` may name a directory that holds anything."""
    from generator.crds import yaml_files  # noqa: PLC0415 -- knows what a CRD directory holds

    return files_hash(crd_dir, yaml_files(crd_dir))


Stamp = tuple[str, int, int, int, int, int]  # a file's path from the top, size, times, inode, device
Stamps = tuple[Stamp, ...]


def files_hash(top: Path, paths: Iterable[Path]) -> str:
    """The hash of each regular file among `paths`, its path from `top` and its bytes, in order. A run asks for the
    CRDs' three times and for this tool's code once, 4 MiB and 1 MiB that take ~6 and ~5 ms to hash, so the answer is
    kept, for the process and in the store, by the files' stamps: size, times, inode and device (the change time,
    which no one can set back, moves with every write). Only once every file has kept them two seconds: a file
    written again within one tick of the clock may keep its coarse time stamps."""
    stamps = []
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            continue  # a dangling link: no file, as is_file() says
        if stat.S_ISREG(info.st_mode):
            name = path.relative_to(top).as_posix()
            stamps.append((name, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev))
    settled = all(changed < time.time_ns() - 2 * 10**9 for _, _, _, changed, _, _ in stamps)
    return (_remembered_hash if settled else _hash)(top, tuple(stamps))


def _hash(top: Path, stamps: Stamps) -> str:
    return key(*(part for stamp in stamps for part in (stamp[0], _content(top / stamp[0], stamp))))


def _content(path: Path, stamp: Stamp) -> bytes:
    """A file's bytes; a file that cannot be read, or is larger than any YAML file this tool reads, by its stamps
    (its readers refuse it, so its bytes matter to no verdict; reading a huge one whole would exhaust memory)."""
    try:
        return read_regular(path, MAX_YAML_BYTES)
    except OSError:
        return f"unread {stamp!r}".encode()


@functools.lru_cache(maxsize=4)
def _remembered_hash(top: Path, stamps: Stamps) -> str:
    with contextlib.closing(Store.open()) as store:
        fact = key(_FORMAT, str(top), repr(stamps))
        known = store.get("stamps", [fact]).get(fact)
        if not (isinstance(known, str) and _HASH.fullmatch(known)):  # none, or damaged: a miss, put right
            known = _hash(top, stamps)
            store.put("stamps", {fact: known})
        return known


_HASH = re.compile(r"[0-9a-f]{64}")  # what `key` gives


def cache_directory() -> Path | None:
    configured = os.environ.get(CACHE_ENV)
    if configured == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kserve-gitops"


def refuse_inside(root: Path) -> None:
    """Raise EnvironmentProblem when the cache directory (KSERVE_GITOPS_CACHE_DIR, or XDG_CACHE_HOME's, as a CI
    service may set it) lies inside the git checkout holding `root`, outside its .git directory: `git add -A` would
    commit the records and facts, and a commit could bring forged ones that a later run takes as checked."""
    from generator.errors import EnvironmentProblem  # noqa: PLC0415 -- only when the check runs

    configured = cache_directory()
    checkout = next((p for p in (root, *root.parents) if (p / ".git").exists()), None)
    if configured is None or checkout is None:
        return
    try:
        directory = configured.resolve()
    except (OSError, RuntimeError):  # a link loop: no cache can live there, and the store turns itself off
        return
    if directory.is_relative_to(checkout) and not directory.is_relative_to(checkout / ".git"):
        raise EnvironmentProblem.simple(
            f"the run cache {configured} is inside the git checkout {checkout}, where a commit could hold its records "
            "and facts",
            hint=f"point {CACHE_ENV} outside the checkout (the default is ~/.cache/kserve-gitops), or set it to off",
        )


def _feed(digest: hashlib._Hash, part: bytes) -> None:
    """Length-prefixed, so that no two different sequences of parts hash alike."""
    digest.update(len(part).to_bytes(8, "big"))
    digest.update(part)


@functools.cache
def _tool_digest() -> str:
    """This tool's own code: a new release, or an edited checkout, never reuses an old record."""
    return files_hash(_SOURCE, (p for p in sorted(_SOURCE.rglob("*")) if p.suffix in (".py", ".json")))


def _kustomize_identity() -> str:
    """The binary that would build the kustomizations: path, size and modification time. Asking it for its
    version costs a process start; replacing it (a new version) changes at least one of these."""
    found = shutil.which("kustomize") or shutil.which("kubectl")
    if found is None:
        return "<none>"
    stat = Path(found).resolve().stat()
    return f"{Path(found).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def _files(repo: Path, pruned: Iterable[str]) -> dict[str, FileStamp] | None:
    """Every file under the directories (or the single files) a full run would prune, with its stamps; None when a
    symbolic link stands among them or in their place, which the full run refuses (a record never answers for one,
    nor follows it out of the repository). scandir, not pathlib or os.walk: each entry says what it is without a
    system call of its own, and for thousands of files those calls cost more than the reads."""
    found = {}
    top = str(repo)
    for directory in pruned:
        base = os.path.join(top, directory)
        try:
            info = os.lstat(base)
        except OSError:
            continue  # nothing there
        if stat.S_ISLNK(info.st_mode):
            return None
        if not stat.S_ISDIR(info.st_mode):
            found[directory] = _stamp(info)
            continue
        pending = [(base, directory)]
        while pending:
            parent, relative = pending.pop()
            try:
                entries = list(os.scandir(parent))
            except OSError:
                continue  # unreadable, as os.walk skips it
            for entry in entries:
                if entry.is_symlink():
                    return None
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, f"{relative}/{entry.name}"))
                elif entry.is_file(follow_symlinks=False):
                    try:
                        found[f"{relative}/{entry.name}"] = _stamp(entry.stat(follow_symlinks=False))
                    except OSError:
                        return None  # gone since it was listed: the tree is changing under this run
    return found


def _stamp(info: os.stat_result) -> FileStamp:
    return [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev]


def _read(path: Path | str) -> bytes | None:
    """The bytes of a regular file of the repository, a link refused as the full run refuses it."""
    try:
        return read_regular(path, MAX_YAML_BYTES, follow=False)
    except OSError:  # nothing there, a link, a directory, a FIFO, a file no run wrote (too large): no record holds it
        return None
