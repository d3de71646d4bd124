"""MLflow's own HTTP client, held to the limits of the HTTP door (`generator.util.http.HttpSettings`).

MlflowClient talks through its own requests session, which reads its settings only
from `MLFLOW_HTTP_REQUEST_*` variables; `environ` derives them from our settings, so
`KSERVE_GITOPS_HTTP_*` is the one place to tune every outbound call. What that
session cannot do:

- separate connect and read timeouts (one number serves both: the larger of ours);
- cap a `Retry-After`: it either sleeps for as long as the server asks (an hour, if
  told so) or ignores it; we make it ignore it and use its backoff instead;
- bound a whole answer: its timeout is per socket read, so a server that drips one
  byte every few seconds keeps it reading forever;
- cap the size of an answer.

So every MLflow call we make runs under `Deadlines`: a call still running
`deadline` seconds after it started (its retries included) fails the operation with
an EnvironmentProblem (exit 2). The call itself cannot be interrupted; it is left on
a daemon thread, which ends with the process (or when the server lets go).

And every answer the session reads whole is held to `max_body` (`limited`): a response
hook, which requests runs before it reads the body (requests 2.34, requests/sessions.py
`Session.send`), refuses a larger Content-Length and counts the decoded bytes as they
arrive, so an endless or gzip-bombed answer fails with `AnswerTooLarge` instead of
filling memory. MLflow makes its sessions in `_cached_get_request_session` (mlflow
v3.17.2, mlflow/utils/request_utils.py), which takes no hook: the hook is added to each
session it gives (`_Hooking`). Streamed downloads (a model's files) are not capped;
their deadline bounds them.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from generator.util.environ import scoped_environ
from generator.util.http_settings import HttpSettings, declared_too_large, env_name, read_too_large

if TYPE_CHECKING:  # requests comes with mlflow, imported by what calls it
    import requests

T = TypeVar("T")
P = ParamSpec("P")
_POLL = 0.05  # seconds between two looks at the running calls


def environ(settings: HttpSettings) -> dict[str, str]:
    """MLflow's HTTP settings (strings, as environment variables) for our limits."""
    return {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(math.ceil(max(settings.connect_timeout, settings.read_timeout))),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(settings.retries),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": str(math.ceil(settings.backoff)),  # mlflow takes whole seconds
        "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
        "MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER": "false",
    }


@contextmanager
def limited(settings: HttpSettings, extra: Mapping[str, str] = MappingProxyType({})) -> Iterator[None]:
    """MLflow's client held to `settings` in the block: its HTTP settings (and `extra`) in the environment, where
    it reads them, and the size cap on its answers."""
    cap_answers(settings.max_body)
    with scoped_environ(environ(settings) | dict(extra)):
        yield


class AnswerTooLarge(Exception):
    """An answer over the size cap. Raised while requests reads it, inside MLflow's client, which wraps it in an
    MlflowException of its own (`too_large` finds it there)."""


def too_large(error: BaseException) -> AnswerTooLarge | None:
    """The AnswerTooLarge behind `error`, if that is what it is."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, AnswerTooLarge):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def cap_answers(max_body: int) -> None:
    """From now on, in this process, an answer MLflow's client reads whole fails past `max_body` bytes."""
    from mlflow.utils import request_utils  # noqa: PLC0415  (requests and mlflow: only for what uses MLflow)

    _CAP.max_body = max_body
    if not isinstance(request_utils._cached_get_request_session, _Hooking):
        hooking = _Hooking(request_utils._cached_get_request_session)
        request_utils._cached_get_request_session = hooking  # type: ignore[assignment]  # any callable will do


class _Cap:
    """A requests response hook: the body of an answer read whole (not streamed) is held to `max_body` bytes."""

    max_body = 0

    def __call__(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if kwargs.get("stream"):
            return response
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            response.close()
            raise AnswerTooLarge(declared_too_large(int(declared), self.max_body))
        response.raw = _Counted(response.raw, self.max_body)
        return response


_CAP = _Cap()


class _Counted:
    """A response's raw stream that fails once more than `max_body` decoded bytes came out of it."""

    def __init__(self, raw: Any, max_body: int) -> None:
        self._raw, self._max_body = raw, max_body

    def stream(self, amt: int = 2**16, decode_content: bool | None = None) -> Iterator[bytes]:
        read = 0
        for piece in self._raw.stream(amt, decode_content=decode_content):
            read += len(piece)
            if read > self._max_body:
                self._raw.close()
                raise AnswerTooLarge(read_too_large(read, self._max_body))
            yield piece

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _Hooking:
    """MLflow's session factory, adding the size cap to each session it gives (once: sessions are cached)."""

    def __init__(self, factory: Callable[..., requests.Session]) -> None:
        self._factory = factory

    def __call__(self, *args: Any, **kwargs: Any) -> requests.Session:
        session = self._factory(*args, **kwargs)
        hooks = session.hooks["response"]
        if _CAP not in hooks:
            hooks.append(_CAP)
        return session

    def __getattr__(self, name: str) -> Any:  # the cache's own methods (cache_clear)
        return getattr(self._factory, name)


class Overdue(Exception):
    """A call ran past its deadline; `what` names it as the caller registered it."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(f"{what}: no complete answer within {seconds:g} s ({env_name('deadline')})")


class Deadlines:
    """Per-call deadlines for calls into a library that cannot bound them itself.

    Calls register with `call()` (or run through `bound`); `run` executes the whole
    operation on a daemon thread and fails it as soon as any registered call has been
    running longer than `seconds`.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._running: dict[int, tuple[float, str]] = {}
        self._tokens = itertools.count()
        self._lock = threading.Lock()

    @contextmanager
    def call(self, what: str) -> Iterator[None]:
        token = next(self._tokens)
        with self._lock:
            self._running[token] = (self._clock(), what)
        try:
            yield
        finally:
            with self._lock:
                del self._running[token]

    def bound(self, what: str, fn: Callable[P, T]) -> Callable[P, T]:
        """`fn`, registered as a call each time it runs."""

        def wrapped(*args: P.args, **kwargs: P.kwargs) -> T:
            with self.call(what):
                return fn(*args, **kwargs)

        return wrapped

    def run(self, job: Callable[[], T], watch: Callable[[], None] = lambda: None) -> T:
        """`job()`, or Overdue when one of its calls overstays; `job`'s own exceptions pass through. `watch` is called
        at each look at the running calls, and what it raises ends the run too (a download grown past a size cap:
        what MLflow streams to disk it never measures). MLflow's own log lines are kept quiet but for errors: its
        warning about an error code it does not know (an authenticating proxy's) would stand on stderr above the one
        line that says what failed."""
        logging.getLogger("mlflow").setLevel(logging.ERROR)  # MLflow sets its level when imported: here, after
        outcome: list[tuple[T | None, BaseException | None]] = []
        done = threading.Event()

        def work() -> None:
            try:
                outcome.append((job(), None))
            except BaseException as exc:  # handed to the caller as it is
                outcome.append((None, exc))
            done.set()

        threading.Thread(target=work, name="kserve-gitops-mlflow", daemon=True).start()
        while not done.wait(_POLL):
            watch()
            late = self._overdue()
            if late is not None:
                raise Overdue(late, self.seconds)
        result, error = outcome[0]
        if error is not None:
            raise error
        return result  # type: ignore[return-value]

    def _overdue(self) -> str | None:
        now = self._clock()
        with self._lock:
            return next((what for began, what in self._running.values() if now - began > self.seconds), None)
