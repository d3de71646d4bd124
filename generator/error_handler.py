"""The one place where exceptions become exit codes and messages.

User errors print their diagnostics and no traceback; anything else is a bug,
printed as one line unless --debug asks for the traceback. Whatever is printed
here is redacted: a traceback quotes exception arguments (a tracking URI with its
password, a header), and --debug is what people paste into issues.
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
from generator.util.excerpt import MESSAGE_LIMIT, excerpt


def run(job: Callable[[], int], *, debug: bool = False) -> int:
    try:
        with _sigterm_raises():
            return job()
    except UserError as exc:
        if debug:
            _print_traceback(exc)
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
            _print_traceback(exc)
        print(f"unexpected error: {type(exc).__name__}: {excerpt(str(exc), MESSAGE_LIMIT)}\n"
              "This is a bug in kserve-gitops; rerun with --debug for the traceback.", file=sys.stderr)
        return EXIT_BUG


def _print_traceback(exc: BaseException) -> None:
    """The traceback with its chained causes, each line redacted and cut like a message."""
    lines = "".join(traceback.format_exception(exc)).splitlines()
    print("\n".join(excerpt(line, MESSAGE_LIMIT) for line in lines), file=sys.stderr)


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
