"""`init --from-registry`: which models.yaml entries a registry's models and aliases become. Plain values."""

from __future__ import annotations

from generator.registry.base import Registered
from generator.scaffold import NO_MODEL, Options, files, models_section
from generator.spec import SPEC_FILE
from generator.spec.load import parse_spec
from generator.spec.model import Spec


def _spec(*registered: Registered) -> Spec:
    text = files(Options(), images=False, models=models_section(registered))[SPEC_FILE].decode()
    spec, warnings = parse_spec(text)
    assert warnings == []
    return spec


def _refs(spec: Spec) -> dict[tuple[str, str], tuple[str, str, str]]:
    return {t.key: (t.registered_model, t.ref.kind, t.ref.value) for t in spec.targets}


def test_each_environment_follows_the_alias_that_means_it() -> None:
    spec = _spec(Registered("fraud", {"champion": "4", "challenger": "5"}))

    assert _refs(spec) == {
        ("fraud", "dev"): ("fraud", "alias", "challenger"),
        ("fraud", "staging"): ("fraud", "alias", "challenger"),
        ("fraud", "prod"): ("fraud", "alias", "champion"),
    }


def test_aliases_named_after_environments_win() -> None:
    spec = _spec(Registered("fraud", {"champion": "4", "prod": "3", "staging": "5", "dev": "6"}))

    assert {t.env: t.ref.value for t in spec.targets} == {"dev": "dev", "staging": "staging", "prod": "prod"}


def test_a_model_without_a_fitting_alias_is_served_in_dev_only_at_its_latest_version() -> None:
    spec = _spec(Registered("fraud", {}), Registered("churn", {"nightly": "9"}))

    assert _refs(spec) == {("churn", "dev"): ("churn", "latest", ""), ("fraud", "dev"): ("fraud", "latest", "")}


def test_keys_are_inference_service_names_derived_from_the_registered_names() -> None:
    long = "Fraud " + "x" * 60
    spec = _spec(
        Registered("Wine.Classifier v2", {}),
        Registered("2024 churn", {}),
        Registered("wine classifier v2", {}),
        Registered(long, {}),
        Registered("???", {}),
        Registered('quote"d: é', {}),
    )

    assert {t.model: t.registered_model for t in spec.targets} == {
        "wine-classifier-v2": "Wine.Classifier v2",
        "churn": "2024 churn",
        "wine-classifier-v2-2": "wine classifier v2",
        ("fraud-" + "x" * 60)[:38]: long,  # KServe's host names: name + namespace (models-staging) ≤ 52
        "model": "???",
        "quote-d": 'quote"d: é',
    }


def test_the_aliases_are_noted_beside_each_model() -> None:
    section = models_section([Registered("fraud", {"champion": "4", "challenger": "5"})])

    assert section.splitlines()[:2] == ["models:", "  fraud:  # aliases: challenger → 5, champion → 4"]


def test_an_empty_registry_leaves_no_model() -> None:
    assert models_section([]) == NO_MODEL


def test_an_alias_or_version_that_could_end_the_comment_is_quoted_and_writes_nothing_into_models_yaml() -> None:
    r"""MLflow's alias check (`re.match(r"^[\w\-]*$")`) lets a trailing line break through; a spoofed registry
    sends anything."""
    hostile = "x\n  injected: {registeredModel: stolen, environments: {dev: {latest: true}}}\n"
    section = models_section([Registered("fraud", {"champion": "4", hostile: "1\u2028x", "evil\n": "5"})])
    assert section.splitlines()[1] == (
        '  fraud:  # aliases: champion → 4, "evil\\n" → 5, "x\\n  injected: {registeredModel: stolen, environments: '
        '{dev: {latest: true}}}\\n" → "1\\u2028x"'
    )
    assert [t.model for t in _spec(Registered("fraud", {hostile: "1", "champion": "4"})).targets] == ["fraud"] * 3
