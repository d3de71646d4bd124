"""⚡ Write tags on registered model versions (the webhook's Argo CD side); imports mlflow.

Kept apart from `registry/mlflow.py`, which only reads and batches: a write is one
call per tag, and its failures mean something else. The client reads credentials
(`MLFLOW_TRACKING_TOKEN`, `MLFLOW_TRACKING_USERNAME`/`PASSWORD`) and its retry policy
(`MLFLOW_HTTP_REQUEST_MAX_RETRIES`, `…_TIMEOUT`) from the environment itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from generator.errors import RegistryError, RegistryUnavailable
from generator.redact import redact
from generator.registry.base import configured_tracking_uri
from generator.registry.mlflow import answered_as_mlflow
from generator.registry.mlflow_http import Deadlines, Overdue
from generator.util.http_settings import HttpSettings

_ABSENT = "RESOURCE_DOES_NOT_EXIST"


class MlflowTagWriter:
    """Sets model version tags through the official client; satisfies webhook.tagging.TagWriter."""

    def __init__(self, tracking_uri: str, http: HttpSettings | None = None) -> None:
        self.tracking_uri = configured_tracking_uri(tracking_uri)
        self._client = MlflowClient(tracking_uri=tracking_uri)
        self._deadline = (http or HttpSettings.from_env()).deadline

    def set_tags(self, name: str, version: str, tags: Mapping[str, str]) -> None:
        """RegistryError when the version does not exist (deleted since it was locked), RegistryUnavailable
        for anything else: the server is down, refuses our credentials, or keeps failing."""
        where = redact(self.tracking_uri)
        deadlines = Deadlines(self._deadline)
        write = deadlines.bound(f"tagging {name!r} version {version} in {where}", self._client.set_model_version_tag)
        try:
            with answered_as_mlflow(f"cannot tag {name!r} version {version} in {where}"):
                for key, value in sorted(tags.items()):
                    deadlines.run(lambda key=key, value=value: write(name, version, key, value))  # type: ignore[misc]
        except Overdue as late:
            raise RegistryUnavailable.simple(
                str(late), hint="check MLFLOW_TRACKING_URI and the MLflow server; limits: KSERVE_GITOPS_HTTP_*"
            ) from None
        except MlflowException as e:
            if e.error_code == _ABSENT:
                raise RegistryError.simple(f"{name!r} version {version} does not exist in {where}") from None
            raise RegistryUnavailable.simple(
                f"cannot tag {name!r} version {version} in {where}: {e.error_code}: {redact(e.message)[:300]}",
                hint="check MLFLOW_TRACKING_URI and the credentials the webhook runs with",
            ) from None
