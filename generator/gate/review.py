"""Pure: which locked versions move between two locks, which facts their gates need, and the verdicts.

A `Move` is one (model, environment) whose locked version differs between `before` (what is locked now:
the working tree's old lock, or the base branch's) and `after`. A move is a *promotion* when the reference
stayed as models.yaml says and only the registry moved it; anything else is a person's edit, which the
pull-request check (`kserve-gitops gate`) judges instead of `lock`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from generator.diagnostics import Diagnostic, Severity, json_path
from generator.gate.evaluate import Verdict, applicable, evaluate, gated_metrics, needs_signature
from generator.lock.model import Lock, LockEntry
from generator.registry.base import Facts
from generator.spec.model import Spec, Target

VersionKey = tuple[str, str]  # (registered model, version)


class FactsSource(Protocol):
    """The registry side of gates (`registry/gate_facts.py`)."""

    def facts(
        self, versions: Sequence[VersionKey], *, signature: bool, metrics: Mapping[VersionKey, Sequence[str]]
    ) -> Mapping[VersionKey, Facts]: ...


@dataclass(frozen=True)
class Move:
    target: Target
    current: LockEntry | None
    candidate: LockEntry

    @property
    def promotion(self) -> bool:
        return (
            self.current is not None
            and self.current.registered_model == self.candidate.registered_model
            and self.current.reference == self.candidate.reference
        )


@dataclass(frozen=True)
class GateReview:
    """What `propose` learnt from the gates: facts for the PR's comparison tables, verdicts of the changes, and the
    candidates held back (the registry offers them; they fail their gates without an override)."""

    facts: Mapping[VersionKey, Facts] = field(default_factory=dict)
    verdicts: Mapping[tuple[str, str], Verdict] = field(default_factory=dict)
    held: tuple[tuple[Move, Verdict], ...] = ()


@dataclass(frozen=True)
class Wanted:
    """What to ask the registry for: every version once, and whether any gate needs a signature."""

    versions: tuple[VersionKey, ...]
    signature: bool
    metrics: dict[VersionKey, tuple[str, ...]]


def moves(spec: Spec, before: Lock, after: Lock) -> list[Move]:
    """Targets whose locked version differs, in models.yaml order."""
    found = []
    for target in spec.targets:
        old, new = before.get(target.model, target.env), after.get(target.model, target.env)
        if new is not None and (
            old is None or (old.registered_model, old.version) != (new.registered_model, new.version)
        ):
            found.append(Move(target, old, new))
    return found


def gated(spec: Spec, found: Sequence[Move]) -> list[Move]:
    return [m for m in found if applicable(spec, m.target)]


def wanted(spec: Spec, found: Sequence[Move]) -> Wanted:
    """Candidates and the versions they replace; the gated metrics per version (for error messages)."""
    versions: dict[VersionKey, None] = {}
    metrics: dict[VersionKey, tuple[str, ...]] = {}
    signature = False
    for move in found:
        gates = applicable(spec, move.target)
        signature = signature or needs_signature(gates)
        for entry in (move.candidate, move.current):
            if entry is not None:
                key = version_key(entry)
                versions[key] = None
                metrics[key] = tuple(sorted({*metrics.get(key, ()), *gated_metrics(gates)}))
    return Wanted(tuple(versions), signature, metrics)


def verdicts(spec: Spec, found: Sequence[Move], facts: Mapping[VersionKey, Facts]) -> dict[tuple[str, str], Verdict]:
    """A verdict per gated move, keyed by (model, environment)."""
    out = {}
    for move in found:
        gates = applicable(spec, move.target)
        if not gates:
            continue
        current = facts.get(version_key(move.current)) if move.current is not None else None
        out[move.target.key] = evaluate(
            gates, facts.get(version_key(move.candidate), Facts({})), current, move.target.gates.override
        )
    return out


def version_key(entry: LockEntry) -> VersionKey:
    return (entry.registered_model, entry.version)


def finding(spec: Spec, move: Move, verdict: Verdict, *, severity: Severity = "warning") -> Diagnostic:
    """What a run says about a gated move that did not simply pass, at the target's line in models.yaml."""
    target, candidate = move.target, move.candidate
    failing = "; ".join(
        f"{c.metric} {c.reason}" + (f" ({c.source}'s gate)" if c.source != target.env else "") for c in verdict.failures
    )
    if verdict.override:
        message, hint = (
            f"version {candidate.version} fails its gates ({failing}) but is let through by "
            f"override: {verdict.override}",
            "remove `gates.override` once this version is in",
        )
    elif move.promotion and severity == "warning":
        kept = f"; {target.env} keeps version {move.current.version}" if move.current is not None else ""
        message, hint = (
            f"held back by gate: version {candidate.version} ({candidate.reference}) fails: {failing}{kept}",
            'fix the model, or let it through with `gates: {override: "REASON"}` '
            f"on models.{target.model}.environments.{target.env}",
        )
    else:
        message, hint = (
            f"version {candidate.version} fails its gates: {failing}",
            f'choose a version that passes, or add `gates: {{override: "REASON"}}` to '
            f"models.{target.model}.environments.{target.env}",
        )
    return Diagnostic(
        file=spec.source,
        line=target.line,
        path=json_path(("models", target.model, "environments", target.env)),
        message=message,
        hint=hint,
        severity=severity,
        rule="gate",
    )
