"""Spec + old lock + registry answers → new lock. Pure: the registry is asked elsewhere.

Like pip-compile, a lock entry is kept while it still satisfies models.yaml.
Floating references (alias, stage, latest) move only when `--update` selects them;
numeric versions never move; `hold: true` entries never move.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from generator.diagnostics import Diagnostic, json_path
from generator.lock.model import Lock, LockEntry
from generator.registry.base import ModelVersion, NotFound, Query, Resolution
from generator.registry.uris import Unfetchable, storage_uri
from generator.spec.model import Spec, Target


@dataclass(frozen=True)
class Update:
    """Which floating references `lock --update` may move: all, or `MODEL` / `MODEL/ENV`."""

    selectors: tuple[str, ...] = ()
    everything: bool = False

    @classmethod
    def parse(cls, values: Sequence[str] | None) -> Update:
        """`None`: no update; `[]` or `['']`: everything; otherwise the named selectors."""
        if values is None:
            return cls()
        named = tuple(v for v in values if v)
        return cls(selectors=named, everything=not named)

    def selects(self, target: Target) -> bool:
        return self.everything or target.model in self.selectors or (
            f"{target.model}/{target.env}" in self.selectors
        )

    def unknown_selectors(self, spec: Spec) -> list[str]:
        known = {t.model for t in spec.targets} | {f"{t.model}/{t.env}" for t in spec.targets}
        return [s for s in self.selectors if s not in known]


def needs_resolution(target: Target, entry: LockEntry | None, update: Update) -> bool:
    if entry is None or entry.registered_model != target.registered_model or entry.reference != target.ref:
        return True
    return not target.hold and target.ref.floating and update.selects(target)


def queries_for(spec: Spec, lock: Lock, update: Update) -> list[Query]:
    """The distinct registry questions this run must ask, in a stable order."""
    todo = {
        Query(t.registered_model, t.ref)
        for t in spec.targets
        if needs_resolution(t, lock.get(t.model, t.env), update)
    }
    return sorted(todo)


def merge(
    spec: Spec, lock: Lock, update: Update, answers: Mapping[Query, Resolution]
) -> tuple[Lock, list[Diagnostic]]:
    """The new lock: kept entries, plus fresh ones from `answers`; unresolvable targets are diagnostics."""
    entries: dict[tuple[str, str], LockEntry] = {}
    problems: list[Diagnostic] = []
    for target in spec.targets:
        old = lock.get(target.model, target.env)
        if not needs_resolution(target, old, update) and old is not None:
            entry: LockEntry | Diagnostic = _relocated(old, spec, target)
        else:
            entry = _entry(target, answers[Query(target.registered_model, target.ref)], spec)
        if isinstance(entry, Diagnostic):
            problems.append(entry)
        else:
            entries[target.key] = entry
    return Lock(entries), problems


def stale_entries(spec: Spec, lock: Lock) -> list[Diagnostic]:
    """Targets whose lock entry is missing or no longer matches models.yaml (for offline render)."""
    problems = []
    for target in spec.targets:
        entry = lock.get(target.model, target.env)
        if needs_resolution(target, entry, Update()):
            what = "has no lock entry" if entry is None else "changed since models.lock was written"
            problems.append(_at(target, spec, f"{target.model}/{target.env} {what}",
                                "run `kserve-gitops lock` (or `generate`) with registry access"))
        elif (
            entry is not None
            and isinstance(relocated := _relocated(entry, spec, target), LockEntry)
            and relocated.artifact_uri != entry.artifact_uri
        ):
            problems.append(_at(target, spec, "registry.artifactsDestination changed since the lock was written",
                                "run `kserve-gitops lock` to update artifact locations (no registry call)"))
    return problems


def _entry(target: Target, answer: Resolution, spec: Spec) -> LockEntry | Diagnostic:
    if isinstance(answer, NotFound):
        return _at(target, spec, answer.message, answer.hint, field=target.ref.kind)
    return _located(target, answer, spec)


def _located(target: Target, version: ModelVersion, spec: Spec) -> LockEntry | Diagnostic:
    where = storage_uri(version.download_uri, spec.artifacts_destination)
    if isinstance(where, Unfetchable):
        return _at(target, spec, f"{version.registered_model} version {version.version}: {where.message}", where.hint)
    return LockEntry(
        model=target.model,
        env=target.env,
        registered_model=version.registered_model,
        reference=target.ref,
        version=version.version,
        source=version.download_uri,
        artifact_uri=where,
        run_id=version.run_id,
    )


def _relocated(entry: LockEntry, spec: Spec, target: Target) -> LockEntry | Diagnostic:
    """A kept entry, with its artifact location recomputed in case the destination changed."""
    where = storage_uri(entry.source, spec.artifacts_destination)
    if isinstance(where, Unfetchable):
        return _at(target, spec, f"locked version {entry.version}: {where.message}", where.hint)
    return replace(entry, artifact_uri=where)


def _at(target: Target, spec: Spec, message: str, hint: str, field: str = "") -> Diagnostic:
    path: Iterable[str] = ("models", target.model, "environments", target.env, *((field,) if field else ()))
    return Diagnostic(file=spec.source, line=target.line, path=json_path(tuple(path)), message=message, hint=hint)
