from __future__ import annotations

from typing import Any

import pytest

from generator.diagnostics import Diagnostic
from generator.platform.releases import KSERVE_RELEASES, release
from generator.validate.kserve_rules import (
    check_deployment_mode,
    check_extended_resources,
    check_inference_service,
    check_name,
    check_quantities,
    check_requests_le_limits,
    check_runtime_protocol,
    check_storage_uri,
)

DEPLOYMENT_MODE_KEY = "serving.kserve.io/deploymentMode"
V0_20, V0_21 = release(KSERVE_RELEASES, "v0.20.0"), release(KSERVE_RELEASES, "v0.21.0")


def only(found: list[Diagnostic]) -> Diagnostic:
    assert len(found) == 1, found
    return found[0]


def model(isvc: dict[str, Any]) -> dict[str, Any]:
    return isvc["spec"]["predictor"]["model"]  # type: ignore[no-any-return]


def test_valid_inference_service_breaks_no_rule(isvc: dict[str, Any]) -> None:
    assert check_inference_service(isvc) == []


def test_rules_report_file_and_line(isvc: dict[str, Any]) -> None:
    isvc["metadata"]["name"] = "Fraud"

    problem = only(check_inference_service(isvc, file="fraud.yaml", line_of=lambda path: 4))

    assert (problem.file, problem.line, problem.rule) == ("fraud.yaml", 4, "kserve-name")


# kserve-name


@pytest.mark.parametrize("name", ["Fraud", "fraud_v2", "2fraud", "fraud-"])
def test_name_must_match_kserve_regex(isvc: dict[str, Any], name: str) -> None:
    isvc["metadata"]["name"] = name

    problem = only(check_name(isvc))

    assert problem.path == "$.metadata.name"
    assert "regex '[a-z]([-a-z0-9]*[a-z0-9])?'" in problem.message


def test_name_whose_predictor_service_exceeds_63_fails(isvc: dict[str, Any]) -> None:
    isvc["metadata"]["name"] = "a" * 54

    problem = only(check_name(isvc))

    assert problem.message.startswith(f"'{'a' * 54}-predictor' is 64 characters")
    assert problem.hint == "shorten the name to at most 53 characters"


def test_standard_mode_host_label_includes_the_namespace(isvc: dict[str, Any]) -> None:
    isvc["metadata"]["name"], isvc["metadata"]["namespace"] = "a" * 40, "n" * 13

    problem = only(check_name(isvc))

    assert problem.message.startswith(f"host label '{'a' * 40}-predictor-{'n' * 13}' is 64 characters")


def test_knative_mode_host_label_does_not_include_the_namespace(isvc: dict[str, Any]) -> None:
    isvc["metadata"]["name"], isvc["metadata"]["namespace"] = "a" * 40, "n" * 13
    isvc["metadata"]["annotations"][DEPLOYMENT_MODE_KEY] = "Knative"

    assert check_name(isvc) == []


def test_standard_mode_pod_label_value_is_checked_even_in_a_short_namespace(isvc: dict[str, Any]) -> None:
    """KServe v0.20.0 labels the predictor's Deployment and pods `app: isvc.<name>-predictor` (GetRawServiceLabel):
    a 50-character name fits the Service and, in namespace 'ml', the host, but not that label value."""
    isvc["metadata"]["name"], isvc["metadata"]["namespace"] = "a" * 50, "ml"

    problem = only(check_name(isvc))

    assert problem.message.startswith(f"label value 'isvc.{'a' * 50}-predictor' is 65 characters")
    assert problem.hint == "shorten the name to at most 48 characters"

    isvc["metadata"]["name"] = "a" * 48
    assert check_name(isvc) == []
    isvc["metadata"]["name"] = "a" * 50
    isvc["metadata"]["annotations"][DEPLOYMENT_MODE_KEY] = "Knative"  # no such label: Knative names the pods
    assert check_name(isvc) == []


def test_longest_names_that_fit_pass(isvc: dict[str, Any]) -> None:
    isvc["metadata"]["name"], isvc["metadata"]["namespace"] = "a" * 40, "n" * 12

    assert check_name(isvc) == []


# kserve-deployment-mode


@pytest.mark.parametrize(("legacy", "new"), [("RawDeployment", "Standard"), ("Serverless", "Knative")])
def test_legacy_deployment_modes_are_errors_naming_the_new_one(isvc: dict[str, Any], legacy: str, new: str) -> None:
    isvc["metadata"]["annotations"][DEPLOYMENT_MODE_KEY] = legacy

    problem = only(check_deployment_mode(isvc))

    assert problem.severity == "error"
    assert problem.message.startswith(f"deploymentMode '{legacy}' is the old name of '{new}'")
    assert "update rejected" in problem.message
    assert problem.hint == f"write '{new}'"


def test_unknown_deployment_mode_gets_a_suggestion(isvc: dict[str, Any]) -> None:
    isvc["metadata"]["annotations"][DEPLOYMENT_MODE_KEY] = "standard"

    problem = only(check_deployment_mode(isvc))

    assert problem.path == '$.metadata.annotations["serving.kserve.io/deploymentMode"]'
    assert "(did you mean 'Standard'?)" in problem.message


def test_missing_deployment_mode_is_a_warning(isvc: dict[str, Any]) -> None:
    del isvc["metadata"]["annotations"]

    assert only(check_deployment_mode(isvc)).severity == "warning"


@pytest.mark.parametrize("mode", ["Standard", "Knative"])
def test_current_deployment_modes_pass(isvc: dict[str, Any], mode: str) -> None:
    isvc["metadata"]["annotations"][DEPLOYMENT_MODE_KEY] = mode

    assert check_deployment_mode(isvc) == []


# kserve-runtime-protocol


def test_mlflowserver_runtime_does_not_exist(isvc: dict[str, Any]) -> None:
    model(isvc)["runtime"] = "kserve-mlflowserver"

    problem = only(check_runtime_protocol(isvc))

    assert problem.path == "$.spec.predictor.model.runtime"
    assert problem.message.startswith(
        "runtime 'kserve-mlflowserver' does not serve modelFormat 'mlflow' (did you mean 'kserve-mlserver'?)"
    )


def test_custom_runtime_declared_for_mlflow_passes(isvc: dict[str, Any]) -> None:
    model(isvc)["runtime"] = "acme-mlflow"

    assert check_runtime_protocol(isvc, mlflow_runtimes={"kserve-mlserver", "acme-mlflow"}) == []


@pytest.mark.parametrize("protocol", [None, "v1", "grpc-v2"])
def test_mlserver_needs_protocol_v2(isvc: dict[str, Any], protocol: str | None) -> None:
    model(isvc)["protocolVersion"] = protocol
    if protocol is None:
        del model(isvc)["protocolVersion"]

    problem = only(check_runtime_protocol(isvc))

    assert problem.path == "$.spec.predictor.model.protocolVersion"
    assert problem.message.endswith("kserve-mlserver serves only 'v2'")


def test_mlflow_model_format_version_must_be_one_mlserver_lists(isvc: dict[str, Any]) -> None:
    model(isvc)["modelFormat"]["version"] = "3"

    problem = only(check_runtime_protocol(isvc))

    assert problem.message.startswith("modelFormat version '3' is not one kserve-mlserver lists for mlflow")


def test_unpinned_runtime_is_a_warning(isvc: dict[str, Any]) -> None:
    del model(isvc)["runtime"]

    problem = only(check_runtime_protocol(isvc))

    assert (problem.severity, problem.hint) == ("warning", "set runtime: kserve-mlserver")


def test_other_model_formats_are_not_checked(isvc: dict[str, Any]) -> None:
    model(isvc).update(modelFormat={"name": "sklearn"}, runtime="kserve-sklearnserver", protocolVersion="v1")

    assert check_runtime_protocol(isvc) == []


# kserve-storage-uri


@pytest.mark.parametrize(
    "uri",
    [
        "s3://models/fraud/7",
        "gs://models/fraud",
        "https://models.example.com/fraud.tgz",
        "https://acct.blob.core.windows.net/models/fraud",
        "pvc://models-pvc/fraud",
        "hf://acme/fraud",
        "oci://registry.example.com/models/fraud:7",
        "/mnt/models/fraud",
    ],
)
def test_storage_uris_the_initializer_supports_pass(isvc: dict[str, Any], uri: str) -> None:
    model(isvc)["storageUri"] = uri

    assert check_storage_uri(isvc) == []


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("models:/fraud/7", "'models:/fraud/7' is an MLflow-style URI ('models:')"),
        ("mlflow-artifacts:/1/abc/artifacts", "is an MLflow-style URI ('mlflow-artifacts:')"),
        (
            "gcs://models/fraud",
            "scheme 'gcs://' is not supported by the KServe v0.20 storage initializer (did you mean 'gs://'?)",
        ),
        ("s3://", "'s3://' names no bucket, host or path"),
        ("https://acct.blob.core.windows.net/", "is not https://<account>.blob.core.windows.net/<path>"),
        ("fraud/model", "'fraud/model' is neither a URI nor an absolute path"),
        ("", "storage URI must be a non-empty string, got ''"),
    ],
)
def test_storage_uris_the_initializer_cannot_download_fail(isvc: dict[str, Any], uri: str, message: str) -> None:
    model(isvc)["storageUri"] = uri

    problem = only(check_storage_uri(isvc))

    assert problem.path == "$.spec.predictor.model.storageUri"
    assert message in problem.message


def test_cluster_storage_container_prefixes_are_accepted(isvc: dict[str, Any]) -> None:
    model(isvc)["storageUri"] = "minio://models/fraud"

    assert check_storage_uri(isvc, extra_prefixes=["minio://"]) == []
    assert len(check_storage_uri(isvc)) == 1


def test_custom_container_storage_uri_env_is_checked(isvc: dict[str, Any]) -> None:
    isvc["spec"]["predictor"] = {
        "containers": [
            {
                "name": "kserve-container",
                "image": "acme/fraud:7",
                "env": [{"name": "STORAGE_URI", "value": "ftp://x/y"}],
            }
        ]
    }

    problem = only(check_storage_uri(isvc))

    assert problem.path == "$.spec.predictor.containers[0].env[0].value"


# k8s-quantity and resources-requests-le-limits


def test_malformed_quantity_names_the_likely_fix(isvc: dict[str, Any]) -> None:
    model(isvc)["resources"]["limits"]["memory"] = "2gi"

    problem = only(check_quantities(isvc))

    assert problem.path == "$.spec.predictor.model.resources.limits.memory"
    assert problem.message.startswith("limits.memory: '2gi' is not a Kubernetes quantity (did you mean '2Gi'?)")


def test_negative_quantity_fails(isvc: dict[str, Any]) -> None:
    model(isvc)["resources"]["requests"]["cpu"] = -1

    assert only(check_quantities(isvc)).message == "requests.cpu -1 must not be negative"


def test_numeric_yaml_quantities_pass(isvc: dict[str, Any]) -> None:
    model(isvc)["resources"] = {"requests": {"cpu": 0.5}, "limits": {"cpu": 1}}

    assert check_quantities(isvc) == []
    assert check_requests_le_limits(isvc) == []


def test_request_above_limit_fails_after_unit_conversion(isvc: dict[str, Any]) -> None:
    model(isvc)["resources"] = {"requests": {"memory": "2049Mi"}, "limits": {"memory": "2Gi"}}

    problem = only(check_requests_le_limits(isvc))

    assert problem.path == "$.spec.predictor.model.resources.requests.memory"
    assert problem.message == "request '2049Mi' for memory is above its limit '2Gi'"


def test_request_equal_to_limit_in_other_units_passes(isvc: dict[str, Any]) -> None:
    model(isvc)["resources"] = {
        "requests": {"cpu": "1000m", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": "1073741824"},
    }

    assert check_requests_le_limits(isvc) == []


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"limits": {"nvidia.com/gpu": 0.5}}, "limits.nvidia.com/gpu 0.5 is not a whole number"),
        ({"requests": {"nvidia.com/gpu": 1}}, "a request for nvidia.com/gpu needs a limit"),
        ({"requests": {"amd.com/gpu": 1}, "limits": {"amd.com/gpu": 2}}, "request 1 for amd.com/gpu differs from"),
        ({"requests": {"hugepages-2Mi": "2Mi"}, "limits": {"hugepages-2Mi": "4Mi"}}, "request '2Mi' for hugepages"),
    ],
)
def test_what_pods_may_not_overcommit_is_refused_as_the_api_server_refuses_it(
    isvc: dict[str, Any], resources: dict[str, Any], message: str
) -> None:
    model(isvc)["resources"] = resources

    assert only(check_inference_service(isvc)).message.startswith(message)


@pytest.mark.parametrize(
    "resources",
    [
        {"limits": {"nvidia.com/gpu": 1}},
        {"requests": {"nvidia.com/gpu": "2"}, "limits": {"nvidia.com/gpu": 2}},
        {"requests": {"cpu": "500m", "example.kubernetes.io/x": 1}, "limits": {"cpu": 2}},
    ],
)
def test_whole_units_with_a_limit_and_overcommitted_cpu_pass(isvc: dict[str, Any], resources: dict[str, Any]) -> None:
    model(isvc)["resources"] = resources

    assert check_extended_resources(isvc) == []
    assert check_inference_service(isvc) == []


@pytest.mark.parametrize(
    ("uri", "v0_20", "v0_21"),
    [
        ("oci+native://registry.example.com/models/fraud:7", True, True),  # in v0.20.0's list too
        ("oci+fetch://registry.example.com/models/fraud:7", False, True),  # added on master before v0.21
    ],
)
def test_storage_prefixes_are_those_of_the_pinned_release(
    isvc: dict[str, Any], uri: str, v0_20: bool, v0_21: bool
) -> None:
    model(isvc)["storageUri"] = uri
    assert [check_storage_uri(isvc, V0_20) == [], check_storage_uri(isvc, V0_21) == []] == [v0_20, v0_21]
    assert check_storage_uri(isvc) == check_storage_uri(isvc, V0_20)  # unpinned means the default pin, v0.20.0
