"""`kserve-gitops status`: which version runs where, whether it passes its gates, and what is pending."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from generator.cli import _build, _options
from generator.cli._report import CommandReport, emit

if TYPE_CHECKING:
    from generator.registry.base import Deployment
    from generator.spec.model import Spec

NAME = "status"
HELP = (
    "One row per model and environment: reference, locked version, gate verdict, runtime compatibility (from "
    "models.lock), the deployed version and its health (the webhook's deployed.<env>/health.<env> tags in MLflow), "
    "and drift (what runs is not what is locked, or the environment is behind the one it follows). Without MLflow "
    "the registry columns say unknown. Writes nothing."
)
EXAMPLE = "Examples: kserve-gitops status  |  kserve-gitops status --registry -o json"

WithRegistry = Annotated[
    bool,
    typer.Option(
        "--registry", help="Also show where each alias, stage or latest points now: promotions not locked yet."
    ),
]


def command(
    ctx: typer.Context, output: _options.Output = "text", registry: WithRegistry = False, repo: _options.Repo = None
) -> None:
    from generator import pipeline  # noqa: PLC0415 -- not for --help
    from generator.status import text  # noqa: PLC0415

    root = _build.repo_root(repo)
    with _build.in_session(ctx, root, write_tree=False):
        report = pipeline.status(
            root, facts=_build.facts_for, deployments=_deployments, registry=_build.registry_for if registry else None
        )
        emit(
            ctx,
            CommandReport(
                report.warnings, text(report.rows, with_pending=registry), {"rows": [r.as_dict() for r in report.rows]}
            ),
        )


def _deployments(spec: Spec) -> Sequence[Deployment]:
    from generator.registry.base import configured_tracking_uri  # noqa: PLC0415

    uri = configured_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or spec.tracking_uri)
    from generator.registry.deployments import deployments  # noqa: PLC0415 -- mlflow only when it is configured

    return deployments(uri, sorted({t.registered_model for t in spec.targets}))
