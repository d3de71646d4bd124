"""This repository is its own example: its models.yaml, models.lock and environments/ agree and pass every check."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from generator.validate.kustomize import kustomize_build
from tests.acceptance.conftest import CRDS, Result
from tests.support.paths import REPO_ROOT


def test_committed_tree_is_what_render_produces(cli: Callable[..., Result]) -> None:
    result = cli("render", "--check", "--repo", str(REPO_ROOT), *CRDS)
    assert (result.code, result.out) == (0, "up to date\n"), result.out + result.err


def test_committed_tree_passes_validate(cli: Callable[..., Result]) -> None:
    result = cli("validate", "--repo", str(REPO_ROOT), *CRDS)
    assert (result.code, result.out) == (0, "valid\n"), result.out


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_each_environment_builds_to_one_wine_classifier(env: str) -> None:
    (isvc,) = kustomize_build(REPO_ROOT / "environments" / env)
    assert (isvc["kind"], isvc["metadata"]["name"], isvc["metadata"]["namespace"]) == (
        "InferenceService", "wine-classifier", f"mlflow-kserve-{env}")
    assert isvc["spec"]["predictor"]["serviceAccountName"] == "kserve-sa"


def test_example_follows_latest_in_dev_and_aliases_elsewhere() -> None:
    lock = (REPO_ROOT / "models.lock").read_text()
    for reference in ("latest: true", "alias: challenger", "alias: champion"):
        assert reference in lock
