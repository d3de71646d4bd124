"""The pre-commit hooks (.pre-commit-hooks.yaml), run by pre-commit itself as a user's repository runs them:
a .pre-commit-config.yaml naming this repository at a commit, and `pre-commit run`.

pre-commit installs a `language: python` hook the way it installs every one: a virtualenv with `pip install .`
of the hook repository at that commit, dependencies from PyPI. That install is the slow part (minutes), so the
commit is one snapshot of this working tree per test session, and PRE_COMMIT_HOME one directory for the
session: the install happens once. (`pre-commit try-repo` would install afresh on every call.)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from generator.cli import main
from generator.crds.sources import crd_files
from generator.spec.model import Platform
from tests.support.actions_lint import venv_tool
from tests.support.paths import CRDS, REPO_ROOT

TIMEOUT = 900  # seconds: the first run installs kserve-gitops and its dependencies into pre-commit's virtualenv
HOOKS = ("kserve-gitops-render", "kserve-gitops-validate")
# One xdist worker runs them all, so the install happens once per test run.
pytestmark = pytest.mark.xdist_group("pre-commit")


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This repository as it is on disk, uncommitted changes included, as one commit: (path, sha)."""
    snapshot = tmp_path_factory.mktemp("hook-repo") / "kserve-gitops"
    _git(snapshot.parent, "clone", "--quiet", str(REPO_ROOT), str(snapshot))
    changed = _git(REPO_ROOT, "diff", "--name-only", "HEAD").split("\n")
    untracked = _git(REPO_ROOT, "ls-files", "--others", "--exclude-standard").split("\n")
    for path in filter(None, changed + untracked):
        (snapshot / path).unlink(missing_ok=True)
        if (REPO_ROOT / path).is_file():
            (snapshot / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REPO_ROOT / path, snapshot / path)
    _git(snapshot, "add", "--all")
    _git(snapshot, "commit", "--quiet", "--allow-empty", "--message", "snapshot of the working tree")
    return snapshot, _git(snapshot, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def scratch(tmp_path: Path, hook_repo: tuple[Path, str]) -> Path:
    """A platform repository made by `kserve-gitops init`, with its CRDs in place (as `schemas fetch` leaves
    them) and both hooks in its .pre-commit-config.yaml, committed."""
    root = tmp_path / "platform"
    assert main(["init", str(root)]) == 0
    for file in crd_files(Platform()):
        (root / "schemas" / "crds" / file.local).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CRDS / file.local, root / "schemas" / "crds" / file.local)
    path, rev = hook_repo
    (root / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {path}\n    rev: {rev}\n    hooks:\n" + "".join(f"      - id: {hook}\n" for hook in HOOKS)
    )
    _git(root, "init", "--quiet")
    _git(root, "add", "--all")
    _git(root, "commit", "--quiet", "--message", "init")
    return root


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=120).stdout


def _pre_commit(root: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        [venv_tool("pre-commit", "pre-commit"), "run", "--all-files"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _results(output: str) -> dict[str, str]:
    """`kserve-gitops validate....Passed` → {"kserve-gitops validate": "Passed"}."""
    found = (re.fullmatch(r"(.+?)\.{3,}(Passed|Failed)", line) for line in output.splitlines())
    return {match[1]: match[2] for match in found if match}


def test_both_hooks_pass_on_a_repository_made_by_init(scratch: Path, pre_commit_home: Path) -> None:
    done = _pre_commit(scratch, pre_commit_home)

    assert done.returncode == 0, done.stdout + done.stderr
    assert _results(done.stdout) == {"kserve-gitops render --check": "Passed", "kserve-gitops validate": "Passed"}


def test_both_hooks_fail_on_a_hand_edited_manifest(scratch: Path, pre_commit_home: Path) -> None:
    kustomization = scratch / "environments" / "dev" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("resources: []", "resources: [extra.yaml]"))

    done = _pre_commit(scratch, pre_commit_home)

    assert done.returncode == 1, done.stdout + done.stderr
    assert _results(done.stdout) == {"kserve-gitops render --check": "Failed", "kserve-gitops validate": "Failed"}
    assert "+resources: []" in done.stdout  # render --check shows the diff back to what models.yaml renders
    assert "environments/dev/kustomization.yaml" in done.stdout
