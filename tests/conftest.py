"""Test-run environment: nothing from the developer's shell leaks in.

MLflow and AWS settings are dropped (a stray MLFLOW_TRACKING_URI or AWS profile
must not send tests to a real server), git gets a fixed identity and no user
config, and mlflow's telemetry is off. Tests that use an MLflow server are
marked `mlflow` and grouped onto one xdist worker, so each server starts once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devtools.stack import QUIET_ENV
from tests.support.mlflow_server import SERVER_FIXTURES

pytest_plugins = ["tests.support.mlflow_server"]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "kserve-gitops tests",
    "GIT_AUTHOR_EMAIL": "tests@kserve-gitops.invalid",
    "GIT_COMMITTER_NAME": "kserve-gitops tests",
    "GIT_COMMITTER_EMAIL": "tests@kserve-gitops.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def pytest_configure(config: pytest.Config) -> None:
    for key in [k for k in os.environ if k.startswith(("MLFLOW_", "AWS_"))]:
        del os.environ[key]
    os.environ.update(GIT_ENV | QUIET_ENV)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.mlflow)
            item.add_marker(pytest.mark.xdist_group("mlflow"))


@pytest.fixture(autouse=True)
def _restore_environ() -> Iterator[None]:
    """Whatever a test sets in os.environ is gone before the next one."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
