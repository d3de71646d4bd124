"""Set environment variables for one block: mlflow reads its HTTP, tracking and S3 settings only from there."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def scoped_environ(values: dict[str, str]) -> Iterator[None]:
    """Set `values` for the block, then restore what was there (or remove what was not)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
