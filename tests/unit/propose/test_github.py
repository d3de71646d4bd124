"""The GitHub adapter against the local GitHub server: GitHub's answers become the errors and values propose uses."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

import pytest

from generator.errors import ProposeDenied, ProposeError
from generator.github.api import GitHubApi, message
from generator.propose.github import ProposeGitHub
from generator.propose.publish import PullRequest, PullRequestExists
from generator.util.http import Http, HttpSettings, Reply
from tests.support.faults import Fault, faulty
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


NOT_JSON = {  # answers GitHub's API never sends, whatever their status
    "an HTML page": b"<html><body>Service temporarily in maintenance</body></html>",
    "JSON nested deeper than can be read": b"[" * 200_000 + b"]" * 200_000,
}
LISTINGS: dict[str, Callable[[ProposeGitHub], object]] = {
    "comments": lambda hub: hub.comments(1),
    "pull requests": lambda hub: hub.find(BRANCH),
}
CALLS = {**LISTINGS, "edit": lambda hub: hub.edit(1, title="t", body="b")}


@pytest.mark.parametrize("body", NOT_JSON.values(), ids=NOT_JSON.keys())
@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_a_200_that_is_not_json_exits_2_naming_the_server(body: bytes, call: Callable[[ProposeGitHub], object]) -> None:
    with faulty(Fault("status", status=200, body=body)) as url:
        hub = ProposeGitHub(GitHubApi("acme/platform", WRITE_TOKEN, api_url=url, write_pause=0))
        with pytest.raises(ProposeDenied, match=r"answered .* with what GitHub's API never sends") as refused:
            call(hub)
    assert f"the server at {url} answered" in str(refused.value)
    assert refused.value.exit_code == 2


@pytest.mark.parametrize("call", LISTINGS.values(), ids=LISTINGS.keys())
def test_a_listing_that_is_not_a_list_exits_2(call: Callable[[ProposeGitHub], object]) -> None:
    with faulty(Fault("status", status=200, body=b'{"message": "hello"}')) as url:
        hub = ProposeGitHub(GitHubApi("acme/platform", WRITE_TOKEN, api_url=url))
        with pytest.raises(ProposeDenied, match=r"with what GitHub's API never sends: .*not a .*list"):
            call(hub)


@pytest.mark.parametrize("number", [b"1e999", b'"one"', b"null", b"[1]"])
def test_a_pull_request_whose_number_is_no_integer_exits_2(number: bytes) -> None:
    """pulls-list gives each pull request's number as an integer; 1e999 reads as infinity, which int() cannot take."""
    with faulty(Fault("status", status=200, body=b'[{"number": ' + number + b"}]")) as url:
        hub = ProposeGitHub(GitHubApi("acme/platform", WRITE_TOKEN, api_url=url))
        with pytest.raises(ProposeDenied, match=r"with what GitHub's API never sends: a pull request without a number"):
            hub.find(BRANCH)


@pytest.mark.parametrize("body", NOT_JSON.values(), ids=NOT_JSON.keys())
def test_a_refusal_that_is_not_json_is_quoted_as_text(body: bytes) -> None:
    with faulty(Fault("status", status=422, body=body)) as url:
        hub = ProposeGitHub(GitHubApi("acme/platform", WRITE_TOKEN, api_url=url, write_pause=0))
        with pytest.raises(ProposeError, match="GitHub answered 422 while opening a pull request") as refused:
            hub.open(BRANCH, "main", "title", "body")
    assert body[:40].decode() in str(refused.value)
    assert refused.value.exit_code == 1


def test_a_secondary_rate_limit_on_a_retryable_call_is_waited_out(fake: FakeGitHub) -> None:
    hub = ProposeGitHub(GitHubApi("acme/platform", WRITE_TOKEN, api_url=fake.url, write_pause=0))
    hub.open(BRANCH, "main", "title", "body")
    fake.rate_limit("POST", r"/issues/1/labels")

    hub.label(1, add=["promotion"], remove=[])

    assert [r.path for r in fake.writes()][-2:] == ["/repos/acme/platform/issues/1/labels"] * 2
    assert fake.pulls[1].labels == ["promotion"]


def test_a_secondary_rate_limit_on_a_post_is_waited_out_and_opens_one_pull_request(fake: FakeGitHub) -> None:
    """GitHub refuses a rate-limited request without acting on it: sending the POST again cannot open two."""
    hub = ProposeGitHub(GitHubApi("acme/platform", WRITE_TOKEN, api_url=fake.url, write_pause=0))
    fake.rate_limit("POST", r"/pulls", retry_after=0)

    hub.open(BRANCH, "main", "title", "body")

    assert [r.path for r in fake.writes()] == ["/repos/acme/platform/pulls"] * 2
    assert list(fake.pulls) == [1]


def test_a_secondary_rate_limit_outlasting_the_retries_is_not_blamed_on_the_token(fake: FakeGitHub) -> None:
    hub = ProposeGitHub(GitHubApi("acme/platform", WRITE_TOKEN, api_url=fake.url, write_pause=0))
    fake.rate_limit("POST", r"/pulls", retry_after=0, times=10)

    with pytest.raises(ProposeDenied, match="GitHub's rate limit held while opening a pull request") as refused:
        hub.open(BRANCH, "main", "title", "body")

    assert "HTTP 403 Forbidden (4 attempts; KSERVE_GITOPS_HTTP_RETRIES=3)" in str(refused.value)
    assert "run propose again in a few minutes (the rate limit passes" in str(refused.value)
    assert "GITHUB_API_URL" not in str(refused.value)
    assert "the token needs" not in str(refused.value)
    assert refused.value.exit_code == 2
    assert fake.pulls == {}


def test_a_rate_limit_asking_for_longer_than_is_waited_says_when_to_run_again(fake: FakeGitHub) -> None:
    hub = ProposeGitHub(GitHubApi("acme/platform", WRITE_TOKEN, api_url=fake.url, write_pause=0))
    fake.rate_limit("POST", r"/pulls", retry_after=2400)

    with pytest.raises(ProposeDenied, match="GitHub's rate limit held while opening a pull request") as refused:
        hub.open(BRANCH, "main", "title", "body")

    assert re.search(r"asking to retry after 2400 s \(at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)", str(refused.value))
    assert "run propose again once the time above has passed (the rate limit passes" in str(refused.value)
    assert refused.value.exit_code == 2
    assert fake.pulls == {}


def test_comments_are_read_page_after_page_where_githubs_links_point(fake: FakeGitHub) -> None:
    hub = ProposeGitHub(GitHubApi("acme/platform", WRITE_TOKEN, api_url=fake.url, write_pause=0))
    hub.open(BRANCH, "main", "title", "body")
    fake.pulls[1].comments = [f"comment {n}" for n in range(101)]

    assert hub.comments(1) == fake.pulls[1].comments
    assert [r.path for r in fake.requests][-2:] == [
        "/repos/acme/platform/issues/1/comments",
        f"/repositories/{fake.id}/issues/1/comments",
    ]


def test_a_next_link_to_another_origin_is_not_followed_with_the_token() -> None:
    elsewhere = Fault("status", status=200, body=[])
    with faulty(elsewhere) as other:
        link = f'<{other}/repositories/1/issues/1/comments?page=2>; rel="next"'
        with faulty(Fault("status", status=200, headers={"Link": link}, body=[{"body": "first"}])) as url:
            hub = ProposeGitHub(GitHubApi("acme/platform", WRITE_TOKEN, api_url=url))
            assert hub.comments(1) == ["first"]
    assert elsewhere.requests == [], "another port of the same host is another origin"


@pytest.mark.parametrize("as_json", [True, False])
def test_github_s_words_are_redacted_before_they_are_cut(as_json: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token the 300-character cut splits is not shown in part (GitHub echoing the token it refused)."""
    token = "0123456789abcdef0123456789abcdef01234567"
    monkeypatch.setenv("GITHUB_TOKEN", token)
    said = "x" * 280 + f" token {token} expired"
    body = json.dumps({"message": said}) if as_json else said
    reply = Reply(
        401,
        "Unauthorized",
        {"content-type": "application/json" if as_json else "text/plain"},
        body.encode(),
        "https://api.github.com/repos/o/r",
        {},
    )
    shown = message(reply)
    assert shown == "x" * 280 + " token *** expired"


WRITES_NOT_REPEATED: dict[str, tuple[str, str, Callable[[ProposeGitHub], object]]] = {
    "open": ("POST", r"/pulls", lambda hub: hub.open(BRANCH, "main", "title", "body")),
    "comment": ("POST", r"/issues/1/comments", lambda hub: hub.comment(1, "hello")),
}


@pytest.mark.parametrize(("method", "path", "call"), WRITES_NOT_REPEATED.values(), ids=WRITES_NOT_REPEATED.keys())
def test_github_down_on_a_write_that_is_not_repeated_exits_2_saying_to_run_again(
    fake: FakeGitHub, method: str, path: str, call: Callable[[ProposeGitHub], object]
) -> None:
    """A 5xx on a POST is not retried (GitHub may have acted); it is still GitHub being down, as on any other call:
    exit 2 with what to do, not exit 1 (invalid input) with no hint."""
    hub = ProposeGitHub(GitHubApi("acme/platform", WRITE_TOKEN, api_url=fake.url, write_pause=0))
    if path != r"/pulls":  # commenting needs a pull request
        hub.open(BRANCH, "main", "title", "body")
    fake.fail(method, path)

    with pytest.raises(ProposeDenied, match="GitHub answered 502 while") as down:
        call(hub)

    assert down.value.exit_code == 2
    assert "run propose again" in str(down.value)
