"""⚡ `kserve-gitops webhook serve`: settings from the environment, the adapters, and uvicorn.

Secrets are read from the environment only (a Kubernetes Secret through secretKeyRef),
never from options, which would show in `ps` and in shell history:

| variable                              | for     | what                                                |
| ------------------------------------- | ------- | --------------------------------------------------- |
| `KSERVE_GITOPS_MLFLOW_WEBHOOK_SECRET` | /mlflow | the secret given to MLflow's create_webhook         |
| `KSERVE_GITOPS_ARGOCD_TOKEN`          | /argocd | the bearer token Argo CD's webhook service sends    |
| `GITHUB_TOKEN`                        | both    | Contents: read and write on the repository          |
| `MLFLOW_TRACKING_TOKEN`, …            | /argocd | read by MlflowClient itself, if the server needs it |
| `KSERVE_GITOPS_HTTP_*`                | both    | limits of every call to GitHub and MLflow (README)  |

An endpoint is served only when its secret is set; at least one must be. Accepted
MLflow deliveries are journalled under `--state-dir`, which must outlive the process.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from generator.diagnostics import Diagnostic
from generator.errors import EnvironmentProblem
from generator.github.api import GitHubApi
from generator.redact import redact
from generator.registry import mlflow_http
from generator.registry.mlflow_tags import MlflowTagWriter
from generator.util.http_settings import HttpSettings
from generator.webhook import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_REQUEST_DEADLINE,
    DEFAULT_STATE_DIR,
    connection,
    log,
)
from generator.webhook.app import create_app
from generator.webhook.dispatcher import Dispatcher
from generator.webhook.github import WebhookGitHub
from generator.webhook.journal import Journal, held_alone
from generator.webhook.relay import Relay
from generator.webhook.tagging import DeploymentTagger

MLFLOW_SECRET_ENV = "KSERVE_GITOPS_MLFLOW_WEBHOOK_SECRET"
ARGOCD_TOKEN_ENV = "KSERVE_GITOPS_ARGOCD_TOKEN"
GITHUB_TOKEN_ENV = "GITHUB_TOKEN"
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class ServiceSettings:
    repository: str
    github_api_url: str
    tracking_uri: str
    max_age: float
    github_token: str = field(repr=False)
    mlflow_secret: str = field(repr=False)
    argocd_token: str = field(repr=False)
    state_dir: Path = DEFAULT_STATE_DIR
    dispatch_deadline: float = DEFAULT_DEADLINE
    request_deadline: float = DEFAULT_REQUEST_DEADLINE
    http: HttpSettings = field(default_factory=HttpSettings)
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str],
        *,
        repository: str,
        github_api_url: str,
        tracking_uri: str,
        max_age: float,
        state_dir: Path = DEFAULT_STATE_DIR,
        dispatch_deadline: float = DEFAULT_DEADLINE,
        request_deadline: float = DEFAULT_REQUEST_DEADLINE,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> ServiceSettings:
        """Raises EnvironmentProblem (exit 2) listing everything missing at once."""
        settings = cls(
            repository,
            github_api_url,
            tracking_uri,
            max_age,
            environ.get(GITHUB_TOKEN_ENV, ""),
            environ.get(MLFLOW_SECRET_ENV, ""),
            environ.get(ARGOCD_TOKEN_ENV, ""),
            state_dir,
            dispatch_deadline,
            request_deadline,
            HttpSettings.from_env(environ),
            max_connections,
        )
        problems = settings._problems()
        if problems:
            raise EnvironmentProblem(problems)
        return settings

    @property
    def routes(self) -> list[str]:
        return [route for route, secret in (("/mlflow", self.mlflow_secret), ("/argocd", self.argocd_token)) if secret]

    def _problems(self) -> list[Diagnostic]:
        needed = [
            (
                not self.routes,
                f"neither {MLFLOW_SECRET_ENV} nor {ARGOCD_TOKEN_ENV} is set: nothing to serve",
                "set the secret of each endpoint to serve (docs/webhook.md)",
            ),
            (
                not self.github_token,
                f"{GITHUB_TOKEN_ENV} is not set",
                "a fine-grained token with Contents: read and write on the repository",
            ),
            (
                not _REPOSITORY.fullmatch(self.repository),
                f"repository {self.repository!r} is not OWNER/NAME",
                "pass --repository or set GITHUB_REPOSITORY",
            ),
            (
                bool(self.argocd_token) and not self.tracking_uri,
                "/argocd needs the MLflow tracking URI",
                "pass --tracking-uri or set MLFLOW_TRACKING_URI",
            ),
            *(
                # nan passes `<= 0` and then fails every comparison it meets: every delivery would be refused
                (
                    not (math.isfinite(seconds) and seconds > 0),
                    f"{option} must be a positive number of seconds, not {seconds:g}",
                    f"the default is {default:g} seconds",
                )
                for option, seconds, default in (
                    ("--max-age", self.max_age, DEFAULT_MAX_AGE),
                    ("--dispatch-deadline", self.dispatch_deadline, DEFAULT_DEADLINE),
                    ("--request-deadline", self.request_deadline, DEFAULT_REQUEST_DEADLINE),
                )
            ),
            (
                self.max_connections < 1,
                f"--max-connections must be at least 1, not {self.max_connections}",
                f"the default is {DEFAULT_MAX_CONNECTIONS}",
            ),
        ]
        return [Diagnostic(message=message, hint=hint) for failed, message, hint in needed if failed]


def build_app(settings: ServiceSettings) -> Starlette:
    """The app; its lifespan runs the dispatcher, which first sends what the journal still holds."""
    github = WebhookGitHub(
        GitHubApi(settings.repository, settings.github_token, api_url=settings.github_api_url, settings=settings.http)
    )
    tagger = (
        DeploymentTagger(settings.argocd_token, github, MlflowTagWriter(settings.tracking_uri, settings.http))
        if settings.argocd_token
        else None
    )
    if not settings.mlflow_secret:
        return create_app(mlflow=None, argocd=tagger.handle if tagger else None)
    journal = Journal(_journal_directory(settings), 2 * settings.max_age)
    dispatcher = Dispatcher(github, journal, deadline=settings.dispatch_deadline)
    relay = Relay(settings.mlflow_secret, journal, dispatcher, settings.max_age)
    return create_app(mlflow=relay.handle, argocd=tagger.handle if tagger else None, background=dispatcher)


def serve(settings: ServiceSettings, *, host: str, port: int) -> None:
    """Blocks until SIGINT/SIGTERM; in-flight requests get 10 s to finish, then uvicorn re-raises the signal
    so the exit status says why the process ended. EnvironmentProblem (exit 2) when it cannot listen."""
    log.configure()
    os.environ.update(mlflow_http.environ(settings.http))  # MlflowClient reads its HTTP settings from there only
    mlflow_http.cap_answers(settings.http.max_body)
    log.LOGGER.info(
        "starting",
        extra={
            "fields": {
                "routes": " ".join(settings.routes),
                "repository": settings.repository,
                "github": redact(settings.github_api_url),
                "mlflow": redact(settings.tracking_uri) or None,
                "max_age": settings.max_age,
                "listen": f"{host}:{port}",
                "state": str(settings.state_dir),
            }
        },
    )
    with held_alone(_journal_directory(settings)) if settings.mlflow_secret else contextlib.nullcontext():
        _run(build_app(settings), settings, host=host, port=port)


def _journal_directory(settings: ServiceSettings) -> Path:
    return settings.state_dir / "deliveries"


def _run(app: Starlette, settings: ServiceSettings, *, host: str, port: int) -> None:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        log_level=logging.INFO,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        http=connection.deadlined(settings.request_deadline, settings.max_connections),
    )
    server = uvicorn.Server(config)
    with contextlib.suppress(SystemExit):  # uvicorn's exit code 3 for "could not start" would read as our "bug"
        server.run()
    if not server.started:
        raise EnvironmentProblem.simple(
            f"cannot listen on {host}:{port}; the log line above says why",
            hint="free the port, or choose another with --port / --host",
        )
