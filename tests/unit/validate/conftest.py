"""Shared fixtures: the real CRDs that `schemas fetch` put in schemas/crds, loaded once per test run."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from generator.validate.crds import CrdSchemas, load_crd_schemas
from tests.support.paths import CRDS

CRD_DIR = CRDS

MLFLOW_ISVC: dict[str, Any] = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {
        "name": "fraud",
        "namespace": "ml-prod",
        "labels": {"app.kubernetes.io/managed-by": "kserve-gitops"},
        "annotations": {"modelFormat": "mlflow", "serving.kserve.io/deploymentMode": "Standard"},
    },
    "spec": {
        "predictor": {
            "minReplicas": 1,
            "maxReplicas": 3,
            "model": {
                "modelFormat": {"name": "mlflow"},
                "protocolVersion": "v2",
                "runtime": "kserve-mlserver",
                "storageUri": "s3://models/fraud/7/artifacts",
                "resources": {
                    "requests": {"cpu": "500m", "memory": "1Gi"},
                    "limits": {"cpu": "1", "memory": "2Gi"},
                },
            },
        }
    },
}


@pytest.fixture(scope="session")
def crd_dir() -> Path:
    assert CRD_DIR.is_dir(), f"the CRDs must have been fetched to {CRD_DIR}"
    return CRD_DIR


@pytest.fixture(scope="session")
def crds(crd_dir: Path) -> CrdSchemas:
    return load_crd_schemas(crd_dir)


@pytest.fixture
def isvc() -> dict[str, Any]:
    """A fresh, valid, fully specified mlflow InferenceService each test may change."""
    return copy.deepcopy(MLFLOW_ISVC)
