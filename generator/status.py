"""Pure: one row per model and environment saying which version runs where, and whether that is what it should be.

Inputs are what the lock says (always there) and what the registry says (each may be missing: offline, or
no MLflow configured), so every registry column can read "unknown" and the rest still shows.

Which version runs in an environment comes from the webhook's `deployed.<env>` tags: when several versions
carry one (each was deployed once), the one deployed at the newest git revision wins (`revision_order`),
then the highest version.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from generator.diagnostics import Diagnostic, printable
from generator.gate.evaluate import Verdict, applicable
from generator.lock.model import Lock
from generator.registry.base import Deployment
from generator.spec.model import Spec

UNKNOWN = "unknown"
NOT_FOUND = "not found"  # pending: the reference points at nothing now (alias deleted, stage empty)


@dataclass(frozen=True)
class Row:
    model: str
    env: str
    reference: str
    locked: str
    gate: str
    compat: str
    deployed: str
    health: str
    drift: str
    pending: str = ""  # with --registry: the version the reference points at now, when it is not the locked one;
    # "not found" when it points at nothing (the next `lock --update` fails there)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def rows(
    spec: Spec,
    lock: Lock,
    *,
    compat: Mapping[tuple[str, str], Sequence[Diagnostic]],
    verdicts: Mapping[tuple[str, str], Verdict] | None,
    deployed: Sequence[Deployment] | None,
    revision_order: Mapping[str, int],
    pending: Mapping[tuple[str, str], str] | None,
) -> list[Row]:
    found = []
    places = _by_place(deployed)
    for target in spec.targets:
        entry = lock.get(target.model, target.env)
        locked = entry.version if entry is not None else ""
        running = _running(places.get((target.registered_model, target.env), ()), revision_order)
        drift = []
        if running is not None and locked and running.version != locked:
            drift.append(f"runs {running.version}, locked {locked}")
        leader = spec.environments[target.env].follow
        upstream = lock.get(target.model, leader) if leader else None
        if upstream is not None and locked and upstream.version != locked:
            drift.append(f"behind {leader} ({upstream.version})")
        verdict = verdicts.get(target.key) if verdicts is not None else None
        now = (pending or {}).get(target.key, "")
        found.append(
            Row(
                model=target.model,
                env=target.env,
                reference=str(target.ref) + (f", hold {target.pinned or 'true'}" if target.hold else ""),
                locked=locked or "not locked",
                gate=_gate(verdict, gated=bool(applicable(spec, target)), known=verdicts is not None),
                compat=_compat(compat.get(target.key, ()), entry is not None and entry.info is not None),
                deployed=UNKNOWN
                if deployed is None
                else (f"{running.version} @{running.revision[:12]}" if running else "not deployed"),
                health=UNKNOWN if deployed is None else (running.health or "unknown") if running else "",
                drift="; ".join(drift),
                pending=UNKNOWN
                if pending is None
                else NOT_FOUND
                if now == NOT_FOUND
                else (f"→ {now}" if now and now != locked else ""),
            )
        )
    return found


def _by_place(deployed: Sequence[Deployment] | None) -> dict[tuple[str, str], list[Deployment]]:
    """The deployments tagged for each (registered model, environment), gathered once: a thousand models each
    searching all of them made `status` quadratic (3,000 deployments: 0.3 s)."""
    places: dict[tuple[str, str], list[Deployment]] = defaultdict(list)
    for deployment in deployed or ():
        places[(deployment.registered_model, deployment.env)].append(deployment)
    return places


def _running(tagged: Sequence[Deployment], order: Mapping[str, int]) -> Deployment | None:
    newest = len(order)  # revisions not in the history count as oldest
    return min(tagged, key=lambda d: (order.get(d.revision, newest), -int(d.version)), default=None)


def _gate(verdict: Verdict | None, *, gated: bool, known: bool) -> str:
    if not gated:
        return "none"
    return verdict.summary() if known and verdict is not None else UNKNOWN


def _compat(mine: Sequence[Diagnostic], recorded: bool) -> str:
    """From models.lock's MLmodel records: `ok`, or the worst finding's severity and rule (`validate` has the text)."""
    worst = sorted(mine, key=lambda d: d.severity != "error")
    if worst:
        return f"{worst[0].severity} ({worst[0].rule})" if worst[0].rule else worst[0].severity
    return "ok" if recorded else UNKNOWN


def text(found: Sequence[Row], *, with_pending: bool) -> str:
    """A plain aligned table, one row per model and environment."""
    columns = ["model", "env", "reference", "locked", "gate", "compat", "deployed", "health", "drift"]
    columns += ["pending"] if with_pending else []
    # printable: the health and deployed cells are MLflow tags anyone with write access to the registry sets
    table = [[c.upper() for c in columns], *[[printable(getattr(r, c)) or "-" for c in columns] for r in found]]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() + "\n" for line in table
    )
