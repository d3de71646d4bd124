"""What the API server stores for an InferenceService we render, simulated on a copy: the CRD's structural
defaults and KServe v0.20's mutating webhook.

Rendered objects should already be in their stored form: if `apply_webhook_defaults(obj) == obj` and
`apply_crd_defaults(crds, obj) == obj`, the cluster stores exactly what the repository says, and what is
served never depends on cluster settings a reviewer cannot see. The renderer writes the values this
simulates from the KServe release record (generator/platform/releases.py); this module is the independent check.
Findings and sources are in docs/kserve-webhook-defaults.md. In short: for a
`predictor.model` the webhook adds the `modelFormat` annotation (always, unless set), the
deploymentMode annotation and `automountServiceAccountToken: false`, the last two each under one
condition on the cluster's inferenceservice-config; resource defaults apply to custom containers only; what the
controller sets later (protocol v2, MLServer env, the modelClass label) stays in its
memory and is never stored.

Source: `DefaultInferenceService`, `setPredictorModelDefaults`,
`setResourceRequirementDefaults`, `disableAutomountServiceAccountToken` in
pkg/apis/serving/v1beta1/inference_service_defaults.go; `ModelSpec.Default` (a no-op) in
predictor_model.go; `CustomPredictor.Default` in predictor_custom.go;
`PredictorSpec.GetImplementations` in predictor.go.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import yamlio
from generator.spec.model import Platform
from generator.util.quantity import canonical_quantity

_KSERVE = Platform().kserve
DEPLOYMENT_MODE_KEY, LEGACY_DEPLOYMENT_MODES = _KSERVE.deployment_mode_annotation, _KSERVE.legacy_deployment_modes
INFERENCE_SERVICE_CONTAINER = _KSERVE.inference_service_container
MODEL_FORMAT_KEY = _KSERVE.model_format_annotation
CONTAINER_RESOURCE_DEFAULTS = _KSERVE.container_resource_defaults

# Predictor shorthands the webhook rewrites into predictor.model (assign*Runtime); not simulated.
FRAMEWORK_PREDICTORS = (
    "sklearn",
    "xgboost",
    "tensorflow",
    "pytorch",
    "triton",
    "onnx",
    "huggingface",
    "pmml",
    "lightgbm",
    "paddle",
)


@dataclass(frozen=True)
class InferenceServiceConfig:
    """The keys of the `inferenceservice-config` ConfigMap that the webhook reads.

    Defaults are those of KServe v0.20's config/configmap/inferenceservice.yaml (also the
    Helm chart's): deploy, security and inferenceService.resource. localModel.enabled is
    false there, so LocalModelCache labels are not simulated.
    """

    default_deployment_mode: str = "Serverless"  # deploy.defaultDeploymentMode; read as Knative
    auto_mount_service_account_token: bool = True  # security.autoMountServiceAccountToken
    cpu_request: str = CONTAINER_RESOURCE_DEFAULTS["requests"]["cpu"]  # inferenceService.resource.cpuRequest
    memory_request: str = CONTAINER_RESOURCE_DEFAULTS["requests"]["memory"]  # ….memoryRequest
    cpu_limit: str = CONTAINER_RESOURCE_DEFAULTS["limits"]["cpu"]  # inferenceService.resource.cpuLimit
    memory_limit: str = CONTAINER_RESOURCE_DEFAULTS["limits"]["memory"]  # ….memoryLimit


KSERVE_V020_DEFAULTS = InferenceServiceConfig()


def apply_webhook_defaults(
    isvc: Mapping[str, Any], *, deployment_config: InferenceServiceConfig = KSERVE_V020_DEFAULTS
) -> dict[str, Any]:
    """A copy of `isvc` as the v0.20 webhook would store it on create or update.

    Raises ValueError for parts whose defaults are not modelled (transformer, explainer,
    framework shorthands such as predictor.sklearn) rather than pretend they have none.
    """
    out = copy.deepcopy(dict(isvc))
    spec = out.get("spec", {})
    predictor = spec.get("predictor", {})
    _refuse_unmodelled(spec, predictor)
    annotations = out.get("metadata", {}).get("annotations") or {}
    mode_was_set = DEPLOYMENT_MODE_KEY in annotations
    _default_deployment_mode(out, deployment_config)
    if not mode_was_set or annotations[DEPLOYMENT_MODE_KEY] != "ModelMesh":
        _default_predictor(predictor, deployment_config)
        _default_model_format_annotation(out, predictor)
    if not deployment_config.auto_mount_service_account_token and predictor.get("automountServiceAccountToken") is None:
        predictor["automountServiceAccountToken"] = False
    _canonical_quantities(predictor)
    return out


def _canonical_quantities(predictor: dict[str, Any]) -> None:
    """The webhook answers with a patch to what it marshals from Go types (controller-runtime keeps every `replace`),
    so each resource quantity comes back in resource.Quantity's canonical form ('0.5' → '500m')."""
    model = predictor.get("model")
    holders = [model] if isinstance(model, dict) else []
    holders += [c for c in predictor.get("containers") or [] if isinstance(c, dict)]
    for holder in holders:
        for part in ("requests", "limits"):
            values = (holder.get("resources") or {}).get(part)
            if isinstance(values, dict):
                holder["resources"][part] = {k: canonical_quantity(str(v)) for k, v in values.items()}


def _refuse_unmodelled(spec: Mapping[str, Any], predictor: Mapping[str, Any]) -> None:
    parts = [f"spec.{c}" for c in ("transformer", "explainer") if c in spec]
    parts += [f"spec.predictor.{f}" for f in FRAMEWORK_PREDICTORS if f in predictor]
    if parts:
        raise ValueError(
            f"webhook defaults of {', '.join(parts)} are not modelled; render predictor.model or containers"
        )


def _default_deployment_mode(isvc: dict[str, Any], config: InferenceServiceConfig) -> None:
    """Only Standard and ModelMesh defaults are written; a Knative default stays implicit."""
    mode = LEGACY_DEPLOYMENT_MODES.get(config.default_deployment_mode, config.default_deployment_mode)
    metadata = isvc.setdefault("metadata", {})
    if mode in ("Standard", "ModelMesh") and DEPLOYMENT_MODE_KEY not in (metadata.get("annotations") or {}):
        metadata["annotations"] = {**(metadata.get("annotations") or {}), DEPLOYMENT_MODE_KEY: mode}


def _default_predictor(predictor: dict[str, Any], config: InferenceServiceConfig) -> None:
    model = predictor.get("model")
    if isinstance(model, dict):
        _default_model(model)
    containers = predictor.get("containers") or []
    named = sum(1 for c in containers if c.get("name") == INFERENCE_SERVICE_CONTAINER)
    implementations = (model is not None) + named or (1 if containers else 0)
    if implementations == 1 and model is None:  # ModelSpec.Default does nothing
        _default_custom_container(containers, config)


def _default_model_format_annotation(isvc: dict[str, Any], predictor: Mapping[str, Any]) -> None:
    """setPredictorModelDefaults: a `predictor.model` with a format name gets the annotation `modelFormat` naming
    it, unless one is set (kserve/kserve#4953, since v0.17.0)."""
    model = predictor.get("model")
    name = (model.get("modelFormat") or {}).get("name") if isinstance(model, dict) else None
    metadata = isvc.setdefault("metadata", {})
    if name and MODEL_FORMAT_KEY not in (metadata.get("annotations") or {}):
        metadata["annotations"] = {**(metadata.get("annotations") or {}), MODEL_FORMAT_KEY: name}


def _default_model(model: dict[str, Any]) -> None:
    """setPredictorModelDefaults: only Triton gets a protocol; ModelSpec.Default itself is empty."""
    if model.get("protocolVersion") is None and (model.get("modelFormat") or {}).get("name") == "triton":
        model["protocolVersion"] = "v2"


def _default_custom_container(containers: list[dict[str, Any]], config: InferenceServiceConfig) -> None:
    first = containers[0]
    if len(containers) == 1 or not first.get("name"):
        first["name"] = INFERENCE_SERVICE_CONTAINER
    wanted = {
        "requests": {"cpu": config.cpu_request, "memory": config.memory_request},
        "limits": {"cpu": config.cpu_limit, "memory": config.memory_limit},
    }
    for section, defaults in wanted.items():
        present = (first.get("resources") or {}).get(section) or {}
        missing = {k: v for k, v in defaults.items() if v and k not in present}
        if missing:
            resources = first.setdefault("resources", {})
            resources[section] = {**present, **missing}


def apply_crd_defaults(crd_dir: Path, obj: Mapping[str, Any]) -> dict[str, Any]:
    """`obj` as the API server stores it before the webhook runs: the `default`s of its CRD's schema (as
    served, not made strict) filled in on a copy, e.g. `ports[].protocol`."""
    schema = _served_schemas(crd_dir.resolve())[(str(obj.get("apiVersion")), str(obj.get("kind")))]
    defaulted: dict[str, Any] = _defaulted(copy.deepcopy(dict(obj)), schema)
    return defaulted


@functools.cache
def _served_schemas(crd_dir: Path) -> dict[tuple[str, str], Mapping[str, Any]]:
    """(apiVersion, kind) → the openAPIV3Schema of every served version of the CRDs under `crd_dir`."""
    crds = [
        doc
        for path in sorted(crd_dir.rglob("*.yaml"))
        for doc in yamlio.load_all(yamlio.read_text(path))
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"
    ]
    return {
        (f"{crd['spec']['group']}/{v['name']}", crd["spec"]["names"]["kind"]): v["schema"]["openAPIV3Schema"]
        for crd in crds
        for v in crd["spec"]["versions"]
        if v.get("served") and v.get("schema")
    }


def _defaulted(value: Any, schema: Mapping[str, Any]) -> Any:
    """Structural defaulting: a missing property gets its `default` wherever its parent object exists."""
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                value[name] = _defaulted(value[name], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name in set(value) - set(schema.get("properties", {})):
                value[name] = _defaulted(value[name], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_defaulted(item, schema["items"]) for item in value]
    return value
