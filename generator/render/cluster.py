"""Cluster-wide objects, rendered to cluster/ and synced once per destination cluster. Pure.

Only the ClusterStorageContainer of `method: registry` lives here: it is cluster-scoped, so
putting it into each environment's overlay would make several Applications own one object.
It reads MLflow's address and credentials from a ConfigMap and a Secret in the pod's own
namespace (envFrom), so no value ever appears in a manifest.
"""

from __future__ import annotations

from typing import Any

from generator.spec.model import Spec, StorageInitializer

API_VERSION = "serving.kserve.io/v1alpha1"
REGISTRY_PREFIX = "models:/"
STORAGE_CONTAINER_NAME = "kserve-gitops-mlflow-registry"


def cluster_objects(spec: Spec) -> dict[str, dict[str, Any]]:
    """File name → object, for cluster/; empty when no model is served with method: registry."""
    uses_registry = any(t.serving.method == "registry" for t in spec.targets)
    if not uses_registry or spec.storage_initializer is None:
        return {}
    return {"clusterstoragecontainer.yaml": storage_container(spec.storage_initializer)}


def storage_container(initializer: StorageInitializer) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ClusterStorageContainer",
        "metadata": {"name": STORAGE_CONTAINER_NAME, "labels": {"app.kubernetes.io/managed-by": "kserve-gitops"}},
        "spec": {
            "container": {
                "name": "storage-initializer",
                "image": initializer.image,
                "envFrom": [
                    {"configMapRef": {"name": initializer.config_map}},
                    {"secretRef": {"name": initializer.secret, "optional": True}},  # servers without auth
                ],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "256Mi"},
                    "limits": {"cpu": "1", "memory": "1Gi"},
                },
            },
            "supportedUriFormats": [{"prefix": REGISTRY_PREFIX}],
            # Written out because the CRD defaults them; git then equals what the API server stores.
            "supportsMultiModelDownload": False,
            "workloadType": "initContainer",
        },
    }
