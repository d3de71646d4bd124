"""`kserve-gitops webhook serve`: the relay between MLflow, GitHub and Argo CD (docs/webhook.md)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Annotated

import typer

from generator.cli import _options
from generator.github import DEFAULT_API_URL
from generator.webhook import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_REQUEST_DEADLINE,
    DEFAULT_STATE_DIR,
)

app = typer.Typer(
    help="Run the webhook service: MLflow registry events start the promotion workflow at once "
    "(repository_dispatch), and Argo CD deployments are recorded as tags on the MLflow model versions.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

Host = Annotated[str, typer.Option("--host", help="Address to listen on.")]
Port = Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")]
MaxAge = Annotated[
    float,
    typer.Option(
        "--max-age",
        help="Seconds an MLflow delivery's timestamp may be from this clock, either way. Older or newer "
        "ones are refused; delivery ids are remembered twice as long to refuse replays.",
    ),
]
Repository = Annotated[
    str,
    typer.Option(
        "--repository", envvar="GITHUB_REPOSITORY", help="OWNER/NAME of the platform repository.", show_default=False
    ),
]
ApiUrl = Annotated[
    str,
    typer.Option(
        "--github-api-url",
        envvar="GITHUB_API_URL",
        callback=_options.masked_url,
        help="GitHub's REST API; https://HOST/api/v3 for GitHub Enterprise.",
    ),
]
StateDir = Annotated[
    Path,
    typer.Option(
        "--state-dir",
        envvar="KSERVE_GITOPS_WEBHOOK_STATE_DIR",
        help="Directory that outlives the process (a volume): accepted MLflow deliveries are journalled there, "
        "so none is lost or dispatched twice across a restart.",
    ),
]
DispatchDeadline = Annotated[
    float,
    typer.Option(
        "--dispatch-deadline",
        help="Seconds to keep retrying one delivery's repository_dispatch; after that the "
        "scheduled promotion run picks the change up.",
    ),
]
RequestDeadline = Annotated[
    float,
    typer.Option(
        "--request-deadline",
        help="Seconds a client may take to send a whole request, from the moment it connects or had its previous "
        "answer; a connection still waiting for its request then is closed, so idle or half-sent connections "
        "cannot use up the service's sockets.",
    ),
]
MaxConnections = Annotated[
    int,
    typer.Option(
        "--max-connections",
        help="Connections open at once; one more is answered 503 and closed before it is read, so a flood of "
        "connections cannot use up the file descriptors the journal and the dispatches need.",
    ),
]
TrackingUri = Annotated[
    str,
    typer.Option(
        "--tracking-uri",
        envvar="MLFLOW_TRACKING_URI",
        callback=_options.masked_url,
        help="MLflow server whose versions /argocd tags.",
        show_default=False,
    ),
]


@app.command(
    "serve",
    help="Serve POST /mlflow (signed MLflow webhooks → repository_dispatch), POST /argocd (Argo CD notifications → "
    "deployed.<env>/health.<env> tags) and GET /healthz. Secrets come from the environment only: "
    "KSERVE_GITOPS_MLFLOW_WEBHOOK_SECRET, KSERVE_GITOPS_ARGOCD_TOKEN, GITHUB_TOKEN. "
    "Exits 2 when they are missing.",
    epilog="Example: GITHUB_REPOSITORY=acme/platform kserve-gitops webhook serve --port 8080",
)
def serve_command(
    host: Host = "0.0.0.0",
    port: Port = 8080,
    max_age: MaxAge = DEFAULT_MAX_AGE,
    repository: Repository = "",
    github_api_url: ApiUrl = DEFAULT_API_URL,
    tracking_uri: TrackingUri = "",
    state_dir: StateDir = DEFAULT_STATE_DIR,
    dispatch_deadline: DispatchDeadline = DEFAULT_DEADLINE,
    request_deadline: RequestDeadline = DEFAULT_REQUEST_DEADLINE,
    max_connections: MaxConnections = DEFAULT_MAX_CONNECTIONS,
) -> None:
    from generator.webhook import server  # noqa: PLC0415 -- mlflow, starlette and uvicorn only for this command

    settings = server.ServiceSettings.from_env(
        os.environ,
        repository=repository,
        github_api_url=github_api_url,
        tracking_uri=tracking_uri,
        max_age=max_age,
        state_dir=state_dir,
        dispatch_deadline=dispatch_deadline,
        request_deadline=request_deadline,
        max_connections=max_connections,
    )
    # The error handler turns SIGTERM into an interrupted command (rollback, exit 143). A service stops on it instead:
    # uvicorn finishes in-flight requests, then raises SIGTERM again, and the default action ends the process.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    server.serve(settings, host=host, port=port)
