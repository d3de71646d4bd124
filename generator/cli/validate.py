from __future__ import annotations

import typer

from generator import pipeline
from generator.cli import _build, _options
from generator.error_handler import run

NAME = "validate"
HELP = "Check models.yaml (schema and meaning). Offline: never contacts the registry."
EXAMPLE = "Example: kserve-gitops validate --repo ./platform"


def command(ctx: typer.Context, repo: _options.Repo = None) -> None:
    root = _build.repo_root(repo)

    def job() -> int:
        _build.warn(pipeline.validate_spec(root))
        print(f"{pipeline.SPEC_FILE}: valid")
        return 0

    raise typer.Exit(run(job, debug=ctx.obj["debug"]))
