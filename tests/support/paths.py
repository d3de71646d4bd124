"""Where the tests find things outside their temp dirs."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# The KServe and Argo CD CRDs models.yaml pins, fetched by `kserve-gitops schemas fetch` as a user would
# (tests/conftest.py does it before the run) and checked against the committed crds.lock.yaml.
CRDS = REPO_ROOT / "schemas" / "crds"
# The committed example: what `render` wrote from models.yaml and models.lock at the repository root.
EXAMPLE = ("models.yaml", "models.lock", "kustomization.yaml", "environments", "argocd", "cluster")


def copy_example(dest: Path) -> Path:
    """The committed example, copied to `dest` (which must not exist yet), so a test may change it."""
    dest.mkdir()
    for name in EXAMPLE:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name)
        else:
            shutil.copy2(source, dest / name)
    return dest
