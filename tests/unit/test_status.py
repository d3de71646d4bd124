"""`status` rows are pure: what the lock says always shows; each registry column is "unknown" when it was not read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from generator.gate.evaluate import applicable, evaluate
from generator.lock.model import Lock, LockEntry
from generator.pipeline import _pending
from generator.registry.base import Deployment, Facts, ModelInfo, ModelVersion, NotFound, Query, Registry, Resolution
from generator.spec.load import parse_spec
from generator.spec.model import Ref
from generator.status import rows, text

SPEC, _ = parse_spec("""\
apiVersion: kserve-gitops/v1
defaults: {resources: {limits: {cpu: "1", memory: 1Gi}}, minReplicas: 1}
environments:
  staging: {namespace: s, gates: {metrics: {accuracy: {min: 0.9}}}}
  prod: {namespace: p, follow: staging}
models:
  wine:
    registeredModel: Wine
    environments:
      staging: {alias: challenger}
      prod: {alias: champion, hold: true}
""")
INFO = ModelInfo(("python_function", "sklearn"), "cloudpickle", "2.22.0")


def _entry(env: str, ref: Ref, version: str) -> LockEntry:
    return LockEntry("wine", env, "Wine", ref, version, "s", "s3://b/k", "run", INFO)


LOCK = Lock(
    {
        ("wine", "staging"): _entry("staging", Ref("alias", "challenger"), "5"),
        ("wine", "prod"): _entry("prod", Ref("alias", "champion"), "4"),
    }
)


def test_offline_the_lock_shows_and_the_registry_columns_are_unknown() -> None:
    found = rows(SPEC, LOCK, compat={}, verdicts=None, deployed=None, revision_order={}, pending=None)
    assert [(r.env, r.reference, r.locked, r.gate, r.compat, r.deployed, r.health, r.pending) for r in found] == [
        ("staging", "alias challenger", "5", "unknown", "ok", "unknown", "unknown", "unknown"),
        ("prod", "alias champion, hold true", "4", "unknown", "ok", "unknown", "unknown", "unknown"),
    ]
    assert found[1].drift == "behind staging (5)", "the lock alone shows that prod lags the environment it follows"


def test_drift_when_an_older_version_runs_and_the_newest_revision_decides_which() -> None:
    deployed = [
        Deployment("Wine", "5", "staging", "aaa", "Healthy"),
        Deployment("Wine", "3", "staging", "bbb", "Degraded"),
    ]
    staging, _ = rows(
        SPEC, LOCK, compat={}, verdicts={}, deployed=deployed, revision_order={"bbb": 0, "aaa": 1}, pending={}
    )
    assert (staging.deployed, staging.health, staging.drift) == ("3 @bbb", "Degraded", "runs 3, locked 5")


def test_gate_verdict_and_pending_promotion() -> None:
    verdicts = {
        t.key: evaluate(applicable(SPEC, t), Facts({"accuracy": a}), None)
        for t, a in zip(SPEC.targets, (0.8, 0.95), strict=True)
    }
    staging, prod = rows(
        SPEC, LOCK, compat={}, verdicts=verdicts, deployed=[], revision_order={}, pending={("wine", "staging"): "7"}
    )
    assert (staging.gate, staging.pending, staging.deployed) == ("fail: accuracy 0.8 < min 0.9", "→ 7", "not deployed")
    assert (prod.gate, prod.pending) == ("pass", ""), "prod follows staging: staging's gates apply to it too"
    assert text([staging], with_pending=True).splitlines()[1].endswith("  → 7")


class _AliasDeleted:
    """A registry where `challenger` was deleted and `champion` points at version 6."""

    def resolve(self, queries: Sequence[Query], recorded: object) -> list[Resolution]:
        return [
            NotFound(q, "alias 'challenger' not found on 'Wine'")
            if q.ref.value == "challenger"
            else ModelVersion("Wine", "6", "s", "run")
            for q in queries
        ]


def test_a_reference_that_points_at_nothing_now_is_pending_not_found_not_nothing_pending() -> None:
    """`-` would say all is well where the next `lock --update` fails."""
    pending = _pending(SPEC, lambda spec: cast(Registry, _AliasDeleted()))
    assert pending == {("wine", "staging"): "not found"}, "prod is held: not asked"
    staging, _ = rows(SPEC, LOCK, compat={}, verdicts={}, deployed=[], revision_order={}, pending=pending)
    assert staging.pending == "not found"


def test_cells_from_registry_tags_cannot_rewrite_the_terminal_line() -> None:
    """Anyone who may write MLflow tags sets `health.<env>`: a carriage return and an erase would forge a row."""
    forged = "Degraded\r\x1b[2Kwine  staging  Healthy  ok\u202e"
    deployed = [Deployment("Wine", "5", "staging", "aaa", forged)]
    found = rows(SPEC, LOCK, compat={}, verdicts={}, deployed=deployed, revision_order={"aaa": 0}, pending={})
    shown = text(found, with_pending=False)
    assert "Degraded\\r\\x1b[2Kwine  staging  Healthy  ok\\u202e" in shown
    assert not any(c in shown for c in "\r\x1b\u202e")
