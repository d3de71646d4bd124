"""The registry as the pipeline sees it: references in, exact versions out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from generator import yamlio
from generator.errors import RegistryUnavailable
from generator.redact import redact
from generator.spec.model import Ref

# MLflow numbers versions 1, 2, … as 64-bit integers (19 digits at most); `models:/<name>/<version>` is rendered from
# it, so nothing else may pass. A longer run of digits would also come back from kustomize unquoted, as a number.
VERSION = r"^[1-9][0-9]{0,18}$"
# A run's id (MLflow's are 32 hex digits); empty for a version registered without a run, which MLflow allows.
RUN_ID = r"^[A-Za-z0-9_-]{0,64}$"


@dataclass(frozen=True, order=True)
class Query:
    registered_model: str
    ref: Ref


@dataclass(frozen=True)
class ModelInfo:
    """What a version's `MLmodel` file says about how to load it.

    A runtime can only serve a model whose flavors and serialization format its
    own MLflow understands, so these facts are locked with the version and
    checked against the runtime (`lock/compat.py`). Empty strings mean the
    file did not say.
    """

    flavors: tuple[str, ...]  # sorted, e.g. ("python_function", "sklearn")
    serialization_format: str = ""  # e.g. "cloudpickle", "skops"
    mlflow_version: str = ""  # the MLflow that wrote the file
    python_version: str = ""  # python_function's interpreter, e.g. "3.11.7"

    @classmethod
    def parse(cls, mlmodel: str) -> ModelInfo | None:
        """The loading facts of an MLmodel file; None unless it is a mapping with a `flavors` mapping.

        The serialization format is the first one a flavor declares (sklearn's, say);
        python_function carries the interpreter version.
        """
        data = yamlio.load(mlmodel)
        flavors = data.get("flavors") if isinstance(data, dict) else None
        if not isinstance(flavors, dict):
            return None
        configs: dict[str, dict[str, Any]] = {str(k): v if isinstance(v, dict) else {} for k, v in flavors.items()}
        formats = [str(c["serialization_format"]) for _, c in sorted(configs.items()) if c.get("serialization_format")]
        return cls(
            flavors=tuple(sorted(configs)),
            serialization_format=formats[0] if formats else "",
            mlflow_version=str(data.get("mlflow_version") or ""),
            python_version=str(configs.get("python_function", {}).get("python_version") or ""),
        )


@dataclass(frozen=True)
class ModelVersion:
    """A concrete registered model version.

    `download_uri` is exactly what `MlflowClient.get_model_version_download_uri`
    returns; mapping it to a location KServe can fetch is the core's job.
    `info` is None when the version's MLmodel file could not be read.
    """

    registered_model: str
    version: str
    download_uri: str
    run_id: str
    info: ModelInfo | None = None


@dataclass(frozen=True)
class NotFound:
    """The registry answered, but this reference points at nothing."""

    query: Query
    message: str
    hint: str = ""


Resolution = ModelVersion | NotFound


class Registry(Protocol):
    def resolve(self, queries: Sequence[Query], recorded: Mapping[str, ModelInfo] | None = None) -> list[Resolution]:
        """Resolve every query; results are in query order.

        `recorded` is what models.lock already says about MLmodel files, by download
        URI: those are not read again (a version's artifact never changes).
        Raises `RegistryUnavailable` when the registry cannot be asked at all.
        """
        ...


@dataclass(frozen=True)
class Registered:
    """A registered model and its aliases (alias → version), as `init --from-registry` lists them."""

    name: str
    aliases: dict[str, str]


@dataclass(frozen=True)
class Facts:
    """What a version offers to its gates: its metrics (run and logged model merged) and whether it has a signature.

    `signature` is None when it was not looked up or could not be read. `missing`: the registry has no such
    version (deleted in MLflow, or a hand edit), which fails every gate whatever it says of metrics.
    """

    metrics: Mapping[str, float]
    signature: bool | None = None
    missing: bool = False


@dataclass(frozen=True)
class Deployment:
    """A version the webhook tagged as deployed in `env`, at git `revision`, with the health Argo CD last reported."""

    registered_model: str
    version: str
    env: str
    revision: str
    health: str = ""


GATES_UNKNOWN = ", so gates cannot be evaluated"  # what a command that reads gate metrics loses without MLflow


def configured_tracking_uri(uri: str, consequence: str = "") -> str:
    """`uri`, the MLflow tracking URI a command was given; RegistryUnavailable when it is empty. Asked before mlflow
    is imported (a second on its own): a command without a registry need not pay for one. `consequence`: what the
    user loses, said after the problem (", so gates cannot be evaluated")."""
    if not uri:
        raise RegistryUnavailable.simple(
            f"no MLflow tracking URI is configured{consequence}",
            hint="set MLFLOW_TRACKING_URI, or registry.trackingUri in models.yaml",
        )
    try:
        urlsplit(uri)  # as mlflow's client parses it when it is made, raising ValueError
    except ValueError as exc:  # not a URL at all (an IPv6 host left open: `http://[::1`)
        raise RegistryUnavailable.simple(
            f"cannot use the MLflow registry at {redact(uri)}: {exc}{consequence}",
            hint="set MLFLOW_TRACKING_URI (or registry.trackingUri) to the tracking server's URL, "
            "such as https://mlflow.example.com",
        ) from None
    return uri
