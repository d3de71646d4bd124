"""The seed's way of resolving references, to compare our batched resolve against.

What MLflow's own docstrings and the usual MLflow → KServe tutorial do, one
reference at a time, one call after another, no batching and no threads:

- `latest`: `client.get_latest_versions(name)` and the highest version it lists (the
  docstring example; deprecated since MLflow 2.9 with the stages it reports, but
  still the call tutorials use for "the latest model"; `search_model_versions`
  ordered by version would be one request too, but few tutorials use it);
- `alias`: `client.get_model_version_by_alias(name, alias)`;
- then `client.get_model_version_download_uri(name, version)` for the artifact location.

Public `MlflowClient` calls only, so the counts include what the client adds
(e.g. the prompt check in front of `get_latest_versions` and of the download URI).
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devtools.metering import count_requests
from generator.spec.model import Ref

if TYPE_CHECKING:
    from mlflow import MlflowClient

Reference = tuple[str, Ref]  # (registered model, reference)
Answer = tuple[str, str]  # (version, download URI)


@dataclass(frozen=True)
class Baseline:
    seconds: float
    requests: Counter[str]
    answers: dict[Reference, Answer]


def resolve_one_by_one(client: MlflowClient, references: Iterable[Reference]) -> Baseline:
    """Every reference resolved on its own, in order; the request counter wraps the whole loop."""
    answers: dict[Reference, Answer] = {}
    with count_requests() as counts, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # get_latest_versions' deprecation, once per call
        start = time.perf_counter()
        for name, ref in references:
            version = _version(client, name, ref)
            answers[(name, ref)] = (version, client.get_model_version_download_uri(name, version))
        elapsed = time.perf_counter() - start
    return Baseline(elapsed, counts, answers)


def _version(client: MlflowClient, name: str, ref: Ref) -> str:
    if ref.kind == "latest":
        return str(max(int(mv.version) for mv in client.get_latest_versions(name)))
    if ref.kind == "alias":
        return str(client.get_model_version_by_alias(name, ref.value).version)
    if ref.kind == "version":
        return ref.value
    raise ValueError(f"the benchmark's models.yaml has no {ref.kind} references")
