"""What an Argo CD notification says was deployed, and which MLflow model versions to tag for it.

The body is the one `deploy/webhook/argocd-notifications/argocd-notifications-cm.yaml`
renders: the event, the Application's name and source path, the git revision it
synced, and `.app.status.resources` (kind, name, namespace and health of everything
it manages). Argo CD knows nothing of MLflow, and the resource list carries no
labels, so the model behind each InferenceService comes from `models.lock` at that
very revision: an InferenceService is named after its models.yaml key, and an
Application syncs `<repo path>/environments/<env>`, with models.lock two levels up.
One notification thus covers every InferenceService of the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import yaml

from generator import yamlio
from generator.errors import LockError
from generator.lock import LOCK_FILE
from generator.lock.io import LOCK_VERSION
from generator.render.inferenceservice import API_VERSION
from generator.render.tree import ENVIRONMENTS_DIR
from generator.webhook.answer import Malformed, json_body

EVENTS = ("deployed", "degraded")
_ISVC = (API_VERSION.split("/")[0], "InferenceService")


@dataclass(frozen=True)
class ServiceHealth:
    name: str
    namespace: str
    health: str  # Argo CD's health status (Healthy, Degraded, Progressing, …); "" when it has none


@dataclass(frozen=True)
class Notification:
    event: str
    app: str
    path: PurePosixPath  # the Application's source path, <prefix>/environments/<env>
    revision: str
    services: tuple[ServiceHealth, ...]

    @property
    def env(self) -> str:
        return self.path.name

    @property
    def lock_path(self) -> str:
        return (self.path.parent.parent / LOCK_FILE).as_posix()


@dataclass(frozen=True)
class TagWrite:
    service: str
    registered_model: str
    version: str
    tags: Mapping[str, str]


def parse(body: bytes) -> Notification:
    data = json_body(body)
    if not isinstance(data, Mapping):
        raise Malformed("body is not a JSON object")
    event = _text(data, "event")
    if event not in EVENTS:
        raise Malformed(f"event {event!r} is not one of {', '.join(EVENTS)}")
    resources = data.get("resources")
    if not isinstance(resources, list):
        raise Malformed("'resources' is not a list (the template sends .app.status.resources)")
    return Notification(
        event,
        _text(data, "app"),
        _source_path(_text(data, "path")),
        _text(data, "revision"),
        tuple(_service(r) for r in resources if _is_inference_service(r)),
    )


def tag_writes(notification: Notification, lock_text: str) -> tuple[list[TagWrite], list[str]]:
    """Tags per model version, and the InferenceServices (namespace/name) models.lock does not know: not ours."""
    entries = _lock_entries(lock_text, notification.lock_path)
    env = notification.env
    writes: list[TagWrite] = []
    unknown: list[str] = []
    for service in notification.services:
        entry = entries.get((service.name, env))
        tags = {f"deployed.{env}": notification.revision} if notification.event == "deployed" else {}
        if service.health:
            tags[f"health.{env}"] = service.health
        if entry is None:
            unknown.append(f"{service.namespace}/{service.name}")
        elif tags:
            writes.append(TagWrite(service.name, *entry, tags=tags))
    return writes, unknown


def _source_path(raw: str) -> PurePosixPath:
    path = PurePosixPath(raw)
    if path.is_absolute() or ".." in path.parts or len(path.parts) < 2 or path.parts[-2] != ENVIRONMENTS_DIR:
        raise Malformed(f"path {raw!r} is not <repo path>/{ENVIRONMENTS_DIR}/<env>, which kserve-gitops renders")
    return path


def _is_inference_service(resource: Any) -> bool:
    return isinstance(resource, Mapping) and (resource.get("group"), resource.get("kind")) == _ISVC


def _service(resource: Mapping[str, Any]) -> ServiceHealth:
    health = resource.get("health")
    status = health.get("status", "") if isinstance(health, Mapping) else ""
    return ServiceHealth(_text(resource, "name"), str(resource.get("namespace", "")), str(status or ""))


def _lock_entries(text: str, file: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(model, env) → (registered model, version). Only these two fields are read, so a lock
    written by a newer kserve-gitops with more fields still works, as long as lockVersion matches."""
    try:
        data = yamlio.load(text)
    except yaml.YAMLError as e:
        raise LockError.simple(f"not valid YAML: {e}", file=file) from None
    if not isinstance(data, Mapping) or data.get("lockVersion") != LOCK_VERSION:
        raise LockError.simple(
            f"not a models.lock with lockVersion {LOCK_VERSION}",
            file=file,
            hint="run the webhook image of the kserve-gitops version that wrote it",
        )
    models = data["models"] if isinstance(data.get("models"), Mapping) else {}
    return {
        (str(model), str(env)): (str(entry["registeredModel"]), str(entry["version"]))
        for model, envs in models.items()
        if isinstance(envs, Mapping)
        for env, entry in envs.items()
        if isinstance(entry, Mapping) and {"registeredModel", "version"} <= entry.keys()
    }


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise Malformed(f"{key!r} is missing or not a non-empty string")
    return value.strip()
