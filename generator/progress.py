"""Progress on standard error for the pipeline's long stages, shown only to a person watching a terminal.

The one door to the progress display: the pipeline says what a stage is doing (`with stage("resolving
…"):`) and knows nothing of how it is drawn. Rich draws it (a spinner and the stage's description,
erased when the stage ends), and is imported only when standard error is a terminal, so piped output,
CI logs and tests stay silent and every other start stays light. Standard output is never touched:
`-o json` documents stay clean.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stage(description: str) -> Iterator[None]:
    """Show `description` with a spinner while the block runs, if standard error is a terminal."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console  # noqa: PLC0415 -- only for a terminal

    with Console(stderr=True).status(description, spinner="dots"):
        yield
