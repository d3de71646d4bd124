"""The GitHub adapter against the local GitHub server: GitHub's answers become the errors and values propose uses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from generator.errors import ProposeDenied, ProposeError
from generator.github.api import GitHubApi
from generator.propose.github import ProposeGitHub
from generator.propose.publish import PullRequest, PullRequestExists
from generator.util.http import Http, HttpSettings
from tests.support.github_fake import READ_TOKEN, WRITE_TOKEN, FakeGitHub

BRANCH = "kserve-gitops/promote-staging"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub("acme/platform").running() as running:
        yield running


def test_open_find_edit_label_comment_and_close(fake: FakeGitHub) -> None:
    hub = ProposeGitHub(GitHubApi("acme/platform", WRITE_TOKEN, api_url=fake.url))
    assert hub.find(BRANCH) is None
    opened = hub.open(BRANCH, "main", "Promote wine 1 → 2 in staging", "body")
    assert (opened.number, opened.url) == (1, f"{fake.url}/acme/platform/pull/1")
    hub.edit(1, title="Promote wine 1 → 3 in staging", body="new body")
    hub.label(1, add=["promotion", "automerge"], remove=["needs-approval"])
    hub.label(1, add=[], remove=["automerge"])
    hub.comment(1, "hello")
    assert hub.find(BRANCH) == PullRequest(1, opened.url, "Promote wine 1 → 3 in staging", "new body", ("promotion",))
    assert hub.comments(1) == ["hello"]
    hub.close(1)
    assert hub.find(BRANCH) is None


def test_second_pull_request_from_the_same_branch_is_reported_as_existing(fake: FakeGitHub) -> None:
    hub = ProposeGitHub(GitHubApi("acme/platform", WRITE_TOKEN, api_url=fake.url))
    hub.open(BRANCH, "main", "title", "body")
    with pytest.raises(PullRequestExists):
        hub.open(BRANCH, "main", "title", "body")


@pytest.mark.parametrize(
    ("token", "hint"),
    [
        ("ghs_wrong", "GITHUB_TOKEN is missing, expired or revoked"),
        (READ_TOKEN, "the token needs `pull-requests: write` on acme/platform"),
    ],
)
def test_refusals_exit_2_with_the_permission_and_never_the_token(fake: FakeGitHub, token: str, hint: str) -> None:
    hub = ProposeGitHub(GitHubApi("acme/platform", token, api_url=fake.url))
    with pytest.raises(ProposeDenied) as refused:
        hub.open(BRANCH, "main", "title", "body")
    assert hint in str(refused.value)
    assert token not in str(refused.value)
    assert refused.value.exit_code == 2


def test_other_validation_errors_carry_github_words(fake: FakeGitHub) -> None:
    hub = ProposeGitHub(GitHubApi("acme/platform", WRITE_TOKEN, api_url=fake.url))
    with pytest.raises(ProposeError, match=r"GitHub answered 422 .*Validation Failed") as refused:
        hub.open(BRANCH, "main", "", "body")
    assert refused.value.exit_code == 1


def test_repository_must_be_owner_slash_name() -> None:
    with pytest.raises(ProposeDenied, match="not a repository: 'acme'"):
        ProposeGitHub(GitHubApi("acme", WRITE_TOKEN))


def test_labels_are_added_with_the_body_githubs_openapi_description_documents(fake: FakeGitHub) -> None:
    hub = ProposeGitHub(GitHubApi("acme/platform", WRITE_TOKEN, api_url=fake.url, write_pause=0))
    hub.open(BRANCH, "main", "title", "body")

    hub.label(1, add=["promotion", "staging"], remove=[])

    (added,) = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/issues/1/labels")]
    assert added.body == {"labels": ["promotion", "staging"]}
    assert fake.pulls[1].labels == ["promotion", "staging"]


def test_the_fake_refuses_a_bare_array_of_labels_as_github_documents_no_such_body(fake: FakeGitHub) -> None:
    with Http(HttpSettings(), headers={"Authorization": f"Bearer {WRITE_TOKEN}"}) as http:
        http.request(
            "POST", f"{fake.url}/repos/acme/platform/pulls", json={"title": "t", "head": BRANCH, "base": "main"}
        )
        reply = http.request("POST", f"{fake.url}/repos/acme/platform/issues/1/labels", json=["promotion"])

    assert reply.status == 422
    assert fake.pulls[1].labels == []
