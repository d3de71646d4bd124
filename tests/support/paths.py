"""Where the tests find things outside their temp dirs."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# The KServe and Argo CD CRDs models.yaml pins, fetched by `kserve-gitops schemas fetch` as a user would
# (tests/conftest.py does it before the run) and checked against the committed crds.lock.yaml.
CRDS = REPO_ROOT / "schemas" / "crds"
