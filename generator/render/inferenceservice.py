"""One InferenceService, in the form KServe v0.20's admission webhook leaves it.

Everything the webhook would default is written out, so what git holds is what
the cluster stores and Argo CD shows no drift (see docs/kserve-webhook-defaults.md).
"""

from __future__ import annotations

from typing import Any

from generator.lock.model import LockEntry
from generator.spec.model import Environment, Target

API_VERSION = "serving.kserve.io/v1beta1"
DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
LINEAGE = "kserve-gitops.io"


def inference_service(target: Target, environment: Environment, entry: LockEntry) -> dict[str, Any]:
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
                DEPLOYMENT_MODE: target.serving.deployment_mode,
                f"{LINEAGE}/registered-model": entry.registered_model,
                f"{LINEAGE}/model-version": entry.version,
                f"{LINEAGE}/run-id": entry.run_id,
                f"{LINEAGE}/reference": str(entry.reference),
            },
        },
        "spec": {"predictor": _predictor(target, entry)},
    }


def _predictor(target: Target, entry: LockEntry) -> dict[str, Any]:
    serving = target.serving
    predictor: dict[str, Any] = {
        "minReplicas": serving.min_replicas,
        "maxReplicas": serving.max_replicas,
    }
    if serving.service_account:
        predictor["serviceAccountName"] = serving.service_account
    if serving.automount_token is not None:
        predictor["automountServiceAccountToken"] = serving.automount_token
    model: dict[str, Any] = {
        "modelFormat": {"name": "mlflow"},
        "protocolVersion": "v2",
        "runtime": serving.runtime,
        "storageUri": entry.artifact_uri,
    }
    resources = {k: v for k, v in (("requests", serving.resources.requests),
                                   ("limits", serving.resources.limits)) if v}
    if resources:
        model["resources"] = resources
    if serving.env:
        model["env"] = [{"name": k, "value": v} for k, v in serving.env.items()]
    predictor["model"] = model
    return predictor
