"""models.lock as values: what each (model, environment) resolved to."""

from __future__ import annotations

from dataclasses import dataclass, field

from generator.registry.base import ModelInfo
from generator.spec.model import Ref


@dataclass(frozen=True)
class LockEntry:
    """A resolved reference.

    `source` is the download URI MLflow reported (possibly `mlflow-artifacts:/…`);
    `artifact_uri` is where KServe fetches the files, derived from `source` and
    the spec's artifacts destination, so a changed destination needs no registry call.
    `info` is what the version's MLmodel file says, so the runtime check needs no
    registry call either; None when it was never recorded (locks written before
    it was, or an unreadable file).
    `image_digest` (`sha256:…`) is the pushed image of a `method: image` entry, recorded
    by `kserve-gitops image record` after the build: the manifest then names the exact
    bytes, not a tag someone could push over. Empty until recorded.
    """

    model: str
    env: str
    registered_model: str
    reference: Ref
    version: str
    source: str
    artifact_uri: str
    run_id: str
    info: ModelInfo | None = None
    image_digest: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.model, self.env)


@dataclass(frozen=True)
class Lock:
    entries: dict[tuple[str, str], LockEntry] = field(default_factory=dict)

    def get(self, model: str, env: str) -> LockEntry | None:
        return self.entries.get((model, env))

    def infos(self) -> dict[str, ModelInfo]:
        """What each recorded artifact's MLmodel says, by download URI: the registry need not read it again."""
        return {e.source: e.info for e in self.entries.values() if e.info is not None}
