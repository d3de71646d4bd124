"""The one place where exceptions become exit codes and messages.

User errors print their diagnostics and no traceback; anything else is a bug,
printed as one line unless --debug asks for the traceback.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from types import FrameType

from generator.errors import EXIT_BUG, EXIT_INTERRUPTED, Interrupted, UserError


def run(job: Callable[[], int], *, debug: bool = False) -> int:
    try:
        with _sigterm_raises():
            return job()
    except UserError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}" if len(exc.diagnostics) == 1 else f"error: {len(exc.diagnostics)} problems\n{exc}",
              file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Interrupted as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        if debug:
            traceback.print_exc()
        print(f"unexpected error: {type(exc).__name__}: {exc}\n"
              "This is a bug in kserve-gitops; rerun with --debug for the traceback.", file=sys.stderr)
        return EXIT_BUG


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """SIGTERM (`kill`, a CI runner's cancel, Kubernetes stopping a pod) unwinds like Ctrl-C does, so
    `finally` blocks and the write rollback run and the exit code says what happened (143)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
