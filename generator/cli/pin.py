from __future__ import annotations

from typing import Annotated

import typer

from generator.cli import _build, _options

NAME = "pin"
HELP = (
    "Hold MODEL in ENV at VERSION (writes `hold: VERSION` in models.yaml), lock it and re-render: a rollback "
    "that automation never undoes until `kserve-gitops unpin`."
)
EXAMPLE = "Example: kserve-gitops pin wine-classifier prod 3"

Model = Annotated[str, typer.Argument(help="InferenceService name (a key under models:).", show_default=False)]
Env = Annotated[str, typer.Argument(help="Environment name.", show_default=False)]
Version = Annotated[int, typer.Argument(help="Registered model version to serve.", min=1, show_default=False)]


def command(
    ctx: typer.Context,
    model: Model,
    env: Env,
    version: Version,
    repo: _options.Repo = None,
    crd_dir: _options.CrdDir = None,
    output: _options.Output = "text",
) -> None:
    from generator import pipeline  # noqa: PLC0415 -- only when the command runs: `--help` stays light

    root = _build.repo_root(repo)
    _build.write_outcome(
        ctx,
        root,
        lambda: pipeline.pin(
            root, model, env, str(version), registry=_build.registry_for, crds=_build.crd_directory(root, crd_dir)
        ),
    )
