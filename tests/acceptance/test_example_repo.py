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
    # The demo logs cloudpickle models with MLflow 3, which kserve-mlserver's image loads: nothing to say.
    assert (result.code, result.out) == (0, "valid\n"), result.out


@pytest.mark.parametrize(
    ("env", "methods"), [("dev", {"runtime", "image"}), ("staging", {"runtime", "registry"}), ("prod", {"runtime"})]
)
def test_each_environment_builds_with_its_serving_methods(env: str, methods: set[str]) -> None:
    objects = kustomize_build(REPO_ROOT / "environments" / env)
    built = [obj for obj in objects if obj["kind"] == "InferenceService"]
    assert {isvc["metadata"]["annotations"]["kserve-gitops.io/method"] for isvc in built} == methods
    hooks = [obj for obj in objects if obj["kind"] == "Job"]
    assert len(hooks) == len(built), "one PostSync smoke test per InferenceService"
    assert {isvc["metadata"]["namespace"] for isvc in built} == {f"mlflow-kserve-{env}"}
    assert all(isvc["spec"]["predictor"]["serviceAccountName"] == "kserve-sa" for isvc in built)


def test_example_follows_latest_in_dev_and_aliases_elsewhere() -> None:
    lock = (REPO_ROOT / "models.lock").read_text()
    for reference in ("latest: true", "alias: challenger", "alias: champion"):
        assert reference in lock
