"""The KServe and Argo CD CRDs that manifests are validated against, fetched for the user.

CRDs are never copied into a repository: `sources` says which files a platform's
pinned releases need and records their hashes in a lock; `fetch` downloads them.
"""

DEFAULT_BASE_URL = "https://raw.githubusercontent.com"  # where `schemas fetch` downloads from, unless told
BASE_URL_ENV = "KSERVE_GITOPS_CRD_BASE_URL"
CRD_LOCK_FILE = "crds.lock.yaml"  # the sha256 of each fetched file, beside them
