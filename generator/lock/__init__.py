"""models.lock: what each declared reference resolved to, written by `lock` and read by every other step."""

LOCK_FILE = "models.lock"  # at the repository's root, next to models.yaml
