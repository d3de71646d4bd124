"""Send each accepted delivery's repository_dispatch in the background, retrying until it succeeds or its deadline.

The relay answers MLflow as soon as a delivery is in the journal; this thread does the
slow part. A delivery is dispatched once: it leaves the journal's pending set only
when GitHub answered 204, when GitHub refused it for good (a bad token or a missing
permission: trying again would meet the same answer), or when `deadline` seconds
have passed since it was accepted (the scheduled promotion run picks the change up
then). Momentary failures (no answer, 429, 5xx) are retried with a doubling pause, and never sooner than a
rate limit's Retry-After (or reset) asked.
Entries still pending when the process stops are sent again by the next one, which
may repeat a dispatch GitHub had received just before the stop; the promotion
workflow is idempotent, so that costs one empty run.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from generator.webhook import DEFAULT_DEADLINE, promotion
from generator.webhook.github import GitHubError
from generator.webhook.journal import Entry, Journal, JournalUnwritable
from generator.webhook.log import LOGGER

FIRST_PAUSE = 1.0
LONGEST_PAUSE = 60.0


class Sender(Protocol):
    def dispatch(self, event_type: str, client_payload: Mapping[str, str | None]) -> None: ...


class Dispatcher:
    """One daemon thread; `submit` hands it a journalled delivery, `start` also picks up what the journal holds."""

    def __init__(
        self,
        github: Sender,
        journal: Journal,
        *,
        deadline: float = DEFAULT_DEADLINE,
        first_pause: float = FIRST_PAUSE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._github = github
        self._journal = journal
        self._deadline = deadline
        self._first_pause = first_pause
        self._clock = clock
        self._due: list[tuple[float, int, Entry, float]] = []  # (when, order, entry, pause before the next try)
        self._order = 0
        self._busy = 0
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        for entry in self._journal.pending():
            self.submit(entry)
        self._thread = threading.Thread(target=self._run, name="kserve-gitops-dispatch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, entry: Entry) -> None:
        self._schedule(entry, self._clock(), self._first_pause)

    def idle(self, timeout: float) -> bool:
        """True once nothing is due or being sent (within `timeout` seconds): for tests and a graceful stop."""
        end = time.monotonic() + timeout
        with self._wake:
            while self._due or self._busy:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(min(left, 0.05))
            return True

    def _schedule(self, entry: Entry, when: float, pause: float) -> None:
        with self._wake:
            self._order += 1
            heapq.heappush(self._due, (when, self._order, entry, pause))
            self._wake.notify_all()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and (not self._due or self._due[0][0] > self._clock()):
                    self._wake.wait(min(self._due[0][0] - self._clock(), 1.0) if self._due else 1.0)
                if self._stopping:
                    return
                _, _, entry, pause = heapq.heappop(self._due)
                self._busy += 1
            try:
                self._attempt(entry, pause)
            except JournalUnwritable as e:
                fields = {"delivery": entry.delivery, **(entry.payload or {})}
                _log(logging.ERROR, "unrecorded", f"{e}; a restart may send this dispatch again", fields)
            except Exception:
                LOGGER.exception("dispatch failed unexpectedly", extra={"fields": {"delivery": entry.delivery}})
                with contextlib.suppress(JournalUnwritable):
                    self._journal.finish(entry.delivery, "failed")
            finally:
                with self._wake:
                    self._busy -= 1
                    self._wake.notify_all()

    def _attempt(self, entry: Entry, pause: float) -> None:
        fields = {"delivery": entry.delivery, **(entry.payload or {})}
        try:
            self._github.dispatch(promotion.EVENT_TYPE, entry.payload or {})
        except GitHubError as e:
            wait = max(pause, e.retry_after)  # never sooner than GitHub asked (a rate limit's Retry-After or reset)
            given_up = self._clock() + wait > entry.accepted + self._deadline
            if e.lasting or given_up:
                why = (
                    "GitHub refused it"
                    if e.lasting
                    else f"GitHub asks to wait {wait:g} s, past the {self._deadline:g} s deadline"
                    if wait > pause
                    else f"still failing after {self._deadline:g} s"
                )
                _log(logging.ERROR, "abandoned", f"{why}: {e}; the scheduled run will pick the change up", fields)
                self._journal.finish(entry.delivery, "failed")
                return
            _log(logging.WARNING, "retrying", f"{e}; next try in {wait:g} s", fields)
            self._schedule(entry, self._clock() + wait, min(pause * 2, LONGEST_PAUSE))
            return
        _log(logging.INFO, "dispatched", "", fields)
        self._journal.finish(entry.delivery, "done")


def _log(level: int, action: str, detail: str, fields: Mapping[str, str | None]) -> None:
    LOGGER.log(
        level,
        f"dispatch {action}",
        extra={"fields": {"route": "/mlflow", "action": action, "detail": detail or None, **fields}},
    )
