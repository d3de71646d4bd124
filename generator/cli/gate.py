"""`kserve-gitops gate`: the pull-request check that every version models.lock moves passes its quality gates."""

from __future__ import annotations

from typing import Annotated

import typer

from generator import diagnostics
from generator.cli import _build, _options
from generator.cli._report import CommandReport, emit

NAME = "gate"
HELP = (
    "Check that every model version models.lock moves against --base passes the quality gates of models.yaml "
    "(metrics of its MLflow run and logged model, compared with the version it replaces; docs/gates.md). "
    "Exit 1 on a failure without `gates.override`, 2 when the registry cannot be asked. Writes nothing."
)
EXAMPLE = "Examples: kserve-gitops gate --base HEAD^1 -o github  |  kserve-gitops gate --base origin/main"

Base = Annotated[
    str,
    typer.Option(
        "--base", help="Git revision whose models.lock is what runs now (a pull request's base). Default: HEAD."
    ),
]


def command(
    ctx: typer.Context, base: Base = "HEAD", output: _options.OutputOrGithub = "text", repo: _options.Repo = None
) -> None:
    from generator import pipeline  # noqa: PLC0415 -- not for --help

    root = _build.repo_root(repo)
    with _build.in_session(ctx, root, write_tree=False):
        found = pipeline.gate(root, base, _build.facts_for)
        failed = len(diagnostics.errors(found))
        summary = f"{failed} gate failure(s)\n" if failed else "every moved version passes its gates\n"
        emit(
            ctx,
            CommandReport(
                found,
                summary if output == "text" else "",
                {"base": base},
                code=1 if failed else 0,
                listed=True,
                files_from=_build.git_prefix(root) if output == "github" else "",
            ),
        )
