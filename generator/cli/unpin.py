from __future__ import annotations

import typer

from generator.cli import _build, _options
from generator.cli.pin import Env, Model

NAME = "unpin"
HELP = "Release the hold on MODEL in ENV: its reference as written (alias, stage, latest) applies again."
EXAMPLE = "Example: kserve-gitops unpin wine-classifier prod"


def command(
    ctx: typer.Context,
    model: Model,
    env: Env,
    repo: _options.Repo = None,
    crd_dir: _options.CrdDir = None,
    output: _options.Output = "text",
) -> None:
    from generator import pipeline  # noqa: PLC0415 -- only when the command runs: `--help` stays light

    root = _build.repo_root(repo)
    _build.write_outcome(
        ctx,
        root,
        lambda: pipeline.unpin(
            root, model, env, registry=_build.registry_for, crds=_build.crd_directory(root, crd_dir)
        ),
    )
