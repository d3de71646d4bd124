"""Spec + old lock + registry answers → new lock. Pure: the registry is asked elsewhere.

Like pip-compile, a lock entry is kept while it still satisfies models.yaml.
Floating references (alias, stage, latest) move only when `--update` selects them;
numeric versions never move; `hold: true` entries never move; `hold: N` (written by
`kserve-gitops pin`) resolves version N whatever the reference says. An environment
that `follow`s another only takes a version already locked there, else keeps its own.

An entry's image digest (method image) survives only while its registered version stays the
same: a new version is a new image, built and recorded anew (`kserve-gitops image record`).

Every entry also carries what its MLmodel file says (`LockEntry.info`), and a
version the target's runtime cannot load is refused here, at lock time. Entries
locked before that was recorded keep no facts until `--update` selects them;
then the locked version itself is looked up, so recording them moves nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from generator import diagnostics
from generator.diagnostics import Diagnostic, json_path
from generator.excerpt import quoted
from generator.lock import compat
from generator.lock.model import Lock, LockEntry
from generator.registry.base import RUN_ID, VERSION, ModelVersion, NotFound, Query, Resolution
from generator.registry.uris import Unfetchable, location_problem, storage_uri
from generator.spec.model import Ref, Spec, Target
from generator.util.schema_check import ecma_pattern


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
        return self.everything or target.model in self.selectors or (f"{target.model}/{target.env}" in self.selectors)

    def unknown_selectors(self, spec: Spec) -> list[str]:
        known = {t.model for t in spec.targets} | {f"{t.model}/{t.env}" for t in spec.targets}
        return [s for s in self.selectors if s not in known]


def needs_resolution(target: Target, entry: LockEntry | None, update: Update) -> bool:
    if entry is None or entry.registered_model != target.registered_model or entry.reference != target.wanted:
        return True
    if target.wanted.kind == "version" and entry.version != target.wanted.value:  # a hand-edited version
        return True
    return not target.hold and target.wanted.floating and update.selects(target)


def queries_for(spec: Spec, lock: Lock, update: Update) -> list[Query]:
    """The distinct registry questions this run must ask, in a stable order."""
    todo: set[Query] = set()
    for target in spec.targets:
        entry = lock.get(target.model, target.env)
        if needs_resolution(target, entry, update):
            todo.add(Query(target.registered_model, target.wanted))
        elif backfill := _backfill(target, entry, update):
            todo.add(backfill)
    return sorted(todo)


def merge(
    spec: Spec,
    lock: Lock,
    update: Update,
    answers: Mapping[Query, Resolution],
    keep: Collection[tuple[str, str]] = (),
) -> tuple[Lock, list[Diagnostic]]:
    """The new lock: kept entries, plus fresh ones from `answers`.

    Unresolvable targets, and versions their runtime cannot load, are diagnostics
    (errors only; `compatibility` also gives the warnings). Targets in `keep` (model, env)
    keep their old entry as a hold would: quality gates held their candidate back (`gate/`).
    """
    entries: dict[tuple[str, str], LockEntry] = {}
    problems: list[Diagnostic] = []
    findings = _Findings(spec)
    for target in spec.targets:
        old = lock.get(target.model, target.env)
        if (not needs_resolution(target, old, update) or target.key in keep) and old is not None:
            entry: LockEntry | Diagnostic = _relocated(_backfilled(target, old, update, answers), spec, target)
        else:
            entry = _same_image(old, _entry(target, answers[Query(target.registered_model, target.wanted)], spec))
        refusals = _refusals(target, entry, spec, findings)
        if refusals:
            problems += refusals
        elif isinstance(entry, LockEntry):
            entries[target.key] = entry
    gated, held_back = _follow(spec, lock, entries)
    return (lock if gated == lock.entries else Lock(gated)), problems + held_back  # unchanged: still its text


def _follow(
    spec: Spec, old: Lock, entries: dict[tuple[str, str], LockEntry]
) -> tuple[dict[tuple[str, str], LockEntry], list[Diagnostic]]:
    """An environment that follows another keeps its old version until the followed one has locked the new one.

    Environments are taken in declared order, so a chain (prod follows staging follows dev) gates step by step.
    """
    gated = dict(entries)
    problems: list[Diagnostic] = []
    # How many of `gated`'s entries lock each version in each environment, kept as `gated` changes: a follower looks
    # its leader's versions up (gathering them again for each follower took 0.5 s for 1,000 models).
    locked = Counter((env, e.registered_model, e.version) for (_, env), e in gated.items())
    for target in spec.targets:
        leader = spec.environments[target.env].follow
        entry = gated.get(target.key)
        if not leader or entry is None or target.hold:
            continue
        if locked[(leader, entry.registered_model, entry.version)]:
            continue
        locked[(target.env, entry.registered_model, entry.version)] -= 1
        previous = old.get(target.model, target.env)
        if previous is not None and previous.reference == entry.reference:
            gated[target.key] = previous
            locked[(target.env, previous.registered_model, previous.version)] += 1
        else:
            del gated[target.key]
            problems.append(
                _at(
                    target,
                    spec,
                    f"version {entry.version} is not locked in '{leader}', which {target.env} follows",
                    f"promote it to {leader} first, or pin a version that "
                    f"{leader} has (`kserve-gitops pin {target.model} {target.env} VERSION`)",
                )
            )
    return gated, problems


def compatibility(spec: Spec, lock: Lock) -> list[Diagnostic]:
    """Whether each locked model loads on its runtime (`lock/compat.py`), errors and warnings.

    Needs no registry: it reads what models.lock recorded. Each distinct finding is
    reported once, at its first target, naming the model versions it concerns and
    every place that serves them: 1,000 models logged alike give one warning, not 2,000.
    """
    served: dict[Diagnostic, list[tuple[Target, LockEntry]]] = {}
    findings = _Findings(spec)
    for target in spec.targets:
        entry = lock.get(target.model, target.env)
        if entry is not None:
            for finding in findings(target, entry):
                served.setdefault(finding, []).append((target, entry))
    return [_grouped(finding, places, spec) for finding, places in served.items()]


def _grouped(finding: Diagnostic, served: list[tuple[Target, LockEntry]], spec: Spec) -> Diagnostic:
    """One finding placed at its first target: which model versions, and where each is served."""
    versions: dict[tuple[str, str], list[str]] = {}
    for target, entry in served:
        versions.setdefault((entry.registered_model, entry.version), []).append(f"{target.model}/{target.env}")
    named = [f"'{name}' version {version}" for name, version in versions]
    message = f"{_listed(named, 3, 'model versions')}: {finding.message}"
    places = [place for listed in versions.values() for place in listed]
    if len(places) > 1:
        message += f" (served at {_listed(places, 6, 'places')})"
    return replace(_at(served[0][0], spec, message, finding.hint), severity=finding.severity, rule=finding.rule)


def _listed(items: list[str], shown: int, noun: str) -> str:
    """`a`, `a and b`, `a, b and c`, or `a, b, c and 997 more model versions`: bounded however many there are."""
    if len(items) > shown:
        return f"{', '.join(items[:shown])} and {len(items) - shown:,} more {noun}"
    return " and ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else items[0]


def stale_entries(spec: Spec, lock: Lock) -> list[Diagnostic]:
    """Targets whose lock entry is missing or no longer matches models.yaml (for offline render)."""
    problems = []
    for target in spec.targets:
        entry = lock.get(target.model, target.env)
        if needs_resolution(target, entry, Update()):
            what = "has no lock entry" if entry is None else "changed since models.lock was written"
            problems.append(
                _at(
                    target,
                    spec,
                    f"{target.model}/{target.env} {what}",
                    "run `kserve-gitops lock` (or `generate`) with registry access",
                )
            )
        elif entry is not None:
            relocated = _relocated(entry, spec, target)
            if isinstance(relocated, Diagnostic):
                problems.append(relocated)
            elif relocated.artifact_uri != entry.artifact_uri:
                problems.append(
                    _at(
                        target,
                        spec,
                        f"models.lock has {quoted(entry.artifact_uri)} for {target.model}/{target.env}, but its "
                        f"source with registry.artifactsDestination gives {quoted(relocated.artifact_uri)}: the "
                        "destination changed since the lock was written, or the lock was edited by hand",
                        "run `kserve-gitops lock` to write the artifact location again (no registry call)",
                    )
                )
    return problems


def _entry(target: Target, answer: Resolution, spec: Spec) -> LockEntry | Diagnostic:
    if isinstance(answer, NotFound):
        return _at(target, spec, answer.message, answer.hint, field="hold" if target.pinned else target.ref.kind)
    return _located(target, answer, spec)


def _same_image(old: LockEntry | None, new: LockEntry | Diagnostic) -> LockEntry | Diagnostic:
    """A fresh entry is built from the registry's answer, so it has no image digest and no load check; keep the
    old ones only when the answer is the very same registered version (a floating reference re-read by `--update`
    without moving), whose image is the same bytes and loads the same way. Any other version needs its own build
    and its own check."""
    if (
        isinstance(new, LockEntry)
        and old is not None
        and (old.registered_model, old.version) == (new.registered_model, new.version)
    ):
        return replace(new, image_digest=old.image_digest, load_check=old.load_check)
    return new


def _backfill(target: Target, entry: LockEntry | None, update: Update) -> Query | None:
    """The locked version itself, for a kept entry `--update` selects that has no MLmodel facts yet."""
    if entry is None or entry.info is not None or not update.selects(target):
        return None
    return Query(entry.registered_model, Ref("version", entry.version))


def _backfilled(target: Target, entry: LockEntry, update: Update, answers: Mapping[Query, Resolution]) -> LockEntry:
    query = _backfill(target, entry, update)
    answer = answers.get(query) if query else None
    return replace(entry, info=answer.info) if isinstance(answer, ModelVersion) else entry


def _refusals(target: Target, entry: LockEntry | Diagnostic, spec: Spec, findings: _Findings) -> list[Diagnostic]:
    """Why an entry cannot be locked: it did not resolve, or its runtime cannot load it. `findings` first: the
    command in a finding's hint names the target, which changes no finding's severity."""
    if isinstance(entry, Diagnostic):
        return [entry]
    if not diagnostics.errors(findings(target, entry)):
        return []
    return diagnostics.errors(_compat(target, entry, spec))


def _compat(target: Target, entry: LockEntry, spec: Spec) -> list[Diagnostic]:
    """compat.check's findings for one target, placed at it."""
    return [
        replace(
            _at(target, spec, f"'{entry.registered_model}' version {entry.version}: {d.message}", d.hint),
            severity=d.severity,
            rule=d.rule,
        )
        for d in _findings(target, entry, spec, selector=f"{target.model} --env {target.env}")
    ]


class _Findings:
    """`_findings` without a selector, for the targets of one spec: asked for every target twice a run (its refusals
    while locking, its warnings after) and the same for targets that share all it depends on (their environment,
    their `Serving`, their entry's MLmodel facts and load check, which models.lock reads once for many entries), so
    each answer is kept by the identity of those, which it holds (no other object takes their identities)."""

    def __init__(self, spec: Spec) -> None:
        self._spec = spec
        self._known: dict[tuple[str, int, int, int], tuple[list[Diagnostic], tuple[object, ...]]] = {}

    def __call__(self, target: Target, entry: LockEntry) -> list[Diagnostic]:
        said = (target.env, id(target.serving), id(entry.info), id(entry.load_check))
        if (known := self._known.get(said)) is None:
            known = self._known[said] = (
                _findings(target, entry, self._spec),
                (target.serving, entry.info, entry.load_check),
            )
        return known[0]


def _findings(target: Target, entry: LockEntry, spec: Spec, selector: str = "") -> list[Diagnostic]:
    """compat.check for targets served by a runtime (methods runtime and registry), not yet placed."""
    if target.serving.method == "image":
        return []
    served = compat.Served(
        target.serving.runtime,
        spec.platform.runtime_image(target.serving.runtime),
        spec.environments[target.env].policies.allow_unverified_models,
    )
    return compat.check(served, entry.info, entry.load_check, selector=selector)


def _located(target: Target, version: ModelVersion, spec: Spec) -> LockEntry | Diagnostic:
    unlockable = _unlockable(version)
    if unlockable:
        return _at(
            target,
            spec,
            f"{version.registered_model}: the registry gives {unlockable}, which models.lock cannot hold",
            "check that MLFLOW_TRACKING_URI (or registry.trackingUri) points at an MLflow tracking server",
        )
    where = storage_uri(version.download_uri, spec.artifacts_destination)
    if isinstance(where, Unfetchable):
        return _at(target, spec, f"{version.registered_model} version {version.version}: {where.message}", where.hint)
    problem = location_problem(where, spec.storage_prefixes) if target.serving.method == "runtime" else None
    if problem:
        return _at(
            target,
            spec,
            f"{version.registered_model} version {version.version}: the registry gives "
            f"{quoted(where)}, which {problem} (allowed prefixes: {', '.join(spec.storage_prefixes) or 'none'})",
            "set registry.artifactsDestination to the tracking server's --artifacts-destination, or add the "
            "bucket to registry.allowedStoragePrefixes in models.yaml",
        )
    return LockEntry(
        model=target.model,
        env=target.env,
        registered_model=version.registered_model,
        reference=target.wanted,
        version=version.version,
        source=version.download_uri,
        artifact_uri=where,
        run_id=version.run_id,
        info=version.info,
    )


def _unlockable(version: ModelVersion) -> str:
    """What in a registry's answer the lock's own schema would refuse when read back: a lock that `lock` writes and
    `validate` refuses, with "run `kserve-gitops lock`" as the fix, would send the user round in a circle."""
    for what, value, pattern in (("version", version.version, VERSION), ("run id", version.run_id, RUN_ID)):
        if not ecma_pattern(pattern).search(value):
            return f"{what} {quoted(value)}"
    return ""


def _relocated(entry: LockEntry, spec: Spec, target: Target) -> LockEntry | Diagnostic:
    """A kept entry, with its artifact location recomputed in case the destination changed."""
    where = storage_uri(entry.source, spec.artifacts_destination)
    if isinstance(where, Unfetchable):
        return _at(target, spec, f"locked version {entry.version}: {where.message}", where.hint)
    return entry if where == entry.artifact_uri else replace(entry, artifact_uri=where)


def _at(target: Target, spec: Spec, message: str, hint: str, field: str = "") -> Diagnostic:
    path: Iterable[str] = ("models", target.model, "environments", target.env, *((field,) if field else ()))
    return Diagnostic(file=spec.source, line=target.line, path=json_path(tuple(path)), message=message, hint=hint)
