"""Count the HTTP requests mlflow sends, for the benchmark and the request-count tests."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from mlflow.store.artifact import http_artifact_repo
from mlflow.utils import rest_utils


@contextmanager
def count_requests() -> Iterator[Counter[str]]:
    """Count mlflow's HTTP requests to the tracking server by endpoint while the block runs, from any thread.

    Every REST store call goes through `mlflow.utils.rest_utils.http_request`, and
    every proxied artifact call through the same function imported into
    `http_artifact_repo`; wrapping both counts what mlflow really sends (a request
    urllib3 retries counts once). An artifact file counts as
    `/mlflow-artifacts/artifacts/<file name>`. Requests a client sends to S3 itself
    (direct artifact mode) are not counted. Process-wide; for benchmarks and tests only.
    """
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    originals: dict[Any, Callable[..., Any]] = {m: m.http_request for m in (rest_utils, http_artifact_repo)}

    def counting(original: Callable[..., Any], artifacts: bool) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            endpoint = str(kwargs.get("endpoint", args[1] if len(args) > 1 else "?"))
            if artifacts and not endpoint.startswith("/mlflow-artifacts/"):
                endpoint = "/mlflow-artifacts/artifacts/" + endpoint.rsplit("/", 1)[-1]
            with lock:
                counts[endpoint] += 1
            return original(*args, **kwargs)

        return counted

    for module, original in originals.items():
        module.http_request = counting(original, module is http_artifact_repo)
    try:
        yield counts
    finally:
        for module, original in originals.items():
            module.http_request = original
