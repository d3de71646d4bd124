"""What changed between two kustomize builds of one directory: the objects added, removed or changed.

Objects are matched by what Kubernetes knows them by (API group, kind, namespace, name), not by their place
in kustomize's output: a reordering is no change, a version bump of an API is a change of the same object,
and every hunk of the unified diff sits under a header naming the object it is in. Pure: the builds come in
as data (generator/diff/collect.py runs kustomize and git).
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from generator.diagnostics import printable
from generator.yamlio import dump

Change = Literal["added", "removed", "changed"]
Status = Literal["unchanged", "changed", "new", "removed", "build-failed", "skipped"]
Side = Literal["base", "working tree"]


@dataclass(frozen=True, order=True)
class ObjectId:
    group: str
    kind: str
    namespace: str
    name: str
    version: str = ""  # only where one build holds the object in two API versions: each is shown on its own

    @classmethod
    def of(cls, obj: Mapping[str, Any], *, versioned: bool = False) -> ObjectId:
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        metadata = obj.get("metadata") or {}
        return cls(
            group,
            str(obj.get("kind", "")),
            str(metadata.get("namespace", "")),
            str(metadata.get("name", "")),
            version if versioned else "",
        )

    @property
    def path(self) -> str:
        """`Kind/namespace/name` (cluster-scoped: `Kind/name`), the object's place in a diff header; `Kind.v1/…`
        where the version tells two apart."""
        kind = f"{self.kind}.{self.version}" if self.version else self.kind
        return "/".join(part for part in (kind, self.namespace, self.name) if part)


@dataclass(frozen=True)
class ObjectChange:
    id: ObjectId
    change: Change
    diff: str  # unified diff of the object's YAML, with its own ---/+++ header


@dataclass(frozen=True)
class Build:
    """One side of a directory: its built objects, or kustomize's error, or neither (no kustomization)."""

    objects: tuple[Mapping[str, Any], ...] | None = None
    error: str = ""

    @property
    def absent(self) -> bool:
        return self.objects is None and not self.error


@dataclass(frozen=True)
class DirectoryDiff:
    directory: str
    status: Status
    changes: tuple[ObjectChange, ...] = ()
    error: str = ""
    failed: Side | None = None  # which side kustomize failed on, for status build-failed

    @property
    def diff(self) -> str:
        return "".join(change.diff for change in self.changes)

    @property
    def added(self) -> int:
        return sum(_body(change.diff, "+") for change in self.changes)

    @property
    def removed(self) -> int:
        return sum(_body(change.diff, "-") for change in self.changes)

    @property
    def summary(self) -> str:
        """One line for people: what happened to this directory."""
        return {
            "unchanged": "no change",
            "changed": f"+{self.added} \N{MINUS SIGN}{self.removed} lines",
            "new": f"new, {self.added} lines",
            "removed": f"removed, {self.removed} lines",
            "build-failed": f"⚠️ kustomize failed on the {self.failed}",
            "skipped": "⚠️ not an environment name, not built",
        }[self.status]


@dataclass(frozen=True)
class RenderedDiff:
    """Every directory's comparison with the base commit."""

    base_ref: str
    base_commit: str
    directories: tuple[DirectoryDiff, ...]
    # (name, directory) of each Argo CD Application the change deletes, and with it what it deployed
    deleted_applications: tuple[tuple[str, str], ...] = ()

    @property
    def changed(self) -> int:
        """Directories with something to show: a diff or a failed build."""
        return sum(d.status not in ("unchanged", "skipped") for d in self.directories)


def compare(directory: str, before: Build, after: Build) -> DirectoryDiff:
    """The difference between the base's build (`before`) and the working tree's (`after`)."""
    if after.error or before.error:
        side: Side = "working tree" if after.error else "base"
        return DirectoryDiff(directory, "build-failed", error=after.error or before.error, failed=side)
    changes = object_changes(directory, before.objects or (), after.objects or ())
    if not changes:
        return DirectoryDiff(directory, "unchanged")
    status: Status = "new" if before.absent else "removed" if after.absent else "changed"
    return DirectoryDiff(directory, status, changes)


def skipped(directory: str) -> DirectoryDiff:
    """A directory whose name is not one `render` writes: not handed to kustomize."""
    return DirectoryDiff(directory, "skipped")


def object_changes(
    directory: str, before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]
) -> tuple[ObjectChange, ...]:
    """Objects matched by their identity in the cluster. kustomize keeps two objects that differ in their API version
    alone (its ids hold the version), both reach the cluster as one: each is then matched with its version, never
    one hidden behind the other."""
    twice = {key for side in (before, after) for key, n in Counter(map(ObjectId.of, side)).items() if n > 1}
    old = {ObjectId.of(obj, versioned=ObjectId.of(obj) in twice): obj for obj in before}
    new = {ObjectId.of(obj, versioned=ObjectId.of(obj) in twice): obj for obj in after}
    changes = []
    for key in sorted(old.keys() | new.keys()):
        if old.get(key) == new.get(key):
            continue
        change: Change = "added" if key not in old else "removed" if key not in new else "changed"
        changes.append(ObjectChange(key, change, _unified(directory, key, old.get(key), new.get(key))))
    return tuple(changes)


def _unified(directory: str, key: ObjectId, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str:
    """git's conventions: `before/…` and `after/…` labels, /dev/null for the side without the object. The label
    names what the repository chose (an object's name, a directory's), shown `printable`: a line break in it
    would start a line of its own (`::error::…` to GitHub), an escape would drive the terminal."""
    label = printable(f"{directory}/{key.path}")
    lines = difflib.unified_diff(
        _lines(before),
        _lines(after),
        fromfile=f"before/{label}" if before is not None else "/dev/null",
        tofile=f"after/{label}" if after is not None else "/dev/null",
    )
    return "".join(lines)


def _lines(obj: Mapping[str, Any] | None) -> list[str]:
    return [] if obj is None else dump([dict(obj)]).decode("utf-8").splitlines(keepends=True)


def _body(diff: str, sign: str) -> int:
    """Lines added (`+`) or removed (`-`) in one object's diff, after its ---/+++ header."""
    return sum(line.startswith(sign) for line in diff.splitlines()[2:])
