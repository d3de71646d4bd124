"""Gates in models.yaml: how they merge, and a clear error at file:line for every way to get them wrong."""

from __future__ import annotations

import pytest

from generator.errors import SpecError
from generator.spec.load import parse_spec
from generator.spec.model import Gates, MetricGate

SPEC = """\
apiVersion: kserve-gitops/v1
environments:
  staging: {{namespace: s}}
  prod:
    namespace: p
    minReplicas: 1
    gates:
      metrics:
        accuracy: {{min: 0.9, maxDrop: 0.005}}
        latency_p95_ms: {{max: 120, maxRise: 10}}
      requireSignature: true
models:
  wine:
    registeredModel: wine
    resources: {{limits: {{cpu: 1, memory: 1Gi}}}}
    environments:
      staging: {{alias: challenger}}
      prod: {{alias: champion{prod}}}
"""


def _errors(prod: str = "", text: str = "") -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text or SPEC.format(prod=prod))
    return [d.describe() for d in caught.value.diagnostics]


def test_model_environment_gates_replace_the_environments_rule_per_metric_and_add_an_override() -> None:
    spec, _ = parse_spec(
        SPEC.format(prod=', gates: {metrics: {accuracy: {min: 0.8, optional: true}}, override: "new labels"}')
    )
    prod, staging = spec.target("wine", "prod"), spec.target("wine", "staging")
    assert prod is not None and staging is not None
    assert prod.gates == Gates(
        metrics=(MetricGate("accuracy", min=0.8, optional=True), MetricGate("latency_p95_ms", max=120, max_rise=10)),
        require_signature=True,
        override="new labels",
    )
    assert staging.gates == Gates()


def test_a_bound_that_is_not_a_number() -> None:
    assert _errors(", gates: {metrics: {accuracy: {min: high}}}") == [
        "models.yaml:18:60: $.models.wine.environments.prod.gates.metrics.accuracy.min: gate bound 'min' of metric "
        "'accuracy' must be a number, not 'high'\n  fix: Lowest value the candidate may have"
    ]


def test_min_above_max() -> None:
    assert _errors(", gates: {metrics: {f1: {min: 0.9, max: 0.5}}}") == [
        "models.yaml:18:54: $.models.wine.environments.prod.gates.metrics.f1.min: gate on 'f1': min 0.9 is above "
        "max 0.5, so no version can pass\n  fix: swap them, or drop one bound"
    ]


@pytest.mark.parametrize(("bound", "value"), [("min", ".nan"), ("max", ".inf"), ("min", "-.inf"), ("maxDrop", ".nan")])
def test_a_bound_that_is_not_finite_is_refused(bound: str, value: str) -> None:
    (error,) = _errors(f", gates: {{metrics: {{f1: {{{bound}: {value}}}}}}}")
    assert f"$.models.wine.environments.prod.gates.metrics.f1.{bound}: gate bound '{bound}' of metric 'f1' is " in error
    assert f"is {value}, not a finite number\n  fix: write a finite number, or drop the bound" in error


def test_unknown_gate_key_suggests_the_known_one() -> None:
    assert _errors(", gates: {metrics: {f1: {maxdrop: 0.1}}}") == [
        "models.yaml:18:54: $.models.wine.environments.prod.gates.metrics.f1.maxdrop: unknown field 'maxdrop'\n"
        "  fix: did you mean 'maxDrop'?"
    ]


@pytest.mark.parametrize("override", ['""', '"  "'])
def test_an_override_without_a_reason(override: str) -> None:
    assert _errors(f", gates: {{override: {override}}}") == [
        "models.yaml:18:39: $.models.wine.environments.prod.gates.override: an override needs a reason\n"
        '  fix: say why the failing version may be served, e.g. override: "accuracy drop accepted: new labels"'
    ]


def test_an_override_cannot_be_set_for_a_whole_environment() -> None:
    text = SPEC.format(prod="").replace("      requireSignature: true\n", "      override: because\n")
    assert _errors(text=text) == [
        "models.yaml:11:7: $.environments.prod.gates.override: unknown field 'override'\n"
        "  fix: an override is for one model in one environment: set it in models.<model>.environments.<env>.gates"
    ]


def test_gates_in_an_environment_that_does_not_exist() -> None:
    qa = "      qa: {alias: qa, gates: {requireSignature: true}}\n"
    text = SPEC.format(prod="").replace("      prod: {alias: champion}\n", "      prod: {alias: champion}\n" + qa)
    assert _errors(text=text) == [
        "models.yaml:19:7: $.models.wine.environments.qa: unknown environment 'qa' (known: staging, prod)\n"
        "  fix: add it under 'environments:' or fix the name"
    ]
