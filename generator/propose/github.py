"""⚡ propose's view of GitHub: find, open, edit, label, comment on and close the bot's pull requests.

Every request goes through `generator.github.GitHubApi`, the client the webhook
service uses too, and so through the HTTP door with its deadline and bounded
retries. Bodies are the ones GitHub's OpenAPI description documents (labels are
added with `{"labels": [...]}`). The token never appears in a message.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from generator.errors import ProposeDenied, ProposeError, UserError
from generator.github.api import GitHubApi, NotGitHub, message, parsed, refusal
from generator.propose.publish import PullRequest, PullRequestExists
from generator.redact import redact
from generator.util.http import HttpFailure, Reply

READ = "pull-requests: read"
WRITE = "pull-requests: write"
_ALREADY_EXISTS = "a pull request already exists"


class _Refused(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class ProposeGitHub:
    """One repository, `OWNER/NAME`."""

    def __init__(self, api: GitHubApi) -> None:
        owner, _, name = api.repository.partition("/")
        if not owner or not name or "/" in name:
            raise ProposeDenied.simple(f"not a repository: {api.repository!r}", hint="set GITHUB_REPOSITORY=OWNER/NAME")
        self.repository = api.repository
        self._owner = owner
        self._api = api

    def find(self, branch: str) -> PullRequest | None:
        """The open pull request from `branch`, if any."""
        with self._answers(f"listing the pull requests of {branch}", READ):
            found = _ok(self._api.call("GET", "/pulls", params={"state": "open", "head": f"{self._owner}:{branch}"}))
            if not isinstance(found, list):
                raise NotGitHub("not a list of pull requests")
            return _view(found[0]) if found else None

    def open(self, branch: str, base: str, title: str, body: str) -> PullRequest:
        """Raises PullRequestExists when one is already open from `branch`."""
        with self._answers(f"opening a pull request from {branch}", WRITE):
            reply = self._api.call("POST", "/pulls", json={"base": base, "head": branch, "title": title, "body": body})
            if reply.status == 422 and _ALREADY_EXISTS in message(reply).lower():
                raise PullRequestExists(branch)
            return _view(_ok(reply))

    def edit(self, number: int, *, title: str, body: str) -> None:
        with self._answers(f"editing pull request #{number}", WRITE):
            _ok(self._api.call("PATCH", f"/pulls/{number}", json={"title": title, "body": body}))

    def label(self, number: int, *, add: Sequence[str], remove: Sequence[str]) -> None:
        """Adding a label the repository lacks creates it; removing one the pull request lacks is a no-op."""
        with self._answers(f"labelling pull request #{number}", WRITE):
            if add:  # adding labels twice leaves the same labels: safe to retry
                _ok(self._api.call("POST", f"/issues/{number}/labels", json={"labels": list(add)}, retry="all"))
            for name in remove:
                reply = self._api.call("DELETE", f"/issues/{number}/labels/{quote(name, safe='')}")
                if reply.status != 404:
                    _ok(reply)

    def comments(self, number: int) -> list[str]:
        with self._answers(f"reading the comments of #{number}", READ):
            reply, found = self._api.items(f"/issues/{number}/comments")
            _ok(reply)
            return [str(c.get("body") or "") for c in found if isinstance(c, dict)]

    def comment(self, number: int, text: str) -> None:
        with self._answers(f"commenting on #{number}", WRITE):
            _ok(self._api.call("POST", f"/issues/{number}/comments", json={"body": text}))

    def close(self, number: int) -> None:
        with self._answers(f"closing #{number}", WRITE):
            _ok(self._api.call("PATCH", f"/pulls/{number}", json={"state": "closed"}))

    @contextmanager
    def _answers(self, what: str, permission: str) -> Iterator[None]:
        """GitHub's refusals as user errors: 401/403/404 exit 2 naming the permission, a 5xx (on a write not
        repeated) exit 2, others exit 1; no answer at all (timeout, deadline, reset, 5xx or rate limit after retries)
        exits 2, a rate limit saying so."""
        try:
            yield
        except _Refused as exc:
            raise self._refused(exc.reply, what, permission) from None
        except HttpFailure as exc:
            if exc.status in (403, 429):  # the door gives up on these only when they are GitHub's rate limit
                when = "once the time above has passed" if exc.retry_after else "in a few minutes"
                raise ProposeDenied.simple(
                    f"GitHub's rate limit held while {what}: {exc.reason}",
                    hint=f"run propose again {when} (the rate limit passes; the token is not at fault)",
                ) from None
            raise ProposeDenied.simple(
                f"cannot reach GitHub at {redact(self._api.api_url)} while {what}: {exc.reason}",
                hint="check --api-url / GITHUB_API_URL, and try again later; limits: KSERVE_GITOPS_HTTP_*",
            ) from None
        except NotGitHub as exc:
            raise ProposeDenied.simple(
                f"the server at {redact(self._api.api_url)} answered {what} with what GitHub's API never sends: {exc}",
                hint="check --api-url / GITHUB_API_URL: GitHub Enterprise's API is https://HOST/api/v3, not its web "
                "pages",
            ) from None

    def _refused(self, reply: Reply, what: str, permission: str) -> UserError:
        said = refusal(reply, what, self.repository)
        if reply.status == 401:
            return ProposeDenied.simple(said, hint="GITHUB_TOKEN is missing, expired or revoked; give it a valid token")
        if reply.status in (403, 404):
            return ProposeDenied.simple(
                said,
                hint=f"the token needs `{permission}` on {self.repository} (GitHub App or fine-grained token; "
                "`repo` scope for a classic one), and GITHUB_REPOSITORY must name the repository",
            )
        if reply.status >= 500:  # a write not repeated (GitHub may have acted on it): still GitHub being down
            return ProposeDenied.simple(
                said, hint="GitHub failed; run propose again later: it finds and finishes what this run did"
            )
        return ProposeError.simple(said)


def _ok(reply: Reply) -> Any:
    """The answer's JSON (None for an empty body); _Refused unless it is a 2xx, NotGitHub unless it is JSON."""
    if not reply.ok:
        raise _Refused(reply)
    if not reply.content.strip():
        return None
    return parsed(reply)


def _view(pull: Any) -> PullRequest:
    """A pull request as GitHub describes one (pulls-get in its OpenAPI description); NotGitHub for anything else."""
    try:
        return PullRequest(
            number=int(pull["number"]),
            url=str(pull.get("html_url") or ""),
            title=str(pull.get("title") or ""),
            body=str(pull.get("body") or ""),
            labels=tuple(str(label["name"]) for label in pull.get("labels") or []),
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):  # OverflowError: a number of 1e999
        raise NotGitHub("a pull request without a number, or a label without a name") from None
