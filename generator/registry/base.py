"""The registry as the pipeline sees it: references in, exact versions out."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from generator import yamlio
from generator.diagnostics import printable
from generator.errors import RegistryUnavailable
from generator.excerpt import quoted
from generator.redact import redact
from generator.registry.uris import scheme_of
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


# What an MLflow registry URI may name here: the tracking server (http(s)://HOST, under a path prefix too), or the
# database one serves (MLflow's SQL store, read directly: a laptop's sqlite:///…/mlflow.db), a driver allowed
# (`postgresql+psycopg2://`). Not MLflow 3's retired file store (a path, `file://`), which its client refuses; not
# Databricks (`databricks`, `databricks://PROFILE`, `databricks-uc`, `uc`), whose registries answer none of the
# `name IN (…)` searches a lock is made of, give Unity Catalog names and no stages, and cannot be tested here.
SERVER_SCHEMES = ("http", "https")
DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
_DATABRICKS_SCHEMES = ("databricks", "databricks-uc", "uc")
_USE_INSTEAD = (
    "the tracking server's URL (https://mlflow.example.com, or http://127.0.0.1:5000), or its database "
    "(sqlite:////ABSOLUTE/PATH/mlflow.db)"
)


def configured_tracking_uri(uri: str, consequence: str = "") -> str:
    """`uri`, the MLflow tracking URI a command was given; RegistryUnavailable when it is empty, or it (or
    MLFLOW_REGISTRY_URI, which MLflow's client asks the registry at instead) names no registry this tool can use.
    Asked before mlflow is imported (a second on its own): a command without a registry need not pay for one, and a
    URI MLflow cannot use fails here in words rather than inside its client, which may create a database file or a
    directory in the repository on the way (`sqlite:///mlflow.db`, a bare path). `consequence`: what the user loses,
    said after the problem (", so gates cannot be evaluated")."""
    if not uri:
        raise RegistryUnavailable.simple(
            f"no MLflow tracking URI is configured{consequence}",
            hint="set MLFLOW_TRACKING_URI, or registry.trackingUri in models.yaml",
        )
    settings = [(uri, f"set MLFLOW_TRACKING_URI (or registry.trackingUri in models.yaml) to {_USE_INSTEAD}")]
    if registry_uri := os.environ.get("MLFLOW_REGISTRY_URI", ""):
        settings.append(
            (
                registry_uri,
                f"unset MLFLOW_REGISTRY_URI (the tracking server is then the registry), or set it to {_USE_INSTEAD}",
            )
        )
    for value, hint in settings:
        if (problem := _registry_uri_problem(value)) is not None:
            raise RegistryUnavailable.simple(
                f"cannot use the MLflow registry at {printable(redact(value))}: {problem}{consequence}", hint=hint
            )
    return uri


def _registry_uri_problem(uri: str) -> str | None:
    """Why `uri` names no registry this tool can use (see SERVER_SCHEMES), or None."""
    if any(char.isspace() or not char.isprintable() for char in uri):
        return "it holds whitespace or a control character"
    try:
        parts = urlsplit(uri)  # as mlflow's client parses it when it is made, raising ValueError
    except ValueError as exc:  # not a URL at all (an IPv6 host left open: `http://[::1`)
        return str(exc)
    # `databricks` and `databricks-uc` alone are URIs to MLflow, and `postgresql+psycopg2` names a driver
    scheme = (scheme_of(uri) or (uri if uri in _DATABRICKS_SCHEMES else "")).partition("+")[0]
    database = uri.partition(":///")[2].partition("?")[0]  # sqlite:///relative.db, sqlite:////absolute.db
    problems = (
        (
            scheme in ("", "file"),
            "a local directory is MLflow's file store, which MLflow 3 no longer serves (`mlflow migrate-filestore` "
            "moves it into a database); a server's address needs its scheme",
        ),
        (
            scheme in _DATABRICKS_SCHEMES,
            "Databricks registries are not supported: their model registry and Unity Catalog answer none of the "
            "batched searches kserve-gitops resolves references with",
        ),
        (scheme in SERVER_SCHEMES and not parts.hostname, "it names no host"),
        (
            scheme == "sqlite" and not Path(database).is_file(),
            f"no database file {quoted(database)} is there, and MLflow would create an empty one",
        ),
        (scheme not in SERVER_SCHEMES + DATABASE_SCHEMES, f"'{scheme}:' is not an MLflow registry"),
    )
    problem = next((message for failed, message in problems if failed), None)
    return _missing_driver(uri) if problem is None and scheme in DATABASE_SCHEMES else problem


def _missing_driver(uri: str) -> str | None:
    """Why MLflow's SQL store cannot open the database `uri` here, or None: kserve-gitops brings no database driver but
    Python's sqlite3, and MLflow would fail on a missing one with an ImportError from deep inside its store."""
    try:  # full mlflow brings SQLAlchemy, mlflow-skinny (what kserve-gitops depends on) does not
        from sqlalchemy.engine import make_url  # noqa: PLC0415  (only a database URI needs it)
        from sqlalchemy.exc import ArgumentError  # noqa: PLC0415
    except ImportError:
        return (
            "reading a database needs MLflow's SQL store, which mlflow-skinny leaves out: point it at the tracking "
            "server, or install MLflow beside kserve-gitops (`pipx inject kserve-gitops mlflow`)"
        )
    try:
        make_url(uri).get_dialect().import_dbapi()
    except (ImportError, ArgumentError) as exc:  # no driver module; a driver SQLAlchemy does not know
        return (
            f"its database driver cannot be loaded ({redact(str(exc))}): install it beside kserve-gitops "
            "(`pipx inject kserve-gitops psycopg2-binary` and `postgresql+psycopg2://…`, say)"
        )
    return None
