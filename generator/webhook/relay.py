"""POST /mlflow: an authentic, fresh, first-seen MLflow delivery of a followed event → one repository_dispatch.

Answers, which MLflow's delivery uses to decide whether to retry (it retries 429 and 5xx):

| status | action     | when                                                                  |
| ------ | ---------- | --------------------------------------------------------------------- |
| 200    | dispatched | verified, new, followed; GitHub accepted the dispatch                 |
| 200    | ignored    | verified and new, but not an event that can move a reference          |
| 400    | malformed  | verified, but not MLflow's JSON envelope                              |
| 400    | stale      | verified, but the timestamp is more than max-age from our clock       |
| 401    | rejected   | signature headers missing, or the signature does not match            |
| 409    | replayed   | a delivery with this id was already accepted (or is being processed)  |
| 502    | failed     | GitHub refused or was unreachable; MLflow retries with the same id    |
| 503    | busy       | the replay memory is full of live ids; MLflow retries                 |
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from generator.webhook import DEFAULT_MAX_AGE, promotion
from generator.webhook.github import GitHubError
from generator.webhook.outcome import Malformed, Outcome
from generator.webhook.replay import ReplayGuard
from generator.webhook.signature import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, fresh, verify


class Dispatcher(Protocol):
    def dispatch(self, event_type: str, client_payload: Mapping[str, str | None]) -> None: ...


@dataclass
class Relay:
    secret: str = field(repr=False)
    github: Dispatcher
    guard: ReplayGuard
    max_age: float = DEFAULT_MAX_AGE
    clock: Callable[[], float] = time.time

    def handle(self, headers: Mapping[str, str], body: bytes) -> Outcome:
        lower = {key.lower(): value for key, value in headers.items()}
        delivery = lower.get(DELIVERY_HEADER.lower(), "")
        fields: dict[str, str | None] = {"delivery": delivery or None}
        refused = self._authenticate(lower, delivery, body, fields)
        if refused is not None:
            return refused
        try:
            event = promotion.parse(body)
        except Malformed as e:
            return Outcome(400, "malformed", str(e), fields)
        fields |= {"event": event.event, "model": event.model, "alias": event.alias, "version": event.version}
        claim = self.guard.claim(delivery)
        if claim != "new":
            return (Outcome(409, "replayed", "this delivery id was already accepted", fields) if claim == "seen"
                    else Outcome(503, "busy", "too many deliveries within the replay window", fields))
        if not event.followed:
            return Outcome(200, "ignored", f"{event.event} cannot move a floating reference", fields)
        return self._dispatch(event, delivery, fields)

    def _authenticate(
        self, headers: Mapping[str, str], delivery: str, body: bytes, fields: Mapping[str, str | None]
    ) -> Outcome | None:
        timestamp = headers.get(TIMESTAMP_HEADER.lower(), "")
        signature = headers.get(SIGNATURE_HEADER.lower(), "")
        if not signature:
            return Outcome(401, "rejected", "unsigned delivery: the webhook has no secret, or this is not MLflow",
                           fields)
        if not (delivery and timestamp):
            return Outcome(401, "rejected", f"{DELIVERY_HEADER} or {TIMESTAMP_HEADER} missing", fields)
        if not verify(self.secret, delivery, timestamp, body, signature):
            return Outcome(401, "rejected", "signature does not match the configured secret", fields)
        if not fresh(timestamp, self.clock(), self.max_age):
            return Outcome(400, "stale", f"timestamp {timestamp!r} is more than {self.max_age:g} s from now", fields)
        return None

    def _dispatch(self, event: promotion.RegistryEvent, delivery: str, fields: Mapping[str, str | None]) -> Outcome:
        """The claim is dropped on any failure, so MLflow's retry (same delivery id) gets another chance."""
        try:
            self.github.dispatch(promotion.EVENT_TYPE, event.client_payload())
        except Exception as e:
            self.guard.release(delivery)
            if isinstance(e, GitHubError):
                return Outcome(502, "failed", str(e), fields)
            raise
        return Outcome(200, "dispatched", "", fields)
