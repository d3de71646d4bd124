"""The KServe and Argo CD CRDs that manifests are validated against, fetched for the user.

CRDs are never copied into a repository: `sources` says which files a platform's
pinned releases need and records their hashes in a lock; `fetch` downloads them.
"""

from pathlib import Path

from generator.write import STATE_DIR

DEFAULT_BASE_URL = "https://raw.githubusercontent.com"  # where `schemas fetch` downloads from, unless told
BASE_URL_ENV = "KSERVE_GITOPS_CRD_BASE_URL"
CRD_LOCK_FILE = "crds.lock.yaml"  # the sha256 of each fetched file, beside them


def yaml_files(directory: Path) -> list[Path]:
    """Every YAML file (`.yaml`, `.yml`) below `directory`, sorted, but those in this tool's state directory; none
    when it is no directory. What a CRD directory without a lock is read as, what one with a lock holds no more of,
    and so what a verdict depends on among its files: a file of any other name is never read as a CRD."""
    if not directory.is_dir():
        return []
    found = [*directory.rglob("*.yaml"), *directory.rglob("*.yml")]
    return sorted(p for p in found if STATE_DIR not in p.relative_to(directory).parts)
