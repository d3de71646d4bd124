"""Where KServe can fetch a model from, given what MLflow reports.

A proxying MLflow server answers `mlflow-artifacts:/<path>`; KServe's storage
initializer cannot fetch that, so it is mapped onto the server's real
`--artifacts-destination`, which no MLflow API reveals and models.yaml declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from generator.validate.kserve_rules import STORAGE_URI_PREFIXES

# What KServe can download, less file://: a registry's local path is not on the serving node.
FETCHABLE_SCHEMES = tuple(p.split(":", 1)[0] for p in STORAGE_URI_PREFIXES if p != "file://")
PROXY_SCHEME = "mlflow-artifacts"


@dataclass(frozen=True)
class Unfetchable:
    message: str
    hint: str


def storage_uri(download_uri: str, artifacts_destination: str) -> str | Unfetchable:
    scheme = urlsplit(download_uri).scheme
    if scheme == PROXY_SCHEME:
        if not artifacts_destination:
            return Unfetchable(
                f"the registry returned '{download_uri}', a proxied artifact location KServe cannot fetch",
                "set registry.artifactsDestination in models.yaml to the tracking server's "
                "--artifacts-destination (e.g. s3://bucket/mlartifacts)",
            )
        path = urlsplit(download_uri).path.lstrip("/")
        return f"{artifacts_destination.rstrip('/')}/{path}"
    if scheme in FETCHABLE_SCHEMES:
        return download_uri
    return Unfetchable(
        f"artifact location '{download_uri}' uses '{scheme or 'a local path'}', which KServe cannot fetch",
        "store MLflow artifacts in an object store (s3://, gs://) or behind a proxying server "
        "with registry.artifactsDestination set",
    )
