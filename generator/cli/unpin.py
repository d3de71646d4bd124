from __future__ import annotations

import typer

from generator import pipeline
from generator.cli import _build, _options
from generator.cli.pin import Env, Model
from generator.error_handler import run
from generator.validate.manifests import checks

NAME = "unpin"
HELP = "Release the hold on MODEL in ENV: its reference as written (alias, stage, latest) applies again."
EXAMPLE = "Example: kserve-gitops unpin wine-classifier prod"


def command(
    ctx: typer.Context, model: Model, env: Env, repo: _options.Repo = None, crd_dir: _options.CrdDir = None
) -> None:
    root = _build.repo_root(repo)

    def job() -> int:
        validate = checks(_build.crd_directory(root, crd_dir))
        outcome = pipeline.unpin(root, model, env, registry=_build.registry_for, validate=validate)
        _build.warn(outcome.warnings)
        return _build.finish(root, outcome.plan, check=False, fix="")

    raise typer.Exit(run(job, debug=ctx.obj["debug"]))
