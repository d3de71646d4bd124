"""⚡ The one door to GitHub's REST API, shared by `propose` and the webhook service.

Every call goes through the HTTP door (`generator.util.http`), so it has the same
timeouts, deadline, body cap and bounded retries as any other outbound call. Bodies
follow GitHub's OpenAPI description (e.g. `{"labels": [...]}` to add labels).
The base URL is https://api.github.com, https://HOST/api/v3 for GitHub Enterprise
Server, or a local server in tests. The token goes in a header through an auth hook,
so a ~/.netrc can never replace it and requests drops it on a redirect to another
host; it is never part of a message. Writes are spaced `write_pause` seconds apart,
as GitHub asks of integrations to stay clear of its secondary rate limits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from generator.github import DEFAULT_API_URL
from generator.redact import redact
from generator.util.http import Http, HttpSettings, Reply, Retry

API_VERSION = "2022-11-28"
MAX_PAGES = 50  # of 100 items each: far more comments than a bot's pull request collects


class NotGitHub(ValueError):
    """An answer GitHub's API never gives: not JSON (the HTML page of a proxy or a web host), JSON nested deeper
    than it can be read, or JSON of another shape."""


def parsed(reply: Reply) -> Any:
    """The answer's JSON; NotGitHub when it is not JSON or is nested too deeply to read (RecursionError)."""
    try:
        return reply.json()
    except RecursionError:
        raise NotGitHub("JSON nested too deeply to read") from None
    except ValueError:
        raise NotGitHub("not JSON") from None


class _Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


class GitHubApi:
    """One repository, `OWNER/NAME`; paths are relative to /repos/OWNER/NAME.

    Transport failures raise `HttpFailure` (exit 2); any answer, whatever its status, is returned.
    """

    def __init__(
        self,
        repository: str,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        settings: HttpSettings | None = None,
        write_pause: float = 1.0,
    ) -> None:
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        self._base = f"{self.api_url}/repos/{repository}"
        self._http = Http(
            settings or HttpSettings.from_env(),
            auth=_Bearer(token),
            headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION},
        )
        self._write_pause = write_pause
        self._last_write = float("-inf")
        self._writes = threading.Lock()

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        accept: str = "",
        retry: Retry | None = None,
    ) -> Reply:
        """`retry` defaults to "all" for methods GitHub treats as idempotent, and to "connect" for POST."""
        headers = {"Accept": accept} if accept else None
        chosen: Retry = retry or ("connect" if method == "POST" else "all")
        if method == "GET":
            return self._http.request(method, self._base + path, retry=chosen, params=params, headers=headers)
        with self._writes:
            time.sleep(max(0.0, self._last_write + self._write_pause - time.monotonic()))
            try:
                return self._http.request(
                    method, self._base + path, retry=chosen, params=params, json=json, headers=headers
                )
            finally:
                self._last_write = time.monotonic()

    def items(self, path: str, params: Mapping[str, str] | None = None) -> tuple[Reply, list[Any]]:
        """Every item of a listing, following the Link header's `next` (100 per page, at most MAX_PAGES pages).

        A `next` is followed wherever it points on the API's own origin (api.github.com points page 2 on at
        /repositories/<id>/…, not /repos/OWNER/NAME/…), and nowhere else: the token goes with it.
        Returns the first answer that was not 200, with the items read so far, or the last page.
        NotGitHub when a page is not a JSON list."""
        found: list[Any] = []
        reply = self.call("GET", path, params={"per_page": "100", **(params or {})})
        for _ in range(MAX_PAGES):
            if reply.status != 200:
                break
            page = parsed(reply)
            if not isinstance(page, list):
                raise NotGitHub("a listing that is not a JSON list")
            found += page
            following = reply.links.get("next", "")
            if not following or _origin(following) != _origin(self.api_url):
                break
            reply = self._http.request("GET", following)
        return reply, found


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port (the scheme's own when absent), as a browser compares origins."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:  # not a port number: matches nothing
        return scheme, "", -1
    return scheme, (parts.hostname or "").lower(), port


def message(reply: Reply) -> str:
    """GitHub's `message` and each `errors[].message` ("Validation Failed: A pull request already exists …"), its
    first 300 characters. Redacted before it is cut, and well past the cut: a token the cut split would show its head
    (the generous read keeps redacting bounded on a huge answer)."""
    try:
        data: Any = parsed(reply)
    except NotGitHub:
        return redact(" ".join(reply.text[:_READ].split()))[:300]
    data = data if isinstance(data, dict) else {}
    details = [e.get("message", "") for e in data.get("errors", []) if isinstance(e, dict)]
    return redact(": ".join(str(m) for m in [data.get("message", ""), *details] if m)[:_READ])[:300]


_READ = 4000  # characters of an answer's words redacted, of which `message` shows 300


def refusal(reply: Reply, what: str, repository: str) -> str:
    said = message(reply)
    return f"GitHub answered {reply.status} while {what} in {repository}" + (f": {said}" if said else "")
