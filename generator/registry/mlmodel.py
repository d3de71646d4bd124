"""What a model version's MLmodel file says (flavors, serialization format, MLflow version), read through mlflow."""

from __future__ import annotations

import tempfile

import mlflow.artifacts

from generator.registry.base import ModelInfo
from generator.util.files import MAX_YAML_BYTES, read_regular


def fetch_mlmodel(download_uri: str, tracking_uri: str) -> ModelInfo | None:
    """None if the file cannot be fetched or parsed: not knowing the format only costs a warning later."""
    text = fetch_mlmodel_text(download_uri, tracking_uri)
    try:
        return ModelInfo.parse(text) if text is not None else None
    except Exception:
        return None


def fetch_mlmodel_text(download_uri: str, tracking_uri: str) -> str | None:
    """The MLmodel file of an artifact, or None if it cannot be fetched.

    Any exception counts, because each artifact store fails in its own way (mlflow,
    requests, botocore, a missing boto3) and none of them should stop a resolution.
    A file larger than any YAML file this tool reads is not read: MLflow streams it to
    disk, so the download holds little memory, but 1 GiB of it (a 1 MB gzip bomb) read
    and parsed took 4.4 GB.
    """
    with tempfile.TemporaryDirectory(prefix="kserve-gitops-") as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{download_uri.rstrip('/')}/MLmodel", dst_path=tmp, tracking_uri=tracking_uri
            )
            return read_regular(path, MAX_YAML_BYTES).decode("utf-8")
        except Exception:
            return None
