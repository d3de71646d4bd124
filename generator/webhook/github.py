"""⚡ The service's only door to GitHub: send a repository_dispatch, read a file at a commit.

requests with urllib3's Retry: connection errors, 429 and 5xx are retried with short
backoff, inside the time MLflow waits for our answer (30 s by default). A dispatch
GitHub did receive but answered 5xx may thus arrive twice; the promotion workflow is
idempotent (a second run finds nothing to change), so at-least-once is safe there.
The token is sent as a header by an auth hook, so a ~/.netrc can never replace it and
requests drops it on a redirect to another host; it is never part of a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from generator.propose import DEFAULT_API_URL
from generator.util.redact import redact

API_VERSION = "2022-11-28"
RETRY = Retry(
    total=3,
    backoff_factor=0.5,
    backoff_max=4,
    status_forcelist=(429, 500, 502, 503, 504),
    allowed_methods=frozenset({"GET", "POST"}),
    respect_retry_after_header=True,
    raise_on_status=False,
)


class GitHubError(Exception):
    """GitHub refused the request or could not be reached (`status` None: no answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(redact(message))
        self.status = status


class FileMissing(GitHubError):
    """The file does not exist at that commit (or the token may not read the repository)."""


class _Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


class GitHub:
    """One repository on github.com or a GitHub Enterprise Server (`api_url` …/api/v3)."""

    def __init__(
        self, repository: str, token: str, *, api_url: str = DEFAULT_API_URL, timeout: float = 10.0,
        retry: Retry = RETRY,
    ) -> None:
        self.repository = repository
        self._base = f"{api_url.rstrip('/')}/repos/{repository}"
        self._timeout = timeout
        self._session = requests.Session()
        self._session.auth = _Bearer(token)
        self._session.headers.update({
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "kserve-gitops-webhook",
        })
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def dispatch(self, event_type: str, client_payload: Mapping[str, str | None]) -> None:
        """POST /repos/{repo}/dispatches; GitHub answers 204 and starts the workflows listening to `event_type`."""
        body = {"event_type": event_type, "client_payload": dict(client_payload)}
        response = self._request("POST", "/dispatches", json=body)
        if response.status_code != 204:
            raise GitHubError(_refusal(response, "repository_dispatch"), response.status_code)

    def read_file(self, path: str, ref: str) -> str:
        """The file's text at commit `ref`, through the contents API's raw media type."""
        response = self._request("GET", f"/contents/{quote(path)}", params={"ref": ref},
                                 headers={"Accept": "application/vnd.github.raw+json"})
        if response.status_code == 404:
            raise FileMissing(f"{path} not found at {ref} in {self.repository}", 404)
        if response.status_code != 200:
            raise GitHubError(_refusal(response, f"reading {path} at {ref}"), response.status_code)
        response.encoding = "utf-8"
        return response.text

    def _request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        url = self._base + path
        try:
            return self._session.request(method, url, timeout=self._timeout, **kwargs)  # type: ignore[arg-type]
        except requests.RequestException as e:
            raise GitHubError(f"{method} {url} failed: {type(e).__name__}: {e}") from None


def _refusal(response: requests.Response, what: str) -> str:
    """GitHub's own message ("Bad credentials", "Resource not accessible by personal access token")."""
    try:
        message = str(response.json().get("message", ""))
    except ValueError:
        message = response.text
    return f"GitHub answered {response.status_code} to {what} in {response.url}: {message[:300]}".rstrip(": ")
