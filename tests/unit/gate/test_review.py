"""Which moves are promotions (the registry moved them) and what a run says about one that fails."""

from __future__ import annotations

from generator.gate.review import finding, gated, moves, verdicts, wanted
from generator.lock.model import Lock, LockEntry
from generator.registry.base import Facts
from generator.spec.load import parse_spec
from generator.spec.model import Ref

SPEC, _ = parse_spec("""\
apiVersion: kserve-gitops/v1
environments:
  dev: {namespace: d}
  staging: {namespace: s, gates: {metrics: {accuracy: {min: 0.9, maxDrop: 0.005}}}}
models:
  wine:
    registeredModel: Wine
    environments:
      dev: {latest: true}
      staging: {alias: challenger}
""")


def _entry(env: str, ref: Ref, version: str) -> LockEntry:
    return LockEntry("wine", env, "Wine", ref, version, "s", "s3://b/k", f"run{version}")


BEFORE = Lock(
    {
        ("wine", "dev"): _entry("dev", Ref("latest"), "4"),
        ("wine", "staging"): _entry("staging", Ref("alias", "challenger"), "4"),
    }
)


def test_only_moved_versions_count_and_only_gated_ones_are_judged() -> None:
    after = Lock(
        {
            ("wine", "dev"): _entry("dev", Ref("latest"), "5"),
            ("wine", "staging"): _entry("staging", Ref("alias", "challenger"), "5"),
        }
    )
    found = moves(SPEC, BEFORE, after)
    assert [(m.target.env, m.promotion) for m in found] == [("dev", True), ("staging", True)]
    judged = gated(SPEC, found)
    assert [m.target.env for m in judged] == ["staging"]
    need = wanted(SPEC, judged)
    assert (need.versions, need.signature, need.metrics) == (
        (("Wine", "5"), ("Wine", "4")),
        False,
        {("Wine", "5"): ("accuracy",), ("Wine", "4"): ("accuracy",)},
    )


def test_a_reference_changed_by_hand_is_not_a_promotion_and_fails_as_an_error() -> None:
    after = Lock({**BEFORE.entries, ("wine", "staging"): _entry("staging", Ref("version", "2"), "2")})
    (move,) = moves(SPEC, BEFORE, after)
    assert not move.promotion
    verdict = verdicts(SPEC, [move], {("Wine", "2"): Facts({"accuracy": 0.5}), ("Wine", "4"): Facts({})})
    diagnostic = finding(SPEC, move, verdict[move.target.key], severity="error")
    assert diagnostic.describe() == (
        "models.yaml:10: $.models.wine.environments.staging: version 2 fails its gates: accuracy 0.5 < min 0.9 [gate]\n"
        '  fix: choose a version that passes, or add `gates: {override: "REASON"}` to models.wine.environments.staging'
    )
