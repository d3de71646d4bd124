"""models.yaml loading: every example either loads or fails with its own located message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from generator.diagnostics import INVISIBLE, UNSEEN
from generator.errors import SpecError
from generator.spec.load import load_spec, parse_spec, registered_name_problem
from generator.spec.model import Ref

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "spec"
INVALID = sorted((EXAMPLES / "invalid").glob("*.yaml"))


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <message>'"
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_spec_fails_with_its_message(path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(path, path.name)
    assert f"{path.name}:" in str(caught.value)
    assert _expected(path) in str(caught.value)


def test_corpus_is_large_enough_to_mean_something() -> None:
    assert len(INVALID) >= 20


@pytest.mark.parametrize("path", sorted((EXAMPLES / "valid").glob("*.yaml")), ids=lambda p: p.stem)
def test_valid_spec_loads(path: Path) -> None:
    spec, _ = load_spec(path)
    assert spec.targets


def test_example_merges_defaults_environment_and_model_settings() -> None:
    spec, warnings = load_spec(EXAMPLES / "valid" / "example.yaml")
    assert warnings == []
    prod = spec.target("wine-classifier", "prod")
    assert prod is not None
    assert prod.ref == Ref("alias", "champion")
    assert (prod.serving.min_replicas, prod.serving.max_replicas) == (2, 4)
    assert prod.serving.resources.requests == {"cpu": "500m", "memory": "2Gi"}
    assert prod.serving.service_account == "kserve-sa"
    assert spec.artifacts_destination == "s3://mlflow-artifacts/mlartifacts"
    assert [t.env for t in spec.targets] == ["dev", "staging", "prod"]


def test_most_specific_setting_wins_and_maps_merge_key_by_key() -> None:
    spec, _ = load_spec(EXAMPLES / "valid" / "many.yaml")
    prod = spec.target("fraud", "prod")
    assert prod is not None
    assert prod.registered_model == "Fraud Detector.v2"
    assert prod.serving.deployment_mode == "Knative"
    assert prod.serving.resources.requests == {"cpu": "250m"}
    assert prod.serving.resources.limits == {"cpu": "2", "memory": "1Gi"}
    assert prod.serving.env == {"MLSERVER_PARALLEL_WORKERS": "2"}
    assert prod.hold is True
    dev = spec.target("fraud", "dev")
    assert dev is not None and dev.ref == Ref("version", "7") and not dev.ref.floating


def test_a_target_is_found_by_model_and_environment_and_one_not_served_is_none() -> None:
    spec, _ = load_spec(EXAMPLES / "valid" / "many.yaml")
    assert [spec.target(*t.key) for t in spec.targets] == list(spec.targets)
    assert spec.target("fraud", "nowhere") is None
    assert spec.target("nothing", "prod") is None


def test_stage_reference_loads_with_a_deprecation_warning() -> None:
    _, warnings = load_spec(EXAMPLES / "valid" / "many.yaml")
    assert [w.rule for w in warnings] == ["deprecated-stage"]
    assert "use 'alias:' instead" in str(warnings[0])


def test_max_replicas_defaults_to_min_replicas() -> None:
    spec, _ = parse_spec(
        "apiVersion: kserve-gitops/v1\nenvironments: {dev: {namespace: d, minReplicas: 3}}\n"
        "models: {m: {registeredModel: m, environments: {dev: {latest: true}}}}\n"
    )
    assert spec.targets[0].serving.max_replicas == 3


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(
            "apiVersion: kserve-gitops/v1\nenvironments: {dev: {namespace: Bad_NS}}\n"
            "models: {m: {registeredModel: m, environments: {dev: {}}}}\n"
        )
    assert len(caught.value.diagnostics) == 2


def test_missing_file_says_where_to_run() -> None:
    with pytest.raises(SpecError, match="--repo"):
        load_spec(Path("/nonexistent/models.yaml"))


PLATFORM = (
    "apiVersion: kserve-gitops/v1\n%s\nenvironments: {dev: {namespace: d}, prod: {namespace: p}}\n"
    "models: {m: {registeredModel: m, environments: {dev: {latest: true}}}}\n"
)


@pytest.mark.parametrize(
    ("platform", "image"),
    [
        ("", "docker.io/seldonio/mlserver:1.5.0"),  # KServe v0.20.0's Helm chart, the default install
        ("platform: {kserveInstall: kustomize}", "docker.io/seldonio/mlserver:1.7.1"),
        (
            "platform: {runtimeImage: {kserve-mlserver: 'registry.example.com/mirror/mlserver@sha256:"
            + "a" * 64
            + "'}}",
            "registry.example.com/mirror/mlserver@sha256:" + "a" * 64,
        ),
        ("platform: {kserveVersion: v0.21.0}", "docker.io/seldonio/mlserver:1.5.0"),  # read before the tag: warned
    ],
)
def test_the_runtime_image_follows_release_install_method_and_override(platform: str, image: str) -> None:
    spec, _ = parse_spec(PLATFORM % platform)
    assert spec.platform.runtime_image("kserve-mlserver") == image


@pytest.mark.parametrize(
    ("platform", "known"),
    [
        (
            "platform: {kserveVersion: v0.13.0}",
            "platform.kserveVersion v0.13.0 is not a release kserve-gitops knows (known: v0.20.x, v0.21.x)",
        ),
        (
            "platform: {argocdVersion: v3.2.4}",
            "platform.argocdVersion v3.2.4 is not a release kserve-gitops knows (known: v3.5.x, v3.6.x)",
        ),
    ],
)
def test_a_release_the_platform_layer_lacks_is_refused_at_its_line_listing_the_known_ones(
    platform: str, known: str
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(PLATFORM % platform)
    (problem,) = caught.value.diagnostics
    assert (problem.file, problem.line, problem.message, problem.rule) == ("models.yaml", 2, known, "platform-release")
    assert caught.value.exit_code == 1


def test_confirmed_releases_load_without_a_word() -> None:
    assert parse_spec(PLATFORM % "platform: {kserveVersion: v0.20.3, argocdVersion: v3.5.0}")[1] == []


def test_a_release_known_from_pre_release_sources_is_accepted_and_said_once_per_fact_group() -> None:
    two_models = (PLATFORM % "platform: {kserveVersion: v0.21.0, argocdVersion: v3.6.3}").replace(
        "models: {", "models: {n: {registeredModel: n, environments: {dev: {latest: true}}}, "
    )
    spec, warnings = parse_spec(two_models)  # two targets on kserve-mlserver, one warning about its image
    assert (spec.platform.kserve.tag, spec.platform.argocd.tag) == ("v0.21.0", "v3.6.0")
    kserve, argocd, image = (w.message for w in warnings)
    assert all(w.severity == "warning" and w.line == 2 for w in warnings)
    assert kserve.startswith("KServe v0.21.0 is known from pre-release sources only: its CRD file paths, ")
    assert "kserve/kserve master@aaac4e294dae2c7b1aa1886447793f3aa1c30912 (2026-08-21" in kserve
    assert kserve.endswith("before the tag; unconfirmed at v0.21.0")
    assert argocd.startswith("Argo CD v3.6.3 is known from pre-release sources only")
    assert image.startswith(
        "KServe v0.21.0: the kserve-mlserver image of a helm install, docker.io/seldonio/mlserver:1.5.0, was read "
        "from kserve/kserve master@aaac4e294dae2c7b1aa1886447793f3aa1c30912"
    )
    assert "platform.runtimeImage: {kserve-mlserver: REGISTRY/REPOSITORY:TAG}" in warnings[2].hint


def test_a_stated_runtime_image_needs_no_warning_about_the_default_one() -> None:
    stated = "platform: {kserveVersion: v0.21.0, runtimeImage: {kserve-mlserver: docker.io/seldonio/mlserver:1.7.1}}"
    _, warnings = parse_spec(PLATFORM % stated)
    assert [w.message.split(" is known")[0] for w in warnings] == ["KServe v0.21.0"]


def test_prod_refuses_unverified_models_by_default_and_a_policy_key_allows_them() -> None:
    spec, _ = parse_spec(PLATFORM % "")
    assert [spec.environments[e].policies.allow_unverified_models for e in ("dev", "prod")] == [True, False]
    allowed, _ = parse_spec(
        (PLATFORM % "").replace("prod: {namespace: p}", "prod: {namespace: p, policies: {allowUnverifiedModels: true}}")
    )
    assert allowed.environments["prod"].policies.allow_unverified_models


def test_an_ingress_class_in_standard_mode_is_warned_about_where_it_is_set_and_knative_is_not() -> None:
    """KServe copies the annotation onto its Ingress beside spec.ingressClassName, which Kubernetes refuses. Said once,
    at the model that sets it, however many of its targets are in Standard mode."""
    _, warnings = parse_spec(
        "apiVersion: kserve-gitops/v1\n"
        "environments: {dev: {namespace: d}, canary: {namespace: c, deploymentMode: Knative}}\n"
        "models: {m: {registeredModel: m, ingressClass: alb,\n"
        "  environments: {dev: {version: 1}, canary: {version: 1}}}}\n"
    )
    (warning,) = warnings
    assert (warning.rule, warning.severity) == ("ingress-class", "warning")
    assert (warning.path, warning.line) == ("$.models.m.ingressClass", 3)
    assert "annotation kubernetes.io/ingress.class" in warning.message and "Kubernetes refuses" in warning.message


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("https://github.com/acme/ml-platform.git", False),
        ("git@github.com:acme/ml-platform.git", False),
        ("ssh://git@github.com/acme/ml-platform.git", False),
        ("https://x-access-token:SECRET@github.com/acme/ml-platform.git", True),
        ("https://SECRET@github.com/acme/ml-platform.git", True),
        ("HTTP://SECRET@git.internal/ml.git", True),
        ("ssh://git:SECRET@git.internal/ml.git", True),
    ],
)
def test_a_repo_url_with_credentials_is_refused_without_quoting_them(url: str, refused: bool) -> None:
    """argocd.repoURL is written into argocd/ and shown in every diff: a token or password in it is refused, and
    the message does not repeat it; a user name alone (git@, ssh://git@) is no secret."""
    spec = (EXAMPLES / "valid" / "methods.yaml").read_text()
    text = spec.replace("https://git.example.com/ml/platform.git", url)
    if not refused:
        assert parse_spec(text)[0].argocd is not None
        return
    with pytest.raises(SpecError) as caught:
        parse_spec(text)
    assert "models.yaml:6:" in str(caught.value) and "repoURL embeds a secret" in str(caught.value)
    assert "SECRET" not in str(caught.value) and "SECRET" not in repr(caught.value.diagnostics)


@pytest.mark.parametrize("dev", ["{namespace: d}", "&ns {namespace: d}"], ids=["plain", "with-an-anchor"])
def test_each_target_knows_the_line_that_holds_it(dev: str) -> None:
    text = (
        "apiVersion: kserve-gitops/v1\n"
        f"environments:\n  dev: {dev}\n  staging: {{namespace: s}}\n"
        "models:\n"
        "  wine:\n    registeredModel: wine\n    environments:\n"
        "      dev: {latest: true}\n"
        "      staging:\n        alias: champion\n"
    )
    spec, _ = parse_spec(text)
    lines = text.splitlines()
    where = {t.env: t.line for t in spec.targets}
    assert lines[where["dev"] - 1].strip() == "dev: {latest: true}"
    assert lines[where["staging"] - 1].strip() == "staging:"


def test_targets_that_share_how_they_are_served_each_get_their_own_findings() -> None:
    """Both models are served as the environment says (one shared serving, checked once); what depends on the
    target itself (its reference) is still found for each."""
    text = (
        "apiVersion: kserve-gitops/v1\n"
        "environments: {dev: {namespace: d, policies: {requireLimits: true, allowLatest: false}}}\n"
        "models:\n"
        "  a: {registeredModel: a, environments: {dev: {latest: true}}}\n"
        "  b: {registeredModel: b, environments: {dev: {alias: champion}}}\n"
    )
    with pytest.raises(SpecError) as caught:
        parse_spec(text)
    found = sorted((d.path.split(".")[2], d.rule) for d in caught.value.diagnostics)
    assert found == [("a", "policy/allowLatest"), ("a", "policy/requireLimits"), ("b", "policy/requireLimits")]


def test_a_setting_every_target_inherits_is_refused_once_where_it_is_written() -> None:
    text = (
        "apiVersion: kserve-gitops/v1\n"
        "defaults:\n"
        "  resources: {limits: {cpu: 1, memory: 1e999}}\n"
        "environments: {dev: {namespace: d}, prod: {namespace: p}}\n"
        "models:\n"
        "  a: {registeredModel: a, environments: {dev: {version: 1}, prod: {version: 1}}}\n"
        "  b: {registeredModel: b, environments: {dev: {version: 1}, prod: {version: 1}}}\n"
    )
    with pytest.raises(SpecError) as caught:
        parse_spec(text)
    (problem,) = caught.value.diagnostics
    assert (problem.line, problem.path) == (3, "$.defaults.resources.limits.memory")
    assert "'1e999' is out of range" in problem.message


def test_a_character_yaml_refuses_is_located_by_yaml_lines_in_a_file_ending_them_with_cr_alone() -> None:
    text = "apiVersion: kserve-gitops/v1\renvironments: {dev: {namespace: d}}\rmodels: {m: \x01}\r"
    with pytest.raises(SpecError) as caught:
        parse_spec(text)
    (problem,) = caught.value.diagnostics
    assert (problem.line, problem.column) == (3, 13)
    assert "U+0001 is not allowed" in problem.message


@pytest.mark.parametrize(
    ("character", "what"),
    [
        ("\x85", "a line break to YAML that diffs and editors do not show"),
        ("\u2028", "a line break to YAML that diffs and editors do not show"),
        ("\u202e", "a bidirectional control, which changes how the line reads"),
    ],
)
def test_a_character_that_hides_what_a_line_means_from_review_is_refused_where_editors_show_it(
    character: str, what: str
) -> None:
    """After NEL in a comment, YAML reads a key that git diff and editors show as part of the comment."""
    text = (
        "apiVersion: kserve-gitops/v1\nenvironments: {dev: {namespace: d}}\nmodels:\n"
        f"  m:  # owner: ml-team{character}    serviceAccountName: attacker\n"
        "    registeredModel: m\n    environments: {dev: {version: 1}}\n"
    )
    with pytest.raises(SpecError) as caught:
        parse_spec(text)
    (problem,) = caught.value.diagnostics
    assert (problem.line, problem.column) == (4, 23)
    assert problem.message == f"invalid YAML: character U+{ord(character):04X} is not allowed: {what}"


@pytest.mark.parametrize("break_", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_a_tab_in_the_indentation_is_named_with_its_fix(break_: str) -> None:
    """libyaml says only "found character that cannot start any token": the character, invisible in most editors,
    is named, and the fix is to indent with spaces."""
    text = "apiVersion: kserve-gitops/v1\nenvironments: {dev: {namespace: d}}\nmodels:\n\tm:\n".replace("\n", break_)
    with pytest.raises(SpecError) as caught:
        parse_spec(text)
    (problem,) = caught.value.diagnostics
    assert (problem.line, problem.column) == (4, 1)
    assert problem.message.endswith("found character that cannot start any token: a tab"), problem.message
    assert problem.hint == "indent with spaces: YAML allows no tab in indentation"


def test_environments_may_share_a_namespace_on_different_clusters() -> None:
    spec, warnings = parse_spec(
        "apiVersion: kserve-gitops/v1\n"
        "environments: {eu: {namespace: ml, clusters: [eu-1]}, us: {namespace: ml, clusters: [us-1]}}\n"
        "models: {m: {registeredModel: m, environments: {eu: {version: 1}, us: {version: 1}}}}\n"
    )
    assert [t.env for t in spec.targets] == ["eu", "us"]
    assert warnings == []


def test_an_empty_registered_model_name_is_refused_as_empty() -> None:
    text = "apiVersion: kserve-gitops/v1\nenvironments: {dev: {namespace: d}}\nmodels:\n  m:\n"
    text += "    registeredModel: ''\n    environments: {dev: {version: 1}}\n"
    with pytest.raises(SpecError) as caught:
        parse_spec(text)
    assert "$.models.m.registeredModel: '' should be non-empty" in str(caught.value)


QUOTE_HINT = 'quote it if it looks like a number or a boolean ("1.0", "true")'


@pytest.mark.parametrize(
    ("policies", "annotations", "hint"),
    [
        ("{allowLatest: 2024-01-01}", "{}", "write true or false without quotes"),
        ("{allowLatest: yes}", "{team: 2024-01-01}", "quote it: '2024-01-01'"),
        ("{allowLatest: yes}", "{team: yes}", QUOTE_HINT),
    ],
)
def test_a_value_of_another_type_is_told_how_to_write_one(policies: str, annotations: str, hint: str) -> None:
    text = (
        f"apiVersion: kserve-gitops/v1\nenvironments: {{dev: {{namespace: d, policies: {policies}}}}}\nmodels:\n"
        f"  m:\n    registeredModel: m\n    annotations: {annotations}\n    environments: {{dev: {{latest: true}}}}\n"
    )
    with pytest.raises(SpecError) as caught:
        parse_spec(text)
    (problem,) = caught.value.diagnostics
    assert hint in problem.hint


def test_a_registered_model_name_refuses_every_character_printed_as_an_escape() -> None:
    """The schema's pattern spells out, in JSON, the characters diagnostics.UNSEEN and INVISIBLE name in Python (but
    tag characters, which a JSON Schema pattern without the `u` flag cannot name): a name holding one would read as
    another, in models.yaml's own diff and in every place this tool prints it."""
    ranges = re.findall(r"(.)(?:-(.))?", UNSEEN + INVISIBLE)
    hidden = [chr(c) for first, last in ranges for c in range(ord(first), ord(last or first) + 1) if c <= 0xFFFF]
    assert len(hidden) > 30
    assert [c for c in hidden if registered_name_problem(f"wine{c}") is None] == []


def test_knative_mode_with_the_hpa_class_scales_on_the_hpa_metrics() -> None:
    """KServe v0.20.0's validateAutoScalingCompExtension checks a Knative-mode service annotated
    autoscaling.knative.dev/class: hpa.autoscaling.knative.dev with the HPA's metrics (cpu, memory)."""
    text = (
        "apiVersion: kserve-gitops/v1\nenvironments: {dev: {namespace: d}}\n"
        "defaults: {deploymentMode: Knative, autoscaling: {metric: cpu, target: 70}, "
        "annotations: {autoscaling.knative.dev/class: hpa.autoscaling.knative.dev}}\n"
        "models: {m: {registeredModel: m, environments: {dev: {latest: true}}}}\n"
    )
    spec, _ = parse_spec(text)
    assert spec.targets[0].serving.autoscaling is not None
    with pytest.raises(SpecError, match="'cpu' is not available in Knative mode"):
        parse_spec(text.replace("hpa.autoscaling", "kpa.autoscaling"))  # Knative's own autoscaler: KPA metrics


@pytest.mark.parametrize(
    ("mode", "annotation"),
    [
        ("Standard", "serving.kserve.io/autoscalerClass: hpa"),
        ("Knative", "autoscaling.knative.dev/class: hpa.autoscaling.knative.dev"),
    ],
)
def test_where_kserve_checks_the_hpa_settings_a_target_above_100_is_refused_for_any_metric(
    mode: str, annotation: str
) -> None:
    """KServe v0.20.0's validateScalingHPACompExtension: `metric == MetricCPU && target < 1 || target > 100`. Without
    the class annotation a Standard-mode service is not checked, and the HPA takes a utilisation above 100."""
    text = (
        "apiVersion: kserve-gitops/v1\nenvironments: {dev: {namespace: d}}\n"
        f"defaults: {{deploymentMode: {mode}, autoscaling: {{metric: memory, target: 150}}, "
        f"annotations: {{{annotation}}}}}\n"
        "models: {m: {registeredModel: m, environments: {dev: {latest: true}}}}\n"
    )
    with pytest.raises(SpecError, match="autoscaling target 150 is outside 1-100"):
        parse_spec(text)
    assert parse_spec(text.replace("target: 150", "target: 100"))[0].targets
    if mode == "Standard":
        assert parse_spec(text.replace(annotation, "serving.kserve.io/autoscalerClass: none"))[0].targets
