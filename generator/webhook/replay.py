"""Delivery ids already acted on, kept just long enough that a replay is refused.

A delivery is accepted only while its timestamp is within `max_age` of our clock,
either way (`signature.fresh`). One sent with a timestamp `max_age` ahead can first
arrive then and be replayed until `max_age` behind, so an id must be remembered for
`2 * max_age`; after that the timestamp check refuses it on its own.

The memory is per process: with several replicas, route MLflow to one (a single
replica, or sticky sessions) or accept that a replay may be acted on once per replica.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

Claim = Literal["new", "seen", "full"]


class ReplayGuard:
    """A bounded, thread-safe set of delivery ids, each forgotten `ttl` seconds after it was claimed."""

    def __init__(self, ttl: float, capacity: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()  # claim order is expiry order: one ttl for all
        self._lock = threading.Lock()

    def claim(self, delivery_id: str) -> Claim:
        """"new" claims the id; "seen" means it was claimed in the last `ttl` seconds.

        "full" when `capacity` ids are all still live: evicting one would let it be
        replayed, so the caller refuses the delivery instead (MLflow retries a 503).
        """
        with self._lock:
            now = self._clock()
            while self._expiry and next(iter(self._expiry.values())) <= now:
                self._expiry.popitem(last=False)
            if delivery_id in self._expiry:
                return "seen"
            if len(self._expiry) >= self._capacity:
                return "full"
            self._expiry[delivery_id] = now + self._ttl
            return "new"

    def release(self, delivery_id: str) -> None:
        """Forget a claim whose work failed, so MLflow's retry of the same delivery is accepted."""
        with self._lock:
            self._expiry.pop(delivery_id, None)
