"""Every outbound client against the same misbehaving servers: it returns, exit 2, with a message that says why.

The limits come from the KSERVE_GITOPS_HTTP_* variables, set small so the suite runs
fast; the wall-clock check is a generous safety net, not a performance assertion.
MLflow's client is reached through `kserve-gitops lock` (the fake server needs to
speak no MLflow at all: every request meets the fault).
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from generator.cli import main
from generator.errors import EXIT_ENVIRONMENT, EXIT_INVALID, SmokeFailed, UserError
from generator.github.api import GitHubApi
from generator.propose.github import ProposeGitHub
from generator.smoke.client import post_json
from generator.smoke.endpoint import Endpoint
from generator.webhook.dispatcher import Dispatcher
from generator.webhook.github import GitHubError, WebhookGitHub
from generator.webhook.journal import Journal
from generator.webhook.relay import Relay
from generator.webhook.signature import sign
from tests.support.faults import Fault, faulty
from tests.support.paths import REPO_ROOT
from tests.unit.webhook.support import mlflow_body

LIMITS = {
    "KSERVE_GITOPS_HTTP_CONNECT_TIMEOUT": "1",
    "KSERVE_GITOPS_HTTP_READ_TIMEOUT": "1",
    "KSERVE_GITOPS_HTTP_DEADLINE": "3",
    "KSERVE_GITOPS_HTTP_RETRIES": "1",
    "KSERVE_GITOPS_HTTP_BACKOFF": "0.05",
    "KSERVE_GITOPS_HTTP_RETRY_AFTER_MAX": "5",
    "KSERVE_GITOPS_HTTP_MAX_BODY": str(1 << 20),
}
SAFETY = 30.0  # seconds: far beyond any limit above
SPEC = """\
apiVersion: kserve-gitops/v1
environments:
  dev: {namespace: ml-dev}
models:
  wine:
    registeredModel: wine
    environments:
      dev: {alias: champion}
"""
TIMED_OUT = ("no answer within 1 s", "no complete answer within 3 s")
RESET = ("Connection reset by peer", "Connection aborted", "connection broken", "RemoteDisconnected")

# fault, what a client of the HTTP door says about it
FAULTS: dict[str, tuple[Callable[[], Fault], tuple[str, ...]]] = {
    "500": (lambda: Fault("status", status=500), ("HTTP 500 Internal Server Error (2 attempts",)),
    "429-retry-after-an-hour": (
        lambda: Fault("status", status=429, headers={"Retry-After": "3600"}),
        ("asking to retry after 3600 s (at 20",),  # each client says when, whatever message it words
    ),
    "hang": (lambda: Fault("hang"), TIMED_OUT),
    "drip": (lambda: Fault("drip", interval=0.2), ("answer still incomplete after 3 s",)),
    "huge": (lambda: Fault("huge"), ("answer larger than 1048576 bytes",)),
    "reset": (lambda: Fault("reset"), RESET),
}
# What MLflow's own client says, where it differs: it ignores Retry-After (we told it to).
MLFLOW = {
    "500": ("too many 500 error responses",),
    "429-retry-after-an-hour": ("too many 429 error responses",),
    "hang": ("no answer in time (KSERVE_GITOPS_HTTP_CONNECT_TIMEOUT", "no complete answer within 3 s"),
    "drip": ("no complete answer within 3 s (KSERVE_GITOPS_HTTP_DEADLINE)",),
    "huge": ("answer larger than 1048576 bytes",),
    "reset": (*RESET, "Connection aborted"),
}


@pytest.fixture(autouse=True)
def limits(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in LIMITS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(params=sorted(FAULTS))
def fault(request: pytest.FixtureRequest) -> Iterator[tuple[str, Fault, str]]:
    make, _ = FAULTS[request.param]
    injected = make()
    with faulty(injected) as url:
        yield request.param, injected, url


def bounded(call: Callable[[], object]) -> None:
    began = time.monotonic()
    call()
    assert time.monotonic() - began < SAFETY


def says(message: str, expected: tuple[str, ...]) -> None:
    assert any(e in message for e in expected), message


def test_lock_fails_with_exit_2_whatever_mlflow_does(
    fault: tuple[str, Fault, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name, _, url = fault
    (tmp_path / "models.yaml").write_text(SPEC)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url.replace("http://", "http://user:s3cret@"))
    codes: list[int] = []
    bounded(lambda: codes.append(main(["lock", "--repo", str(tmp_path)])))
    err = capsys.readouterr().err
    assert codes == [EXIT_ENVIRONMENT], err
    assert err.startswith("error: cannot use the MLflow registry at http://***@127.0.0.1:"), err
    says(err, MLFLOW[name])
    assert "s3cret" not in err
    assert not (tmp_path / "models.lock").exists()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"registered_models": [{"name": 5}]}, "it answered, but not as MLflow does"),
        (
            {"registered_models": [{"name": "wine"}], "model_versions": [{"name": "wine", "version": "abc"}]},
            "the registry gives version 'abc' of 'wine': MLflow numbers versions",
        ),
        (
            {"registered_models": [{"name": "wine"}], "model_versions": [{"name": "wine", "version": "\u00b2"}]},
            "the registry gives version '\u00b2' of 'wine': MLflow numbers versions 1, 2, 3",
        ),
        (
            {"registered_models": [{"name": "wine"}], "model_versions": [{"name": "wine", "version": "9" * 5000}]},
            "the registry gives version '99999",
        ),
    ],
    ids=["not MLflow's shape", "a version that is no number", "a digit int() cannot read", "5,000 digits"],
)
def test_an_answer_mlflow_would_never_give_fails_lock_with_exit_2(
    answer: dict[str, object],
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A server that answers 200 with JSON of another shape (not MLflow, or a broken proxy) is named, not a bug."""
    (tmp_path / "models.yaml").write_text(SPEC)
    with faulty(Fault("status", status=200, body=answer)) as url:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        code = main(["lock", "--repo", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == EXIT_ENVIRONMENT, err
    assert expected in err and "unexpected error" not in err, err
    assert not (tmp_path / "models.lock").exists()


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault("status", status=200, body=b" " * (2 << 20)), "answer of 2097152 bytes (its Content-Length)"),
        (
            Fault("status", status=200, body=gzip.compress(b" " * (64 << 20)), headers={"Content-Encoding": "gzip"}),
            "answer larger than 1048576 bytes",
        ),
    ],
    ids=["a Content-Length over the cap", "64 MiB gzipped into 64 KiB"],
)
def test_an_mlflow_answer_over_the_size_cap_fails_lock_with_exit_2_and_says_which_setting_allows_it(
    fault: Fault, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "models.yaml").write_text(SPEC)
    with faulty(fault) as url:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        code = main(["lock", "--repo", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == EXIT_ENVIRONMENT, err
    assert expected in err and "raise KSERVE_GITOPS_HTTP_MAX_BODY" in err, err
    assert not (tmp_path / "models.lock").exists()


def test_the_size_cap_leaves_what_mlflow_streams_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model's files are downloaded streamed, and may be far larger than any API answer: their deadline bounds
    them, not the cap."""
    from mlflow.utils.rest_utils import MlflowHostCreds, http_request  # noqa: PLC0415  (mlflow's own door)

    from generator.registry import mlflow_http  # noqa: PLC0415
    from generator.util.http_settings import HttpSettings  # noqa: PLC0415

    huge = Fault("huge", huge=4 << 20)  # four times the cap
    with faulty(huge) as url, mlflow_http.limited(HttpSettings.from_env()):
        creds = MlflowHostCreds(url)  # type: ignore[no-untyped-call]  # mlflow has no annotations here
        response = http_request(creds, "/artifact", "GET", stream=True)  # type: ignore[no-untyped-call]
        assert sum(len(piece) for piece in response.iter_content(1 << 16)) == 4 << 20


@pytest.mark.parametrize(
    "answer",
    [
        b"<!DOCTYPE html><html><title>Sign in</title></html>",
        {"message": "ok"},
        ["x"],
        [{"title": "t"}],
        [{"number": "abc"}],
        [{"number": 1, "labels": [{"nam": "x"}]}],
    ],
    ids=["an HTML page", "an object", "a list of strings", "no number", "a number that is not", "a nameless label"],
)
def test_propose_fails_with_exit_2_on_what_githubs_api_never_sends(answer: object) -> None:
    """A 200 that is not GitHub's JSON (an --api-url naming GitHub Enterprise's web host answers HTML) is named as
    such, with where GitHub Enterprise's API lives, not an unexpected error."""
    with faulty(Fault("status", status=200, body=answer)) as url:
        github = ProposeGitHub(GitHubApi("acme/platform", "ghs_secret-token", api_url=url, write_pause=0))
        with pytest.raises(UserError) as caught:
            github.find("kserve-gitops/promote-dev")
    assert caught.value.exit_code == EXIT_ENVIRONMENT
    message = str(caught.value)
    assert message.startswith(
        f"the server at {url} answered listing the pull requests of kserve-gitops/promote-dev "
        "with what GitHub's API never sends"
    ), message
    assert "api/v3" in message and "ghs_secret-token" not in message


def test_a_dripping_mlflow_ends_the_lock_process_too(tmp_path: Path) -> None:
    """The call left behind at its deadline must not keep the process alive."""
    (tmp_path / "models.yaml").write_text(SPEC)
    with faulty(Fault("drip", interval=0.5)) as url:
        done = subprocess.run(
            [sys.executable, "-m", "generator", "lock", "--repo", str(tmp_path)],
            env=os.environ | {"MLFLOW_TRACKING_URI": url, "PYTHONPATH": str(REPO_ROOT)},
            capture_output=True,
            text=True,
            timeout=SAFETY,
            check=False,
        )
    assert done.returncode == EXIT_ENVIRONMENT, done.stderr
    assert "no complete answer within 3 s" in done.stderr


def test_schemas_fetch_fails_with_exit_2(
    fault: tuple[str, Fault, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, _, url = fault
    (tmp_path / "models.yaml").write_text(SPEC)
    codes: list[int] = []
    bounded(lambda: codes.append(main(["schemas", "fetch", "--repo", str(tmp_path), "--base-url", url])))
    err = capsys.readouterr().err
    assert codes == [EXIT_ENVIRONMENT], err
    assert err.startswith(f"error: cannot download {url}/"), err
    says(err, FAULTS[name][1])
    assert not (tmp_path / "schemas").exists()


def test_propose_github_client_fails_with_exit_2(fault: tuple[str, Fault, str]) -> None:
    name, _, url = fault
    github = ProposeGitHub(GitHubApi("acme/platform", "ghs_secret-token", api_url=url, write_pause=0))
    with pytest.raises(UserError) as caught:
        bounded(lambda: github.find("kserve-gitops/promote-dev"))
    assert caught.value.exit_code == EXIT_ENVIRONMENT
    message = str(caught.value)
    if name == "429-retry-after-an-hour":  # a rate limit, said as one: the server is reachable, the token not at fault
        assert message.startswith("GitHub's rate limit held while listing the pull requests of "), message
    else:
        assert message.startswith(f"cannot reach GitHub at {url} while listing the pull requests of "), message
    says(message, FAULTS[name][1])
    assert "ghs_secret-token" not in message


def test_webhook_github_client_fails_with_a_github_error(fault: tuple[str, Fault, str]) -> None:
    name, _, url = fault
    github = WebhookGitHub(GitHubApi("acme/platform", "ghs_secret-token", api_url=url))
    with pytest.raises(GitHubError) as caught:
        bounded(lambda: github.dispatch("mlflow-model-promoted", {"model": "wine"}))
    message = str(caught.value)
    assert message.startswith(f"POST {url}/repos/acme/platform/dispatches: "), message
    says(message, FAULTS[name][1])
    assert not caught.value.lasting, "the relay tries it again later"


def test_smoke_client_fails_with_exit_2_or_reports_the_models_error(fault: tuple[str, Fault, str]) -> None:
    """A model server's own error status is the smoke test's finding (exit 1), never retried; no answer, or a rate
    limit that outlasts what we wait for, is exit 2."""
    name, injected, url = fault
    with pytest.raises(UserError) as caught:
        bounded(lambda: post_json(Endpoint(f"{url}/v2/models/wine/infer"), {"inputs": []}))
    message = str(caught.value)
    if name == "500":
        assert isinstance(caught.value, SmokeFailed)
        assert caught.value.exit_code == EXIT_INVALID
        assert f"answered {injected.status}" in message
    else:
        assert caught.value.exit_code == EXIT_ENVIRONMENT
        assert message.startswith(f"cannot reach {url}/v2/models/wine/infer: "), message
        says(message, FAULTS[name][1])
    assert len(injected.requests) == 1, "a POST that may have arrived is never sent twice"


def test_the_webhook_answers_mlflow_while_github_hangs_and_accepts_mlflows_retry(tmp_path: Path) -> None:
    """The finding: four 10 s attempts outlasted MLflow's 30 s, and its retry was refused as a replay."""
    fault = Fault("hang")
    body = mlflow_body("model_version_alias", "created", name="Wine", alias="champion", version="4")
    now = int(time.time())
    signed = {
        "X-MLflow-Delivery-Id": "d-1",
        "X-MLflow-Timestamp": str(now),
        "X-MLflow-Signature": sign("secret", "d-1", str(now), body),
    }
    with faulty(fault) as url:
        journal = Journal(tmp_path, 600)
        dispatcher = Dispatcher(WebhookGitHub(GitHubApi("acme/platform", "ghs_secret-token", api_url=url)), journal)
        dispatcher.start()
        relay = Relay("secret", journal, dispatcher)
        first = relay.handle(signed, body)
        deadline = time.monotonic() + SAFETY
        while not fault.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        retry = relay.handle(signed, body)
        dispatcher.stop(timeout=0)

    assert fault.requests == ["POST /repos/acme/platform/dispatches"], "the dispatch was under way"
    assert (first.status, first.action) == (202, "accepted")
    assert (retry.status, retry.action) == (202, "pending")
