"""⚡ What a pull request shows about a model version: its run's metrics and links into the MLflow UI.

`run_details` asks MLflow once per distinct run, concurrently, and keys the answers
by run id, so the order of the answers never depends on which call returns first.
The link builders are pure: they follow the routes of the UI MLflow 3 serves
(a hash router: `#/models/<name>/versions/<v>` and `#/experiments/<id>/runs/<run>`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from multiprocessing.pool import ThreadPool
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

from generator.errors import RegistryUnavailable
from generator.redact import redact
from generator.registry import mlflow_http
from generator.registry.base import configured_tracking_uri
from generator.registry.mlflow_http import Deadlines, Overdue
from generator.spec.model import Spec
from generator.util.environ import scoped_environ
from generator.util.http_settings import HttpSettings

if TYPE_CHECKING:
    from mlflow import MlflowClient

KEY_METRICS = 5
_WORKERS = 8
# The characters JavaScript's encodeURIComponent leaves alone; the UI decodes route parameters with it.
_URI_COMPONENT_SAFE = "!'()*-._~"


@dataclass(frozen=True)
class RunDetails:
    metrics: dict[str, float]
    experiment_id: str

    def key_metrics(self) -> list[tuple[str, float]]:
        """Every metric, sorted by name, at most KEY_METRICS: MLflow has no notion of a "main" metric,
        and a stable choice keeps the PR body unchanged while the run is."""
        return sorted(self.metrics.items())[:KEY_METRICS]


@dataclass(frozen=True)
class MlflowRuns:
    """Run details and UI links from MLFLOW_TRACKING_URI (`tracking_uri`), else models.yaml's registry.trackingUri."""

    tracking_uri: str = ""

    def details(self, spec: Spec, run_ids: Sequence[str]) -> dict[str, RunDetails]:
        return run_details(run_ids, self.tracking_uri or spec.tracking_uri)

    def ui(self, spec: Spec) -> str:
        return ui_url(self.tracking_uri or spec.tracking_uri)


def run_details(run_ids: Iterable[str], tracking_uri: str | None) -> dict[str, RunDetails]:
    """The details of each run that exists; runs MLflow does not know (deleted, or no run id) are left out.

    Without a tracking URI there is nothing to ask (MLflow would read ./mlruns instead).
    """
    distinct = sorted({r for r in run_ids if r})
    if not tracking_uri or not distinct:
        return {}
    configured_tracking_uri(tracking_uri)
    from mlflow import MlflowClient  # noqa: PLC0415 -- only commands that show run details pay for it

    from generator.registry.mlflow import answered_as_mlflow  # noqa: PLC0415 -- imports mlflow, as above

    client = MlflowClient(tracking_uri=tracking_uri)
    http = HttpSettings.from_env()
    deadlines = Deadlines(http.deadline)
    read = deadlines.bound("reading a run", lambda run_id: _details(client, run_id, tracking_uri))
    pool = ThreadPool(min(_WORKERS, len(distinct)))  # daemon workers: a call left at its deadline never blocks exit
    try:
        with (
            answered_as_mlflow(f"cannot read runs from {redact(tracking_uri)}"),
            scoped_environ(mlflow_http.environ(http)),
        ):
            answers = deadlines.run(lambda: list(pool.imap(read, distinct)))
    except Overdue as late:
        raise RegistryUnavailable.simple(
            f"cannot read runs from {redact(tracking_uri)}: {late}",
            hint="check MLFLOW_TRACKING_URI; limits: KSERVE_GITOPS_HTTP_*",
        ) from None
    finally:
        pool.terminate()
    return {run_id: found for run_id, found in zip(distinct, answers, strict=True) if found is not None}


def _details(client: MlflowClient, run_id: str, tracking_uri: str) -> RunDetails | None:
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise RegistryUnavailable.simple(
            f"cannot read run {run_id} from {redact(tracking_uri)}: {redact(exc.message)}",
            hint="check MLFLOW_TRACKING_URI and its credentials (MLFLOW_TRACKING_TOKEN or USERNAME/PASSWORD)",
        ) from None
    return RunDetails(metrics=dict(run.data.metrics), experiment_id=str(run.info.experiment_id))


def ui_url(tracking_uri: str | None) -> str:
    """The UI's address for links people click: an http(s) tracking URI without credentials, query or
    trailing slash; "" for anything else (databricks, file stores), which gets no links."""
    if not tracking_uri:
        return ""
    try:
        parts = urlsplit(tracking_uri)
        port = parts.port
    except ValueError:  # not a URL (`http://[::1`), or a port that is no number: no links
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def version_url(ui: str, registered_model: str, version: str) -> str:
    return f"{ui}/#/models/{quote(registered_model, safe=_URI_COMPONENT_SAFE)}/versions/{version}" if ui else ""


def run_url(ui: str, experiment_id: str, run_id: str) -> str:
    """The run's page; the IDs, which the server gives, quoted as the name is."""
    experiment, run = (quote(part, safe=_URI_COMPONENT_SAFE) for part in (experiment_id, run_id))
    return f"{ui}/#/experiments/{experiment}/runs/{run}" if ui and experiment_id else ""
