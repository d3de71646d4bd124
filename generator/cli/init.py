"""`kserve-gitops init [DIR]`: scaffold a platform repository (generator/scaffold)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from generator import pipeline, scaffold
from generator.cli import _build

NAME = "init"
HELP = ("Create a platform repository in DIR (default: the current directory): models.yaml, the rendered "
        "environments/, the CRD lock, .gitignore and GitHub workflows that use kserve-gitops' action at this "
        "version. Files that exist are kept unless --force; a directory holding another project is refused. "
        "Running it again changes nothing.")
EXAMPLE = ("Examples: kserve-gitops init ml-platform  |  kserve-gitops init --action-repo my-org/kserve-gitops  "
           "(a fork or mirror of the action)")

Directory = Annotated[Path, typer.Argument(help="Where to create the repository; created if missing.",
                                           show_default=False)]
Force = Annotated[bool, typer.Option("--force", help="Replace files that exist and write into a directory "
                                                     "that holds another project.")]
ActionRepo = Annotated[str, typer.Option("--action-repo", metavar="OWNER/NAME",
                                         help="GitHub repository of the kserve-gitops action the workflows use.")]


def command(
    ctx: typer.Context,
    directory: Directory = Path(),
    force: Force = False,
    action_repo: ActionRepo = scaffold.DEFAULT_ACTION_REPO,
) -> None:
    root = directory.absolute()
    options = scaffold.Options(action_repo=action_repo)
    _build.write_outcome(ctx, root, lambda: pipeline.init(root, options, force=force))
