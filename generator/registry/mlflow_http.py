"""MLflow's own HTTP client, held to the limits of the HTTP door (`generator.util.http.HttpSettings`).

MlflowClient talks through its own requests session, which reads its settings only
from `MLFLOW_HTTP_REQUEST_*` variables; `environ` derives them from our settings, so
`KSERVE_GITOPS_HTTP_*` is the one place to tune every outbound call. What that
session cannot do:

- separate connect and read timeouts (one number serves both: the larger of ours);
- cap a `Retry-After`: it either sleeps for as long as the server asks (an hour, if
  told so) or ignores it; we make it ignore it and use its backoff instead;
- bound a whole answer: its timeout is per socket read, so a server that drips one
  byte every few seconds keeps it reading forever; nor cap the size of an answer.

So every MLflow call we make runs under `Deadlines`: a call still running
`deadline` seconds after it started (its retries included) fails the operation with
an EnvironmentProblem (exit 2). The call itself cannot be interrupted; it is left on
a daemon thread, which ends with the process (or when the server lets go).
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from generator.util.http_settings import HttpSettings, env_name

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

    def run(self, job: Callable[[], T]) -> T:
        """`job()`, or Overdue when one of its calls overstays; `job`'s own exceptions pass through."""
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
