"""The three serving methods and the serving options, as KServe v0.20 accepts them."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.lock.model import Lock, LockEntry
from generator.render.inferenceservice import inference_service
from generator.render.tree import render
from generator.spec.load import load_spec
from generator.spec.model import Target
from generator.validate.crds import load_crd_schemas
from generator.validate.manifests import CheckContext, check_object
from tests.support.paths import CRDS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "spec" / "valid" / "methods.yaml"


def _entry(t: Target) -> LockEntry:
    return LockEntry(
        t.model,
        t.env,
        t.registered_model,
        t.wanted,
        "2",
        "mlflow-artifacts:/1/m",
        "s3://mlflow-artifacts/mlartifacts/1/m",
        "run2",
    )


def _files() -> dict[str, dict[str, Any]]:
    spec, _ = load_spec(EXAMPLE)
    lock = Lock({t.key: _entry(t) for t in spec.targets})
    return {path: yaml.safe_load(content) for path, content in render(spec, lock).items()}


FILES = _files()
MANIFESTS = sorted(p for p in FILES if not p.endswith("kustomization.yaml"))


@pytest.mark.parametrize("path", MANIFESTS)
def test_every_rendered_variant_passes_strict_crd_and_kserve_checks(path: str) -> None:
    context = CheckContext(load_crd_schemas(CRDS), "1.33", ("models:/",))
    assert check_object(FILES[path], context) == []


def _predictor(path: str) -> dict[str, Any]:
    return FILES[path]["spec"]["predictor"]  # type: ignore[no-any-return]


def test_runtime_method_serves_the_artifact_with_mlserver_over_v2() -> None:
    model = _predictor("environments/dev/wine-runtime.yaml")["model"]
    assert (model["runtime"], model["protocolVersion"], model["storageUri"]) == (
        "kserve-mlserver",
        "v2",
        "s3://mlflow-artifacts/mlartifacts/1/m",
    )
    assert model["env"][0] == {"name": "MLSERVER_MODEL_NAME", "value": "wine-runtime"}


def test_registry_method_names_the_exact_version_and_ships_its_storage_container() -> None:
    assert _predictor("environments/dev/wine-registry.yaml")["model"]["storageUri"] == "models:/wine/2"
    container = FILES["cluster/clusterstoragecontainer.yaml"]["spec"]
    assert container["supportedUriFormats"] == [{"prefix": "models:/"}]
    assert container["container"]["envFrom"] == [
        {"configMapRef": {"name": "mlflow-tracking"}},
        {"secretRef": {"name": "mlflow-credentials", "optional": True}},
    ]
    assert "cluster" in FILES["kustomization.yaml"]["resources"]


def test_image_method_runs_the_versioned_image_with_probes_and_full_resources() -> None:
    (container,) = _predictor("environments/dev/wine-image.yaml")["containers"]
    assert container["image"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/models/wine:wine-image-v2"
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ping", "port": 8080}
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": "2Gi"},
    }
    assert (
        FILES["environments/dev/wine-image.yaml"]["metadata"]["annotations"]["kserve-gitops.io/protocol"]
        == "mlflow-invocations"
    )


def test_serving_options_land_where_kserve_reads_them() -> None:
    canary = FILES["environments/canary/wine-runtime.yaml"]
    assert canary["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
    assert canary["metadata"]["annotations"]["networking.knative.dev/ingress-class"] == "alb"
    predictor = canary["spec"]["predictor"]
    assert (predictor["canaryTrafficPercent"], predictor["scaleMetric"], predictor["scaleTarget"]) == (
        10,
        "concurrency",
        4,
    )
    assert (
        FILES["environments/dev/wine-runtime.yaml"]["metadata"]["annotations"]["kubernetes.io/ingress.class"] == "alb"
    )
    gpu = _predictor("environments/gpu/wine-runtime.yaml")
    assert gpu["nodeSelector"] == {"karpenter.k8s.aws/instance-gpu-manufacturer": "nvidia"}
    assert gpu["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert gpu["model"]["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_smoke_test_hooks_follow_each_method() -> None:
    runtime = FILES["environments/dev/wine-runtime-smoke-test.yaml"]
    assert runtime["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PostSync"
    command = runtime["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--source") + 1] == "s3://mlflow-artifacts/mlartifacts/1/m"
    image = FILES["environments/dev/wine-image-smoke-test.yaml"]["spec"]["template"]["spec"]["containers"][0]
    assert image["command"][image["command"].index("--protocol") + 1] == "mlflow-invocations"
    assert image["command"][image["command"].index("--source") + 1] == "models:/wine/2"
    assert ["environments", "dev", "wine-runtime-smoke-test.yaml"][-1] in FILES["environments/dev/kustomization.yaml"][
        "resources"
    ]


def test_what_the_webhook_would_add_and_the_ingress_key_come_from_the_pinned_kserve_release() -> None:
    """The renderer spells out no KServe fact: a release whose record said otherwise would get other values."""
    spec, _ = load_spec(EXAMPLE)
    other = dataclasses.replace(
        spec.platform.kserve,
        inference_service_container="main",
        container_resource_defaults={"limits": {"ephemeral-storage": "1Gi"}},
        ingress_class_annotations={"Standard": "example.com/standard-class", "Knative": "example.com/knative-class"},
    )
    objects = {(t.model, t.env): inference_service(t, spec.environments[t.env], _entry(t), other) for t in spec.targets}
    container = objects["wine-image", "dev"]["spec"]["predictor"]["containers"][0]
    assert container["name"] == "main"
    assert container["resources"]["limits"]["ephemeral-storage"] == "1Gi"  # declared values win over defaults
    assert objects["wine-runtime", "dev"]["metadata"]["annotations"]["example.com/standard-class"] == "alb"
    assert objects["wine-runtime", "canary"]["metadata"]["annotations"]["example.com/knative-class"] == "alb"


def test_a_model_carries_the_model_format_annotation_the_webhook_would_add() -> None:
    """KServe v0.20.0's `setPredictorModelDefaults` annotates every `predictor.model` with `modelFormat`; custom
    containers get none. An annotation of the same key in models.yaml is the one the webhook keeps."""
    for path in ("environments/dev/wine-runtime.yaml", "environments/dev/wine-registry.yaml"):
        assert FILES[path]["metadata"]["annotations"]["modelFormat"] == "mlflow"
    assert "modelFormat" not in FILES["environments/dev/wine-image.yaml"]["metadata"]["annotations"]
    spec, _ = load_spec(EXAMPLE)
    target = next(t for t in spec.targets if t.serving.method == "runtime")
    own = dataclasses.replace(target, serving=dataclasses.replace(target.serving, annotations={"modelFormat": "own"}))
    isvc = inference_service(own, spec.environments[own.env], _entry(own), spec.platform.kserve)
    assert isvc["metadata"]["annotations"]["modelFormat"] == "own"
