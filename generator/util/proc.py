"""The one door to subprocesses: run a command, get stdout, or an error that shows everything.

A failing external tool is only debuggable from its exit code and both output streams,
so `CommandError` keeps all four and prints them (pre-commit's `util.cmd_output`).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from generator.errors import EnvironmentProblem

GIT_TIMEOUT = (
    30.0  # seconds for one local git command (rev-parse, show, ls-files…): quick, but a repository may be huge
)


class CommandError(Exception):
    """A command exited non-zero, or could not be started at all (rc 127)."""

    def __init__(self, cmd: Sequence[str], rc: int, stdout: str, stderr: str) -> None:
        self.cmd = tuple(cmd)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(cmd, rc, stdout, stderr)

    def __str__(self) -> str:
        return (
            f"command failed with exit code {self.rc}: {shlex.join(self.cmd)}\n"
            f"stdout:\n{_indent(self.stdout)}\n"
            f"stderr:\n{_indent(self.stderr)}"
        )


def run_git(cwd: Path, *args: str, timeout: float = GIT_TIMEOUT) -> str:
    """`git args` in `cwd`. git missing, or not answering within `timeout`, is the machine's problem: an
    EnvironmentProblem that says so; any other failure a CommandError, for the caller to word."""
    try:
        return run_cmd(["git", *args], cwd=cwd, timeout=timeout)
    except CommandError as e:
        if e.rc == 127:
            raise EnvironmentProblem.simple(
                f"git cannot be run: {e.stderr.strip()}", hint="install git, or put it on PATH"
            ) from None
        if e.rc == 124:
            raise EnvironmentProblem.simple(
                f"`git {' '.join(args)}` did not answer within {timeout:g} s in {cwd}",
                hint="retry; if it persists, check the repository with `git fsck`",
            ) from None
        raise


def run_cmd(
    args: Sequence[str],
    *,
    cwd: Path | str | None = None,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    output: Path | None = None,
    session: bool = False,
) -> str:
    """Run `args` without a shell and return its stdout; raise CommandError unless it exits 0 in time (rc 124).

    The program is found on PATH here and file descriptors are left to close-on-exec (Python opens every one
    so), which lets subprocess start it with posix_spawn: otherwise the child is, until it execs, a second view
    of this whole process, which memory polls (the benchmarks' peak with children) count twice.

    `output`: a file that receives stdout instead (then "" is returned). A thread that waits for a command
    while another thread computes takes the interpreter lock back after every 32 KB read from a pipe, each time
    waiting up to the switch interval (5 ms): for a large output that is longer than the command ran.

    `session`: the command runs in a session of its own, and at the timeout, or when this process is interrupted,
    the whole session is stopped (SIGTERM, then SIGKILL): what it started too, such as the downloads of an
    `mlflow` command, which `subprocess.run` would leave running.
    """
    bare = bool(args) and "/" not in args[0]  # a path is the child's to resolve, relative to its cwd
    program = shutil.which(args[0], path=(env or os.environ).get("PATH")) if bare else None
    if session:
        return _in_session(args, program, cwd, timeout, env)
    try:
        with open(output, "wb") if output is not None else contextlib.nullcontext(subprocess.PIPE) as stdout:
            done = subprocess.run(
                list(args),
                executable=program,
                cwd=cwd,
                stdout=stdout,
                stderr=subprocess.PIPE,
                text=True,
                errors="surrogateescape",  # bytes that are not UTF-8 kept as they came, for `_shown` and `_strict`
                check=False,
                timeout=timeout,
                env=env,
                close_fds=False,
            )
    except subprocess.TimeoutExpired as e:
        raise CommandError(args, 124, _text(e.stdout), f"{_text(e.stderr)}\ntimed out after {timeout:.0f} s") from e
    except OSError as e:
        raise CommandError(args, 127, "", str(e)) from e
    if done.returncode != 0:
        raise CommandError(args, done.returncode, _shown(done.stdout or ""), _shown(done.stderr))
    return _strict(done.stdout or "")


def _shown(output: str) -> str:
    """What a command printed, for people: a message in a locale that is not UTF-8 (git's, translated to Latin-1)
    shows with replacement characters instead of failing to decode."""
    return output.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _strict(output: str) -> str:
    """A successful command's output, which is data: UnicodeDecodeError, with the bytes, when it is not UTF-8 (a file
    `git show` printed), for the caller to say where."""
    return output.encode("utf-8", "surrogateescape").decode("utf-8")


_STOP_GRACE = 5.0  # seconds a stopped session gets to end after SIGTERM, before SIGKILL


def _in_session(
    args: Sequence[str], program: str | None, cwd: Path | str | None, timeout: float | None, env: dict[str, str] | None
) -> str:
    try:
        process = subprocess.Popen(
            list(args),
            executable=program,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=env,
            close_fds=False,
            start_new_session=True,
        )
    except OSError as e:
        raise CommandError(args, 127, "", str(e)) from e
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stdout, stderr = _stop(process)
        raise CommandError(args, 124, stdout, f"{stderr}\ntimed out after {timeout:.0f} s") from None
    except BaseException:
        _stop(process)
        raise
    if process.returncode != 0:
        raise CommandError(args, process.returncode, stdout or "", stderr or "")
    return stdout or ""


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    """End `process` and its session; what it printed."""
    for sig, grace in ((signal.SIGTERM, _STOP_GRACE), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError):  # already ended
            os.killpg(process.pid, sig)
        try:
            stdout, stderr = process.communicate(timeout=grace)
            return stdout or "", stderr or ""
        except subprocess.TimeoutExpired:
            continue
    return "", ""


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.rstrip("\n").splitlines()) or "    (empty)"


def _text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""
