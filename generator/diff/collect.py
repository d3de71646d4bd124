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
from generator.diff.compare import Build, RenderedDiff, compare, skipped
from generator.errors import ValidationFailed
from generator.render.argocd import generated_applications
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
        builds = {name: _sides(name, exported.root, root) for name in names}
        return RenderedDiff(
            exported.ref,
            exported.commit,
            tuple(skipped(name) if sides is None else compare(name, *sides) for name, sides in builds.items()),
            _deleted_applications(builds.get(ARGOCD_DIR)),
        )


def directories(root: Path) -> set[str]:
    """The directories kustomize can build under root, relative to it."""
    found = {f"{ENVIRONMENTS_DIR}/{p.parent.name}" for p in (root / ENVIRONMENTS_DIR).glob(f"*/{KUSTOMIZATION}")}
    return found | {d for d in (ARGOCD_DIR, CLUSTER_DIR) if (root / d / KUSTOMIZATION).is_file()}


def _sides(name: str, before: Path, after: Path) -> tuple[Build, Build] | None:
    """The directory built at the base and in the working tree; None for a name `render` never writes."""
    env = name.removeprefix(f"{ENVIRONMENTS_DIR}/")
    if env != name and not ENV_NAME.fullmatch(env):
        return None
    return _build(before, name), _build(after, name)


def _deleted_applications(sides: tuple[Build, Build] | None) -> tuple[tuple[str, str], ...]:
    """The Applications (name, directory) whose element the change drops from an ApplicationSet argocd/ still
    has: Argo CD deletes each, and what it deployed, once the change is merged (render.argocd). Nothing when
    either side of argocd/ is missing or failed to build: how argocd/ itself reaches the cluster is not known."""
    if sides is None or any(side.objects is None for side in sides):
        return ()
    before, after = (generated_applications(side.objects or ()) for side in sides)
    if not after:
        return ()
    return tuple(sorted((name, path) for name, path in before.items() if name not in after))


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
