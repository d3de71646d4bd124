"""The gate core is pure: gates and facts in, one check per rule out, each saying what it compared."""

from __future__ import annotations

from generator.gate.evaluate import applicable, evaluate
from generator.registry.base import Facts
from generator.spec.load import parse_spec
from generator.spec.model import Gates, MetricGate

ACCURACY = ("prod", Gates(metrics=(MetricGate("accuracy", min=0.9, max_drop=0.005),)))
LATENCY = ("prod", Gates(metrics=(MetricGate("latency_p95_ms", max=120, max_rise=10),)))


def test_better_candidate_passes_every_rule() -> None:
    verdict = evaluate(
        [ACCURACY, LATENCY],
        Facts({"accuracy": 0.96, "latency_p95_ms": 80}),
        Facts({"accuracy": 0.95, "latency_p95_ms": 85}),
    )
    assert verdict.passed and verdict.summary() == "pass"
    assert [(c.metric, c.rule) for c in verdict.checks] == [
        ("accuracy", "min"),
        ("accuracy", "maxDrop"),
        ("latency_p95_ms", "max"),
        ("latency_p95_ms", "maxRise"),
    ]


def test_a_drop_of_exactly_max_drop_passes_and_one_beyond_fails() -> None:
    assert evaluate([ACCURACY], Facts({"accuracy": 0.945}), Facts({"accuracy": 0.95})).passed
    verdict = evaluate([ACCURACY], Facts({"accuracy": 0.94}), Facts({"accuracy": 0.95}))
    assert verdict.summary() == "fail: accuracy dropped 0.01 (0.95 → 0.94), maxDrop 0.005"


def test_a_rise_beyond_max_rise_and_a_value_above_max_both_fail() -> None:
    verdict = evaluate([LATENCY], Facts({"latency_p95_ms": 130}), Facts({"latency_p95_ms": 100}))
    assert [c.reason for c in verdict.failures] == ["130 > max 120", "rose 30 (100 → 130), maxRise 10"]


def test_a_version_the_registry_does_not_have_fails_as_that_even_on_optional_metrics() -> None:
    optional = ("prod", Gates(metrics=(MetricGate("accuracy", min=0.9, optional=True),)))
    verdict = evaluate([ACCURACY, optional], Facts({}, missing=True), None)
    assert verdict.summary() == "fail: version not in the registry"
    assert [(c.source, c.rule) for c in verdict.checks] == [("prod", "present")]


def test_missing_metric_fails_unless_optional() -> None:
    assert evaluate([ACCURACY], Facts({}), None).summary() == "fail: accuracy not logged on the candidate"
    optional = ("prod", Gates(metrics=(MetricGate("accuracy", min=0.9, optional=True),)))
    assert evaluate([optional], Facts({}), None).passed


def test_relative_rules_pass_when_the_current_version_has_no_value() -> None:
    verdict = evaluate([ACCURACY], Facts({"accuracy": 0.91}), Facts({}))
    assert verdict.passed
    assert verdict.checks[1].reason == "no current value to compare with"


def test_signature_required() -> None:
    gates = [("prod", Gates(require_signature=True))]
    assert evaluate(gates, Facts({}, signature=True), None).passed
    assert evaluate(gates, Facts({}, signature=False), None).summary() == "fail: signature missing"
    assert evaluate(gates, Facts({}), None).summary() == "fail: signature could not be read"


def test_override_admits_a_failure_and_keeps_it_visible() -> None:
    verdict = evaluate([ACCURACY], Facts({"accuracy": 0.5}), None, override="new labels")
    assert (verdict.passed, verdict.admitted) == (False, True)
    assert verdict.summary() == "override (new labels): accuracy 0.5 < min 0.9"


def test_a_follower_also_gets_the_gates_of_the_environment_it_follows() -> None:
    spec, _ = parse_spec("""\
apiVersion: kserve-gitops/v1
environments:
  staging: {namespace: s, gates: {metrics: {accuracy: {min: 0.9}}}}
  prod: {namespace: p, follow: staging, gates: {requireSignature: true}}
models:
  wine:
    registeredModel: wine
    resources: {limits: {cpu: 1, memory: 1Gi}}
    minReplicas: 1
    environments:
      staging: {alias: challenger, gates: {override: "staging only"}}
      prod: {alias: champion}
""")
    prod = spec.target("wine", "prod")
    assert prod is not None
    found = applicable(spec, prod)
    assert [(env, g.require_signature, [m.metric for m in g.metrics]) for env, g in found] == [
        ("prod", True, []),
        ("staging", False, ["accuracy"]),
    ]
    verdict = evaluate(found, Facts({"accuracy": 0.5}, signature=True), None, prod.gates.override)
    assert not verdict.admitted, "staging's override does not carry over to prod"
