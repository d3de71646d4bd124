from __future__ import annotations

import re
from typing import Annotated, Literal

import typer

from generator.cli import _build, _options
from generator.cli._report import CommandReport, emit

NAME = "smoke-test"
HELP = (
    "Send the model's own input example, typed by its MLflow signature, to its InferenceService (V2 protocol, "
    "or MLflow's /invocations for method image) and check the answer: one prediction per input row. "
    "Exit 1 if the answer is wrong, 2 if there is no answer."
)
EXAMPLE = (
    "Examples: kserve-gitops smoke-test wine-classifier --env dev --url http://localhost:8080  |  "
    "kserve-gitops smoke-test wine-classifier --env prod --url http://$INGRESS "
    "--host wine-classifier.mlflow-kserve-prod.example.com"
)

Model = Annotated[str, typer.Argument(help="InferenceService name (a key under models:).", show_default=False)]
Env = Annotated[str, typer.Option("--env", help="Environment name.", show_default=False)]
Url = Annotated[
    str,
    typer.Option(
        "--url",
        help="Base URL of the model server or ingress. Default: the predictor's in-cluster Service, "
        "http://<isvc>-predictor.<namespace>.svc.cluster.local.",
        show_default=False,
    ),
]
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def _host_name(value: str) -> str:
    """A Host header's value: a name or an address, and a port. A line break in it would end the header."""
    if value and not _HOST.fullmatch(value):
        raise typer.BadParameter("not a host name: letters, digits, '.' and '-', then an optional :port")
    return value


Host = Annotated[
    str,
    typer.Option(
        "--host",
        help="Host header for an ingress that routes by host, e.g. <isvc>.<namespace>.<domain>.",
        show_default=False,
        callback=_host_name,
    ),
]
Source = Annotated[
    str,
    typer.Option(
        "--source",
        help="Where to read the MLmodel file and input example (models:/NAME/VERSION, s3://…). "
        "Default: the version's source in models.lock. With --url too, the repository is not read.",
        show_default=False,
    ),
]

Protocol = Annotated[
    Literal["v2", "mlflow-invocations"] | None,
    typer.Option(
        "--protocol",
        help="Default: from the model's method in models.yaml (image: mlflow-invocations, else v2); v2 without it.",
        show_default=False,
    ),
]


def command(
    ctx: typer.Context,
    model: Model,
    env: Env,
    url: Url = "",
    host: Host = "",
    source: Source = "",
    protocol: Protocol = None,
    repo: _options.Repo = None,
    output: _options.Output = "text",
) -> None:
    from generator.smoke.client import post_json  # noqa: PLC0415 -- requests only for this command
    from generator.smoke.fetch import fetch_example  # noqa: PLC0415
    from generator.smoke.run import Ask, fields, smoke_test, summary  # noqa: PLC0415

    report = smoke_test(
        _build.repo_root(repo), Ask(model, env, url, host, source, protocol or ""), fetch=fetch_example, send=post_json
    )
    emit(ctx, CommandReport(text="".join(f"{line}\n" for line in summary(report)), fields=fields(report)))
