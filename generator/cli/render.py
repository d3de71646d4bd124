from __future__ import annotations

import typer

from generator.cli import _build, _options

NAME = "render"
HELP = "Render models.yaml + models.lock into environments/<env>/ and the root kustomization.yaml. Offline."
EXAMPLE = "Examples: kserve-gitops render  |  kserve-gitops render --check   (CI: fail when files are stale)"


def command(
    ctx: typer.Context,
    check: _options.Check = False,
    repo: _options.Repo = None,
    crd_dir: _options.CrdDir = None,
) -> None:
    from generator import pipeline  # noqa: PLC0415 -- only when the command runs: `--help` stays light

    root = _build.repo_root(repo)
    _build.write_outcome(ctx, root, lambda: pipeline.render_tree(root, _build.manifest_checks(root, crd_dir)),
                         check=check, fix="kserve-gitops render")
