"""A local stand-in for the part of GitHub's REST API that `propose` calls, served on loopback.

Stdlib `ThreadingHTTPServer`, state in memory behind one lock. Paths, status codes and
payloads follow docs.github.com/rest (pulls; issues labels and comments):

- no or unknown token → 401 `Bad credentials`; a read-only token writing → 403
  `Resource not accessible by integration`; another repository → 404 `Not Found`;
- a second open pull request from the same branch → 422 `Validation Failed` with
  `A pull request already exists for owner:branch.`; a head branch the git remote
  lacks → 422 (when the fake is given the bare repository to look in);
- adding labels (`{"labels": [...]}`, the only body GitHub's OpenAPI description documents; a
  bare array is refused with 422) creates them; removing a label the issue lacks → 404 `Label does not exist`;
- listings come in pages (`per_page`, 30 by default, at most 100; `page`), with a `Link` header whose
  `next` and `last` point, as api.github.com's do, at /repositories/<id>/… rather than /repos/OWNER/NAME/…;
  those paths are served too;
- trouble, on demand, for matching requests, which then change nothing: an outage (`fail`) is answered
  502 `Server Error`, as GitHub answers while it is down; a secondary rate limit (`rate_limit`) 403 with
  `Retry-After` and GitHub's message (docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api).

Every request is recorded, so a test can check that a run wrote nothing.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

WRITE_TOKEN = "ghs_fake-write-token-0123456789"
READ_TOKEN = "ghs_fake-read-token-0123456789"
_DOCS = "https://docs.github.com/rest"
Answer = tuple[int, Any]
SECONDARY_RATE_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out "
    "to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000."
)


@dataclass
class Pull:
    number: int
    head: str
    base: str
    title: str
    body: str
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


@dataclass
class Trouble:
    """How GitHub answers `method` requests (any: "") to paths under /repos/OWNER/NAME matching `path` (any: ""):
    `times` more of them (None: every one) get `status`, `payload` and `headers` instead of being served."""

    method: str
    path: str
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = None

    def claims(self, method: str, path: str) -> bool:
        """Whether this request is one of ours; counts it."""
        if self.times == 0 or self.method not in ("", method) or not re.fullmatch(self.path or ".*", path):
            return False
        self.times = None if self.times is None else self.times - 1
        return True


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: Any


class FakeGitHub:
    """`repository` is OWNER/NAME; `git_dir` the bare remote whose branches pull requests come from."""

    def __init__(self, repository: str, *, git_dir: Path | None = None) -> None:
        self.repository = repository
        self.owner = repository.split("/", maxsplit=1)[0]
        self.id = 4242  # the repository's id, in the /repositories/<id>/… paths of GitHub's Link headers
        self.git_dir = git_dir
        self.pulls: dict[int, Pull] = {}
        self.requests: list[Request] = []
        self.tokens = {WRITE_TOKEN: "write", READ_TOKEN: "read"}
        self.troubles: list[Trouble] = []
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method != "GET"]

    def open_pulls(self) -> list[Pull]:
        return [p for p in self.pulls.values() if p.state == "open"]

    def fail(self, method: str = "", path: str = "") -> None:
        """GitHub is down for these requests from now on (`Trouble`)."""
        with self._lock:
            self.troubles.append(Trouble(method, path, 502, {"message": "Server Error"}))

    def rate_limit(self, method: str = "", path: str = "", *, retry_after: int = 1, times: int = 1) -> None:
        """GitHub's secondary rate limit for the next `times` of these requests (`Trouble`)."""
        payload = {"message": SECONDARY_RATE_LIMIT, "documentation_url": _DOCS, "status": "403"}
        with self._lock:
            self.troubles.append(Trouble(method, path, 403, payload, {"Retry-After": str(retry_after)}, times))

    @contextmanager
    def running(self) -> Iterator[FakeGitHub]:
        thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join()

    def answer(self, method: str, target: str, token: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        """Route one request; the whole state change happens under the lock, as one request does on GitHub.
        Returns the status, the JSON payload and the headers beyond the usual ones."""
        parts = urlsplit(target)
        path = re.sub(rf"^/repositories/{self.id}(?=/)", f"/repos/{self.repository}", parts.path)
        query = parse_qs(parts.query)
        with self._lock:
            self.requests.append(Request(method, parts.path, body))
            relative = path.removeprefix(f"/repos/{self.repository}")
            trouble = next((t for t in self.troubles if t.claims(method, relative)), None)
            if trouble is not None:
                return trouble.status, trouble.payload, trouble.headers
            status, payload = self._served(method, path, query, token, body)
            if method == "GET" and status == 200 and isinstance(payload, list):
                return self._page(payload, relative, query)
            return status, payload, {}

    def _page(self, items: list[Any], relative: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        """One page of a listing, with GitHub's Link header to the next and the last."""
        size = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        last = max(1, -(-len(items) // size))

        def link(number: int) -> str:
            params = {k: v[0] for k, v in query.items()} | {"per_page": str(size), "page": str(number)}
            return f"<{self.url}/repositories/{self.id}{relative}?{urlencode(params)}>"

        links = [f'{link(page + 1)}; rel="next"', f'{link(last)}; rel="last"'] if page < last else []
        return 200, items[(page - 1) * size : page * size], {"Link": ", ".join(links)} if links else {}

    def _served(self, method: str, path: str, query: dict[str, list[str]], token: str, body: Any) -> Answer:
        """What GitHub answers when nothing is in the way."""
        access = self.tokens.get(token)
        if access is None:
            return 401, {"message": "Bad credentials", "documentation_url": _DOCS, "status": "401"}
        prefix = f"/repos/{self.repository}"
        if not path.startswith(prefix + "/"):
            return 404, {"message": "Not Found", "documentation_url": _DOCS, "status": "404"}
        if method != "GET" and access != "write":
            return 403, {
                "message": "Resource not accessible by integration",
                "documentation_url": _DOCS,
                "status": "403",
            }
        return self._route(method, path.removeprefix(prefix), query, body)

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        for pattern, verb, action in self._routes():
            match = re.fullmatch(pattern, path)
            if match and verb == method:
                return action(*match.groups(), query=query, body=body)  # type: ignore[no-any-return]
        return 404, {"message": "Not Found", "documentation_url": _DOCS, "status": "404"}

    def _routes(self) -> list[tuple[str, str, Any]]:
        return [
            (r"/pulls", "GET", self._list),
            (r"/pulls", "POST", self._create),
            (r"/pulls/(\d+)", "GET", self._get),
            (r"/pulls/(\d+)", "PATCH", self._edit),
            (r"/issues/(\d+)/labels", "POST", self._add_labels),
            (r"/issues/(\d+)/labels/([^/]+)", "DELETE", self._remove_label),
            (r"/issues/(\d+)/comments", "GET", self._comments),
            (r"/issues/(\d+)/comments", "POST", self._comment),
        ]

    def _list(self, *, query: dict[str, list[str]], body: Any) -> Answer:
        state = query.get("state", ["open"])[0]
        head = query.get("head", [""])[0]
        found = [
            p
            for p in sorted(self.pulls.values(), key=lambda p: -p.number)
            if state in ("all", p.state) and (not head or head == f"{self.owner}:{p.head}")
        ]
        return 200, [self._pull_json(p) for p in found]

    def _create(self, *, query: dict[str, list[str]], body: Any) -> Answer:
        missing = [k for k in ("title", "head", "base") if not body.get(k)]
        if missing:
            return _invalid({"resource": "PullRequest", "field": missing[0], "code": "missing_field"})
        head = body["head"].split(":")[-1]
        if any(p.head == head and p.state == "open" for p in self.pulls.values()):
            return _invalid(
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"A pull request already exists for {self.owner}:{head}.",
                }
            )
        if self.git_dir is not None and self._sha(head) is None:
            return _invalid({"resource": "PullRequest", "field": "head", "code": "invalid"})
        pull = Pull(next(self._numbers), head, body["base"], body["title"], body.get("body") or "")
        self.pulls[pull.number] = pull
        return 201, self._pull_json(pull)

    def _get(self, number: str, *, query: dict[str, list[str]], body: Any) -> Answer:
        pull = self.pulls.get(int(number))
        return (200, self._pull_json(pull)) if pull else _not_found()

    def _edit(self, number: str, *, query: dict[str, list[str]], body: Any) -> Answer:
        pull = self.pulls.get(int(number))
        if pull is None:
            return _not_found()
        pull.title = body.get("title", pull.title)
        pull.body = body.get("body", pull.body)
        pull.state = body.get("state", pull.state)
        return 200, self._pull_json(pull)

    def _add_labels(self, number: str, *, query: dict[str, list[str]], body: Any) -> Answer:
        pull = self.pulls.get(int(number))
        if pull is None:
            return _not_found()
        if not isinstance(body, dict) or not isinstance(body.get("labels"), list):
            return _invalid(
                {
                    "resource": "Issue",
                    "field": "labels",
                    "code": "invalid",
                    "message": 'the body must be {"labels": [...]} (GitHub\'s OpenAPI description)',
                }
            )
        names = body["labels"]
        pull.labels += [n for n in names if n not in pull.labels]
        return 200, [self._label_json(n) for n in pull.labels]

    def _remove_label(self, number: str, name: str, *, query: dict[str, list[str]], body: Any) -> Answer:
        pull = self.pulls.get(int(number))
        label = unquote(name)
        if pull is None or label not in pull.labels:
            return 404, {"message": "Label does not exist", "documentation_url": _DOCS, "status": "404"}
        pull.labels.remove(label)
        return 200, [self._label_json(n) for n in pull.labels]

    def _comments(self, number: str, *, query: dict[str, list[str]], body: Any) -> Answer:
        pull = self.pulls.get(int(number))
        if pull is None:
            return _not_found()
        return 200, [self._comment_json(int(number), i, text) for i, text in enumerate(pull.comments, 1)]

    def _comment(self, number: str, *, query: dict[str, list[str]], body: Any) -> Answer:
        pull = self.pulls.get(int(number))
        if pull is None:
            return _not_found()
        pull.comments.append(body["body"])
        return 201, self._comment_json(pull.number, len(pull.comments), body["body"])

    def _sha(self, branch: str) -> str | None:
        assert self.git_dir is not None
        done = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), "rev-parse", "--verify", "-q", f"refs/heads/{branch}"],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() or None

    def _pull_json(self, pull: Pull) -> dict[str, Any]:
        api = f"{self.url}/repos/{self.repository}"
        return {
            "url": f"{api}/pulls/{pull.number}",
            "id": pull.number,
            "node_id": f"PR_{pull.number}",
            "html_url": f"{self.url}/{self.repository}/pull/{pull.number}",
            "issue_url": f"{api}/issues/{pull.number}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "body": pull.body,
            "draft": False,
            "merged": False,
            "user": {"login": "kserve-gitops[bot]", "type": "Bot"},
            "labels": [self._label_json(n) for n in pull.labels],
            "head": {
                "label": f"{self.owner}:{pull.head}",
                "ref": pull.head,
                "sha": self._sha(pull.head) if self.git_dir else None,
            },
            "base": {"label": f"{self.owner}:{pull.base}", "ref": pull.base},
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }

    def _label_json(self, name: str) -> dict[str, Any]:
        return {
            "id": abs(hash(name)) % 10**9,
            "node_id": f"LA_{name}",
            "name": name,
            "color": "ededed",
            "default": False,
            "description": None,
            "url": f"{self.url}/repos/{self.repository}/labels/{name}",
        }

    def _comment_json(self, number: int, index: int, text: str) -> dict[str, Any]:
        return {
            "id": number * 1000 + index,
            "node_id": f"IC_{number}_{index}",
            "body": text,
            "url": f"{self.url}/repos/{self.repository}/issues/comments/{number * 1000 + index}",
            "html_url": f"{self.url}/{self.repository}/pull/{number}#issuecomment-{number * 1000 + index}",
            "user": {"login": "kserve-gitops[bot]", "type": "Bot"},
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }


def _invalid(error: dict[str, str]) -> Answer:
    return 422, {"message": "Validation Failed", "errors": [error], "documentation_url": _DOCS, "status": "422"}


def _not_found() -> Answer:
    return 404, {"message": "Not Found", "documentation_url": _DOCS, "status": "404"}


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            token = (self.headers.get("Authorization") or "").partition(" ")[2]
            status, payload, headers = fake.answer(self.command, self.path, token, json.loads(raw) if raw else None)
            data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest shows failures; the request log is `fake.requests`."""

    return Handler
