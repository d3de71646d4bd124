"""The webhook service end to end: a real MLflow server delivering real signed webhooks, the service under
uvicorn on loopback, GitHub played by a local HTTP server, and tags read back from MLflow.

MLflow delivers webhooks only when its server is told it may (plain http, loopback) and has a key to
encrypt webhook secrets with, so this module starts its own MLflow server with those settings instead of
the session's shared one. Its webhook list cache is cut to 1 s so a new webhook is used at once.
MLflow never replays a delivery or sends a stale one by itself: those cases replay a delivery MLflow
really made, captured by a second webhook pointing at the fake GitHub.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
import requests

from devtools.stack import Stack, free_port
from generator.errors import RegistryError, RegistryUnavailable
from generator.github.api import GitHubApi
from generator.lock.io import dumps
from generator.lock.model import Lock, LockEntry
from generator.registry.mlflow_tags import MlflowTagWriter
from generator.spec.model import Ref
from generator.webhook.app import create_app
from generator.webhook.dispatcher import Dispatcher
from generator.webhook.github import WebhookGitHub
from generator.webhook.journal import Journal
from generator.webhook.log import JsonFormatter
from generator.webhook.relay import Relay
from generator.webhook.server import ServiceSettings, build_app
from tests.unit.webhook.support import (
    LOOPBACK,
    REPOSITORY,
    FakeGitHub,
    Recorded,
    application,
    collected_logs,
    fake_github,
    isvc,
    render_notification,
    running,
)

if TYPE_CHECKING:
    from mlflow.entities.webhook import WebhookEvent, WebhookEventStr

pytestmark = [pytest.mark.mlflow, pytest.mark.xdist_group("webhook")]  # one MLflow server for the module

SECRET = "mlflow-webhook-secret-value"
ARGOCD_TOKEN = "argocd-token-value"
GITHUB_TOKEN = "ghp-token-value"
SECRETS = (SECRET, ARGOCD_TOKEN, GITHUB_TOKEN)
SHA = "9b2e4c6d8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c"
RELAY_EVENTS: list[WebhookEventStr | WebhookEvent] = [
    "model_version.created",
    "model_version_alias.created",
    "model_version_alias.deleted",
    "model_version_tag.set",
]
CAPTURE = "/capture"


class WebhookStack(Stack):
    """The shared stack, with MLflow's server allowed to deliver webhooks to loopback over http.

    devtools/stack.py has no way to pass server environment variables; this adds them to the mlflow
    process only (an `extra_env` parameter there would replace this override).
    """

    ENV: ClassVar[dict[str, str]] = {
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "MLFLOW_WEBHOOK_CACHE_TTL": "1",
    }

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        return super()._spawn(name, argv, env | self.ENV if name == "mlflow" else env)


@dataclass
class Service:
    url: str
    stack: Stack
    github: FakeGitHub
    records: list[logging.LogRecord]  # everything the service logged

    @property
    def lines(self) -> list[str]:
        return [JsonFormatter().format(record) for record in list(self.records)]

    def actions(self, action: str) -> list[dict[str, str]]:
        """Logged requests with this action, in the order they were handled."""
        return [line for line in map(json.loads, self.lines) if line.get("action") == action]

    def new_model(self, versions: int) -> str:
        """A registered model with `versions` versions; waits until their creation events are relayed."""
        client = self.stack.client()
        name = f"Wine Classifier.{uuid.uuid4().hex[:8]}"
        client.create_registered_model(name)
        for _ in range(versions):
            client.create_model_version(name, source="s3://mlflow-artifacts/mlartifacts/wine", await_creation_for=0)
        self.github.wait_for(lambda: dispatches(self.github, name, "model_version.created"), versions)
        return name


def dispatches(github: FakeGitHub, model: str, event: str) -> list[Recorded]:
    return [
        r
        for r in github.dispatches()
        if r.json()["client_payload"]["model"] == model and r.json()["client_payload"]["event"] == event
    ]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with collected_logs() as records, WebhookStack() as stack, fake_github() as github:
        settings = ServiceSettings(
            REPOSITORY,
            github.url,
            stack.tracking_uri,
            300.0,
            GITHUB_TOKEN,
            SECRET,
            ARGOCD_TOKEN,
            state_dir=tmp_path_factory.mktemp("webhook-state"),
        )
        with running(build_app(settings)) as url:
            client = stack.client()
            client.create_webhook("kserve-gitops", f"{url}/mlflow", RELAY_EVENTS, secret=SECRET)
            client.create_webhook("capture", f"{github.url}{CAPTURE}", ["model_version_alias.created"], secret=SECRET)
            yield Service(url, stack, github, records)


def test_alias_set_in_mlflow_dispatches_once_within_seconds(service: Service) -> None:
    name = service.new_model(versions=2)

    began = time.monotonic()
    service.stack.client().set_registered_model_alias(name, "champion", "2")
    (arrived,) = service.github.wait_for(lambda: dispatches(service.github, name, "model_version_alias.created"))
    time.sleep(1.5)  # anything MLflow or the relay would send twice has arrived by now

    (dispatch,) = dispatches(service.github, name, "model_version_alias.created")
    seconds = arrived.at - began
    print(f"\nalias set -> repository_dispatch received: {seconds * 1000:.0f} ms")
    assert seconds < 10
    assert dispatch.json() == {
        "event_type": "mlflow-model-promoted",
        "client_payload": {"model": name, "alias": "champion", "version": "2", "event": "model_version_alias.created"},
    }
    assert dispatch.headers["Authorization"] == f"Bearer {GITHUB_TOKEN}"
    created = dispatches(service.github, name, "model_version.created")
    assert sorted(r.json()["client_payload"]["version"] for r in created) == ["1", "2"]


def test_delivery_signed_with_another_secret_is_rejected_and_not_dispatched(service: Service) -> None:
    client = service.stack.client()
    name = service.new_model(versions=1)
    client.set_registered_model_alias(name, "champion", "1")
    forged = client.create_webhook(
        "wrong-secret", f"{service.url}/mlflow", ["model_version_alias.deleted"], secret="not-the-secret"
    )
    time.sleep(1.2)  # MLflow's webhook cache (1 s here) now holds both webhooks
    rejected_before = len(service.actions("rejected"))
    try:
        client.delete_registered_model_alias(name, "champion")
        service.github.wait_for(lambda: dispatches(service.github, name, "model_version_alias.deleted"))
        deadline = time.monotonic() + 30
        while len(service.actions("rejected")) == rejected_before and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
    finally:
        client.delete_webhook(forged.webhook_id)
        time.sleep(1.2)  # and the forged webhook is gone from its cache again

    assert len(dispatches(service.github, name, "model_version_alias.deleted")) == 1
    rejected = service.actions("rejected")[rejected_before:]
    assert [r["detail"] for r in rejected] == ["signature does not match the configured secret"]


def captured_delivery(service: Service, name: str) -> Recorded:
    """What MLflow posted to the capture webhook when `name` got an alias."""

    def found() -> list[Recorded]:
        return [r for r in service.github.posted_to(CAPTURE) if r.json()["data"]["name"] == name]

    (delivery,) = service.github.wait_for(found)
    return delivery


def post(url: str, delivery: Recorded, body: bytes | None = None) -> requests.Response:
    headers = {k: v for k, v in delivery.headers.items() if k.lower().startswith("x-mlflow-")}
    return requests.post(
        url,
        data=delivery.body if body is None else body,
        headers=headers | {"Content-Type": "application/json"},
        timeout=10,
    )


def test_a_delivery_received_twice_is_dispatched_once(service: Service) -> None:
    name = service.new_model(versions=1)
    service.stack.client().set_registered_model_alias(name, "challenger", "1")
    delivery = captured_delivery(service, name)
    service.github.wait_for(lambda: dispatches(service.github, name, "model_version_alias.created"))

    first = post(f"{service.url}/mlflow", delivery)
    sent = service.github.wait_for(lambda: dispatches(service.github, name, "model_version_alias.created"), 2)
    second = post(f"{service.url}/mlflow", delivery)

    assert (first.status_code, first.json()["action"]) == (202, "accepted")
    assert (second.status_code, second.json()["action"]) == (409, "replayed")
    assert len(sent) == 2  # the relay's own, + one
    assert len(dispatches(service.github, name, "model_version_alias.created")) == 2


def test_stale_or_tampered_mlflow_deliveries_are_not_dispatched(service: Service, tmp_path: Path) -> None:
    name = service.new_model(versions=1)
    service.stack.client().set_registered_model_alias(name, "challenger", "1")
    delivery = captured_delivery(service, name)
    service.github.wait_for(lambda: dispatches(service.github, name, "model_version_alias.created"))
    github = WebhookGitHub(GitHubApi(REPOSITORY, GITHUB_TOKEN, api_url=service.github.url))
    journal = Journal(tmp_path, 600)
    later = Relay(SECRET, journal, Dispatcher(github, journal), max_age=300, clock=lambda: time.time() + 301)
    tampered = delivery.body.replace(b'"version": "1"', b'"version": "2"')

    with running(create_app(mlflow=later.handle, argocd=None)) as url_301s_later:
        stale = post(f"{url_301s_later}/mlflow", delivery)
    forged = post(f"{service.url}/mlflow", delivery, body=tampered)

    assert tampered != delivery.body
    assert (stale.status_code, stale.json()["action"]) == (400, "stale")
    assert (forged.status_code, forged.json()["action"]) == (401, "rejected")
    assert len(dispatches(service.github, name, "model_version_alias.created")) == 1


def lock_for(entries: dict[tuple[str, str], tuple[str, str]]) -> str:
    """models.lock as kserve-gitops writes it, for (model, env) → (registered model, version)."""
    return dumps(
        Lock(
            {
                key: LockEntry(
                    model=key[0],
                    env=key[1],
                    registered_model=rm,
                    reference=Ref("alias", "x"),
                    version=version,
                    source="s",
                    artifact_uri="s3://b/a",
                    run_id="r",
                )
                for key, (rm, version) in entries.items()
            }
        )
    ).decode()


def argocd(
    service: Service, template: str, resources: list[dict[str, Any]], token: str = ARGOCD_TOKEN
) -> requests.Response:
    body = render_notification(template, application("environments/prod", SHA, resources))
    return requests.post(
        f"{service.url}/argocd",
        data=body,
        timeout=30,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )


def test_argo_cd_notifications_tag_each_version_the_environment_serves(service: Service) -> None:
    client = service.stack.client()
    wine, iris = service.new_model(versions=2), service.new_model(versions=1)
    service.github.files[("models.lock", SHA)] = lock_for(
        {("wine", "prod"): (wine, "2"), ("wine", "staging"): (wine, "1"), ("iris", "prod"): (iris, "1")}
    )
    ignored_before = len(service.actions("ignored"))

    deployed = argocd(
        service, "kserve-gitops-deployed", [isvc("wine", "ml-prod", "Healthy"), isvc("iris", "ml-prod", "Healthy")]
    )
    degraded = argocd(
        service, "kserve-gitops-degraded", [isvc("wine", "ml-prod", "Healthy"), isvc("iris", "ml-prod", "Degraded")]
    )

    assert (deployed.status_code, deployed.json()) == (200, {"action": "tagged"})
    assert (degraded.status_code, degraded.json()) == (200, {"action": "tagged"})
    assert client.get_model_version(wine, "2").tags == {"deployed.prod": SHA, "health.prod": "Healthy"}
    assert client.get_model_version(iris, "1").tags == {"deployed.prod": SHA, "health.prod": "Degraded"}
    assert client.get_model_version(wine, "1").tags == {}
    # Each tag MLflow set was delivered back to the relay and ignored: no dispatch loop.
    service.github.wait_for(lambda: service.actions("ignored")[ignored_before:], 6)
    assert [i["event"] for i in service.actions("ignored")[ignored_before:]] == ["model_version_tag.set"] * 6
    events = {r.json()["client_payload"]["event"] for r in service.github.dispatches()}
    assert not {"model_version_tag.set", "model_version_tag.deleted"} & events


def test_argo_cd_notification_without_the_token_tags_nothing(service: Service) -> None:
    wine = service.new_model(versions=1)
    service.github.files[("models.lock", SHA)] = lock_for({("wine", "prod"): (wine, "1")})

    response = argocd(service, "kserve-gitops-deployed", [isvc("wine", "ml-prod", "Healthy")], token="guess")

    assert response.status_code == 401
    assert service.stack.client().get_model_version(wine, "1").tags == {}


def test_tag_writer_tells_a_missing_version_from_an_unreachable_server(service: Service) -> None:
    name = service.new_model(versions=1)
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"

    with pytest.raises(RegistryError, match=r"version 7 does not exist"):
        MlflowTagWriter(service.stack.tracking_uri).set_tags(name, "7", {"deployed.prod": SHA})
    with pytest.raises(RegistryUnavailable, match="cannot tag"):
        MlflowTagWriter(f"http://{LOOPBACK}:{free_port()}").set_tags(name, "1", {"deployed.prod": SHA})


def test_no_secret_ever_reaches_the_log(service: Service) -> None:
    assert service.lines
    assert not [line for line in service.lines for secret in SECRETS if secret in line]


def cli(port: int, github: FakeGitHub, state: Path) -> tuple[list[str], dict[str, str]]:
    """`kserve-gitops webhook serve` as the Deployment runs it, serving /mlflow only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "GITHUB_", "KSERVE_GITOPS_"))}
    env |= {
        "GITHUB_TOKEN": GITHUB_TOKEN,
        "GITHUB_REPOSITORY": REPOSITORY,
        "KSERVE_GITOPS_MLFLOW_WEBHOOK_SECRET": SECRET,
    }
    return [
        sys.executable,
        "-m",
        "generator",
        "webhook",
        "serve",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--github-api-url",
        github.url,
        "--state-dir",
        str(state),
    ], env


def test_cli_serves_until_sigterm_and_logs_only_json(service: Service, tmp_path: Path) -> None:
    argv, env = cli(port := free_port(), service.github, tmp_path)
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:
        try:
            healthy = _wait_healthy(f"http://{LOOPBACK}:{port}/healthz", proc)
        finally:
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=30)

    lines = [json.loads(line) for line in output.decode().splitlines()]
    assert healthy
    # uvicorn finishes in-flight requests, then re-raises SIGTERM so the exit status says why it stopped.
    assert proc.returncode == -signal.SIGTERM
    assert lines[-1]["message"].startswith("Finished server process")
    assert lines[0]["message"] == "starting"
    assert (lines[0]["routes"], lines[0]["repository"]) == ("/mlflow", REPOSITORY)
    assert not [secret for secret in SECRETS if secret in output.decode()]


def test_cli_exits_2_when_it_cannot_listen(service: Service, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv, env = cli(port, service.github, tmp_path)
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 2
    assert done.stderr.startswith(f"error: cannot listen on {LOOPBACK}:{port}")
    assert "address already in use" in done.stdout


def test_a_tracking_uri_that_is_not_a_url_exits_2_naming_it(service: Service, tmp_path: Path) -> None:
    """/argocd tags versions in MLflow: mlflow's client, made for a URI it cannot parse, raised ValueError (exit 3)."""
    argv, env = cli(free_port(), service.github, tmp_path)
    env |= {"KSERVE_GITOPS_ARGOCD_TOKEN": ARGOCD_TOKEN, "MLFLOW_TRACKING_URI": "http://u:hunter2@[::1"}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot use the MLflow registry at http://***@[::1: Invalid IPv6 URL")
    assert "hunter2" not in done.stdout + done.stderr


def test_a_second_service_on_the_same_state_dir_exits_2_naming_the_first(service: Service, tmp_path: Path) -> None:
    """Two services on one journal would both dispatch what it holds: the second refuses to start, and says which
    process holds it, before it listens."""
    argv, env = cli(port := free_port(), service.github, tmp_path)
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as first:
        try:
            assert _wait_healthy(f"http://{LOOPBACK}:{port}/healthz", first)
            second_argv, _ = cli(free_port(), service.github, tmp_path)
            second = subprocess.run(second_argv, env=env, capture_output=True, text=True, timeout=60, check=False)
            assert first.poll() is None
        finally:
            first.send_signal(signal.SIGTERM)
            first.communicate(timeout=30)

    assert second.returncode == 2
    assert second.stderr.startswith(f"error: the delivery journal {tmp_path / 'deliveries'} is in use by process")
    assert f"process {first.pid} (" in second.stderr
    assert "give each replica a --state-dir of its own" in second.stderr
    assert "Started server process" not in second.stdout  # never got as far as serving
    assert "Traceback" not in second.stderr + second.stdout


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=1).status_code == 200
        except requests.ConnectionError:
            time.sleep(0.1)
    return False
