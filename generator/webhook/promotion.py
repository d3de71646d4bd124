"""Which MLflow registry events can move a floating reference, and what the promotion workflow is told.

MLflow posts `{"entity", "action", "timestamp", "data"}` (`mlflow/webhooks/delivery.py`);
`data` holds the registered model `name` and, per event, `version` and `alias`.
Followed, because they can change what `lock --update` resolves:

- `model_version_alias.created`: an alias was set or moved (`alias:` references);
- `model_version_alias.deleted`: an `alias:` reference no longer resolves, which the
  workflow should report now rather than at the next scheduled run;
- `model_version.created`: a new highest version (`latest: true` references).

Ignored: tag events (our own `deployed.<env>` / `health.<env>` tags would start a run
after every deployment), registered models without versions, prompts and budgets.
MLflow sends nothing for stage transitions or deleted versions; the scheduled run
remains the backstop for those.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from generator.webhook.answer import Malformed, json_body

EVENT_TYPE = "mlflow-model-promoted"  # the repository_dispatch type .github/workflows/promote.yml listens to
FOLLOWED = frozenset({"model_version_alias.created", "model_version_alias.deleted", "model_version.created"})


@dataclass(frozen=True)
class RegistryEvent:
    """One MLflow delivery, reduced to what the promotion workflow reads."""

    event: str  # "<entity>.<action>", as MLflow names events when a webhook subscribes to them
    model: str
    alias: str | None = None
    version: str | None = None

    @property
    def followed(self) -> bool:
        return self.event in FOLLOWED

    def client_payload(self) -> dict[str, str | None]:
        """repository_dispatch's client_payload: {model, alias, version, event}; absent values are null."""
        return {"model": self.model, "alias": self.alias, "version": self.version, "event": self.event}


def parse(body: bytes) -> RegistryEvent:
    """Raises Malformed when the body is not MLflow's envelope, or a followed event names no model
    (an empty model would make the workflow update every model)."""
    envelope = _object(json_body(body), "body")
    event = f"{_text(envelope, 'entity')}.{_text(envelope, 'action')}"
    data = _object(envelope.get("data"), "data")
    model = _text(data, "name") if event in FOLLOWED else str(data.get("name", ""))
    return RegistryEvent(event, model, _optional(data, "alias"), _optional(data, "version"))


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise Malformed(f"{what} is not a JSON object")
    return value


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"{key!r} is missing or not a string")
    return value


def _optional(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)
