from __future__ import annotations

from typing import Any

import pytest

from generator.errors import EnvironmentProblem
from generator.validate.core_kinds import DEFAULT_K8S_VERSION, load_core_schemas


def deployment(**container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "relay", "namespace": "ml-system"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "relay"}},
            "template": {
                "metadata": {"labels": {"app": "relay"}},
                "spec": {"containers": [{"name": "relay", "image": "ghcr.io/acme/relay:1.0", **container}]},
            },
        },
    }


def test_valid_service_account_passes() -> None:
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "kserve-sa", "namespace": "ml-prod"}}

    assert load_core_schemas().validate(account) == []


def test_valid_deployment_passes() -> None:
    assert load_core_schemas().validate(deployment(resources={"limits": {"cpu": "1"}})) == []


def test_deployment_with_a_bogus_field_fails_strictly() -> None:
    [problem] = load_core_schemas().validate(deployment(imagePullPolicyy="Always"))

    assert problem.path == "$.spec.template.spec.containers[0].imagePullPolicyy"
    assert problem.message == "unknown field 'imagePullPolicyy' (did you mean 'imagePullPolicy'?)"
    assert problem.rule == "k8s-schema"


def test_unknown_kind_is_an_error_not_a_pass() -> None:
    [problem] = load_core_schemas().validate({"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}})

    assert problem.message == f"no schema for v1 Widget in Kubernetes {DEFAULT_K8S_VERSION}"


def test_knows_built_in_kinds_only() -> None:
    schemas = load_core_schemas("1.33")
    metadata = {"name": "x", "namespace": "ml-prod"}

    assert schemas.validate({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": metadata}) == []
    assert schemas.validate({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata}) == []
    [problem] = schemas.validate(
        {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": metadata}
    )
    assert problem.message == "no schema for serving.kserve.io/v1beta1 InferenceService in Kubernetes 1.33"


def test_patch_versions_use_their_minor() -> None:
    assert load_core_schemas("v1.33.4").schema_dir == "v1.33.0-local-strict"


@pytest.mark.parametrize("version", ["1.99", "1.2", "latest"])
def test_unshipped_or_malformed_versions_are_environment_problems(version: str) -> None:
    with pytest.raises(EnvironmentProblem):
        load_core_schemas(version)


def _variants(value: Any) -> list[Any]:
    """`value` with each of its leaves, in turn, replaced by each of a few values of the wrong kind or range."""
    if isinstance(value, dict):
        return [{**value, key: changed} for key, item in value.items() for changed in _variants(item)] + [
            {**value, "unknownField": 1}
        ]
    if isinstance(value, list):
        return [[*value[:i], changed, *value[i + 1 :]] for i, item in enumerate(value) for changed in _variants(item)]
    wrongs: tuple[Any, ...] = ("x", -1, 1.5, None, True, [], {})
    return [wrong for wrong in wrongs if wrong != value or type(wrong) is not type(value)]


def test_the_compiled_schema_lets_through_only_what_jsonschema_passes_too() -> None:
    """Each object is first asked of the schema compiled (jsonschema_rs); its yes is final, so it must never pass an
    object jsonschema refuses. Every one-leaf change of a Deployment and a Job, valid or not, is asked of both."""
    from generator.validate.core_kinds import _quick_validator, _validator  # noqa: PLC0415 -- the two judges

    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "wine-smoke", "namespace": "ml-prod", "annotations": {"argocd.argoproj.io/hook": "x"}},
        "spec": {
            "backoffLimit": 1,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 65532},
                    "containers": [{"name": "smoke", "image": "curl:8", "command": ["a", "b"]}],
                }
            },
        },
    }
    schemas = load_core_schemas()
    disagreements, refused = [], 0
    for obj in [*_variants(job), *_variants(deployment(resources={"limits": {"cpu": "1"}}))]:
        if not isinstance(obj.get("kind"), str) or not isinstance(obj.get("apiVersion"), str) or obj["kind"] == "x":
            continue  # another kind, or none: no schema to compare
        quick = _quick_validator(schemas.schema_dir, obj["apiVersion"], obj["kind"])
        if quick is None:
            continue
        full = list(_validator(schemas.schema_dir, obj["apiVersion"], obj["kind"]).iter_errors(obj))
        refused += bool(full)
        if quick.is_valid(obj) and full:
            disagreements.append(obj)
    assert refused > 100, "the variants reach the schema's refusals"
    assert disagreements == []
