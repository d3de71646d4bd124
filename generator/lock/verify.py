"""models.lock is a claim about the registry; these checks hold it to that claim.

The lock is a text file anyone who can open a pull request can edit, and what it says becomes
the InferenceService's `storageUri`. Two checks stop a hand-forged entry:

- `locations` (offline, in `render`, `validate` and `propose`): a `method: runtime` entry's
  `artifactUri` must be a storage location under a prefix models.yaml declares (`registry/uris.py`);
- `verify` (`lock --check`, `generate --check`, `propose`): every locked version is read again
  from the registry, in the same batched resolve as locking (one `version N` query per distinct
  version), and each field the registry gave — the version's existence, its run id, its download
  URI, the artifact location derived from it, the MLmodel facts (recorded whenever the registry can read
  them now) — must be what it says now.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from generator.diagnostics import Diagnostic, Severity, json_path
from generator.excerpt import quoted
from generator.lock.io import dump_info
from generator.lock.model import Lock, LockEntry
from generator.registry.base import ModelInfo, ModelVersion, NotFound, Query, Resolution
from generator.registry.uris import Unfetchable, location_problem, storage_uri
from generator.spec.model import Ref, Spec, Target

RULE = "lock-verify"
LOCATION_RULE = "lock-storage-uri"
UNSERVED_RULE = "lock-unserved"


def queries(spec: Spec, lock: Lock) -> list[Query]:
    """The registry questions that re-read every locked version of a target models.yaml still has."""
    return sorted({_query(entry) for entry, _ in _entries(spec, lock)})


def verify(spec: Spec, lock: Lock, answers: Mapping[Query, Resolution]) -> list[Diagnostic]:
    """Every way the locked entries differ from the registry's `answers` (to `queries`), one error each."""
    found = [
        (entry, list(_differences(spec, lock, entry, target, answers[_query(entry)])))
        for entry, target in _entries(spec, lock)
    ]
    return [d for _, differences in _in_file_order([f for f in found if f[1]]) for d in differences]


def locations(spec: Spec, lock: Lock) -> list[Diagnostic]:
    """`method: runtime` entries whose artifactUri is not an allowed storage location (no registry call)."""
    prefixes = spec.storage_prefixes
    allowed = ", ".join(prefixes) or "none declared"
    misplaced = [
        (entry, target)
        for entry, target in _entries(spec, lock)
        if target.serving.method == "runtime" and location_problem(entry.artifact_uri, prefixes)
    ]
    return [
        _error(
            lock,
            entry,
            "artifactUri",
            f"artifactUri {quoted(entry.artifact_uri)} {problem} (allowed prefixes: {allowed})",
            _fix(
                entry,
                target,
                "if that location is right, add its prefix to registry.allowedStoragePrefixes in models.yaml",
            ),
            rule=LOCATION_RULE,
        )
        for entry, target in _in_file_order(misplaced)
        if (problem := location_problem(entry.artifact_uri, prefixes))
    ]


def unserved(spec: Spec, lock: Lock, severity: Severity) -> list[Diagnostic]:
    """Entries for a model, or a model in an environment, that models.yaml no longer serves: they deploy nothing,
    but the lock under review is not the one `lock` writes (it drops them), so a reviewer reads versions that are
    not served. One finding a model, at its first entry, naming its environments (no registry call)."""
    served = {t.key for t in spec.targets}
    by_model: dict[str, list[LockEntry]] = {}
    for entry in lock.entries.values():
        if entry.key not in served:
            by_model.setdefault(entry.model, []).append(entry)
    return [
        Diagnostic(
            file=lock.file,
            line=entries[0].line_of(),
            path=json_path(("models", model, entries[0].env)),
            message=f"{model}: entries for {', '.join(e.env for e in entries)}, which models.yaml does not serve "
            "(they deploy nothing)",
            hint="run `kserve-gitops lock` to drop them (no registry call), or serve the model there again in "
            "models.yaml",
            severity=severity,
            rule=UNSERVED_RULE,
        )
        for model, entries in sorted(by_model.items(), key=lambda pair: pair[1][0].line_of())
    ]


def _entries(spec: Spec, lock: Lock) -> list[tuple[LockEntry, Target]]:
    """The entries render would use (those of targets models.yaml still declares) with their targets."""
    targets = {t.key: t for t in spec.targets}
    return [(e, targets[e.key]) for e in lock.entries.values() if e.key in targets]


_Found = TypeVar("_Found", bound=tuple[LockEntry, Any])


def _in_file_order(found: list[_Found]) -> list[_Found]:
    """Entries with findings, in the order they are in the file. Sorted only once filtered: a line costs the
    lock a second parse, which a run without findings never pays."""
    return sorted(found, key=lambda pair: (pair[0].line_of(), pair[0].key))


def _differences(spec: Spec, lock: Lock, entry: LockEntry, target: Target, answer: Resolution) -> Iterator[Diagnostic]:
    if isinstance(answer, NotFound):
        yield _error(
            lock,
            entry,
            "version",
            f"version {entry.version} of registered model '{entry.registered_model}' "
            f"is not in the registry: {answer.message}",
            _gone_fix(entry, target),
        )
        return
    if entry.info is None and answer.info is not None:
        # Without its MLmodel facts the compat rules know nothing to fail, and a `loadCheck: loads` beside them
        # would pass a version its runtime cannot load (and `compat` skips a version with a verdict).
        yield _error(
            lock,
            entry,
            "version",
            f"mlmodel is not recorded but the registry has {quoted(_facts(answer.info))} for "
            f"{quoted(entry.registered_model)} version {entry.version}",
            _fix(entry, target),
        )
    for key, locked, registry in _fields(spec, entry, answer):
        if locked != registry:
            yield _error(
                lock,
                entry,
                key,
                f"{key} is locked as {quoted(locked)} but the registry has {quoted(registry)} for "
                f"{quoted(entry.registered_model)} version {entry.version}",
                _fix(entry, target),
            )


def _fields(spec: Spec, entry: LockEntry, answer: ModelVersion) -> Iterator[tuple[str, str, str]]:
    """(lock key, locked value, registry value) for each field models.lock copies from the registry."""
    yield "runId", entry.run_id, answer.run_id
    yield "source", entry.source, answer.download_uri
    where = storage_uri(answer.download_uri, spec.artifacts_destination)
    yield "artifactUri", entry.artifact_uri, where.message if isinstance(where, Unfetchable) else where
    if entry.info is not None and answer.info is not None:  # None: never recorded, or unreadable now
        yield "mlmodel", _facts(entry.info), _facts(answer.info)


def _facts(info: ModelInfo) -> str:
    return ", ".join(f"{key}: {value}" for key, value in dump_info(info).items())


def _query(entry: LockEntry) -> Query:
    return Query(entry.registered_model, Ref("version", entry.version))


def _fix(entry: LockEntry, target: Target, also: str = "") -> str:
    """How to get a true entry back: undo the edit, or have the registry write it again (`--update` re-resolves
    only floating references that are not held; any other entry is resolved afresh once it is missing)."""
    selector = f"{entry.model}/{entry.env}"
    again = (
        f"run `kserve-gitops lock --update {selector}`"
        if target.ref.floating and not target.hold
        else f"delete models.{entry.model}.{entry.env} from models.lock and run `kserve-gitops lock`"
    )
    return f"revert the hand edit of models.lock, or {again} to record what the registry says" + (
        f"; {also}" if also else ""
    )


def _gone_fix(entry: LockEntry, target: Target) -> str:
    """How to get a true entry back when the registry lacks the locked version: undo a hand edit, or, when the version
    was deleted in MLflow, have models.yaml name one that exists (locking the missing one again only fails again)."""
    if target.hold:
        again = f"pin an existing one: `kserve-gitops pin {entry.model} {entry.env} VERSION`"
    elif target.ref.floating:
        again = f"run `kserve-gitops lock --update {entry.model}/{entry.env}` to lock what its reference names now"
    else:
        again = (
            f"set models.{entry.model}.environments.{entry.env}.version in models.yaml to an existing version and "
            "run `kserve-gitops generate`"
        )
    return f"revert the hand edit of models.lock; if the version was deleted in MLflow, {again}"


def _error(lock: Lock, entry: LockEntry, key: str, message: str, hint: str, *, rule: str = RULE) -> Diagnostic:
    return Diagnostic(
        file=lock.file,
        line=entry.line_of(key),
        path=json_path(("models", entry.model, entry.env, key)),
        message=f"{entry.model}/{entry.env}: {message}",
        hint=hint,
        rule=rule,
    )
