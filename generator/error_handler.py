"""The one place where exceptions become exit codes and messages.

User errors print their diagnostics and no traceback; anything else is a bug,
printed as one line unless --debug asks for the traceback. With `-o json` the
same failure is the command's JSON document on standard output (ok: false, the
diagnostics as findings), so a tool reads one shape whatever happened; the exit
code is the same either way. Whatever is printed here is redacted: a traceback
quotes exception arguments (a tracking URI with its password, a header), and
--debug is what people paste into issues.

Standard output that cannot take what is printed (`> /dev/full`, a full disk, a pipe whose reader left) is no bug:
the writes of a report are made `written`, and `run` flushes both streams itself, so a failure to write either is
seen here, wherever it happens (at once when output is unbuffered, PYTHONUNBUFFERED, else at the flush).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType

from generator.diagnostics import Diagnostic
from generator.errors import (
    EXIT_BUG,
    EXIT_CLOSED_PIPE,
    EXIT_ENVIRONMENT,
    EXIT_INTERRUPTED,
    Interrupted,
    UserError,
)
from generator.excerpt import MESSAGE_LIMIT, excerpt
from generator.repo_lock import DEFAULT_TIMEOUT
from generator.report import document, inert

BUG_HINT = "This is a bug in kserve-gitops; rerun with --debug for the traceback."


@dataclass
class Invocation:
    """What the command line chose that decides how a failure is shown; filled in as the options are parsed."""

    debug: bool = False
    command: str = ""  # "lock", "schemas fetch": the name a JSON document carries
    output: str = "text"  # the command's -o/--format
    lock_timeout: float = DEFAULT_TIMEOUT  # seconds to wait for another run on the same repository
    # Warnings the repository session gave before the command's own findings (a killed run's write recovered), kept
    # for the report where it is a document (-o json) or annotations (-o github); text prints them at once.
    recovered: list[Diagnostic] = field(default_factory=list)


class OutputFailed(Exception):
    """Standard output or error refused what was printed on it (`written`)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


@contextlib.contextmanager
def written() -> Iterator[None]:
    """Around printing a report: the system's refusal to take it is the output's failure (`OutputFailed`), not the
    command's, whatever the command was doing."""
    try:
        yield
    except OSError as exc:
        raise OutputFailed(exc) from exc


def flush_output() -> None:
    """Flush standard output and error, but one the command was started without (`>&-`: Python's is then None)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


def run(job: Callable[[], int], invocation: Invocation) -> int:
    try:
        code = _handled(job, invocation)
        with written():
            flush_output()
    except OutputFailed as exc:
        return _unwritten(exc.error)
    return code


def _unwritten(error: OSError) -> int:
    """The output could not be written. A pipe whose reader left (`| head`) ends the command quietly with the code a
    shell gives a command SIGPIPE ends (141), as other Unix tools end; any other refusal (a full disk, an I/O error)
    is this machine's problem, said in one line on standard error if that still takes it (exit 2). A stream that
    still holds what it could not write is then pointed at /dev/null, so the interpreter's own flush at exit has
    nothing to fail on (Python's "Exception ignored" and exit 120)."""
    if error.errno != errno.EPIPE and sys.stderr is not None:
        with contextlib.suppress(OSError, ValueError):
            print(f"error: cannot write standard output: {error.strerror or error}", file=sys.stderr, flush=True)
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except OSError:
            with contextlib.suppress(OSError, ValueError):  # no file descriptor (a test's stream)
                nowhere = os.open(os.devnull, os.O_WRONLY)
                os.dup2(nowhere, stream.fileno())
                os.close(nowhere)
    return EXIT_CLOSED_PIPE if error.errno == errno.EPIPE else EXIT_ENVIRONMENT


def _handled(job: Callable[[], int], invocation: Invocation) -> int:
    try:
        with _sigterm_raises():
            return job()
    except UserError as exc:
        if invocation.debug:
            _print_traceback(exc)
        with written():
            if invocation.output == "json":
                print(document(invocation.command, [*invocation.recovered, *exc.diagnostics], ok=False), end="")
            else:
                said = (
                    f"error: {exc}" if len(exc.diagnostics) == 1 else f"error: {len(exc.diagnostics)} problems\n{exc}"
                )
                print(inert(_recovered_text(invocation) + said + "\n"), end="", file=sys.stderr)
        return exc.exit_code
    except OutputFailed:
        raise
    except KeyboardInterrupt:
        _fail(invocation, "interrupted", "")
        return EXIT_INTERRUPTED
    except Interrupted as exc:
        _fail(invocation, f"error: {exc}", "")
        return exc.exit_code
    except Exception as exc:
        if invocation.debug:
            _print_traceback(exc)
        _fail(invocation, f"unexpected error: {type(exc).__name__}: {excerpt(str(exc), MESSAGE_LIMIT)}", BUG_HINT)
        return EXIT_BUG


def _fail(invocation: Invocation, message: str, hint: str) -> None:
    """A failure that is no diagnostic of the user's input: one line (and the hint) on stderr, or the document."""
    with written():
        if invocation.output == "json":
            failure = Diagnostic(message=message, hint=hint)
            print(document(invocation.command, [*invocation.recovered, failure], ok=False), end="")
        else:
            said = f"{message}\n{hint}\n" if hint else f"{message}\n"
            print(inert(_recovered_text(invocation) + said), end="", file=sys.stderr)


def _recovered_text(invocation: Invocation) -> str:
    """The session's warnings kept for a report (-o github) the failure prevented: said in text, before it."""
    return "".join(f"{d}\n" for d in invocation.recovered)


def _print_traceback(exc: BaseException) -> None:
    """The traceback with its chained causes, each line redacted and cut like a message, and `inert`: it quotes what
    a server said (MLflow's error message), which could otherwise drive the terminal or add annotations."""
    lines = "".join(traceback.format_exception(exc)).splitlines()
    print(inert("".join(f"{excerpt(line, MESSAGE_LIMIT)}\n" for line in lines)), end="", file=sys.stderr)


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
