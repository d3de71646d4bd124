"""Session-wide MLflow servers, seeded once, and uniquely named models per test.

Each artifact mode gets its own server, started only when a test first asks for
it. Tests never share a registered model: `new_model` names carry a random
suffix (and, by default, capitals, a dot and a space, as real names do).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from devtools.stack import ArtifactMode, LoggedModel, Stack, log_wine_model, seed_model

if TYPE_CHECKING:
    from mlflow import MlflowClient

SERVER_FIXTURES = frozenset({"mlflow_proxied", "mlflow_direct", "new_model"})
NewModel = Callable[..., str]


@dataclass(frozen=True)
class MlflowServer:
    stack: Stack
    client: MlflowClient
    logged: LoggedModel  # the one logged wine model every registered version points at

    def new_model(
        self,
        base: str = "Wine.Classifier",
        *,
        versions: int = 3,
        aliases: dict[str, int] | None = None,
        stages: dict[int, str] | None = None,
    ) -> str:
        name = f"{base} {uuid.uuid4().hex[:8]}"
        seed_model(self.client, name, self.logged, versions=versions, aliases=aliases, stages=stages)
        return name


def _serve(mode: ArtifactMode) -> Iterator[MlflowServer]:
    with Stack(mode=mode) as stack:
        yield MlflowServer(stack, stack.client(), log_wine_model(stack))


@pytest.fixture(scope="session")
def mlflow_proxied() -> Iterator[MlflowServer]:
    """Clients see `mlflow-artifacts:/…`; the server stores them under s3://mlflow-artifacts/mlartifacts."""
    yield from _serve("proxied")


@pytest.fixture(scope="session")
def mlflow_direct() -> Iterator[MlflowServer]:
    """Clients see `s3://mlflow-artifacts/direct/…` and reach S3 themselves."""
    yield from _serve("direct")


@pytest.fixture
def new_model(mlflow_proxied: MlflowServer) -> NewModel:
    """Register a model no other test uses, on the proxied server; returns its name."""
    return mlflow_proxied.new_model
