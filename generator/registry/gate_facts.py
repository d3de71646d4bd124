"""⚡ What gates read from MLflow about model versions: metrics of the run and of the MLflow 3 logged model,
and whether the MLmodel has a signature. Imports mlflow.

Per distinct version, concurrently: `get_model_version` (its run id and logged-model id), then
`get_run` and `get_logged_model`; the MLmodel file only when a gate requires a signature.
A logged model's metric wins over the run's metric of the same name: in MLflow 3 it is the one
recorded against that very model (`mlflow.log_metric(..., model_id=…)`), where the run may hold several
models' metrics. Of several values of one logged-model metric (steps, datasets) the latest step wins,
then the latest timestamp.

Deadlines: the same `MLFLOW_HTTP_REQUEST_*` policy as resolution (`registry/mlflow.py`). An unreachable
registry is `RegistryUnavailable` (exit 2) naming the version and the metrics that could not be checked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from multiprocessing.pool import ThreadPool
from typing import Any

import yaml
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

from generator.errors import RegistryUnavailable
from generator.redact import redact
from generator.registry import mlflow_http
from generator.registry.base import GATES_UNKNOWN, Facts, configured_tracking_uri
from generator.registry.mlflow import _or_none, _reason, answered_as_mlflow
from generator.registry.mlflow_http import Deadlines, Overdue
from generator.registry.mlmodel import fetch_mlmodel_text
from generator.util.environ import scoped_environ
from generator.util.http_settings import HttpSettings

VersionKey = tuple[str, str]  # (registered model, version)
_WORKERS = 8
_LOGGED_MODEL_SOURCE = re.compile(r"models:/(m-[0-9a-f]+)/?")


class MlflowFacts:
    """`FactsSource` backed by an MLflow tracking server."""

    def __init__(self, tracking_uri: str, *, http: HttpSettings | None = None) -> None:
        self.tracking_uri = configured_tracking_uri(tracking_uri, GATES_UNKNOWN)
        self._client = MlflowClient(tracking_uri=tracking_uri)
        self._http = http or HttpSettings.from_env()

    def facts(
        self, versions: Sequence[VersionKey], *, signature: bool, metrics: Mapping[VersionKey, Sequence[str]]
    ) -> dict[VersionKey, Facts]:
        """Facts per version; `metrics` (the gated names per version) only words the error when MLflow cannot answer."""
        distinct = sorted(set(versions))
        if not distinct:
            return {}
        deadlines = Deadlines(self._http.deadline)
        one = deadlines.bound(
            "reading the gated facts of a model version", lambda key: self._one(key, signature, metrics.get(key, ()))
        )
        pool = ThreadPool(min(_WORKERS, len(distinct)))  # daemon workers: a call left at its deadline never blocks exit
        failing = (
            f"cannot evaluate the gates of {len(distinct)} model version(s): MLflow at {redact(self.tracking_uri)}"
        )
        try:
            with (
                answered_as_mlflow(failing),
                scoped_environ(mlflow_http.environ(self._http) | {"MLFLOW_TRACKING_URI": self.tracking_uri}),
            ):
                found = deadlines.run(lambda: list(pool.imap(one, distinct)))
        except Overdue as late:
            raise RegistryUnavailable.simple(
                f"{failing}: {late}",
                hint="check that the server is up; limits: KSERVE_GITOPS_HTTP_*; nothing was written",
            ) from None
        finally:
            pool.terminate()
        return dict(zip(distinct, found, strict=True))

    def _one(self, key: VersionKey, signature: bool, gated: Sequence[str]) -> Facts:
        name, version = key
        try:
            found = _or_none(self._client.get_model_version, name, version)
            if found is None:
                return Facts({}, False if signature else None, missing=True)
            values: dict[str, float] = {}
            if found.run_id and (run := _or_none(self._client.get_run, found.run_id)) is not None:
                values.update(run.data.metrics)
            model_id = logged_model_id(found.model_id, found.source)
            if model_id and (logged := _or_none(self._client.get_logged_model, model_id)) is not None:
                values.update(latest(logged.metrics or []))
            has = self._signature(name, version) if signature else None
        except MlflowException as exc:
            what = f"metric(s) {', '.join(gated)}" if gated else "metrics"
            raise RegistryUnavailable.simple(
                f"cannot evaluate the gates of '{name}' version {version} ({what}): MLflow at "
                f"{redact(self.tracking_uri)} did not answer: {_reason(exc)}",
                hint="check that the server is up and MLFLOW_TRACKING_URI and its credentials; nothing was written",
            ) from None
        return Facts(values, has)

    def _signature(self, name: str, version: str) -> bool | None:
        uri = self._client.get_model_version_download_uri(name, version)
        text = fetch_mlmodel_text(uri, self.tracking_uri)
        return has_signature(text) if text is not None else None


def logged_model_id(model_id: str | None, source: str | None) -> str:
    """The version's MLflow 3 logged model: its `model_id`, which the tracking server does not always return,
    else the one its source names (`models:/m-…`, how MLflow 3 registers a logged model)."""
    if model_id:
        return model_id
    found = _LOGGED_MODEL_SOURCE.fullmatch(source or "")
    return found.group(1) if found else ""


def latest(metrics: Sequence[Metric]) -> dict[str, float]:
    """One value per metric name: the highest step, then the latest timestamp."""
    best: dict[str, Metric] = {}
    for metric in metrics:
        held = best.get(metric.key)
        if held is None or (metric.step, metric.timestamp) >= (held.step, held.timestamp):
            best[metric.key] = metric
    return {key: float(metric.value) for key, metric in best.items()}


def has_signature(mlmodel: str) -> bool:
    """Whether an MLmodel file declares the inputs of its model (what the V2 smoke test builds requests from)."""
    data: Any = yaml.safe_load(mlmodel)
    signature = data.get("signature") if isinstance(data, dict) else None
    return isinstance(signature, dict) and bool(signature.get("inputs"))
