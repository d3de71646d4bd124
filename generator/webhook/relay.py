"""POST /mlflow: an authentic, fresh, first-seen MLflow delivery of a followed event → one repository_dispatch.

The delivery is recorded in the journal before the answer, and dispatched in the
background (`dispatcher.py`), so MLflow gets its answer within its 30 s however slow
GitHub is. Answers, which MLflow's delivery uses to decide whether to retry (it
retries 429 and 5xx):

| status | action    | when                                                                          |
| ------ | --------- | ----------------------------------------------------------------------------- |
| 202    | accepted  | verified, new, followed; recorded, and the dispatch is on its way             |
| 202    | pending   | a retry of an accepted delivery whose dispatch has not succeeded yet           |
| 200    | ignored   | verified and new, but not an event that can move a reference                  |
| 400    | malformed | verified, but not MLflow's JSON envelope                                      |
| 400    | stale     | verified, but the timestamp is more than max-age from our clock               |
| 401    | rejected  | signature headers missing, or the signature does not match                    |
| 409    | replayed  | a delivery with this id was already handled (dispatched, ignored or given up) |
| 503    | busy      | the journal is full of live ids; MLflow retries                               |
| 503    | failed    | the journal cannot be written (volume full, gone); MLflow retries             |
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from generator.webhook import DEFAULT_MAX_AGE, promotion
from generator.webhook.answer import Answer, Malformed
from generator.webhook.journal import Entry, Journal, JournalUnwritable
from generator.webhook.signature import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, fresh, verify

_KNOWN = {  # what a delivery id the journal already holds is answered
    "seen": (409, "replayed", "this delivery id was already handled"),
    "pending": (202, "pending", "already accepted; its dispatch is still being tried"),
    "full": (503, "busy", "too many deliveries within the replay window"),
}


class DispatchQueue(Protocol):
    """Where an accepted delivery goes to be dispatched beside the requests (the dispatcher)."""

    def submit(self, entry: Entry) -> None: ...


@dataclass
class Relay:
    secret: str = field(repr=False)
    journal: Journal
    dispatcher: DispatchQueue
    max_age: float = DEFAULT_MAX_AGE
    clock: Callable[[], float] = time.time

    def handle(self, headers: Mapping[str, str], body: bytes) -> Answer:
        lower = {key.lower(): value for key, value in headers.items()}
        delivery = lower.get(DELIVERY_HEADER.lower(), "")
        fields: dict[str, str | None] = {"delivery": delivery or None}
        refused = self._authenticate(lower, delivery, body, fields)
        if refused is not None:
            return refused
        try:
            event = promotion.parse(body)
        except Malformed as e:
            return Answer(400, "malformed", str(e), fields)
        fields |= {"event": event.event, "model": event.model, "alias": event.alias, "version": event.version}
        return self._accept(event, delivery, fields)

    def _accept(self, event: promotion.RegistryEvent, delivery: str, fields: Mapping[str, str | None]) -> Answer:
        """Journal the delivery, then hand it to the background dispatcher; nothing here waits for GitHub."""
        try:
            claim = self.journal.claim(delivery, event.client_payload() if event.followed else None)
        except JournalUnwritable as e:
            return Answer(503, "failed", str(e), fields)
        if claim != "new":
            return Answer(*_KNOWN[claim], fields)
        if not event.followed:
            return Answer(200, "ignored", f"{event.event} cannot move a floating reference", fields)
        entry = self.journal.entry(delivery)
        if entry is not None:
            self.dispatcher.submit(entry)
        return Answer(202, "accepted", "recorded; the repository_dispatch is sent in the background", fields)

    def _authenticate(
        self, headers: Mapping[str, str], delivery: str, body: bytes, fields: Mapping[str, str | None]
    ) -> Answer | None:
        timestamp = headers.get(TIMESTAMP_HEADER.lower(), "")
        signature = headers.get(SIGNATURE_HEADER.lower(), "")
        if not signature:
            return Answer(
                401, "rejected", "unsigned delivery: the webhook has no secret, or this is not MLflow", fields
            )
        if not (delivery and timestamp):
            return Answer(401, "rejected", f"{DELIVERY_HEADER} or {TIMESTAMP_HEADER} missing", fields)
        if not verify(self.secret, delivery, timestamp, body, signature):
            return Answer(401, "rejected", "signature does not match the configured secret", fields)
        if not fresh(timestamp, self.clock(), self.max_age):
            return Answer(400, "stale", f"timestamp {timestamp!r} is more than {self.max_age:g} s from now", fields)
        return None
