"""⚡ The service's view of GitHub: send a repository_dispatch, read a file at a commit.

Both go through `generator.github.GitHubApi`, the client `propose` uses, and so
through the HTTP door: connection errors, 429 and 5xx are retried within one call's
deadline (`KSERVE_GITOPS_HTTP_DEADLINE`), and so is a 403 that is GitHub's rate limit
(`generator.util.http.rate_limited`). A dispatch GitHub did receive but answered
5xx may thus arrive twice; the promotion workflow is idempotent (a second run finds
nothing to change). The relay answers MLflow before dispatching (`relay.py`), so none
of this waiting counts against MLflow's 30 s.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from generator.github import DEFAULT_API_URL
from generator.github.api import GitHubApi, message
from generator.redact import redact
from generator.util.http import HttpFailure, Reply

__all__ = ["DEFAULT_API_URL", "FileMissing", "FileNotText", "GitHubError", "WebhookGitHub"]


class GitHubError(Exception):
    """GitHub refused the request or could not be reached (`status` None: no answer).

    `lasting`: a refusal that the same request would meet again (bad token, no permission, unknown repository).
    What the HTTP door gave up retrying (`retried`) never is, whatever its last status: a 429, a rate-limited 403
    or a 5xx passes.
    """

    def __init__(
        self, message: str, status: int | None = None, *, retried: bool = False, retry_after: float = 0.0
    ) -> None:
        super().__init__(redact(message))
        self.status = status
        self.retry_after = retry_after  # seconds GitHub asked to wait before the next try (0: it did not say)
        self.lasting = not retried and status is not None and 400 <= status < 500 and status != 429


class FileMissing(GitHubError):
    """The file does not exist at that commit (or the token may not read the repository)."""


class FileNotText(Exception):
    """The file exists at that commit but is not UTF-8 text: nothing the caller can read, and no retry changes it."""


class WebhookGitHub:
    """One repository on github.com or a GitHub Enterprise Server (`api_url` …/api/v3)."""

    def __init__(self, api: GitHubApi) -> None:
        self.repository = api.repository
        self._api = api

    def dispatch(self, event_type: str, client_payload: Mapping[str, str | None]) -> None:
        """POST /repos/{repo}/dispatches; GitHub answers 204 and starts the workflows listening to `event_type`."""
        body = {"event_type": event_type, "client_payload": dict(client_payload)}
        reply = self._call("POST", "/dispatches", json=body, retry="all")
        if reply.status != 204:
            raise GitHubError(_refusal(reply, "repository_dispatch"), reply.status)

    def read_file(self, path: str, ref: str) -> str:
        """The file's text at commit `ref`, through the contents API's raw media type; FileNotText when it is not
        UTF-8 (someone committed a binary or another encoding under that name)."""
        reply = self._call(
            "GET", f"/contents/{quote(path)}", params={"ref": ref}, accept="application/vnd.github.raw+json"
        )
        if reply.status == 404:
            raise FileMissing(f"{path} not found at {ref} in {self.repository}", 404)
        if reply.status != 200:
            raise GitHubError(_refusal(reply, f"reading {path} at {ref}"), reply.status)
        try:
            return reply.content.decode("utf-8")
        except UnicodeDecodeError as e:
            raise FileNotText(
                f"{path} at {ref} in {self.repository} is not UTF-8 text (byte {reply.content[e.start]:#04x}"
                f" at offset {e.start}); commit it as UTF-8, as kserve-gitops writes it"
            ) from None

    def _call(self, method: str, path: str, **kwargs: object) -> Reply:
        try:
            return self._api.call(method, path, **kwargs)  # type: ignore[arg-type]
        except HttpFailure as exc:
            raise GitHubError(
                str(exc.diagnostics[0].message), exc.status, retried=True, retry_after=exc.retry_after
            ) from None


def _refusal(reply: Reply, what: str) -> str:
    """GitHub's own message ("Bad credentials", "Resource not accessible by personal access token")."""
    said = message(reply)
    return f"GitHub answered {reply.status} to {what} in {redact(reply.url)}" + (f": {said}" if said else "")
