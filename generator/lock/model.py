"""models.lock as values: what each (model, environment) resolved to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from generator.lock import LOCK_FILE
from generator.registry.base import ModelInfo
from generator.spec.model import Ref

Verdict = Literal["loads", "fails"]


@dataclass(frozen=True)
class LoadCheck:
    """What `kserve-gitops compat` saw when it loaded the version with a runtime image's own MLflow.

    It holds only for `image`: a target now served by another image is unchecked again.
    `error` is the loader's (or the request's) own message when the verdict is "fails";
    `environment` says where it ran: "docker" (the image itself) or "virtualenv (Python X.Y.Z)"
    (the image's pinned packages on a local interpreter).
    """

    image: str
    verdict: Verdict
    environment: str
    error: str = ""


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
    `lines` are where the entry (key "") and its fields were in the file it was read from, for diagnostics.
    `load_check` is the verdict of `kserve-gitops compat` for this version; None until it ran.
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
    load_check: LoadCheck | None = None
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.model, self.env)

    def line_of(self, key: str = "") -> int:
        """Where `key` (e.g. "artifactUri"), else the entry itself, is in the lock file read; 0 if not read."""
        return self.lines.get(key) or self.lines.get("", 0)


@dataclass(frozen=True)
class Lock:
    entries: dict[tuple[str, str], LockEntry] = field(default_factory=dict)
    file: str = field(default=LOCK_FILE, compare=False)  # as diagnostics name it, e.g. "main:models.lock"
    text: str = field(default="", compare=False, repr=False)  # what it was read from ("": made, not read)

    def get(self, model: str, env: str) -> LockEntry | None:
        return self.entries.get((model, env))

    def infos(self) -> dict[str, ModelInfo]:
        """What each recorded artifact's MLmodel says, by download URI: the registry need not read it again."""
        return {e.source: e.info for e in self.entries.values() if e.info is not None}
