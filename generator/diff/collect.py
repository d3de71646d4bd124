"""Build every directory Argo CD syncs, at the base commit and in the working tree, and compare the builds.

The directories are every `environments/<env>/` with a kustomization, then `argocd/` and `cluster/`, found on
either side (a directory only one side has is new or removed). Names come from the files, not from
models.yaml, so a broken or missing models.yaml on either side still gets a diff; only names `render` could
have written are handed to kustomize.
"""

from __future__ import annotations

import re
from pathlib import Path

from generator.diff import snapshot
from generator.diff.compare import Build, DirectoryDiff, RenderedDiff, compare, skipped
from generator.errors import ValidationFailed
from generator.render.tree import ARGOCD_DIR, CLUSTER_DIR, ENVIRONMENTS_DIR
from generator.validate.kustomize import build_plain, kustomize_build, kustomize_command

KUSTOMIZATION = "kustomization.yaml"
ENV_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")  # models.yaml's rule for environment names


def rendered_diff(root: Path, base: str | None) -> RenderedDiff:
    """Compare the working tree under `root` with the commit `base` names (None: the default base)."""
    kustomize_command()  # a missing kustomize fails here, once, rather than as every directory's error
    with snapshot.exported(root, base) as exported:
        names = sorted(
            directories(exported.root) | directories(root), key=lambda d: (not d.startswith(f"{ENVIRONMENTS_DIR}/"), d)
        )
        return RenderedDiff(
            exported.ref, exported.commit, tuple(_directory(name, exported.root, root) for name in names)
        )


def directories(root: Path) -> set[str]:
    """The directories kustomize can build under root, relative to it."""
    found = {f"{ENVIRONMENTS_DIR}/{p.parent.name}" for p in (root / ENVIRONMENTS_DIR).glob(f"*/{KUSTOMIZATION}")}
    return found | {d for d in (ARGOCD_DIR, CLUSTER_DIR) if (root / d / KUSTOMIZATION).is_file()}


def _directory(name: str, before: Path, after: Path) -> DirectoryDiff:
    env = name.removeprefix(f"{ENVIRONMENTS_DIR}/")
    if env != name and not ENV_NAME.fullmatch(env):
        return skipped(name)
    return compare(name, _build(before, name), _build(after, name))


def _build(root: Path, name: str) -> Build:
    """What Argo CD builds from the directory: file by file in batches when its kustomization only lists files
    (`build_plain`: an environment of a thousand models builds in seconds, not minutes), else as a whole."""
    directory = root / name
    if not (directory / KUSTOMIZATION).is_file():
        return Build()
    if (objects := build_plain(directory)) is not None:
        return Build(tuple(objects))
    try:
        return Build(tuple(kustomize_build(directory)))
    except ValidationFailed as e:  # kustomize's own words, with paths relative to the repository
        return Build(error="\n".join(d.message for d in e.diagnostics).replace(f"{root}/", ""))
