"""The pre-commit hooks (.pre-commit-hooks.yaml), run by pre-commit itself as a user's repository would.

`pre-commit try-repo` clones this repository at its current state and installs it the way pre-commit installs
every `language: python` hook: a virtualenv with `pip install .`, dependencies from PyPI. That install is the
slow part, so PRE_COMMIT_HOME is one directory for the test session; pip's own cache makes reruns fast.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.cli import main
from generator.crds.sources import crd_files
from generator.spec.model import Platform
from tests.support.actions_lint import venv_tool
from tests.support.paths import REPO_ROOT, SHARED_CRDS

TIMEOUT = 900  # seconds: the first run installs kserve-gitops and its dependencies into pre-commit's virtualenv
HOOKS = ("kserve-gitops-render", "kserve-gitops-validate")

Commit = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A platform repository made by `kserve-gitops init`, its CRDs in place (as `schemas fetch` leaves them),
    committed."""
    root = tmp_path / "platform"
    assert main(["init", str(root)]) == 0
    for file in crd_files(Platform()):
        (root / "schemas" / "crds" / file.local).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHARED_CRDS / file.local, root / "schemas" / "crds" / file.local)
    for command in (["init", "--quiet"], ["add", "--all"], ["commit", "--quiet", "--message", "init"]):
        subprocess.run(["git", *command], cwd=root, check=True, timeout=60)
    return root


def _try_repo(root: Path, home: Path, hook: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run([venv_tool("pre-commit", "pre-commit"), "try-repo", str(REPO_ROOT), hook, "--all-files"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)


@pytest.mark.parametrize("hook", HOOKS)
def test_the_hook_passes_on_a_repository_made_by_init(scratch: Path, pre_commit_home: Path, hook: str) -> None:
    done = _try_repo(scratch, pre_commit_home, hook)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Passed" in done.stdout


@pytest.mark.parametrize("hook", HOOKS)
def test_the_hook_fails_on_a_hand_edited_manifest(scratch: Path, pre_commit_home: Path, hook: str) -> None:
    kustomization = scratch / "environments" / "dev" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("resources: []", "resources: [extra.yaml]"))

    done = _try_repo(scratch, pre_commit_home, hook)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Failed" in done.stdout
    assert "environments/dev/kustomization.yaml" in done.stdout
