"""Model images (`method: image`) in the lock: which still need building, and recording what was pushed.

Pure, like resolve.py: spec + lock in, lock or list out. The image tag is per model version and shared
by every environment serving that version, so one build and one digest serve them all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from generator.errors import UserError
from generator.lock.io import IMAGE_DIGEST
from generator.lock.model import Lock, LockEntry
from generator.spec.model import Spec, Target

_DIGEST = re.compile(IMAGE_DIGEST)


def image_tag(target: Target, entry: LockEntry) -> str:
    """`<repository>:<model>-v<version>`: one image per model version, shared by every environment.

    What the build pushes; the manifest adds the digest once it is recorded (`image_reference`).
    """
    return f"{target.serving.image_repository}:{target.model}-v{entry.version}"


@dataclass(frozen=True)
class Pending:
    """An image to build and push: `tag`, from `registered_model` version `version`; `envs` serve it."""

    model: str
    version: str
    registered_model: str
    tag: str
    envs: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "version": self.version,
            "registeredModel": self.registered_model,
            "tag": self.tag,
            "env": self.envs[0],
            "envs": list(self.envs),
        }


def check_digest(digest: str) -> str:
    """The digest as given, if it is one a registry reports; checked before anything is read or written."""
    if not _DIGEST.fullmatch(digest):
        raise UserError.simple(
            f"not an image digest: {digest!r}",
            hint="expected sha256: and 64 lowercase hex digits, as `docker buildx imagetools "
            "inspect --format '{{json .Manifest.Digest}}' TAG` prints it",
        )
    return digest


def image_entries(spec: Spec, lock: Lock) -> list[tuple[Target, LockEntry]]:
    """Every locked target served by `method: image`, in models.yaml order."""
    return [
        (t, entry)
        for t in spec.targets
        if t.serving.method == "image" and (entry := lock.get(t.model, t.env)) is not None
    ]


def pending(spec: Spec, lock: Lock) -> list[Pending]:
    """Images without a recorded digest, one per tag (environments on the same version share it)."""
    found: dict[str, Pending] = {}
    for target, entry in image_entries(spec, lock):
        if entry.image_digest:
            continue
        tag = image_tag(target, entry)
        seen = found.get(tag)
        envs = (*seen.envs, target.env) if seen else (target.env,)
        found[tag] = Pending(target.model, entry.version, entry.registered_model, tag, envs)
    return list(found.values())


def record(spec: Spec, lock: Lock, model: str, version: str, digest: str) -> Lock:
    """`digest` on every image-method entry of MODEL at VERSION; an error naming what exists when none match."""
    matching = {t.key for t, entry in image_entries(spec, lock) if t.model == model and entry.version == version}
    if not matching:
        raise UserError.simple(
            f"no lock entry of '{model}' at version {version} is served by method image",
            hint=_what_exists(spec, lock, model),
        )
    entries = {
        key: replace(entry, image_digest=digest) if key in matching else entry for key, entry in lock.entries.items()
    }
    return Lock(entries)


def _what_exists(spec: Spec, lock: Lock, model: str) -> str:
    targets = [t for t in spec.targets if t.model == model]
    if not targets:
        return f"models.yaml has no model '{model}'; models: {', '.join(sorted({t.model for t in spec.targets}))}"
    locked = [
        f"{t.env}: version {entry.version} (method {t.serving.method})"
        for t in targets
        if (entry := lock.get(t.model, t.env)) is not None
    ]
    return f"locked for '{model}': {'; '.join(locked)}" if locked else f"'{model}' has no lock entry yet"
