"""Pure: gates + a candidate's facts + the current version's facts → a verdict per rule.

No I/O: the metrics come in as `Facts` (fetched by `registry/gate_facts.py`), so the same
evaluation serves `lock --update`, `propose`, the pull-request check `gate` and `status`.
Higher-is-better and lower-is-better are not guessed from metric names: `maxDrop` bounds a
decrease, `maxRise` an increase, and the user picks the one that means "worse".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from generator.registry.base import Facts
from generator.spec.model import Gates, MetricGate, Spec, Target

SIGNATURE = "signature"  # the pseudo-metric name of `requireSignature` in checks and tables
_EPSILON = 1e-12  # float noise: 0.95 - 0.945 is 0.0050000000000000044


@dataclass(frozen=True)
class Check:
    """One rule applied to one metric. `source` is the environment whose gates the rule comes from."""

    source: str
    metric: str
    rule: str  # min | max | maxDrop | maxRise | present | requireSignature
    passed: bool
    reason: str  # e.g. "0.91 < min 0.95"; for passing checks what was compared


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]
    override: str = ""

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def admitted(self) -> bool:
        """Passed, or let through by an explicit override."""
        return self.passed or bool(self.override)

    def summary(self) -> str:
        """One line: `pass`, `fail: accuracy 0.91 < min 0.95; …`, or `override (reason): …`."""
        if self.passed:
            return "pass"
        failing = "; ".join(f"{c.metric} {c.reason}" for c in self.failures)
        return f"override ({self.override}): {failing}" if self.override else f"fail: {failing}"


def applicable(spec: Spec, target: Target) -> list[tuple[str, Gates]]:
    """The gates a version must pass to be locked at `target`: its own, then those of every environment it follows.

    Prod following staging thus only takes a version that passes staging's gates and its own. The followed
    environments' rules apply to the same move (against the version `target` replaces); their overrides do not
    carry over: only `target`'s own override lets a failure through.
    """
    found = [(target.env, target.gates)] if target.gates.active else []
    seen, leader = {target.env}, spec.environments[target.env].follow
    while leader and leader in spec.environments and leader not in seen:
        seen.add(leader)
        upstream = spec.target(target.model, leader)
        gates = upstream.gates if upstream is not None else spec.environments[leader].gates
        if gates.active:
            found.append((leader, gates))
        leader = spec.environments[leader].follow
    return found


def gated_metrics(gates: Sequence[tuple[str, Gates]]) -> list[str]:
    """Every metric the gates name, sorted, once."""
    return sorted({rule.metric for _, g in gates for rule in g.metrics})


def needs_signature(gates: Sequence[tuple[str, Gates]]) -> bool:
    return any(g.require_signature for _, g in gates)


def evaluate(
    gates: Sequence[tuple[str, Gates]], candidate: Facts, current: Facts | None, override: str = ""
) -> Verdict:
    """Every rule of every applicable gate; relative rules compare with `current` (None: nothing locked yet). A
    candidate the registry does not have fails each gate once, as that: not as a metric it did not log."""
    if candidate.missing:
        sources = dict.fromkeys(source for source, _ in gates)
        return Verdict(tuple(Check(s, "version", "present", False, "not in the registry") for s in sources), override)
    checks: list[Check] = []
    for source, gate in gates:
        for rule in gate.metrics:
            checks += _metric(source, rule, candidate, current)
        if gate.require_signature:
            has = candidate.signature
            checks.append(
                Check(
                    source,
                    SIGNATURE,
                    "requireSignature",
                    has is True,
                    "present" if has else "missing" if has is False else "could not be read",
                )
            )
    return Verdict(tuple(checks), override)


def _metric(source: str, rule: MetricGate, candidate: Facts, current: Facts | None) -> list[Check]:
    name = rule.metric
    value = candidate.metrics.get(name)
    if value is None:
        if rule.optional:
            return [Check(source, name, "present", True, "not logged (optional)")]
        return [Check(source, name, "present", False, "not logged on the candidate")]
    checks = []
    if rule.min is not None:
        checks.append(
            Check(
                source,
                name,
                "min",
                value >= rule.min - _EPSILON,
                f"{_num(value)} {'≥' if value >= rule.min - _EPSILON else '<'} min {_num(rule.min)}",
            )
        )
    if rule.max is not None:
        checks.append(
            Check(
                source,
                name,
                "max",
                value <= rule.max + _EPSILON,
                f"{_num(value)} {'≤' if value <= rule.max + _EPSILON else '>'} max {_num(rule.max)}",
            )
        )
    before = current.metrics.get(name) if current is not None else None
    for kind, bound, change in (
        ("maxDrop", rule.max_drop, None if before is None else before - value),
        ("maxRise", rule.max_rise, None if before is None else value - before),
    ):
        if bound is None:
            continue
        if change is None:
            checks.append(Check(source, name, kind, True, "no current value to compare with"))
            continue
        ok = change <= bound + _EPSILON
        word = "dropped" if kind == "maxDrop" else "rose"
        checks.append(
            Check(
                source,
                name,
                kind,
                ok,
                f"{word} {_num(max(change, 0.0))} ({_num(before or 0.0)} → {_num(value)}), {kind} {_num(bound)}",
            )
        )
    return checks


def _num(value: float) -> str:
    return f"{value:.4g}"
