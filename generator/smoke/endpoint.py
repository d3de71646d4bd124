"""Where a V2 request for an InferenceService goes.

In the cluster, KServe serves every predictor behind the Service `<isvc>-predictor`
on port 80 (Standard mode: a ClusterIP Service in front of the Deployment,
`constants.PredictorServiceName` + `CommonDefaultHttpPort`; Knative mode: the same
name routed by the local gateway). The V2 model name is the InferenceService name,
because KServe sets MLSERVER_MODEL_NAME to it, unless the model's `env` overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit


@dataclass(frozen=True)
class Endpoint:
    """Where to send: the full URL, and the `Host` header an ingress routes on (KServe: `<isvc>.<ns>.<domain>`)."""

    url: str
    host: str = ""


def in_cluster_url(isvc: str, namespace: str) -> str:
    return f"http://{isvc}-predictor.{namespace}.svc.cluster.local"


def v2_infer(base_url: str, model_name: str, host: str = "") -> Endpoint:
    return Endpoint(_below(base_url, f"v2/models/{quote(model_name, safe='')}/infer"), host)


def invocations(base_url: str, host: str = "") -> Endpoint:
    """MLflow's scoring server (`method: image`) serves one model, at a fixed path."""
    return Endpoint(_below(base_url, "invocations"), host)


def _below(base_url: str, path: str) -> str:
    """`path` below the base URL's own path; its query (a gateway's token) and fragment kept where they belong, after
    the whole path: appended to the text, the path went into the query and the server answered its root."""
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/{path}"))
