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
from generator.cli import main
from tests.support.mlflow_server import SERVER_FIXTURES
from tests.support.paths import CRDS, REPO_ROOT

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
    os.environ.pop("GITHUB_ACTIONS", None)  # GitHub's runners set it (report.inert); the tests that mean it set it
    os.environ.update(GIT_ENV | QUIET_ENV)
    os.environ["KSERVE_GITOPS_CACHE_DIR"] = "off"  # no run records in the developer's ~/.cache; test_cache.py sets one
    if not hasattr(config, "workerinput"):  # once, in the controlling process, before xdist workers start
        _fetch_crds()


def _fetch_crds() -> None:
    """The CRDs reach the tests the way they reach users: `kserve-gitops schemas fetch`, held to the committed
    schemas/crds/crds.lock.yaml. No network when they are already there; a mirror via KSERVE_GITOPS_CRD_BASE_URL."""
    code = main(["schemas", "fetch", "--repo", str(REPO_ROOT)])
    if code:
        raise pytest.UsageError(
            f"`kserve-gitops schemas fetch` exited {code}: the tests need the pinned CRDs in {CRDS}. Without "
            "access to GitHub, set KSERVE_GITOPS_CRD_BASE_URL to a mirror (`python -m devtools.crd_mirror --from "
            "DIR --then make test` serves a local copy)"
        )


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
