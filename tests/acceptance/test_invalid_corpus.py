"""One mistake each, in models.yaml or in a rendered manifest: each gets its own message, exit 1, no file changed."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.acceptance.conftest import CRDS, Result
from tests.support.actions_runner import commands
from tests.support.paths import REPO_ROOT

SPECS = sorted((REPO_ROOT / "tests" / "examples" / "spec" / "invalid").glob("*.yaml"))
PROD = "environments/prod/wine-classifier.yaml"
DEV = "environments/dev/wine-classifier.yaml"


class Mistake(NamedTuple):
    case: str
    file: str
    old: str
    new: str
    expected: str


MANIFEST_MISTAKES = [
    Mistake(*m)
    for m in [
        (
            "misspelled-field",
            PROD,
            "storageUri:",
            "storageURI:",
            "$.spec.predictor.model.storageURI: unknown field 'storageURI' (did you mean 'storageUri'?)",
        ),
        ("wrong-protocol", PROD, "protocolVersion: v2", "protocolVersion: v1", "kserve-mlserver serves only 'v2'"),
        (
            "nonexistent-runtime",
            PROD,
            "runtime: kserve-mlserver",
            "runtime: kserve-mlflowserver",
            "kserve-mlflowserver",
        ),
        (
            "legacy-deployment-mode",
            PROD,
            "deploymentMode: Standard",
            "deploymentMode: RawDeployment",
            "deploymentMode 'RawDeployment' is the old name of 'Standard'",
        ),
        (
            "registry-uri-kserve-cannot-fetch",
            PROD,
            "storageUri: s3://",
            "storageUri: models:/wine-classifier/2#",
            "models:/",
        ),
        ("bad-name", PROD, "name: wine-classifier", "name: Wine_Classifier", "InferenceService name 'Wine_Classifier'"),
        ("requests-over-limits", PROD, "cpu: 500m", "cpu: '2'", "request '2' for cpu is above its limit '1'"),
        ("bad-quantity", PROD, "memory: 2Gi", "memory: 2GB", "'2GB'"),
        (
            "misspelled-kind",
            PROD,
            "kind: InferenceService",
            "kind: InferenceServise",
            "no schema for serving.kserve.io/v1beta1 InferenceServise",
        ),
        ("wrong-type", PROD, "minReplicas: 2", "minReplicas: two", "$.spec.predictor.minReplicas"),
        (
            "unknown-api-version",
            PROD,
            "serving.kserve.io/v1beta1",
            "serving.kserve.io/v1",
            "no schema for serving.kserve.io/v1 InferenceService",
        ),
        (
            "left-out-of-kustomization",
            "environments/dev/kustomization.yaml",
            "- wine-classifier.yaml\n",
            "",
            "not included by any kustomization.yaml",
        ),
        (
            "kustomization-points-nowhere",
            "environments/dev/kustomization.yaml",
            "wine-classifier.yaml",
            "wine.yaml",
            "kustomize build failed",
        ),
        ("broken-yaml", DEV, "metadata:\n", "metadata: [\n", "invalid YAML"),
        ("broken-root-kustomization", "kustomization.yaml", "resources:\n", "resources: [\n", "kustomize build failed"),
    ]
]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of this repository's example: models.yaml, models.lock and the generated tree."""
    copy = tmp_path / "example"
    copy.mkdir()
    for name in ("models.yaml", "models.lock", "kustomization.yaml"):
        shutil.copy(REPO_ROOT / name, copy / name)
    shutil.copytree(REPO_ROOT / "environments", copy / "environments")
    return copy


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_corpus_has_at_least_thirty_cases() -> None:
    assert len(SPECS) + len(MANIFEST_MISTAKES) >= 30


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
@pytest.mark.parametrize("command", ["validate", "generate"])
def test_broken_models_yaml(spec: Path, command: str, example: Path, cli: Callable[..., Result]) -> None:
    text = spec.read_text()
    expected = text.splitlines()[0].removeprefix("# expect: ")
    (example / "models.yaml").write_text(text)
    before = _snapshot(example)
    result = cli(command, "--repo", str(example), *CRDS)
    assert result.code == 1
    assert expected in result.out + result.err
    assert "Traceback" not in result.err
    assert _snapshot(example) == before


@pytest.mark.parametrize("mistake", MANIFEST_MISTAKES, ids=[m.case for m in MANIFEST_MISTAKES])
def test_hand_broken_manifest(mistake: Mistake, example: Path, cli: Callable[..., Result]) -> None:
    path = example / mistake.file
    assert mistake.old in path.read_text(), f"{mistake.case}: the example no longer contains {mistake.old!r}"
    path.write_text(path.read_text().replace(mistake.old, mistake.new, 1))
    before = _snapshot(example)
    result = cli("validate", "--repo", str(example), *CRDS)
    assert result.code == 1
    assert mistake.expected in result.out, result.out
    assert "Traceback" not in result.err
    assert _snapshot(example) == before


@pytest.mark.parametrize("command", ["validate", "render --check", "generate --check"])
def test_a_key_written_to_forge_workflow_commands_runs_none_under_github_actions(
    command: str, example: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """checks.yml and the pre-commit hooks run these in text mode; the finding quotes the pull request's key."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    spec = example / "models.yaml"
    forged = '"dev\\r::error file=models.yaml,line=1::fake\\r::stop-commands::x1"'
    spec.write_text(spec.read_text().replace("\n      dev:", f"\n      {forged}:", 1))
    result = cli(*command.split(), "--repo", str(example), *CRDS)
    assert result.code == 1
    ran = commands(result.out) + commands(result.err)
    assert [c for c in ran if not c.startswith("stop-commands::")] == [
        c.removeprefix("stop-commands::") + "::" for c in ran if c.startswith("stop-commands::")
    ]
    assert "fake" in result.out + result.err


def test_annotations_name_files_from_the_git_root_when_the_repository_is_a_directory_of_it(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """GitHub places `file=` from the checkout's root; action.yml lets the platform live in `working-directory`."""
    checkout = tmp_path / "checkout"
    platform = checkout / "platform"
    platform.parent.mkdir()
    shutil.copytree(REPO_ROOT / "environments", platform / "environments")
    for name in ("models.yaml", "models.lock", "kustomization.yaml"):
        shutil.copy(REPO_ROOT / name, platform / name)
    subprocess.run(["git", "init", "--quiet", str(checkout)], check=True)
    (platform / PROD).write_text((platform / PROD).read_text().replace("storageUri:", "storageURI:", 1))
    result = cli("validate", "-o", "github", "--repo", str(platform), *CRDS)
    assert result.code == 1
    assert f"::error file=platform/{PROD}," in result.out
    assert "file=environments/" not in result.out
