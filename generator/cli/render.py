from __future__ import annotations

import typer

from generator import pipeline
from generator.cli import _build, _options
from generator.error_handler import run
from generator.validate.manifests import checks

NAME = "render"
HELP = "Render models.yaml + models.lock into environments/<env>/ and the root kustomization.yaml. Offline."
EXAMPLE = "Examples: kserve-gitops render  |  kserve-gitops render --check   (CI: fail when files are stale)"


def command(
    ctx: typer.Context,
    check: _options.Check = False,
    repo: _options.Repo = None,
    crd_dir: _options.CrdDir = None,
) -> None:
    root = _build.repo_root(repo)

    def job() -> int:
        outcome = pipeline.render_tree(root, checks(_build.crd_directory(root, crd_dir)))
        _build.warn(outcome.warnings)
        return _build.finish(root, outcome.plan, check=check, fix="kserve-gitops render")

    raise typer.Exit(run(job, debug=ctx.obj["debug"]))
