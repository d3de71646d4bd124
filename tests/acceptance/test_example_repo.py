"""This repository is its own example: its models.yaml, models.lock and environments/ agree and pass every check."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.validate.kustomize import kustomize_build
from tests.acceptance.conftest import CRDS, Result
from tests.support.paths import REPO_ROOT, copy_example


def test_committed_tree_is_what_render_produces(cli: Callable[..., Result]) -> None:
    result = cli("render", "--check", "--repo", str(REPO_ROOT), *CRDS)
    assert (result.code, result.out) == (0, "up to date\n"), result.out + result.err


def test_committed_tree_passes_validate(cli: Callable[..., Result]) -> None:
    result = cli("validate", "--repo", str(REPO_ROOT), *CRDS)
    # The demo logs cloudpickle models with MLflow 3, which kserve-mlserver's image loads: nothing to say.
    assert (result.code, result.out) == (0, "valid\n"), result.out


def test_lock_entries_of_a_model_no_longer_served_fail_validate_warn_render_and_lock_drops_them(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """A model taken out of models.yaml leaves entries `lock` would drop: the lock under review says versions that
    are not served. Offline: `lock` drops them without asking the registry."""
    repo = copy_example(tmp_path / "repo")
    spec = repo / "models.yaml"
    text = spec.read_text()
    start = text.index("  wine-classifier-registry:\n")
    spec.write_text(text[:start] + text[text.index("\n\n", start) + 2 :])
    lock = (repo / "models.lock").read_text().splitlines()
    line = lock.index("  wine-classifier-registry:") + 2  # its first environment's entry
    said = (
        f"{line}: $.models.wine-classifier-registry.staging: wine-classifier-registry: entries for staging, which "
        "models.yaml does not serve (they deploy nothing) [lock-unserved]"
    )
    fix = "fix: run `kserve-gitops lock` to drop them (no registry call), or serve the model there again in models.yaml"
    rendered = cli("render", "--repo", str(repo), *CRDS)
    assert rendered.code == 0 and f"warning: models.lock:{said}\n  {fix}\n" in rendered.err, rendered.err
    validated = cli("validate", "--repo", str(repo), *CRDS)
    assert validated.code == 1 and f"models.lock\n  {said}\n    {fix}\n" in validated.out, validated.out
    os.environ["MLFLOW_TRACKING_URI"] = "http://127.0.0.1:9"  # nothing listens: the lock is current
    assert cli("lock", "--repo", str(repo)).code == 0
    assert "wine-classifier-registry" not in (repo / "models.lock").read_text()
    again = cli("validate", "--repo", str(repo), *CRDS)
    assert (again.code, again.out, again.err) == (0, "valid\n", "")


def test_an_environment_taken_out_whose_directory_keeps_a_file_of_someone_s_is_named_by_validate(
    tmp_path: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """render deletes the files it generated for an environment models.yaml no longer has, not a file someone put
    there: what is left builds and looks deployed in a review, but no Application syncs it."""
    repo = copy_example(tmp_path / "repo")
    spec = repo / "models.yaml"
    text = spec.read_text()
    for served in ("  staging:\n    namespace: mlflow-kserve-staging\n", "      staging:\n        alias: challenger\n"):
        text = text.replace(served, "")
    start = text.index("  wine-classifier-registry:\n")
    spec.write_text(text[:start] + text[text.index("\n\n", start) + 2 :])
    (repo / "environments" / "staging" / "notes.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    assert cli("render", "--repo", str(repo), *CRDS).code == 0
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens: the lock is current
    assert cli("lock", "--repo", str(repo)).code == 0  # offline: drops the entries of staging

    validated = cli("validate", "--repo", str(repo), *CRDS)

    assert sorted(p.name for p in (repo / "environments" / "staging").iterdir()) == ["notes.yaml"]
    assert (
        "environments/staging/\n  warning: not an environment of models.yaml: nothing syncs it (argocd/ and the root "
        "kustomization.yaml name models.yaml's environments), and render removes only the files it generated there "
        "[unknown-environment]\n    fix: delete the directory, or add the environment to models.yaml and run "
        "`kserve-gitops render`\n"
    ) in validated.out, validated.out
    assert validated.out.count("warning:") == 1, validated.out
    assert validated.code == 1, "a file no kustomization lists stays an error, beside it"


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
