"""The errors a user may see. Anything else is a bug and exits with EXIT_BUG.

`UserError` carries one or more diagnostics; `str(error)` is the whole message.
Exit codes: 0 ok, 1 invalid input or drift found, 2 usage or environment
(registry unreachable, tool missing, path unwritable, repository locked, output unwritable), 3 bug, 130 interrupted
(SIGINT), 141 output pipe closed (as SIGPIPE ends other commands), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from typing import Self

from generator.diagnostics import Diagnostic, ordered

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_ENVIRONMENT = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130
EXIT_CLOSED_PIPE = 128 + signal.SIGPIPE  # 141: what a shell reports for a command SIGPIPE ended


class UserError(Exception):
    """A problem the user can fix; printed without a traceback."""

    exit_code = EXIT_INVALID

    def __init__(self, diagnostics: Diagnostic | Iterable[Diagnostic]) -> None:
        items = [diagnostics] if isinstance(diagnostics, Diagnostic) else list(diagnostics)
        self.diagnostics: list[Diagnostic] = ordered(items)
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    @classmethod
    def simple(cls, message: str, *, hint: str = "", file: str = "", path: str = "") -> Self:
        return cls(Diagnostic(file=file, path=path, message=message, hint=hint))


class SpecError(UserError):
    """models.yaml is not valid."""


class LockError(UserError):
    """models.lock cannot be read or does not match models.yaml."""


class RegistryError(UserError):
    """A reference cannot be resolved in the registry (unknown model, alias, version)."""


class RegistryUnavailable(UserError):
    """The registry cannot be reached or keeps failing."""

    exit_code = EXIT_ENVIRONMENT


class ValidationFailed(UserError):
    """Rendered manifests do not pass the cluster-side checks."""


class DriftFound(UserError):
    """`--check` found files that differ from what would be written."""


class EnvironmentProblem(UserError):
    """The machine lacks something: a tool, a writable path, a CRD directory."""

    exit_code = EXIT_ENVIRONMENT


FILE_SIZE_LIMIT_HINT = "raise this process's file size limit (`ulimit -f`, RLIMIT_FSIZE), which a file to write exceeds"
UNREADABLE_HINT = "make it readable for this user, and the directories above it searchable (`ls -la`)"


def unreadable(file: str, exc: PermissionError) -> EnvironmentProblem:
    """A file of the repository this user may not read (left by another user, root): this machine's problem."""
    return EnvironmentProblem.simple(f"cannot read: {exc.strerror}", file=file, hint=UNREADABLE_HINT)


class SmokeFailed(UserError):
    """The model, its files or its answer are not what a client of its protocol needs."""


class EndpointUnreachable(UserError):
    """No answer at all: wrong URL, service down, or not reachable from here."""

    exit_code = EXIT_ENVIRONMENT


class ProposeError(UserError):
    """A proposal cannot be published: a branch kept moving, GitHub refused a request."""


class ProposeDenied(ProposeError):
    """The token or the environment lacks what propose needs (a permission, GITHUB_REPOSITORY)."""

    exit_code = EXIT_ENVIRONMENT


class Interrupted(BaseException):
    """SIGINT or SIGTERM turned into an exception. A BaseException, like KeyboardInterrupt, so that no
    `except Exception` in a library swallows it; the exit code is the shell's 128 + signal number."""

    def __init__(self, signum: int, outcome: str = "") -> None:
        self.exit_code = 128 + signum
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}; {outcome}" if outcome else f"interrupted by {name}")
