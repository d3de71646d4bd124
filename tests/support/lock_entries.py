"""Lock entries as `lock` writes them for an MLflow 3 registry behind a proxying server, for tests of the lock."""

from __future__ import annotations

from generator.lock.model import LockEntry
from generator.registry.base import ModelInfo
from generator.spec.model import Ref


def locked(
    model: str, env: str, ref: Ref, version: str, registered: str = "Wine", *, info: ModelInfo | None = None
) -> LockEntry:
    """The entry of MODEL in ENV at VERSION: logged model `m-<version>`, run `run<version>`, bucket `bucket`."""
    return LockEntry(
        model,
        env,
        registered,
        ref,
        version,
        f"mlflow-artifacts:/1/models/m-{version}/artifacts",
        f"s3://bucket/mlartifacts/1/models/m-{version}/artifacts",
        f"run{version}",
        info,
    )
