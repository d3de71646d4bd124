"""Fill the local registry: one logged wine model, N registered models x 3 versions, two aliases each.

Seeding is set-up, not product: it is timed and counted on its own and never
added to the generate figures.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.scenario import ALIASES, VERSIONS
from devtools.metering import count_requests
from devtools.stack import Stack, log_wine_model, seed_model

THREADS = 8  # as devtools.stack.seed_many; mlflow pools 10 connections per host


@dataclass(frozen=True)
class Seeding:
    models: int
    log_seconds: float  # training and logging the one wine model (an artifact upload)
    seconds: float  # registering models, versions and aliases
    requests: Counter[str]


def seed(stack: Stack, names: Sequence[str]) -> Seeding:
    """`seed_model` per name in a thread pool.

    Not `seed_many`: it sets no aliases. The pool is shut down with its queue
    cancelled, so Ctrl-C waits only for the requests in flight, not for every model.
    """
    start = time.perf_counter()
    logged = log_wine_model(stack)
    logged_at = time.perf_counter()
    client = stack.client()
    pool = ThreadPoolExecutor(THREADS, thread_name_prefix="bench-seed")
    try:
        with count_requests() as counts:
            list(pool.map(lambda n: seed_model(client, n, logged, versions=VERSIONS, aliases=ALIASES), names))
    finally:
        pool.shutdown(cancel_futures=True)
    return Seeding(len(names), logged_at - start, time.perf_counter() - logged_at, counts)
