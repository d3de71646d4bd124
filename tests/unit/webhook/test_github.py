"""The GitHub adapter against a local HTTP server playing api.github.com."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.github.api import GitHubApi
from generator.util.http import HttpSettings
from generator.webhook.dispatcher import Dispatcher
from generator.webhook.github import FileMissing, FileNotText, GitHubError, WebhookGitHub
from generator.webhook.journal import Journal
from tests.unit.webhook.support import REPOSITORY, FakeGitHub, fake_github

TOKEN = "ghp_not-a-real-token"


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    with fake_github() as fake:
        yield fake


def client(server: FakeGitHub) -> WebhookGitHub:
    return WebhookGitHub(GitHubApi(REPOSITORY, TOKEN, api_url=server.url))


def test_dispatch_posts_event_type_and_client_payload_with_the_token(server: FakeGitHub) -> None:
    client(server).dispatch(
        "mlflow-model-promoted",
        {"model": "Wine", "alias": "champion", "version": "2", "event": "model_version_alias.created"},
    )

    (request,) = server.dispatches()
    assert request.method == "POST"
    assert request.json() == {
        "event_type": "mlflow-model-promoted",
        "client_payload": {
            "model": "Wine",
            "alias": "champion",
            "version": "2",
            "event": "model_version_alias.created",
        },
    }
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/vnd.github+json"
    assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"


def test_dispatch_retries_a_5xx_and_succeeds(server: FakeGitHub) -> None:
    server.failures = [502]

    client(server).dispatch("mlflow-model-promoted", {"model": "Wine"})

    assert len(server.dispatches()) == 2


def test_dispatch_waits_out_githubs_secondary_rate_limit(server: FakeGitHub) -> None:
    """A 403 with Retry-After is GitHub's secondary rate limit, not a refusal: retried like a 429."""
    server.failures, server.failure_headers = [403], {"Retry-After": "1"}

    client(server).dispatch("mlflow-model-promoted", {"model": "Wine"})

    first, second = server.dispatches()
    assert second.at - first.at >= 1


def test_a_rate_limit_outlasting_the_retries_is_momentary_and_a_bare_403_lasting(server: FakeGitHub) -> None:
    impatient = WebhookGitHub(GitHubApi(REPOSITORY, TOKEN, api_url=server.url, settings=HttpSettings(retries=1)))
    server.failures, server.failure_headers = [403, 403], {"Retry-After": "0"}
    with pytest.raises(GitHubError) as limited:
        impatient.dispatch("mlflow-model-promoted", {"model": "Wine"})
    server.failures, server.failure_headers = [403], {}
    with pytest.raises(GitHubError) as refused:
        impatient.dispatch("mlflow-model-promoted", {"model": "Wine"})

    assert (limited.value.status, limited.value.lasting) == (403, False), "the dispatcher tries it again later"
    assert (refused.value.status, refused.value.lasting) == (403, True), "no permission: given up at once"
    assert len(server.dispatches()) == 3


def test_refusal_carries_githubs_message_but_never_the_token(server: FakeGitHub) -> None:
    server.failures = [404]  # what GitHub answers a token that may not see the repository

    with pytest.raises(GitHubError) as error:
        client(server).dispatch("mlflow-model-promoted", {"model": "Wine"})

    assert error.value.status == 404
    where = f"{server.url}/repos/{REPOSITORY}/dispatches"
    assert f"GitHub answered 404 to repository_dispatch in {where}" in str(error.value)
    assert "Server Error" in str(error.value)
    assert TOKEN not in str(error.value)


def test_read_file_returns_the_raw_text_at_the_commit(server: FakeGitHub) -> None:
    server.files[("platform/models.lock", "abc123")] = "lockVersion: 1\n# é\n"

    assert client(server).read_file("platform/models.lock", "abc123") == "lockVersion: 1\n# é\n"
    (request,) = server.requests
    assert (request.path, request.query) == (f"/repos/{REPOSITORY}/contents/platform/models.lock", {"ref": ["abc123"]})
    assert request.headers["Accept"] == "application/vnd.github.raw+json"


def test_read_file_that_does_not_exist_is_file_missing(server: FakeGitHub) -> None:
    with pytest.raises(FileMissing, match=f"models.lock not found at abc123 in {REPOSITORY}"):
        client(server).read_file("models.lock", "abc123")


def test_read_file_that_is_not_utf8_text_says_which_file_and_how_to_fix_it(server: FakeGitHub) -> None:
    server.files[("models.lock", "abc123")] = b"lockVersion: 1\nmodels: {}\n\xff\xfe"

    with pytest.raises(FileNotText) as error:
        client(server).read_file("models.lock", "abc123")

    assert str(error.value) == (
        f"models.lock at abc123 in {REPOSITORY} is not UTF-8 text (byte 0xff at offset 26);"
        " commit it as UTF-8, as kserve-gitops writes it"
    )


def test_netrc_credentials_never_replace_the_token(
    server: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password other-secret\n")
    monkeypatch.setenv("NETRC", str(netrc))

    client(server).dispatch("mlflow-model-promoted", {"model": "Wine"})

    assert server.dispatches()[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_unreachable_github_is_a_github_error_without_status() -> None:
    with fake_github() as gone:
        url = gone.url
    github = WebhookGitHub(GitHubApi(REPOSITORY, TOKEN, api_url=url, settings=HttpSettings(retries=0)))

    with pytest.raises(GitHubError) as error:
        github.dispatch("mlflow-model-promoted", {"model": "Wine"})

    assert error.value.status is None
    assert f"POST {url}/repos/{REPOSITORY}/dispatches: [Errno 111] Connection refused" in str(error.value)


@pytest.mark.parametrize(
    ("retry_after", "deadline", "state"),
    [("120", 3.0, "failed"), ("60", 600.0, "pending")],
    ids=["past the dispatch deadline", "within it"],
)
def test_the_dispatcher_does_not_send_again_before_githubs_rate_limit_says(
    server: FakeGitHub, tmp_path: Path, retry_after: str, deadline: float, state: str
) -> None:
    """A Retry-After longer than the HTTP door waits (KSERVE_GITOPS_HTTP_RETRY_AFTER_MAX) comes back at once; the
    dispatcher must then wait at least that long (GitHub: "do not retry until after that many seconds"), or give the
    delivery up when that is past its deadline, not send it again after its own 1, 2, 4 … s pause."""
    server.failures, server.failure_headers = [403] * 50, {"Retry-After": retry_after}
    journal = Journal(tmp_path / "journal", 600)
    dispatcher = Dispatcher(client(server), journal, deadline=deadline, first_pause=0.05)
    assert journal.claim("d-1", {"model": "Wine"}) == "new"
    dispatcher.start()
    try:
        time.sleep(1.5)
    finally:
        dispatcher.stop()

    assert len(server.dispatches()) == 1
    entry = journal.entry("d-1")
    assert entry is not None
    assert entry.state == state
