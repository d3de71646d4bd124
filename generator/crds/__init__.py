"""The KServe and Argo CD CRDs that manifests are validated against, fetched for the user.

CRDs are never copied into a repository: `sources` says which files a platform's
pinned releases need and records their hashes in a lock; `fetch` downloads them.
"""

import os
from pathlib import Path

from generator.write import STATE_DIR

DEFAULT_BASE_URL = "https://raw.githubusercontent.com"  # where `schemas fetch` downloads from, unless told
BASE_URL_ENV = "KSERVE_GITOPS_CRD_BASE_URL"
CRD_LOCK_FILE = "crds.lock.yaml"  # the sha256 of each fetched file, beside them


def yaml_files(directory: Path) -> list[Path]:
    """Every YAML file (`.yaml`, `.yml`) below `directory`, sorted, but those in this tool's state directory; none
    when it is no directory. What a CRD directory without a lock is read as, what one with a lock holds no more of,
    and so what a verdict depends on among its files: a file of any other name is never read as a CRD. Directories
    reached through a symbolic link count (a lock may list a file through one, which is then read), each once."""
    if not directory.is_dir():
        return []
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for top, directories, files in os.walk(directory, followlinks=True):
        try:
            info = os.stat(top)
        except OSError:
            info = None
        if info is None or (info.st_dev, info.st_ino) in seen:  # a link to a directory above, or one seen already
            directories.clear()
            continue
        seen.add((info.st_dev, info.st_ino))
        directories[:] = sorted(name for name in directories if name != STATE_DIR)  # the same walk every time
        found += [Path(top, name) for name in files if name.endswith((".yaml", ".yml"))]
    return sorted(found)
