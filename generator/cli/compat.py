from __future__ import annotations

import os
from typing import Annotated

import typer

from generator.cli import _build, _options
from generator.cli._report import CommandReport, emit

NAME = "compat"
HELP = (
    "Load each locked model version not yet checked on its runtime image the way KServe will: download the "
    "artifact, load it with MLServer's MLflow runtime and the image's own MLflow and Python, send the V2 "
    "request built from its signature, and record the verdict and the image in models.lock. Exit 1 if a "
    "version does not load (now or as recorded), 2 if it cannot be checked (artifact unreadable, no docker)."
)
EXAMPLE = (
    "Examples: kserve-gitops compat  |  kserve-gitops compat wine-classifier --env prod  |  "
    "kserve-gitops compat wine-classifier --docker  |  kserve-gitops compat --base HEAD^1"
)

Model = Annotated[
    str, typer.Argument(help="InferenceService name (a key under models:). Default: every model.", show_default=False)
]
Env = Annotated[
    str, typer.Option("--env", help="Only this environment. Default: every environment.", show_default=False)
]
Recheck = Annotated[
    bool,
    typer.Option("--recheck", help="Load versions again that models.lock already records as checked on their image."),
]
Base = Annotated[
    str,
    typer.Option(
        "--base",
        help="Git revision (a pull request's base): a verdict counts as checked only if models.lock records it "
        "there too; one the pull request wrote is loaded again. Default: every recorded verdict counts.",
        show_default=False,
    ),
]
Docker = Annotated[
    bool,
    typer.Option(
        "--docker",
        help="Run the exact runtime image with docker. Default: a cached virtualenv with the image's pinned "
        "MLServer, MLflow and libraries.",
    ),
]


def command(
    ctx: typer.Context,
    model: Model = "",
    env: Env = "",
    docker: Docker = False,
    recheck: Recheck = False,
    base: Base = "",
    repo: _options.Repo = None,
    output: _options.Output = "text",
) -> None:
    from generator import pipeline  # noqa: PLC0415 -- not for --help
    from generator.compat.run import fields, summary  # noqa: PLC0415

    root = _build.repo_root(repo)
    with _build.in_session(ctx, root, write_tree=True):
        outcome, report = pipeline.compat(
            root, model, env, os.environ.get("MLFLOW_TRACKING_URI", ""), docker=docker, recheck=recheck, base=base
        )
        written = _build.reported(outcome.plan, [], written=outcome.written, check=False, fix="")
        text = "".join(f"{line}\n" for line in summary(report)) + (written.text if not outcome.plan.empty else "")
        emit(
            ctx,
            CommandReport(outcome.warnings, text, {**fields(report), **written.fields}, code=1 if report.failed else 0),
        )
