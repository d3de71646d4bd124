"""⚡ propose's only door to GitHub's REST API (PyGithub): find, open, edit, label, comment on and close bot PRs.

The base URL is injectable: https://api.github.com, https://HOST/api/v3 for GitHub
Enterprise Server, or a local server in tests. Objects are lazy, so editing a pull
request costs one request, not a read first. PyGithub keeps GitHub's guidance for
bots: retries with backoff on 5xx and rate limits, and a pause between writes.
The token goes in a header and never into a message.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import requests
from github import Auth, Github, GithubException
from github.PullRequest import PullRequest as _GithubPull

from generator.errors import ProposeDenied, ProposeError, UserError
from generator.propose import DEFAULT_API_URL
from generator.propose.publish import PullRequest, PullRequestExists
from generator.util.redact import redact

READ = "pull-requests: read"
WRITE = "pull-requests: write"
_ALREADY_EXISTS = "a pull request already exists"


class GitHub:
    """One repository, `OWNER/NAME`."""

    def __init__(self, repository: str, token: str, *, api_url: str = DEFAULT_API_URL) -> None:
        owner, _, name = repository.partition("/")
        if not owner or not name or "/" in name:
            raise ProposeDenied.simple(f"not a repository: {repository!r}", hint="set GITHUB_REPOSITORY=OWNER/NAME")
        self.repository = repository
        self._owner = owner
        self._api_url = api_url.rstrip("/")
        self._client = Github(base_url=self._api_url, auth=Auth.Token(token), lazy=True, user_agent="kserve-gitops")
        self._repo = self._client.get_repo(repository)

    def find(self, branch: str) -> PullRequest | None:
        """The open pull request from `branch`, if any."""
        with self._answers(f"listing the pull requests of {branch}", READ):
            found = next(iter(self._repo.get_pulls(state="open", head=f"{self._owner}:{branch}")), None)
            return _view(found) if found is not None else None

    def open(self, branch: str, base: str, title: str, body: str) -> PullRequest:
        """Raises PullRequestExists when one is already open from `branch`."""
        with self._answers(f"opening a pull request from {branch}", WRITE):
            try:
                return _view(self._repo.create_pull(base=base, head=branch, title=title, body=body))
            except GithubException as exc:
                if exc.status == 422 and _ALREADY_EXISTS in _messages(exc).lower():
                    raise PullRequestExists(branch) from None
                raise

    def edit(self, number: int, *, title: str, body: str) -> None:
        with self._answers(f"editing pull request #{number}", WRITE):
            self._repo.get_pull(number).edit(title=title, body=body)

    def label(self, number: int, *, add: Sequence[str], remove: Sequence[str]) -> None:
        """Adding a label the repository lacks creates it; removing one the pull request lacks is a no-op."""
        issue = self._repo.get_issue(number)
        with self._answers(f"labelling pull request #{number}", WRITE):
            if add:
                issue.add_to_labels(*add)
            for name in remove:
                try:
                    issue.remove_from_labels(name)
                except GithubException as exc:
                    if exc.status != 404:
                        raise

    def comments(self, number: int) -> list[str]:
        with self._answers(f"reading the comments of #{number}", READ):
            return [c.body for c in self._repo.get_issue(number).get_comments()]

    def comment(self, number: int, text: str) -> None:
        with self._answers(f"commenting on #{number}", WRITE):
            self._repo.get_issue(number).create_comment(text)

    def close(self, number: int) -> None:
        with self._answers(f"closing #{number}", WRITE):
            self._repo.get_pull(number).edit(state="closed")

    @contextmanager
    def _answers(self, what: str, permission: str) -> Iterator[None]:
        """GitHub's refusals as user errors: 401/403/404 exit 2 naming the permission, others exit 1."""
        try:
            yield
        except GithubException as exc:
            raise self._refused(exc, what, permission) from None
        except requests.RequestException as exc:
            raise ProposeDenied.simple(f"cannot reach GitHub at {redact(self._api_url)} while {what}: "
                                       f"{type(exc).__name__}", hint="check --api-url / GITHUB_API_URL") from None

    def _refused(self, exc: GithubException, what: str, permission: str) -> UserError:
        said = f"GitHub answered {exc.status} while {what} in {self.repository}: {redact(_messages(exc))}"
        if exc.status == 401:
            return ProposeDenied.simple(said, hint="GITHUB_TOKEN is missing, expired or revoked; give it a valid token")
        if exc.status in (403, 404):
            return ProposeDenied.simple(
                said, hint=f"the token needs `{permission}` on {self.repository} (GitHub App or fine-grained token; "
                           "`repo` scope for a classic one), and GITHUB_REPOSITORY must name the repository")
        return ProposeError.simple(said)


def _view(pull: _GithubPull) -> PullRequest:
    return PullRequest(number=pull.number, url=pull.html_url, title=pull.title or "", body=pull.body or "",
                       labels=tuple(label.name for label in pull.labels))


def _messages(exc: GithubException) -> str:
    """GitHub's `message` and each `errors[].message` ("Validation Failed: A pull request already exists …")."""
    data: Any = exc.data if isinstance(exc.data, dict) else {}
    details = [e.get("message", "") for e in data.get("errors", []) if isinstance(e, dict)]
    return ": ".join(str(m) for m in [data.get("message", ""), *details] if m) or str(exc.status)
