"""The KServe and Argo CD CRDs that manifests are validated against, fetched for the user.

CRDs are never copied into a repository: `sources` says which files a platform's
pinned releases need and records their hashes in a lock; `fetch` downloads them.
"""
