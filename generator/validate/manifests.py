"""Every check on generated manifests, before they are written and when `validate` reads them back.

Each object is checked as a file (so findings carry file:line) and again as
kustomize builds it (so what overlays change is checked too): strict CRD
schemas for custom kinds, kubernetes-validate schemas for built-in kinds, and
KServe's own rules for InferenceServices.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import posixpath
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

import yaml

from generator import yamlio
from generator.cache import Store, crd_identity, key, tool_identity
from generator.crds import CRD_LOCK_FILE, yaml_files
from generator.diagnostics import Diagnostic
from generator.errors import FILE_SIZE_LIMIT_HINT, EnvironmentProblem, UserError, unreadable
from generator.generated import is_generated
from generator.lock import LOCK_FILE
from generator.platform.releases import KServeRelease
from generator.spec.model import Platform
from generator.spec.yaml_lines import load as load_yaml
from generator.util.files import MAX_YAML_BYTES, Refused
from generator.validate.crds import CrdSchemas, load_crd_schemas, unpinned
from generator.validate.kserve_rules import PINNED_BY_DEFAULT, check_inference_service
from generator.validate.kustomize import (
    BUILD_ANNOTATIONS,
    BUILDERS,
    KUSTOMIZATION_FILES,
    Identity,
    batch_count,
    build_staged,
    expected_outputs,
    identity_of,
    kustomize_build,
    plain_resources,
    scratch_root,
    shared_ids,
    split_by_file,
    stage_files,
)
from generator.validate.schema_errors import LineOf

CRD_RULE = "crd-schema"


class Checks(Protocol):
    """Checks on files about to be written; `alongside`: the caller's other work, done while kustomize builds."""

    def __call__(
        self,
        files: Mapping[str, bytes],
        platform: Platform,
        *,
        alongside: Callable[[], object] = ...,
        emitted: Mapping[str, Summary] = ...,
        settled: Collection[str] = ...,
        objects: Mapping[str, Any] = ...,
    ) -> list[Diagnostic]: ...


def checks(crd_dir: Path) -> Checks:
    """Checks on files about to be written. Without CRDs the strict schema check is skipped with a warning.
    `emitted`: what files emitted in this run hold (`summaries`); `settled`: those of them whose bytes an earlier run
    saw pass every check in the same `verdict_context` and on the same platform, which are not checked again;
    `objects`: the object of each emitted file of one object."""

    def validate(
        files: Mapping[str, bytes],
        platform: Platform,
        *,
        alongside: Callable[[], object] = lambda: None,
        emitted: Mapping[str, Summary] = MappingProxyType({}),
        settled: Collection[str] = frozenset(),
        objects: Mapping[str, Any] = MappingProxyType({}),
    ) -> list[Diagnostic]:
        def meanwhile() -> tuple[Platform, Known]:
            alongside()
            return platform, {path: (files[path], summary, objects.get(path)) for path, summary in emitted.items()}

        crds, found = _crds(crd_dir, required=False)
        found = found or unpinned(crd_dir, platform, "warning")  # CRDs of other releases, unless there are none
        with _Tree(files=files) as tree, contextlib.closing(Store.open()) as store:
            vouched = {path: emitted[path] for path in settled}
            found += _check_tree(tree, sorted(files), crds, store, meanwhile=meanwhile, settled=vouched)
        return sorted(set(found))

    return validate


Summary = tuple[Identity, tuple[str, ...]]  # an object's identity and the storage prefixes it claims
# Files whose content is known beforehand, by path: a file holding exactly these bytes holds what its summary says,
# and the object given, if any (files a run has just emitted, or the files `validate`'s drift check rendered).
Known = Mapping[str, tuple[bytes, Summary, Any]]
Meanwhile = Callable[[], tuple[Platform, Known]]


def verdict_context(crd_dir: Path) -> str:
    """What a verdict on a file depends on besides its bytes and the platform it is checked for: this tool and
    kustomize, the CRDs, the validators' installations."""
    return key(tool_identity(), _crds(crd_dir, required=False)[0].identity)


def summary_of(value: Any) -> Summary:
    """A summary back from JSON (`json.loads(json.dumps(summary))`), as the store keeps it."""
    (api_version, kind, namespace, name), prefixes = value
    return (api_version, kind, namespace, name), tuple(prefixes)


def tree_checks(crd_dir: Path) -> Callable[[Path, list[str], Meanwhile], list[Diagnostic]]:
    """Checks on files already on disk (`kserve-gitops validate`): here missing CRDs are an error. `meanwhile`:
    the caller's other work, done while kustomize builds the tree; it gives the platform to check against and the
    files whose content it knows (the drift check's render), which then need not be parsed."""

    def validate(root: Path, paths: list[str], meanwhile: Meanwhile) -> list[Diagnostic]:
        crds, found = _crds(crd_dir, required=True)
        missing = bool(found)

        def inputs() -> tuple[Platform, Known]:
            platform, known = meanwhile()
            if not missing:  # CRDs of other releases than the platform's, unless there are none
                found.extend(unpinned(crd_dir, platform, "error"))
            return platform, known

        with _Tree(root=root) as tree, contextlib.closing(Store.open()) as store:
            found += _check_tree(tree, paths, crds, store, meanwhile=inputs)
        return sorted(set(found))

    return validate


@dataclass(frozen=True)
class CheckContext:
    """What every object is checked against: the CRDs, the cluster's Kubernetes version, the
    storage prefixes that ClusterStorageContainers in the same output make downloadable, and the KServe release."""

    crds: CrdSchemas | None
    k8s_version: str
    storage_prefixes: tuple[str, ...] = ()
    kserve: KServeRelease = PINNED_BY_DEFAULT


@dataclass(frozen=True)
class _Crds:
    """CRD schemas, loaded on first need (a run whose objects are all known clean needs none), and the hash of
    the files they come from (what a remembered verdict depends on)."""

    load: Callable[[], CrdSchemas | None]
    identity: str


def check_tree(root: Path, paths: Iterable[str], crds: CrdSchemas | None, platform: Platform) -> list[Diagnostic]:
    """Build each kustomization under `root`; check every object once, located in its source file."""
    with _Tree(root=root) as tree:
        return _check_tree(tree, paths, _Crds(lambda: crds, ""), Store.off(), meanwhile=lambda: (platform, {}))


def _check_tree(
    tree: _Tree,
    paths: Iterable[str],
    crds: _Crds,
    store: Store,
    *,
    meanwhile: Meanwhile,
    settled: Mapping[str, Summary] = MappingProxyType({}),
) -> list[Diagnostic]:
    """Build each kustomization; check every object once, located in its source file. `store`: facts of content
    remembered by earlier runs (what kustomize makes of a file, objects that passed every check). `meanwhile`
    runs while kustomize builds and gives the platform to check against and the files whose content is known
    (what they hold is taken instead of parsing them); then, if kustomize is still at work, the schemas of the
    kinds the files hold are loaded, which the new objects will be checked against. `settled`: files known to
    build and pass every check here, with what they hold: they count in every build, and are not checked again.

    A kustomization that only aggregates directories built here (the root one) is not built again: building
    it would repeat every object (for 3,000 objects, 17 s of kustomize), and the one way it can fail where its
    parts build, the same object twice, is checked directly.
    """
    ordered = sorted(paths)
    builds = [str(Path(p).parent) for p in ordered if p.endswith("kustomization.yaml")]
    aggregates = {b: dirs for b in builds if (dirs := _aggregated(tree, b, builds)) is not None}
    tool = tool_identity() if store.enabled else ""
    with ThreadPoolExecutor(max_workers=BUILDERS) as pool:
        builder = _Builder(tree, pool, store, tool, settled)
        builder.start([b for b in builds if b not in aggregates])  # kustomize runs while the sources are read
        platform, known = meanwhile()
        sources, found = _sources(tree, ordered, store, tool, known, settled=settled)
        prefixes = tuple(sorted({prefix for s in sources.values() for prefix in s.prefixes}))
        checker = _Checker(crds, platform, prefixes, store, tool)
        if builder.busy:
            checker.prepare({(api_version, kind) for api_version, kind, _, _ in sources})
        results = builder.finish(known, checker.precheck)
    built: dict[str, list[Identity]] = {}
    failed = [build for build, result in results.items() if result.problems]
    for build, result in results.items():
        if result.problems:
            found += [replace(d, file=(Path(build) / "kustomization.yaml").as_posix()) for d in result.problems]
            continue
        built[build] = [identity for part in result.parts for identity in part.identities]
        for part in result.parts:
            unknown = _Source(part.path or f"{build}/ (kustomize build)", None)
            part_sources = [sources.pop(identity, unknown) for identity in part.identities]
            if not part.settled:
                checker.add_part(part, part_sources)
    for build, dirs in aggregates.items():
        found += _duplicates(build, {d: built.get(d, []) for d in dirs})
    for source in sources.values():  # beside a kustomization that failed, that failure is the news
        directory = posixpath.dirname(source.file) or "."
        if directory not in failed and not (directory in built and _listed(tree, directory, source.file)):
            found.append(
                Diagnostic(
                    file=source.file,
                    message="not included by any kustomization.yaml",
                    rule="kustomize",
                    hint=_unlisted_hint(tree, directory),
                )
            )
        if (obj := source.object()) is not None:
            checker.add(obj, source)
    return found + checker.findings()


class _Tree:
    """The files to check: on disk under `root`, or in memory (`files`), written to a scratch directory only
    if kustomize must read them where they are (a kustomization built as it stands)."""

    def __init__(self, *, root: Path | None = None, files: Mapping[str, bytes] | None = None) -> None:
        self._root, self._files = root, files
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._staging: tempfile.TemporaryDirectory[str] | None = None
        self._kustomizations: dict[str, Any] = {}
        self._keys: dict[str, str] = {}
        self._read: dict[str, bytes] = {}

    def __enter__(self) -> _Tree:
        return self

    def __exit__(self, *_: object) -> None:
        for scratch in (self._scratch, self._staging):
            if scratch is not None:
                scratch.cleanup()

    def stage(self, files: Mapping[str, bytes]) -> Path:
        """A new directory, removed with the tree, holding `files` staged for kustomize (kustomize.stage_files)."""
        with _scratch_errors():
            if self._staging is None:
                self._staging = tempfile.TemporaryDirectory(prefix="kserve-gitops-files-", dir=scratch_root())
            directory = Path(tempfile.mkdtemp(dir=self._staging.name))
            stage_files(directory, files)
        return directory

    def read(self, path: str) -> bytes:
        """The bytes of a YAML file; raises OSError (a missing file, or one yamlio refuses) or UnicodeDecodeError.
        A file on disk is read once: the builder and the source check both want it."""
        if self._files is None:
            assert self._root is not None
            if path not in self._read:
                self._read[path] = yamlio.read_text(self._root / path, follow=False).encode("utf-8")
            return self._read[path]
        if path not in self._files:
            raise FileNotFoundError(path)
        return self._files[path]

    def is_file(self, path: str) -> bool:
        """A regular file (not a link, which kustomize may refuse to follow)."""
        if self._files is not None:
            return path in self._files
        assert self._root is not None
        full = self._root / path
        return full.is_file() and not full.is_symlink()

    def content_key(self, path: str, tool: str, content: str | bytes) -> str:
        """`key(tool, content)` of the file at `path`, computed once (a text and its UTF-8 bytes key alike): what
        kustomize makes of a file and what it holds are both facts of its content."""
        if path not in self._keys:
            self._keys[path] = key(tool, content)
        return self._keys[path]

    def kustomization(self, build: str) -> Any:
        """The directory's kustomization.yaml parsed, or None when it is anything but plain YAML (then only
        kustomize reads it). Parsed once: both the aggregate check and the builder read it."""
        if build not in self._kustomizations:
            try:
                parsed = yamlio.load_plain(self.read(_join(build, "kustomization.yaml")))
            except (yamlio.NotPlain, yaml.YAMLError, OSError, UnicodeDecodeError):
                parsed = None
            self._kustomizations[build] = parsed
        return self._kustomizations[build]

    def blocking(self, build: str) -> tuple[str, str] | None:
        """A file kustomize would read to build `build` that it must not be given, and why: a FIFO, device or socket
        it would wait on for ever or cannot open, or a file larger than any YAML file this tool reads, which it would
        read whole into memory. What it reads is what the kustomization names: every string in it that names a path
        in the tree, the named files themselves and, for a named directory, what its own kustomization names, in
        turn (links followed, nothing outside the tree). Where a kustomization is not plain YAML, every entry of its
        directory counts. None when there is none (a tree in memory has only its files)."""
        if self._files is not None:
            return None
        assert self._root is not None
        pending, seen = [build], set()
        while pending:
            directory = pending.pop()
            seen.add(directory)
            for path in self._named(directory):
                try:
                    info = os.stat(self._root / path)
                except (OSError, ValueError):
                    continue  # not a path, or nothing there: kustomize says what it cannot find
                if stat.S_ISDIR(info.st_mode):
                    if path not in seen:
                        pending.append(path)
                elif not stat.S_ISREG(info.st_mode):
                    return path, _NOT_REGULAR
                elif info.st_size > MAX_YAML_BYTES:
                    return path, _TOO_LARGE
        return None

    def _named(self, directory: str) -> list[str]:
        """The paths in the tree that the kustomization in `directory` may read: each string it holds, as a path
        from its directory, and the file itself. When it is not plain YAML, every file of the directory (not its
        subdirectories: the root's would lead into .git, whose packs are large)."""
        assert self._root is not None
        document = self.kustomization(directory)
        if document is None:
            try:
                names = [entry.name for entry in os.scandir(self._root / directory) if not entry.is_dir()]
            except OSError:
                return []  # kustomize says what it cannot read
        else:
            names = ["kustomization.yaml", *_strings(document)]
        paths = (posixpath.normpath(posixpath.join(directory, name)) for name in names if not name.startswith("/"))
        return [path for path in paths if path != ".." and not path.startswith("../")]

    def shown(self, problem: Diagnostic) -> Diagnostic:
        """A problem kustomize found in `directory()`, its paths relative to the tree: a scratch directory is gone
        when the user reads them, and a repository's place on this machine is no part of its problem."""
        top = re.compile(re.escape(str(self.directory())) + r"(/|(?![\w.-]))")  # the tree itself is "."

        def relative(text: str) -> str:
            return top.sub(lambda match: "" if match.group(1) else ".", text)

        message, hint = relative(problem.message), relative(problem.hint)
        if self._files is not None:  # files about to be written: nothing to run kustomize on yet
            hint = (
                "fix the kustomization or the files it lists; nothing was written (these are the files this run writes)"
            )
        return replace(problem, message=message, hint=hint)

    def directory(self) -> Path:
        """A directory holding the tree, for a real kustomize build."""
        if self._files is None:
            assert self._root is not None
            return self._root
        if self._scratch is None:
            with _scratch_errors():
                self._scratch = tempfile.TemporaryDirectory(prefix="kserve-gitops-build-", dir=scratch_root())
                for path, content in self._files.items():
                    (Path(self._scratch.name) / path).parent.mkdir(parents=True, exist_ok=True)
                    (Path(self._scratch.name) / path).write_bytes(content)
        return Path(self._scratch.name)


@contextlib.contextmanager
def _scratch_errors() -> Iterator[None]:
    """A scratch directory that cannot take the files kustomize is to build (full, gone) is this machine's problem,
    said as such: not a finding in the files, not a crash."""
    try:
        yield
    except OSError as exc:
        raise EnvironmentProblem.simple(
            f"cannot write the files kustomize builds to a scratch directory: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename else ""),
            hint=FILE_SIZE_LIMIT_HINT
            if exc.errno == errno.EFBIG
            else "make room there, or point TMPDIR at a directory with room",
        ) from None


@dataclass(frozen=True)
class Part:
    """Objects kustomize printed: those it makes of one file of a plain kustomization (`path`, `key` the file's
    content key), or a whole build's (no path, no key). Their identities are at hand; the objects themselves
    are decoded from their remembered JSON on first use, so a file known clean is never decoded."""

    path: str
    key: str
    identities: tuple[Identity, ...]
    encoded: str | None  # the objects as JSON; None when JSON cannot hold them exactly (then `given`), or settled
    given: list[dict[str, Any]] | None = field(default=None, compare=False, repr=False)
    settled: bool = False  # a settled file's: known to pass every check, its objects never wanted (nor held)

    @classmethod
    def of(
        cls,
        objects: list[dict[str, Any]],
        path: str = "",
        content_key: str = "",
        *,
        plain: bool = False,
        encoded: Sequence[str] | None = None,
    ) -> Part:
        """`plain`: the objects are maps, lists, strings, integers, booleans and nulls with string keys, which JSON
        gives back exactly without being asked. `encoded`: each object's `_canonical` JSON, when the caller has it."""
        return cls(
            path, content_key, tuple(identity_of(o) for o in objects), _json(objects, encoded, plain=plain), objects
        )

    @functools.cached_property
    def objects(self) -> list[dict[str, Any]]:
        if self.given is not None:
            return self.given
        assert self.encoded is not None
        decoded: list[dict[str, Any]] = json.loads(self.encoded)
        return decoded


@dataclass(frozen=True)
class Built:
    """A kustomization's objects as `kustomize build` prints them (in any order), or kustomize's error;
    `assembled` when they were put together from what kustomize makes of each file (a plain kustomization),
    one part per file."""

    parts: tuple[Part, ...]
    problems: list[Diagnostic]
    assembled: bool = False

    @classmethod
    def whole(cls, objects: list[dict[str, Any]]) -> Built:
        return cls((Part.of(objects),), [])

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [obj for part in self.parts for obj in part.objects]


def build_kustomizations(root: Path, builds: Iterable[str], store: Store = Store.off()) -> dict[str, Built]:  # noqa: B008 -- frozen
    """What kustomize builds of each kustomization directory `builds` (relative to `root`)."""
    with _Tree(root=root) as tree, ThreadPoolExecutor(max_workers=BUILDERS) as pool:
        builder = _Builder(tree, pool, store, tool_identity() if store.enabled else "")
        builder.start(sorted(builds))
        return builder.finish()


class _Builder:
    """Every kustomization's objects, as `kustomize build` makes them, at the cost of what changed.

    Plain kustomizations (kustomize.plain_resources) are assembled from what kustomize makes of each file:
    remembered in the store, or built in batches of files not seen before, at most BUILDERS processes at
    once. Anything else, and any plain one that fails that way (a file kustomize refuses, two objects that
    may share an id), is built as it stands, so the user sees kustomize's own error.
    """

    def __init__(
        self,
        tree: _Tree,
        pool: ThreadPoolExecutor,
        store: Store,
        tool: str,
        settled: Mapping[str, Summary] = MappingProxyType({}),
    ) -> None:
        self._tree, self._pool, self._store, self._tool = tree, pool, store, tool
        self._settled = settled  # files known to build: their parts are their identities
        self._plain: dict[str, list[tuple[str, str]]] = {}  # build -> (path, content key) of each of its files
        self._batches: list[tuple[list[str], Future[str | None]]] = []
        self._whole: dict[str, Future[Built]] = {}
        self._known: dict[str, Part] = {}  # by content key (a settled file's: its path); path filled in per build
        self._contents: dict[str, bytes] = {}  # by content key: the files built in this run

    def start(self, builds: list[str]) -> None:
        contents: dict[str, bytes] = {}
        settled: dict[str, Part] = {}
        for build in builds:
            files = self._plain_files(build)
            if files is None:
                self._build_whole(build)
                continue
            parts = []
            for path, content in files:
                if (summary := self._settled.get(path)) is not None:
                    settled[path] = Part(path, "", (summary[0],), None, settled=True)
                    parts.append((path, path))
                    continue
                name = self._tree.content_key(path, self._tool, content) + posixpath.splitext(path)[1]
                contents[name] = content
                parts.append((path, name))
            self._plain[build] = parts
        remembered = self._store.get("build", contents)
        self._known = {name: _remembered_part(name, value) for name, value in remembered.items()} | settled
        unknown = sorted(set(contents) - set(self._known))
        self._contents = {name: contents[name] for name in unknown}
        count = batch_count(len(unknown))
        # Each batch is built in the pool as soon as it is staged (see kustomize.build_staged).
        for names in (unknown[index::count] for index in range(count)):
            directory = self._tree.stage({n: contents[n] for n in names})
            self._batches.append((names, self._pool.submit(_built_and_removed, directory)))

    @property
    def busy(self) -> bool:
        """Whether kustomize has files to build in this run."""
        return bool(self._batches or self._whole)

    def finish(
        self,
        known: Known = MappingProxyType({}),
        each: Callable[[list[dict[str, Any]]], Sequence[str]] = lambda objects: list(map(_canonical, objects)),
    ) -> dict[str, Built]:
        """Each build's objects (in kustomize's order for builds as they stand) or its problems, in build order.
        `known`: files whose object is known when they hold exactly the known bytes; what kustomize prints for
        those is compared with what it should print for that object instead of being parsed. `each`: given the
        objects of each batch as it is built, while kustomize builds the next ones; gives their `_canonical` JSON,
        which the store keeps them as (encoding 3,000 objects a second time took 0.08 s of a full run)."""
        failed: set[str] = set()
        expected = expected_outputs(self._known_objects(known))
        for names, future in self._batches:
            try:
                batch = split_by_file(future.result(), names, expected)
            except UserError:  # the batch is built again as whole builds, which say what went wrong
                batch = None
            if batch is None:
                failed.update(names)
                continue
            encoded = iter(each([obj for objects in batch.values() for obj in objects]))
            learned: dict[str, str] = {}
            for name, objects in batch.items():
                # the object this run emitted, which kustomize printed as expected: plain, so JSON holds it exactly
                plain = name in expected and len(objects) == 1 and objects[0] is expected[name][1]
                texts = [next(encoded) for _ in objects]
                part = self._known[name] = Part.of(objects, content_key=name, plain=plain, encoded=texts)
                if part.encoded is not None:
                    learned[name] = f"{json.dumps(part.identities)}\n{part.encoded}"
            self._store.put("build", learned)  # batch by batch: all at once would hold a copy of every object's JSON
        assembled: dict[str, Built] = {}
        for build, files in self._plain.items():
            if failed.intersection(name for _, name in files):
                self._build_whole(build)
                continue
            parts = tuple(_at(self._known[name], path) for path, name in files)
            if shared_ids([identity for part in parts for identity in part.identities]):
                self._build_whole(build)
            else:
                assembled[build] = Built(parts, [], assembled=True)
        results = {**assembled, **{build: future.result() for build, future in self._whole.items()}}
        return {build: results[build] for build in sorted(results)}

    def _known_objects(self, known: Known) -> dict[str, Any]:
        """The object of each file built in this run (by content key) that `known` gives."""
        found = {}
        for files in self._plain.values():
            for path, name in files:
                held = known.get(path)
                if held is not None and held[2] is not None and self._contents.get(name) == held[0]:
                    found[name] = held[2]
        return found

    def _plain_files(self, build: str) -> list[tuple[str, bytes]] | None:
        """The files of a plain kustomization with their bytes; None for any other."""
        if any(self._tree.is_file(_join(build, n)) for n in KUSTOMIZATION_FILES[1:]):
            return None  # kustomize refuses a directory with two
        kustomization = self._tree.kustomization(build)
        names = plain_resources(kustomization) if isinstance(kustomization, dict) else None
        if names is None:
            return None
        files = []
        for name in names:
            path = _join(build, name)
            try:
                content = self._tree.read(path) if self._tree.is_file(path) else None
            except (OSError, UnicodeDecodeError):
                content = None
            if content is None or BUILD_ANNOTATIONS in content:
                return None
            files.append((path, content))
        return files

    def _build_whole(self, build: str) -> None:
        directory = self._tree.directory() / build

        def one() -> Built:
            if (blocking := self._tree.blocking(build)) is not None:
                return Built((), [_blocked(*blocking)])
            try:
                return Built.whole(kustomize_build(directory))
            except EnvironmentProblem:  # no kustomize at all: this machine's problem, not the kustomization's
                raise
            except UserError as exc:
                return Built((), [self._tree.shown(d) for d in exc.diagnostics])

        self._whole[build] = self._pool.submit(one)


def _built_and_removed(directory: Path) -> str | None:
    """`build_staged`, the batch's files removed once kustomize has read them: while other batches build, not all
    3,000 after the last one."""
    try:
        return build_staged(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _unreadable_hint(exc: Exception, path: str) -> str:
    """How to fix a file the checks cannot read: `render` writes a generated file anew, but never over one it
    refuses to read (a link, a FIFO, a huge file), nor one it cannot read, nor one it did not write."""
    if isinstance(exc, PermissionError):
        return "make it readable for this user"
    if isinstance(exc, Refused):
        return f"remove it (`rm {path}`), then run `kserve-gitops render`"
    if isinstance(exc, UnicodeDecodeError) and not is_generated(bytes(exc.object)):
        return "save it as UTF-8 (kserve-gitops did not write it, and leaves it to you)"
    return "render it again with `kserve-gitops render`"


def _listed(tree: _Tree, directory: str, path: str) -> bool:
    """Whether the kustomization in `directory` lists `path` under `resources`: its objects then came out of the
    build under other names or namespaces (`namePrefix`, `namespace`), not left out of it."""
    document = tree.kustomization(directory)
    resources = document.get("resources") if isinstance(document, dict) else None
    return isinstance(resources, list) and any(
        isinstance(name, str) and posixpath.normpath(posixpath.join(directory, name)) == path for name in resources
    )


def _unlisted_hint(tree: _Tree, directory: str) -> str:
    """How to fix a file no kustomization lists: list it, unless kserve-gitops writes that kustomization (its next
    run would undo the edit) or there is none to list it in."""
    try:
        generated = is_generated(tree.read(_join(directory, "kustomization.yaml")))
    except FileNotFoundError:
        return f"nothing builds {directory}/, which has no kustomization.yaml: move the file where one lists it"
    except (OSError, UnicodeDecodeError):
        generated = False
    if generated:
        return (
            f"move it out of {directory}/: kserve-gitops writes that directory's kustomization.yaml, which lists only "
            "what it renders"
        )
    return "list it under `resources:` of its directory's kustomization.yaml"


_NOT_REGULAR = (
    "is not a regular file (a FIFO, device or socket): kustomize would wait on it for ever or fail to read it"
)
_TOO_LARGE = f"is larger than {MAX_YAML_BYTES // 2**20} MiB: kustomize would read it whole"


def _strings(value: Any) -> Iterator[str]:
    """Every string in a parsed YAML document, keys and values."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key_, item in value.items():
            yield from _strings(key_)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _blocked(path: str, why: str) -> Diagnostic:
    """A build not run because of the file at `path` (the finding is the kustomization's: `_check_tree` says so)."""
    return Diagnostic(
        message=f"{path} {why}, so this kustomization was not built",
        rule="kustomize",
        hint="put a regular file of YAML in its place, or stop naming it in the kustomization",
    )


def _at(part: Part, path: str) -> Part:
    """`part` as the part of the file at `path` (one content may be in several files; a settled part has its path)."""
    return part if part.path == path else replace(part, path=path)


def _remembered_part(name: str, fact: str) -> Part:
    """A part as the store holds it: its identities as JSON, a newline, its objects as JSON."""
    identities, _, encoded = fact.partition("\n")
    return Part("", name, tuple((a, k, ns, n) for a, k, ns, n in json.loads(identities)), encoded)


def _join(build: str, name: str) -> str:
    """The path of `name` (no slash in it) in the kustomization directory `build` ("." for the root)."""
    return name if build == "." else f"{build}/{name}"


def _canonical(obj: Any) -> str:
    """An object's JSON with its keys sorted: equal objects, whatever the order of their keys, read alike."""
    return json.dumps(obj, sort_keys=True)


def _json(values: list[dict[str, Any]], encoded: Sequence[str] | None, *, plain: bool) -> str | None:
    """`values` as one JSON array of their `_canonical` JSON (`encoded`, or encoded here), if JSON gives them back
    unchanged (no dates, no non-string keys): always when they are `plain`."""
    try:
        text = "[" + ", ".join(encoded if encoded is not None else map(_canonical, values)) + "]"
    except (TypeError, ValueError):
        return None
    return text if plain or json.loads(text) == values else None


class _Checker:
    """Every distinct object checked once; an object that passed every check under the same context (CRDs,
    Kubernetes version, storage prefixes, this tool) is remembered clean and not checked again, and so is a file
    of a plain kustomization whose objects all passed (its objects are then not even decoded). Objects with
    findings are always checked again: their findings carry file and line."""

    def __init__(self, crds: _Crds, platform: Platform, prefixes: tuple[str, ...], store: Store, tool: str) -> None:
        self._crds, self._store = crds, store
        self._k8s_version, self._kserve, self._prefixes = platform.kubernetes_version, platform.kserve, prefixes
        self._context = (
            key(tool, crds.identity, self._k8s_version, self._kserve.tag, *prefixes) if store.enabled else ""
        )
        self._pending: dict[str, tuple[Mapping[str, Any], _Source]] = {}
        # by id: an object checked early (held here, so that no other object takes its id), its canonical JSON,
        # whether it passed
        self._prechecked: dict[int, tuple[Mapping[str, Any], str, bool]] = {}
        self._parts: dict[str, tuple[Part, list[_Source]]] = {}  # by the key of their verdict

    def add(self, obj: Mapping[str, Any], source: _Source) -> str:
        seen = self._prechecked.get(id(obj))
        encoded = seen[1] if seen is not None else _canonical(obj)
        self._pending.setdefault(encoded, (obj, source))
        return encoded

    def precheck(self, objects: list[dict[str, Any]]) -> list[str]:
        """Check objects before they are added, while kustomize builds others: an object found clean here is not
        checked again when added (one with findings is, then with its file and line). Gives each one's `_canonical`
        JSON, which the builder remembers it by."""
        encoded = []
        for obj in objects:
            passed = not check_object(obj, self._check_context)
            self._prechecked[id(obj)] = (obj, text := _canonical(obj), passed)
            encoded.append(text)
        return encoded

    @functools.cached_property
    def _check_context(self) -> CheckContext:
        return CheckContext(self._crds.load(), self._k8s_version, self._prefixes, self._kserve)

    def prepare(self, kinds: Iterable[tuple[str, str]]) -> None:
        """Load the CRD schemas of `kinds` now (while kustomize builds), rather than when the first object of each
        is checked."""
        schemas = self._crds.load()
        for kind in kinds:
            if schemas is not None and _is_custom(kind[0]):
                schemas.schemas.get(kind)  # parses the CRD file that serves it, once per run

    def add_part(self, part: Part, sources: list[_Source]) -> None:
        """A part's objects, each with its source."""
        if part.key and self._store.enabled:
            self._parts[key(self._context, part.key)] = (part, sources)
        else:
            for obj, source in zip(part.objects, sources, strict=True):
                self.add(obj, source)

    def findings(self) -> list[Diagnostic]:
        clean_parts = self._store.get("clean-file", self._parts)
        undecided = {
            verdict: [self.add(obj, source) for obj, source in zip(part.objects, sources, strict=True)]
            for verdict, (part, sources) in self._parts.items()
            if verdict not in clean_parts
        }
        keys = {canonical: key(self._context, canonical) for canonical in self._pending} if self._store.enabled else {}
        clean = self._store.get("clean", keys.values())
        found: list[Diagnostic] = []
        passed: dict[str, str] = {}
        failing: set[str] = set()
        for canonical, (obj, source) in self._pending.items():
            if keys.get(canonical) in clean:
                continue
            seen = self._prechecked.get(id(obj))
            if seen is not None and seen[2]:
                problems = []
            else:
                problems = check_object(obj, self._check_context, file=source.file, line_of=source.line_of)
            if problems:
                found += problems
                failing.add(canonical)
            elif canonical in keys:
                passed[keys[canonical]] = ""
        self._store.put("clean", passed)
        self._store.put("clean-file", {v: "" for v, objects in undecided.items() if failing.isdisjoint(objects)})
        return found


def _aggregated(tree: _Tree, build: str, builds: list[str]) -> list[str] | None:
    """The directories a kustomization lists, if it lists nothing else and each is built here; else None."""
    kustomization = tree.kustomization(build) or {}  # when unreadable, kustomize itself says what is wrong
    resources = kustomization.get("resources", []) if isinstance(kustomization, dict) else []
    if not resources or set(kustomization) - {"apiVersion", "kind", "resources"}:
        return None
    dirs = []
    for resource in resources:  # an environment lists a thousand files: the first one settles it
        directory = (Path(build) / str(resource)).as_posix().removeprefix("./")
        if directory not in builds:
            return None
        dirs.append(directory)
    return dirs


def _duplicates(build: str, parts: dict[str, list[Identity]]) -> list[Diagnostic]:
    owners: dict[Identity, list[str]] = {}
    for part, identities in parts.items():
        for identity in identities:
            owners.setdefault(identity, []).append(part)
    return [
        Diagnostic(
            file=(Path(build) / "kustomization.yaml").as_posix(),
            rule="kustomize",
            message=f"{kind} {namespace}/{name} comes from both {' and '.join(dirs)}: kustomize cannot build "
            "this kustomization",
            hint="give the environments different namespaces",
        )
        for (_, kind, namespace, name), dirs in owners.items()
        if len(dirs) > 1
    ]


@dataclass(frozen=True)
class _Source:
    """Where an object comes from: a manifest file (`text`, parsed again only if the object itself is needed),
    or a build's output (no text, no line)."""

    file: str
    text: str | None
    prefixes: tuple[str, ...] = ()  # the storage prefixes its ClusterStorageContainer claims

    @functools.cached_property
    def line_of(self) -> LineOf | None:
        return _Lines(self.text, self.file) if self.text is not None else None

    def object(self) -> Mapping[str, Any] | None:
        return _parse(self.text, self.file)[0] if self.text is not None else None


def _sources(
    tree: _Tree,
    paths: Iterable[str],
    store: Store,
    tool: str,
    known: Known,
    *,
    settled: Mapping[str, Summary] = MappingProxyType({}),
) -> tuple[dict[Identity, _Source], list[Diagnostic]]:
    """Every manifest file parsed, keyed by the object's identity, so built objects map back to file:line.
    What a file holds (its object's identity, the storage prefixes it claims) is taken from `settled`, from
    `known` when the file holds exactly the bytes known, or from the store when it was parsed before without a
    problem (a settled file's was stored by the run that settled it)."""
    wanted = [p for p in paths if p.endswith(".yaml") and not p.endswith("kustomization.yaml") and p != LOCK_FILE]
    texts: dict[str, str] = {}
    held: dict[str, Summary] = {}  # what a file holds, known without parsing it
    problems: list[Diagnostic] = []
    for path in wanted:
        try:
            content = tree.read(path)
            texts[path] = content.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(
                Diagnostic(
                    file=path,
                    message=f"cannot read: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}",
                    rule="manifest",
                    hint=_unreadable_hint(exc, path),
                )
            )
            continue
        if (summary := settled.get(path)) is not None:
            held[path] = summary
        elif (expected := known.get(path)) is not None and expected[0] == content:
            held[path] = expected[1]
    keys = (
        {path: tree.content_key(path, tool, text) for path, text in texts.items() if path not in settled}
        if store.enabled
        else {}
    )
    remembered = store.get("source", keys.values())
    learned: dict[str, str] = {}
    sources: dict[Identity, _Source] = {}
    identity: Identity
    for path, text in texts.items():
        fact = remembered.get(keys.get(path, ""))
        if path in held:  # remembered for a later `validate` that does not know it
            identity, prefixes = held[path]
            if path in keys and fact is None:
                learned[keys[path]] = json.dumps((identity, prefixes))
        elif fact is not None:
            identity, prefixes = summary_of(json.loads(fact))
        else:
            obj, found = _parse(text, path)
            problems += found
            if obj is None:
                continue
            identity, prefixes = identity_of(obj), _storage_prefixes([obj])
            if path in keys:
                learned[keys[path]] = json.dumps((identity, prefixes))
        sources[identity] = _Source(path, text, tuple(prefixes))
    store.put("source", learned)
    return sources, problems


def summaries(documents: Mapping[str, Sequence[Any]]) -> dict[str, Summary]:
    """What the checks take from each file emitted from one object (yamlio.Kept), as parsing the file would give
    it. Only this is kept, not the documents: a run holds it while kustomize builds."""
    return {
        path: (identity_of(docs[0]), _storage_prefixes(docs))
        for path, docs in documents.items()
        if len(docs) == 1 and _is_object(docs[0])
    }


def check_object(
    obj: Mapping[str, Any], context: CheckContext, *, file: str = "", line_of: LineOf | None = None
) -> list[Diagnostic]:
    """Strict schema (CRD for custom groups, kubernetes-validate for built-in ones) plus KServe's rules."""
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    if _is_custom(api_version):
        crds = context.crds
        found = crds.validate(obj, file=file, line_of=line_of) if crds is not None else []
    else:  # kubernetes-validate and jsonschema load on the first built-in kind
        from generator.validate.core_kinds import load_core_schemas  # noqa: PLC0415

        found = load_core_schemas(context.k8s_version).validate(obj, file=file, line_of=line_of)
    if kind == "InferenceService":
        found += check_inference_service(
            obj, kserve=context.kserve, extra_storage_prefixes=context.storage_prefixes, file=file, line_of=line_of
        )
    return found


def _storage_prefixes(objects: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """URI prefixes that ClusterStorageContainers among `objects` claim (KServe checks these first)."""
    prefixes = {
        str(uri_format["prefix"])
        for obj in objects
        if obj.get("kind") == "ClusterStorageContainer"
        for uri_format in obj.get("spec", {}).get("supportedUriFormats", [])
        if isinstance(uri_format, Mapping) and "prefix" in uri_format
    }
    return tuple(sorted(prefixes))


def _is_custom(api_version: str) -> bool:
    """Built-in groups have no dot (apps/v1, v1) or end in .k8s.io; everything else comes from a CRD."""
    group = api_version.split("/", maxsplit=1)[0] if "/" in api_version else ""
    return "." in group and not group.endswith(".k8s.io")


def _parse(text: str, path: str) -> tuple[Mapping[str, Any] | None, list[Diagnostic]]:
    try:
        data = yamlio.load_plain(text)  # libyaml and a direct build for the common case: one plain document
    except (yamlio.NotPlain, yaml.YAMLError):  # anything else is read again by yaml_lines, which words it
        data, _, problems = load_yaml(text, path)
        if problems:
            return None, problems
    if not _is_object(data):
        return None, [
            Diagnostic(
                file=path,
                message="expected one Kubernetes object with a kind",
                hint="one object per file",
                rule="manifest",
            )
        ]
    return data, []


def _is_object(data: Any) -> bool:
    """What `_parse` accepts: one Kubernetes object, a map with a kind."""
    return isinstance(data, dict) and "kind" in data


class _Lines:
    """file:line for a finding, computed on the first one: most files have none, and positions cost a
    pure-Python pass over every node."""

    def __init__(self, text: str, path: str) -> None:
        self._text, self._path = text, path
        self._line_of: LineOf | None = None

    def __call__(self, json_path: str) -> int:
        if self._line_of is None:
            self._line_of = load_yaml(self._text, self._path)[1].line_of_json_path
        return self._line_of(json_path)


def _crds(crd_dir: Path, required: bool) -> tuple[_Crds, list[Diagnostic]]:
    try:  # one this user may not list is no missing one: its files would go unread, and the checks unchecked
        os.scandir(crd_dir).close()
    except PermissionError as exc:
        raise unreadable(str(crd_dir), exc) from None
    except OSError:
        pass  # none there: said below
    # a directory holding only the lock was never fetched
    if any(p.name != CRD_LOCK_FILE and p.is_file() for p in yaml_files(crd_dir)):
        return _Crds(functools.partial(load_crd_schemas, crd_dir), crd_identity(crd_dir)), []
    missing = Diagnostic(
        message=f"no CRDs in {crd_dir}: manifests were not checked against the KServe and Argo CD CRD schemas",
        hint="run `kserve-gitops schemas fetch`, or pass --crd-dir DIR with the KServe and Argo CD CRDs",
        severity="error" if required else "warning",
        rule=CRD_RULE,
    )
    return _Crds(lambda: None, "<none>"), [missing]
