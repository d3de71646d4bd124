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
