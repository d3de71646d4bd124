"""POST /argocd: an Argo CD notification → `deployed.<env>` and `health.<env>` tags on the model versions it serves.

Argo CD's webhook service can only send static headers, so it authenticates with a
shared bearer token. Setting a tag twice to the same value changes nothing, so a
repeated notification needs no replay protection, and a retried one is harmless.

| status | action    | when                                                                          |
| ------ | --------- | ----------------------------------------------------------------------------- |
| 200    | tagged    | every InferenceService models.lock knows was handled (missing versions noted) |
| 400    | malformed | not the body the shipped template renders                                     |
| 401    | rejected  | no or wrong `Authorization: Bearer` token                                     |
| 422    | unusable  | models.lock missing, not UTF-8 or unreadable at that revision and path        |
| 502    | failed    | GitHub refused or was unreachable; Argo CD retries 5xx                        |
| 503    | failed    | the MLflow registry was unreachable; Argo CD retries 5xx                      |
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from generator.errors import LockError, RegistryError, RegistryUnavailable
from generator.webhook import deployment
from generator.webhook.answer import Answer, Malformed
from generator.webhook.github import FileMissing, FileNotText, GitHubError


class LockReader(Protocol):
    def read_file(self, path: str, ref: str) -> str: ...


class TagWriter(Protocol):
    def set_tags(self, name: str, version: str, tags: Mapping[str, str]) -> None: ...


@dataclass
class DeploymentTagger:
    token: str = field(repr=False)
    github: LockReader
    registry: TagWriter

    def handle(self, headers: Mapping[str, str], body: bytes) -> Answer:
        lower = {key.lower(): value for key, value in headers.items()}
        if not hmac.compare_digest(lower.get("authorization", "").encode(), f"Bearer {self.token}".encode()):
            return Answer(401, "rejected", "missing or wrong Authorization: Bearer token")
        try:
            notification = deployment.parse(body)
        except Malformed as e:
            return Answer(400, "malformed", str(e))
        fields: dict[str, str | None] = {
            "event": notification.event,
            "app": notification.app,
            "env": notification.env,
            "revision": notification.revision,
        }
        try:
            lock = self.github.read_file(notification.lock_path, notification.revision)
            writes, unknown = deployment.tag_writes(notification, lock)
        except (FileMissing, FileNotText, LockError) as e:
            return Answer(422, "unusable", str(e), fields)
        except GitHubError as e:
            return Answer(502, "failed", str(e), fields)
        return self._write(writes, unknown, fields)

    def _write(self, writes: list[deployment.TagWrite], unknown: list[str], fields: dict[str, str | None]) -> Answer:
        """Tag each version; a version deleted from MLflow is noted and skipped, an unreachable registry stops
        the request with 503 so Argo CD sends it again (tags already written are simply written again)."""
        done: list[str] = []
        gone: list[str] = []
        for write in writes:
            label = f"{write.registered_model}/{write.version}"
            try:
                self.registry.set_tags(write.registered_model, write.version, write.tags)
            except RegistryError:
                gone.append(label)
                continue
            except RegistryUnavailable as e:
                return Answer(503, "failed", str(e), fields | {"tagged": ", ".join(done) or None})
            done.append(label)
        notes = [
            f"not in models.lock: {', '.join(unknown)}" if unknown else "",
            f"no such version in MLflow: {', '.join(gone)}" if gone else "",
        ]
        return Answer(200, "tagged", "; ".join(n for n in notes if n), fields | {"tagged": ", ".join(done) or None})
