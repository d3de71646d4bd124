"""⚡ The one door for outbound HTTP: GitHub, the CRD mirror, model servers (MLflow takes the same settings).

Every request made here ends, one way or another, within `deadline` seconds plus at
most one `read_timeout` (the last read that was already waiting when the clock ran
out): requests' own timeouts bound each socket operation, never a whole answer, so a
server that sends one byte every few seconds would otherwise keep us forever. The
body is therefore streamed and the clock checked after every piece, and the body is
capped at `max_body` bytes. Retries are bounded in number and by the same deadline;
a `Retry-After` longer than `retry_after_max` is not waited for but reported, with
the time to try again. Every failure is an `HttpFailure` (an EnvironmentProblem,
exit 2) whose message names the method and the URL with its credentials redacted.

All limits live in `HttpSettings`, read once from `KSERVE_GITOPS_HTTP_*` variables.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from generator import __version__
from generator.diagnostics import Diagnostic, printable
from generator.errors import EnvironmentProblem
from generator.excerpt import quoted
from generator.redact import redact
from generator.util.http_settings import (
    ENV_PREFIX,
    TOO_LARGE_HINT,
    HttpSettings,
    declared_too_large,
    env_name,
    read_too_large,
)

__all__ = ["ENV_PREFIX", "Http", "HttpFailure", "HttpSettings", "Reply", "Retry", "env_name", "rate_limited"]

RETRYABLE = frozenset({429, 500, 502, 503, 504})  # and a 403 that is a rate limit (`rate_limited`)
_QUOTED = re.compile(r"'[^']*'")  # what a library's message quotes of a URL
_GRACE = 0.25  # seconds past a read timeout before its thread counts as stuck
_PIECE = 64 * 1024  # bytes read at most per socket read; a read returns as soon as anything arrived
Retry = Literal["all", "connect"]  # idempotent: anything momentary; otherwise only what was surely never acted on


class HttpFailure(EnvironmentProblem):
    """No usable answer: unreachable, reset, timed out, past the deadline, too large, or still failing after retries.

    `reason` is the cause alone ("no answer within 10 s"), for callers that word the message themselves;
    `status` is the last HTTP status, if any answer came at all; `retry_after`, the seconds its last answer asked
    to wait before trying again (Retry-After, or a rate limit's reset; 0: it did not say).
    """

    def __init__(
        self, what: str, reason: str, hint: str = "", status: int | None = None, *, retry_after: float = 0.0
    ) -> None:
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        super().__init__(Diagnostic(message=f"{what}: {reason}", hint=hint or DEFAULT_HINT))


DEFAULT_HINT = (
    f"check that the server is up and reachable from here (HTTPS_PROXY, NO_PROXY); the limits are "
    f"{ENV_PREFIX}* (docs: README, Reliability)"
)


@dataclass(frozen=True)
class Reply:
    """A complete answer: the body is read in full (and within the limits) before a Reply exists."""

    status: int
    reason: str
    headers: Mapping[str, str]  # names in any case
    content: bytes
    url: str
    links: Mapping[str, str]  # rel → URL, from the Link header (GitHub's pagination)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.content)


class Http:
    """A requests session whose every call obeys `settings`. Use as a context manager, or call `close`.

    `auth` adds the credentials to each request (a header hook: requests drops it on a redirect to another
    host, and a ~/.netrc cannot replace it); they never appear in a message.
    """

    def __init__(
        self,
        settings: HttpSettings,
        *,
        headers: Mapping[str, str] | None = None,
        auth: requests.auth.AuthBase | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._session = requests.Session()
        self._session.headers["User-Agent"] = f"kserve-gitops/{__version__}"
        self._session.headers.update(headers or {})
        self._session.auth = auth
        self._sleep = sleep
        self._clock = clock

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        retry: Retry = "all",
        hint: str = "",
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """The answer, whatever its status, unless it is a retryable one that lasted past the retries: then, and for
        every failure to get an answer, HttpFailure with `hint`. A rate limit (429, a rate-limited 403) is retried
        under any `retry`: the server refused the request without acting on it, so even a POST is safe to send again
        (GitHub asks for exactly that: wait, then retry). A 5xx only under `retry="all"`: it may have acted."""
        what = f"{method} {redact(url)}"
        limits = self.settings
        end = self._clock() + limits.deadline
        attempt = 0
        while True:
            attempt += 1
            try:
                reply = self._attempt(method, url, end, params=params, json=json, data=data, headers=headers)
            except _Momentary as failure:
                if not (retry == "all" or failure.unsent):
                    raise HttpFailure(what, failure.reason, hint) from None
                self._pause_or_fail(what, attempt, limits.pause(attempt), end, reason=failure.reason, hint=hint)
                continue
            except _Final as failure:
                raise HttpFailure(what, failure.reason, failure.hint or hint) from None
            if not (rate_limited(reply) or (retry == "all" and reply.status in RETRYABLE)):
                return reply
            said = f"HTTP {reply.status} {reply.reason}".rstrip()
            wait = self._retry_after(what, reply, said, hint)
            self._pause_or_fail(
                what,
                attempt,
                max(wait, limits.pause(attempt)),
                end,
                reason=said,
                hint=hint,
                status=reply.status,
                retry_after=wait,
            )

    def _pause_or_fail(
        self,
        what: str,
        attempt: int,
        pause: float,
        end: float,
        *,
        reason: str,
        hint: str,
        status: int | None = None,
        retry_after: float = 0.0,
    ) -> None:
        """Sleep before the next attempt, or fail when the retries or the deadline are used up."""
        limits = self.settings
        if attempt > limits.retries:
            tries = f"{attempt} attempts" if attempt > 1 else "1 attempt"
            raise HttpFailure(
                what,
                f"{reason} ({tries}; {env_name('retries')}={limits.retries})",
                hint,
                status,
                retry_after=retry_after,
            )
        if self._clock() + pause >= end:
            raise HttpFailure(
                what,
                f"{reason}, and no time is left to try again within {limits.deadline:g} s ({env_name('deadline')})",
                hint,
                status,
                retry_after=retry_after,
            )
        self._sleep(pause)

    def _retry_after(self, what: str, reply: Reply, said: str, hint: str) -> float:
        """Seconds the server asks us to wait (0 when it does not say: no Retry-After, no exhausted rate limit);
        HttpFailure when that is over the cap."""
        wait = _retry_after_seconds(reply.headers.get("Retry-After", ""))
        if not wait and _limit_exhausted(reply):
            wait = _reset_seconds(reply.headers["x-ratelimit-reset"])
        cap = self.settings.retry_after_max
        if wait > cap:
            at = (datetime.now(UTC) + timedelta(seconds=wait)).strftime("%Y-%m-%d %H:%M:%S UTC")
            raise HttpFailure(  # the time in the reason too: callers that word their own message keep it
                what,
                f"{said}, asking to retry after {wait:.0f} s (at {at}), more than the {cap:g} s "
                f"waited for ({env_name('retry_after_max')})",
                f"try again after {at}" + (f"; {hint}" if hint else ""),
                reply.status,
                retry_after=wait,
            )
        return wait

    def _attempt(self, method: str, url: str, end: float, **kwargs: Any) -> Reply:
        remaining = end - self._clock()
        limits = self.settings
        if remaining <= 0:
            raise _Final(f"no complete answer within {limits.deadline:g} s ({env_name('deadline')})")
        answered: list[int] = []  # a redirect's answer: the request reached a server before a connection failed

        def heard(response: requests.Response, *_: Any, **__: Any) -> None:
            answered.append(response.status_code)

        try:
            response = _within(
                remaining + _GRACE,
                lambda: self._session.request(
                    method, url, stream=True, timeout=limits.timeouts(remaining), hooks={"response": heard}, **kwargs
                ),
            )
        except _Overdue:
            raise _Final(f"no complete answer within {limits.deadline:g} s ({env_name('deadline')})") from None
        except requests.ConnectTimeout:
            raise _Momentary(
                f"cannot connect within {limits.connect_timeout:g} s ({env_name('connect_timeout')})",
                unsent=not answered,
            ) from None
        except requests.ReadTimeout:
            if remaining < limits.read_timeout:  # the deadline, not the read timeout, was the limit
                raise _Final(f"no complete answer within {limits.deadline:g} s ({env_name('deadline')})") from None
            raise _Momentary(f"no answer within {limits.read_timeout:g} s ({env_name('read_timeout')})") from None
        except requests.exceptions.SSLError as exc:
            raise _Final(_tls_failed(root_cause(exc))) from None
        except requests.ConnectionError as exc:
            cause = root_cause(exc)
            raise _Momentary(cause, unsent=_never_sent(exc) and not answered) from None
        except (requests.exceptions.InvalidURL, urllib3.exceptions.LocationParseError) as exc:
            raise _Final(_unparsable(exc)) from None
        except requests.RequestException as exc:
            raise _Final(f"{type(exc).__name__}: {root_cause(exc)}") from None
        except ValueError as exc:  # urlsplit's own, for a redirect's Location (`http://[::1`: "Invalid IPv6 URL")
            raise _Final(_unparsable(exc)) from None
        with response:
            content = self._body(response, end)
            return Reply(
                response.status_code,
                response.reason or "",
                CaseInsensitiveDict(response.headers),
                content,
                response.url,
                {rel: link["url"] for rel, link in response.links.items() if "url" in link},
            )

    def _body(self, response: requests.Response, end: float) -> bytes:
        """The whole body, read piece by piece against the clock and the size cap."""
        limits = self.settings
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limits.max_body:
            raise _Final(declared_too_large(int(declared), limits.max_body), hint=TOO_LARGE_HINT)
        body = bytearray()
        try:
            while piece := response.raw.read1(_PIECE, decode_content=True):
                body += piece
                if len(body) > limits.max_body:
                    raise _Final(read_too_large(len(body), limits.max_body), hint=TOO_LARGE_HINT)
                if self._clock() > end:
                    raise _Final(
                        f"answer still incomplete after {limits.deadline:g} s "
                        f"({len(body)} bytes; {env_name('deadline')})"
                    )
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            raise _Momentary(
                f"answer stalled for {limits.read_timeout:g} s after {len(body)} bytes ({env_name('read_timeout')})"
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _Momentary(f"connection broken while reading the answer: {root_cause(exc)}") from None
        return bytes(body)


class _Momentary(Exception):
    """An attempt failed in a way another attempt may not; `unsent`: the request surely never reached the server."""

    def __init__(self, reason: str, *, unsent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unsent = unsent


class _Final(Exception):
    """An attempt failed in a way another attempt would repeat, or with no time left for another; `hint`, where the
    failure itself says what to do (else the caller's)."""

    def __init__(self, reason: str, *, hint: str = "") -> None:
        super().__init__(reason)
        self.reason, self.hint = reason, hint


def _unparsable(exc: ValueError) -> str:
    """A URL that does not parse: the request's own, its proxy's (HTTP(S)_PROXY) or a redirect's `Location`. The
    library's words quote the part it could not read, which may be a piece of a password (`user:pa` of
    `http://user:pa/ss@host`, where `/` ends the authority) that no pattern can tell: what they quote is left out."""
    said = _QUOTED.sub("'…'", root_cause(exc))
    where = "the request's, its proxy's or a redirect's Location"
    return f"a URL that does not parse: {where} ({type(exc).__name__}: {said})"


def _tls_failed(cause: str) -> str:
    """The TLS failure, with what usually causes it: plain HTTP spoken where https:// was asked for, or a certificate
    signed by a CA this machine does not trust (a TLS-inspecting proxy's)."""
    if "WRONG_VERSION_NUMBER" in cause.upper() or "record layer failure" in cause:
        return f"TLS failed: {cause} (the server may speak plain HTTP there: try http:// in the URL)"
    if "CERTIFICATE_VERIFY_FAILED" in cause.upper():
        return f"TLS failed: {cause} (set REQUESTS_CA_BUNDLE to the CA file that signed its certificate)"
    return f"TLS failed: {cause}"


class _Overdue(Exception):
    """`_within` gave up waiting."""


def _within(seconds: float, call: Callable[[], requests.Response]) -> requests.Response:
    """`call()`, or _Overdue after `seconds`.

    Until the status line and headers are in, requests offers no place to look at the
    clock, and a server may drip them a byte at a time; so the call runs on a daemon
    thread that is left behind when it overstays (it ends when the server hangs up,
    or with the process, and closes its response if one still comes).
    """
    outcome: list[tuple[requests.Response | None, BaseException | None]] = []
    lock = threading.Lock()
    done = threading.Event()

    def run() -> None:
        try:
            result: tuple[requests.Response | None, BaseException | None] = (call(), None)
        except BaseException as exc:  # handed to the caller as it is
            result = (None, exc)
        with lock:
            abandoned = bool(outcome)
            if not abandoned:
                outcome.append(result)
        if abandoned and result[0] is not None:
            result[0].close()
        done.set()

    threading.Thread(target=run, name="kserve-gitops-http", daemon=True).start()
    if not done.wait(seconds):
        with lock:
            if not outcome:
                outcome.append((None, None))  # marks the call abandoned: its late answer is closed
                raise _Overdue
    response, error = outcome[0]
    if error is not None:
        raise error
    assert response is not None
    return response


def rate_limited(reply: Reply) -> bool:
    """A 429, or a 403 that says when to come back: a rate limit, which passes, rather than a refusal, which does
    not. GitHub answers its secondary rate limits with 403 (or 429) and `Retry-After`, and an exhausted primary
    limit with `x-ratelimit-remaining: 0` and `x-ratelimit-reset`; a 403 with neither is a missing permission.
    https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit"""
    if reply.status == 429:
        return True
    return reply.status == 403 and (bool(reply.headers.get("Retry-After", "").strip()) or _limit_exhausted(reply))


def _limit_exhausted(reply: Reply) -> bool:
    """No request left until `x-ratelimit-reset` (GitHub's primary rate limit, announced on every answer)."""
    headers = reply.headers
    return headers.get("x-ratelimit-remaining", "").strip() == "0" and bool(headers.get("x-ratelimit-reset"))


def _reset_seconds(value: str) -> float:
    """`x-ratelimit-reset` (UTC epoch seconds) as seconds from now; 0 if past or unreadable."""
    value = value.strip()
    return max(int(value) - time.time(), 0.0) if value.isdigit() else 0.0


def _retry_after_seconds(value: str) -> float:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3); 0 if absent or unreadable."""
    value = value.strip()
    if not value:
        return 0.0
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max((when - datetime.now(UTC)).total_seconds(), 0.0) if when.tzinfo else 0.0


def _never_sent(exc: BaseException) -> bool:
    """Refused, unresolvable, unroutable: the connection was never made, so even a POST may be tried again."""
    return any(isinstance(e, urllib3.exceptions.NewConnectionError | ConnectionRefusedError) for e in causes(exc))


def root_cause(exc: BaseException) -> str:
    """`[Errno 111] Connection refused` rather than three nested urllib3 reprs; URLs in it redacted, on one line (a
    server's words may hold line breaks). A first line that is not HTTP's (an SSH or SMTP greeting: another
    service at that port) says so, rather than showing only the server's text."""
    root = causes(exc)[-1]
    text = str(root) or type(root).__name__
    if isinstance(root, urllib3.exceptions.NewConnectionError):
        text = text.split(": ", 1)[-1]
    elif isinstance(root, http.client.BadStatusLine) and not isinstance(root, http.client.RemoteDisconnected):
        text = f"the server does not answer in HTTP (its first line: {quoted(text.strip(), 80)})"
    return printable(redact(text))


def causes(exc: BaseException) -> list[BaseException]:
    """`exc` and what caused it, down to the root: requests wraps urllib3, which wraps the socket's OSError."""
    found = [exc]
    while True:
        last = found[-1]
        inner = last.__cause__ or last.__context__
        if isinstance(last, urllib3.exceptions.MaxRetryError) and last.reason is not None:
            inner = last.reason
        elif inner is None and last.args and isinstance(last.args[-1], BaseException):
            inner = last.args[-1]
        if inner is None or any(inner is seen for seen in found):
            return found
        found.append(inner)
