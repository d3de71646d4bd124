"""Where the tests find things outside their temp dirs."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# The real KServe v0.20.0 and Argo CD v3.5.1 CRDs, beside the repository (never copied into it).
SHARED_CRDS = (REPO_ROOT / ".." / "shared" / "crds").resolve()
