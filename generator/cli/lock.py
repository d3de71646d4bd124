from __future__ import annotations

import typer

from generator import pipeline
from generator.cli import _build, _options
from generator.error_handler import run

NAME = "lock"
HELP = ("Resolve references that have no lock entry (or whose reference changed) against MLflow and write "
        "models.lock. Numeric versions and held entries never move.")
EXAMPLE = ("Examples: kserve-gitops lock  |  kserve-gitops lock --update  |  "
           "kserve-gitops lock --update wine-classifier/prod")


def command(
    ctx: typer.Context,
    selectors: _options.Selectors = None,
    update: _options.Update = False,
    check: _options.Check = False,
    repo: _options.Repo = None,
) -> None:
    root = _build.repo_root(repo)
    selection = _build.update_selection(update, selectors)

    def job() -> int:
        outcome = pipeline.lock(root, _build.registry_for, selection)
        _build.warn(outcome.warnings)
        return _build.finish(root, outcome.plan, check=check, fix="kserve-gitops lock")

    raise typer.Exit(run(job, debug=ctx.obj["debug"]))
