"""The webhook simulator of tests/support/admission.py: the oracle the rendering fixed-point tests rely on."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.support.admission import KSERVE_V020_DEFAULTS, InferenceServiceConfig, apply_webhook_defaults

STANDARD = InferenceServiceConfig(default_deployment_mode="Standard")
MODE = "serving.kserve.io/deploymentMode"


def custom_container_isvc() -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "fraud", "annotations": {MODE: "Standard"}},
        "spec": {
            "predictor": {
                "containers": [
                    {
                        "name": "kserve-container",
                        "image": "ghcr.io/acme/fraud:7",
                        "resources": {
                            "requests": {"cpu": "1", "memory": "2Gi"},
                            "limits": {"cpu": "1", "memory": "2Gi"},
                        },
                    }
                ]
            }
        },
    }


@pytest.mark.parametrize("config", [KSERVE_V020_DEFAULTS, STANDARD], ids=["v0.20 defaults", "Standard default"])
def test_fully_specified_mlflow_isvc_is_a_fixed_point(isvc: dict[str, Any], config: InferenceServiceConfig) -> None:
    assert apply_webhook_defaults(isvc, deployment_config=config) == isvc


def test_missing_deployment_mode_is_added_when_the_cluster_default_is_standard(isvc: dict[str, Any]) -> None:
    del isvc["metadata"]["annotations"][MODE]

    stored = apply_webhook_defaults(isvc, deployment_config=STANDARD)

    assert stored != isvc
    assert stored["metadata"]["annotations"][MODE] == "Standard"


def test_legacy_cluster_default_is_written_under_its_new_name(isvc: dict[str, Any]) -> None:
    del isvc["metadata"]["annotations"]

    stored = apply_webhook_defaults(
        isvc, deployment_config=InferenceServiceConfig(default_deployment_mode="RawDeployment")
    )

    assert stored["metadata"]["annotations"] == {MODE: "Standard", "modelFormat": "mlflow"}


def test_a_model_gets_the_model_format_annotation_unless_it_has_one(isvc: dict[str, Any]) -> None:
    """setPredictorModelDefaults (kserve/kserve v0.20.0, inference_service_defaults.go; since #4953)."""
    del isvc["metadata"]["annotations"]["modelFormat"]
    assert apply_webhook_defaults(isvc)["metadata"]["annotations"]["modelFormat"] == "mlflow"

    isvc["metadata"]["annotations"]["modelFormat"] = "own"
    assert apply_webhook_defaults(isvc)["metadata"]["annotations"]["modelFormat"] == "own"


def test_custom_containers_get_no_model_format_annotation() -> None:
    assert "modelFormat" not in apply_webhook_defaults(custom_container_isvc())["metadata"]["annotations"]


def test_knative_cluster_default_adds_no_annotation(isvc: dict[str, Any]) -> None:
    del isvc["metadata"]["annotations"][MODE]

    assert apply_webhook_defaults(isvc) == isvc


def test_model_resources_are_never_defaulted(isvc: dict[str, Any]) -> None:
    del isvc["spec"]["predictor"]["model"]["resources"]["limits"]["memory"]

    assert apply_webhook_defaults(isvc, deployment_config=STANDARD) == isvc


def test_custom_container_is_a_fixed_point_when_fully_specified() -> None:
    isvc = custom_container_isvc()

    assert apply_webhook_defaults(isvc) == isvc


def test_custom_container_missing_a_resource_key_gets_the_configmap_default() -> None:
    isvc = custom_container_isvc()
    del isvc["spec"]["predictor"]["containers"][0]["resources"]["limits"]["memory"]

    stored = apply_webhook_defaults(isvc)

    assert stored != isvc
    assert stored["spec"]["predictor"]["containers"][0]["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}


def test_single_unnamed_container_becomes_kserve_container() -> None:
    isvc = custom_container_isvc()
    isvc["spec"]["predictor"]["containers"][0]["name"] = "server"

    stored = apply_webhook_defaults(isvc)

    assert stored["spec"]["predictor"]["containers"][0]["name"] == "kserve-container"


def test_automount_token_is_disabled_only_when_the_cluster_says_so(isvc: dict[str, Any]) -> None:
    no_token = InferenceServiceConfig(auto_mount_service_account_token=False)

    assert apply_webhook_defaults(isvc)["spec"]["predictor"].get("automountServiceAccountToken") is None
    assert (
        apply_webhook_defaults(isvc, deployment_config=no_token)["spec"]["predictor"]["automountServiceAccountToken"]
        is False
    )
    isvc["spec"]["predictor"]["automountServiceAccountToken"] = True
    assert apply_webhook_defaults(isvc, deployment_config=no_token) == isvc


def test_triton_gets_protocol_v2_but_mlflow_does_not(isvc: dict[str, Any]) -> None:
    del isvc["spec"]["predictor"]["model"]["protocolVersion"]
    triton = copy.deepcopy(isvc)
    triton["spec"]["predictor"]["model"]["modelFormat"] = {"name": "triton"}

    assert "protocolVersion" not in apply_webhook_defaults(isvc)["spec"]["predictor"]["model"]
    assert apply_webhook_defaults(triton)["spec"]["predictor"]["model"]["protocolVersion"] == "v2"


def test_model_mesh_predictors_are_left_alone() -> None:
    isvc = custom_container_isvc()
    isvc["metadata"]["annotations"][MODE] = "ModelMesh"
    del isvc["spec"]["predictor"]["containers"][0]["resources"]

    assert apply_webhook_defaults(isvc) == isvc


def test_input_is_not_modified(isvc: dict[str, Any]) -> None:
    del isvc["metadata"]["annotations"]
    before = copy.deepcopy(isvc)

    apply_webhook_defaults(isvc, deployment_config=STANDARD)

    assert isvc == before


@pytest.mark.parametrize("part", ["transformer", "explainer"])
def test_unmodelled_components_are_refused(isvc: dict[str, Any], part: str) -> None:
    isvc["spec"][part] = {"containers": [{"name": "kserve-container", "image": "x"}]}

    with pytest.raises(ValueError, match=f"spec.{part}"):
        apply_webhook_defaults(isvc)
