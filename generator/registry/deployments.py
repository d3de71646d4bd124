"""⚡ Where the webhook says each model version runs: the `deployed.<env>` and `health.<env>` tags it writes
(`webhook/tagging.py`) on registered model versions. Imports mlflow.

One `search_model_versions("name IN (…)")` per page for all registered models at once; the answer
carries every version's tags, so no per-version request is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from generator.errors import RegistryUnavailable
from generator.excerpt import excerpt, quoted
from generator.redact import redact
from generator.registry import mlflow_http
from generator.registry.base import VERSION, Deployment, configured_tracking_uri
from generator.registry.mlflow import _in_filters, answered_as_mlflow
from generator.registry.mlflow_http import Deadlines, Overdue
from generator.util.environ import scoped_environ
from generator.util.http_settings import HttpSettings
from generator.util.schema_check import ecma_pattern

DEPLOYED, HEALTH = "deployed.", "health."


def deployments(tracking_uri: str, names: Sequence[str]) -> list[Deployment]:
    """Every tagged deployment of these registered models, sorted; `RegistryUnavailable` when MLflow cannot answer."""
    configured_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri)
    http = HttpSettings.from_env()
    deadlines = Deadlines(http.deadline)

    def tagged() -> list[Deployment]:
        found: list[Deployment] = []
        for filter_string in _in_filters(sorted(set(names))):
            token: str | None = None
            while True:
                with deadlines.call("searching model versions"):
                    page = client.search_model_versions(filter_string=filter_string, max_results=1000, page_token=token)
                found += [
                    Deployment(  # a version that is no number is refused below: the rows sort and compare them
                        mv.name,
                        str(mv.version),
                        key.removeprefix(DEPLOYED),
                        value,
                        mv.tags.get(HEALTH + key.removeprefix(DEPLOYED), ""),
                    )
                    for mv in page
                    for key, value in (mv.tags or {}).items()
                    if key.startswith(DEPLOYED)
                ]
                token = page.token
                if not token:
                    return found
        return found

    try:
        with (
            answered_as_mlflow(f"cannot read deployment tags from {redact(tracking_uri)}"),
            scoped_environ(mlflow_http.environ(http)),
        ):
            found = deadlines.run(tagged)
    except MlflowException as exc:
        raise RegistryUnavailable.simple(
            f"cannot read deployment tags from {redact(tracking_uri)}: {excerpt(str(exc.message), 300)}",
            hint="check MLFLOW_TRACKING_URI and its credentials",
        ) from None
    except Overdue as late:
        raise RegistryUnavailable.simple(
            f"cannot read deployment tags from {redact(tracking_uri)}: {late}",
            hint="check MLFLOW_TRACKING_URI; limits: KSERVE_GITOPS_HTTP_*",
        ) from None
    odd = next((d for d in found if not ecma_pattern(VERSION).search(d.version)), None)
    if odd is not None:  # MLflow numbers versions; anything else is not an MLflow tracking server's answer
        raise RegistryUnavailable.simple(
            f"cannot read deployment tags from {redact(tracking_uri)}: it gives version {quoted(odd.version)} of "
            f"{quoted(odd.registered_model)}, and MLflow numbers versions",
            hint="check that MLFLOW_TRACKING_URI (or registry.trackingUri) points at an MLflow tracking server",
        )
    return sorted(found, key=lambda d: (d.registered_model, d.env, int(d.version)))
