"""One InferenceService, in the form the pinned KServe release's admission webhook leaves it.

Everything the webhook would default is written out, so what git holds is what
the cluster stores and Argo CD shows no drift (see docs/kserve-webhook-defaults.md).
The three serving methods differ only in the predictor:

- runtime:  kserve-mlserver downloads the artifact (V2 protocol);
- registry: kserve-mlserver again, but KServe fetches `models:/name/version` through our
            storage initializer (a ClusterStorageContainer), so only the registry is trusted;
- image:    a container with the model baked in, built with MLflow's own tooling, serving
            MLflow's scoring protocol (`/invocations`) on port 8080.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generator.generated import LINEAGE
from generator.lock.images import image_tag
from generator.lock.model import LockEntry
from generator.platform.releases import KServeRelease
from generator.platform.runtimes import PROTOCOLS
from generator.spec.model import Environment, Serving, Target
from generator.util.quantity import canonical_quantity

API_VERSION = "serving.kserve.io/v1beta1"
SCORING_PORT = 8080
MODEL_FORMAT = "mlflow"


def inference_service(
    target: Target, environment: Environment, entry: LockEntry, kserve: KServeRelease
) -> dict[str, Any]:
    serving = target.serving
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {
            "name": target.model,
            "namespace": environment.namespace,
            "labels": {
                "app.kubernetes.io/name": target.model,
                "app.kubernetes.io/managed-by": "kserve-gitops",
                f"{LINEAGE}/environment": target.env,
                f"{LINEAGE}/model-version": entry.version,
            },
            "annotations": {
                **_model_format_annotation(serving, kserve),
                **serving.annotations,
                **(
                    {kserve.ingress_class_annotations[serving.deployment_mode]: serving.ingress_class}
                    if serving.ingress_class
                    else {}
                ),
                kserve.deployment_mode_annotation: serving.deployment_mode,
                f"{LINEAGE}/registered-model": entry.registered_model,
                f"{LINEAGE}/model-version": entry.version,
                f"{LINEAGE}/run-id": entry.run_id,
                f"{LINEAGE}/reference": str(entry.reference),
                f"{LINEAGE}/method": serving.method,
                f"{LINEAGE}/protocol": PROTOCOLS[serving.method],
            },
        },
        "spec": {"predictor": _predictor(target, entry, kserve)},
    }


def _model_format_annotation(serving: Serving, kserve: KServeRelease) -> dict[str, str]:
    """What the webhook writes for a `predictor.model`: the annotation `modelFormat` with its format's name, unless
    one is set (`setPredictorModelDefaults`, see `model_format_annotation` in generator/platform/releases.py).
    Written first so that one of `serving.annotations`, which the webhook would keep, wins; `method: image` renders
    containers, which get none."""
    return {} if serving.method == "image" else {kserve.model_format_annotation: MODEL_FORMAT}


def image_reference(target: Target, entry: LockEntry) -> str:
    """The tag, plus `@sha256:…` once `kserve-gitops image record` has locked what was pushed: a tag can be
    pushed over, a digest cannot, so what Argo CD syncs is exactly what was built and checked."""
    tag = image_tag(target, entry)
    return f"{tag}@{entry.image_digest}" if entry.image_digest else tag


def _predictor(target: Target, entry: LockEntry, kserve: KServeRelease) -> dict[str, Any]:
    serving = target.serving
    predictor: dict[str, Any] = {"minReplicas": serving.min_replicas, "maxReplicas": serving.max_replicas}
    if serving.autoscaling is not None:
        predictor |= {"scaleMetric": serving.autoscaling.metric, "scaleTarget": serving.autoscaling.target}
    if serving.canary_percent is not None:
        predictor["canaryTrafficPercent"] = serving.canary_percent
    if serving.service_account:
        predictor["serviceAccountName"] = serving.service_account
    if serving.automount_token is not None:
        predictor["automountServiceAccountToken"] = serving.automount_token
    if serving.node_selector:
        predictor["nodeSelector"] = serving.node_selector
    if serving.tolerations:
        predictor["tolerations"] = [dict(t) for t in serving.tolerations]
    if serving.method == "image":
        predictor["containers"] = [_container(target, entry, kserve)]
    else:
        predictor["model"] = _model(target, entry)
    return predictor


def _model(target: Target, entry: LockEntry) -> dict[str, Any]:
    serving = target.serving
    storage = entry.artifact_uri if serving.method == "runtime" else f"models:/{entry.registered_model}/{entry.version}"
    model: dict[str, Any] = {
        "modelFormat": {"name": MODEL_FORMAT},
        "protocolVersion": "v2",
        "runtime": serving.runtime,
        "storageUri": storage,
    }
    resources = _resources(serving, {})
    if resources:
        model["resources"] = resources
    # The V2 model name clients use; KServe's controller would set the same, but only in memory.
    model["env"] = _env({"MLSERVER_MODEL_NAME": target.model, **serving.env})
    return model


def _container(target: Target, entry: LockEntry, kserve: KServeRelease) -> dict[str, Any]:
    """The custom container with what the webhook would add written out: its name and default resources."""
    probe = {"httpGet": {"path": "/ping", "port": SCORING_PORT}}
    container: dict[str, Any] = {
        "name": kserve.inference_service_container,
        "image": image_reference(target, entry),
        "ports": [{"containerPort": SCORING_PORT, "protocol": "TCP"}],
        "readinessProbe": {**probe, "periodSeconds": 10},
        "livenessProbe": {**probe, "initialDelaySeconds": 30, "periodSeconds": 30},
        "resources": _resources(target.serving, kserve.container_resource_defaults),
    }
    if target.serving.env:
        container["env"] = _env(target.serving.env)
    return container


def _resources(serving: Serving, defaults: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """Requests and limits in the form the API server stores them: KServe's webhook writes every quantity back in its
    canonical form ('0.5' → '500m', see `canonical_quantity`), so a value as declared would differ from the cluster."""
    declared = {"requests": serving.resources.requests, "limits": serving.resources.limits}
    merged = {part: {**defaults.get(part, {}), **values} for part, values in declared.items()}
    return {
        part: {name: canonical_quantity(value) for name, value in sorted(values.items())}
        for part, values in merged.items()
        if values
    }


def _env(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in sorted(values.items())]
