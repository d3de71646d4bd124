"""Settings, routing and logging of the service, over real HTTP on loopback."""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from generator.errors import EnvironmentProblem
from generator.webhook.answer import Answer
from generator.webhook.app import MAX_BODY, create_app
from generator.webhook.log import JsonFormatter, log_answer
from generator.webhook.server import ServiceSettings, build_app
from tests.unit.webhook.support import REPOSITORY, collected_logs, running

ENV = {
    "GITHUB_TOKEN": "ghp-token-value",
    "KSERVE_GITOPS_MLFLOW_WEBHOOK_SECRET": "mlflow-secret-value",
    "KSERVE_GITOPS_ARGOCD_TOKEN": "argocd-token-value",
}


def settings(environ: Mapping[str, str] = ENV, **options: object) -> ServiceSettings:
    values: dict[str, object] = {
        "repository": REPOSITORY,
        "github_api_url": "http://127.0.0.1:9",
        "tracking_uri": "http://127.0.0.1:9",
        "max_age": 300.0,
    } | options
    return ServiceSettings.from_env(environ, **values)  # type: ignore[arg-type]


def test_settings_serve_each_endpoint_whose_secret_is_set() -> None:
    assert settings().routes == ["/mlflow", "/argocd"]
    assert settings({"GITHUB_TOKEN": "x", "KSERVE_GITOPS_ARGOCD_TOKEN": "t"}).routes == ["/argocd"]


def test_settings_never_show_secrets_in_their_repr() -> None:
    shown = repr(settings())

    assert REPOSITORY in shown
    assert not [secret for secret in ENV.values() if secret in shown]


def test_missing_settings_are_all_reported_at_once_as_an_environment_problem() -> None:
    with pytest.raises(EnvironmentProblem) as error:
        settings(
            {"KSERVE_GITOPS_ARGOCD_TOKEN": "t"},
            repository="not a repo",
            tracking_uri="",
            max_age=0,
            request_deadline=0,
            max_connections=0,
        )

    assert error.value.exit_code == 2
    assert [d.message for d in error.value.diagnostics] == sorted(
        [
            "GITHUB_TOKEN is not set",
            "repository 'not a repo' is not OWNER/NAME",
            "/argocd needs the MLflow tracking URI",
            "--max-age must be a positive number of seconds, not 0",
            "--request-deadline must be a positive number of seconds, not 0",
            "--max-connections must be at least 1, not 0",
        ]
    )


@pytest.mark.parametrize("option", ["max_age", "dispatch_deadline", "request_deadline"])
@pytest.mark.parametrize("seconds", [math.nan, math.inf, -math.inf])
def test_durations_that_are_not_finite_are_refused_at_start(option: str, seconds: float) -> None:
    """nan would pass a `<= 0` check and then refuse every delivery; inf would accept any age or wait for ever."""
    with pytest.raises(EnvironmentProblem) as error:
        settings(ENV, **{option: seconds})

    (problem,) = error.value.diagnostics
    assert problem.message == f"--{option.replace('_', '-')} must be a positive number of seconds, not {seconds:g}"


def test_nothing_to_serve_is_an_environment_problem() -> None:
    with pytest.raises(EnvironmentProblem, match="nothing to serve"):
        settings({"GITHUB_TOKEN": "x"})


def test_healthz_answers_and_unconfigured_endpoints_are_not_routed(tmp_path: Path) -> None:
    app = build_app(settings({"GITHUB_TOKEN": "x", "KSERVE_GITOPS_MLFLOW_WEBHOOK_SECRET": "s"}, state_dir=tmp_path))

    with running(app) as url:
        assert (requests.get(f"{url}/healthz", timeout=5).json()) == {"status": "ok"}
        assert requests.post(f"{url}/argocd", data=b"{}", timeout=5).status_code == 404
        unsigned = requests.post(f"{url}/mlflow", data=b"{}", timeout=5)

    assert unsigned.status_code == 401
    assert unsigned.json() == {
        "action": "rejected",
        "detail": "unsigned delivery: the webhook has no secret, or this is not MLflow",
    }


def test_oversized_bodies_are_refused_unread() -> None:
    seen: list[bytes] = []

    def handle(headers: Mapping[str, str], body: bytes) -> Answer:
        seen.append(body)
        return Answer(200, "ok")

    app = create_app(mlflow=handle, argocd=None)

    with running(app) as url:
        declared = requests.post(f"{url}/mlflow", data=b"x" * (MAX_BODY + 1), timeout=5)
        chunked = requests.post(f"{url}/mlflow", data=iter([b"x" * MAX_BODY, b"x"]), timeout=5)

    assert (declared.status_code, chunked.status_code) == (413, 413)
    assert seen == []


@pytest.mark.parametrize("who_ends_it", ["the client", "the request deadline"])
def test_a_body_that_never_arrives_whole_is_one_quiet_log_line_without_traceback(
    caplog: pytest.LogCaptureFixture, who_ends_it: str
) -> None:
    """Anyone may open a connection and go away mid-body: that must not write tracebacks into the service log."""
    handled: list[bytes] = []

    def handle(headers: Mapping[str, str], body: bytes) -> Answer:
        handled.append(body)
        return Answer(200, "ok")

    caplog.set_level(logging.INFO)
    with running(create_app(mlflow=handle, argocd=None), request_deadline=0.5) as url:
        address = urlsplit(url)
        with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
            conn.sendall(b"POST /mlflow HTTP/1.1\r\nHost: webhook\r\nContent-Length: 1000\r\n\r\n0123456789")
            if who_ends_it == "the request deadline":
                assert conn.recv(1024) == b"", "the service closes the connection at the deadline"
            else:
                time.sleep(0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not [
            r for r in caplog.records if r.getMessage() == "mlflow incomplete" or r.levelno >= logging.ERROR
        ]:
            time.sleep(0.02)

    assert [(r.name, r.getMessage()) for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []
    (line,) = [r for r in caplog.records if r.getMessage() == "mlflow incomplete"]
    assert line.levelno == logging.INFO
    assert "before the whole body arrived" in line.fields["detail"]  # type: ignore[attr-defined]
    assert handled == []


def test_mlflow_is_answered_at_once_while_slow_argocd_requests_fill_their_threads() -> None:
    """MLflow waits 30 s for its answer; Argo CD notifications waiting on a slow GitHub must not hold it up."""
    release = threading.Event()
    entered: list[int] = []

    def slow_argocd(headers: Mapping[str, str], body: bytes) -> Answer:
        entered.append(1)
        assert release.wait(30)
        return Answer(200, "tagged")

    app = create_app(mlflow=lambda headers, body: Answer(202, "accepted"), argocd=slow_argocd)
    with running(app) as url, ThreadPoolExecutor(50) as pool:
        waiting = [pool.submit(requests.post, f"{url}/argocd", data=b"{}", timeout=60) for _ in range(50)]
        deadline = time.monotonic() + 10
        while len(entered) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            started = time.monotonic()
            mlflow = requests.post(f"{url}/mlflow", data=b"{}", timeout=5)
            took = time.monotonic() - started
        finally:
            release.set()
        argocd = [future.result().status_code for future in waiting]

    assert len(entered) == 50
    assert (mlflow.status_code, argocd) == (202, [200] * 50)
    assert took < 2


def test_a_bug_answers_500_and_logs_the_traceback(caplog: pytest.LogCaptureFixture) -> None:
    def broken(headers: Mapping[str, str], body: bytes) -> Answer:
        raise RuntimeError("bug in handler")

    with running(create_app(mlflow=broken, argocd=None)) as url:
        response = requests.post(f"{url}/mlflow", data=b"{}", timeout=5)

    assert (response.status_code, response.json()["action"]) == (500, "error")
    assert any(r.exc_info and "bug in handler" in str(r.exc_info[1]) for r in caplog.records)


def test_each_request_logs_one_json_line_with_its_fields_and_redacted_urls() -> None:
    answer = Answer(
        502,
        "failed",
        "POST https://user:pw@ghe.example.com/api failed",
        {"delivery": "d-1", "model": "Wine", "alias": None},
    )
    with collected_logs() as records:
        log_answer("mlflow", answer)

    (record,) = records
    line = json.loads(JsonFormatter().format(record))
    assert record.levelno == logging.ERROR
    assert {k: v for k, v in line.items() if k != "time"} == {
        "level": "error",
        "logger": "kserve_gitops.webhook",
        "message": "mlflow failed",
        "route": "mlflow",
        "status": "502",
        "action": "failed",
        "detail": "POST https://***@ghe.example.com/api failed",
        "delivery": "d-1",
        "model": "Wine",
    }


def test_a_logged_field_a_client_chose_shows_control_and_invisible_characters_as_escapes() -> None:
    """The delivery ID is logged before the request is authenticated: a C1 CSI (`\\x9b`) in it would drive the
    terminal of whoever reads the log; a bidirectional control would reorder the line."""
    answer = Answer(401, "refused", "unsigned", {"delivery": "abc\x9b2J\u202egnp\u200b"})
    with collected_logs() as records:
        log_answer("mlflow", answer)

    (record,) = records
    shown = JsonFormatter().format(record)
    assert "\\u009b2J\\u202egnp\\u200b" in shown
    assert json.loads(shown)["delivery"] == "abc\x9b2J\u202egnp\u200b"
