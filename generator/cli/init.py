"""`kserve-gitops init [DIR]`: scaffold a platform repository (generator/scaffold)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from generator import scaffold
from generator.cli import _build, _options

if TYPE_CHECKING:
    from generator.pipeline import Outcome
    from generator.registry.base import Registered

NAME = "init"
HELP = (
    "Create a platform repository in DIR (default: the current directory): models.yaml, the rendered "
    "environments/, the CRD lock, .gitignore and GitHub workflows that use kserve-gitops' action at this "
    "version. Files that exist are kept unless --force; a directory holding another project is refused. "
    "Running it again changes nothing."
)
EXAMPLE = (
    "Examples: kserve-gitops init ml-platform  |  MLFLOW_TRACKING_URI=https://mlflow.example.com kserve-gitops "
    "init --from-registry  |  kserve-gitops init --action-repo my-org/kserve-gitops  (a fork of the action)"
)

Directory = Annotated[
    Path, typer.Argument(help="Where to create the repository; created if missing.", metavar="DIR", show_default=False)
]
Force = Annotated[
    bool,
    typer.Option("--force", help="Replace files that exist and write into a directory that holds another project."),
]
FromRegistry = Annotated[
    bool,
    typer.Option(
        "--from-registry",
        help="List the models registered in MLflow (MLFLOW_TRACKING_URI) into models.yaml, each "
        "environment following the first alias it has of: prod: prod, production, champion; staging: staging, "
        "challenger, candidate, champion; dev: dev, development, challenger, candidate, else the latest version. "
        "Then run `kserve-gitops generate`.",
    ),
]
ActionRepo = Annotated[
    str,
    typer.Option(
        "--action-repo", metavar="OWNER/NAME", help="GitHub repository of the kserve-gitops action the workflows use."
    ),
]


def command(
    ctx: typer.Context,
    directory: Directory = Path(),
    force: Force = False,
    from_registry: FromRegistry = False,
    action_repo: ActionRepo = scaffold.DEFAULT_ACTION_REPO,
    output: _options.Output = "text",
) -> None:
    root = directory.absolute()
    options = scaffold.Options(action_repo=action_repo)

    def produce() -> Outcome:
        from generator import pipeline  # noqa: PLC0415 -- not for --help

        return pipeline.init(root, options, force=force, catalog=_catalog if from_registry else None)

    _build.write_outcome(ctx, root, produce)


def _catalog() -> list[Registered]:
    """Imported here, not at the top: only `--from-registry` pays for importing mlflow."""
    from generator.registry.mlflow import MlflowRegistry  # noqa: PLC0415

    return MlflowRegistry().catalog()
