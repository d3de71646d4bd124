from __future__ import annotations

import typer

from generator import pipeline
from generator.cli import _build, _options
from generator.error_handler import run
from generator.validate.manifests import checks

NAME = "generate"
HELP = ("Lock (missing entries, or --update) + render + validate, written all at once or not at all. "
        "The one command to run after editing models.yaml.")
EXAMPLE = "Examples: kserve-gitops generate  |  kserve-gitops generate --update  |  kserve-gitops generate --check"


def command(
    ctx: typer.Context,
    selectors: _options.Selectors = None,
    update: _options.Update = False,
    check: _options.Check = False,
    repo: _options.Repo = None,
    crd_dir: _options.CrdDir = None,
) -> None:
    root = _build.repo_root(repo)
    selection = _build.update_selection(update, selectors)

    def job() -> int:
        outcome = pipeline.generate(root, _build.registry_for, selection, checks(_build.crd_directory(root, crd_dir)))
        _build.warn(outcome.warnings)
        return _build.finish(root, outcome.plan, check=check, fix="kserve-gitops generate")

    raise typer.Exit(run(job, debug=ctx.obj["debug"]))
