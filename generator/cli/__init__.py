"""The `kserve-gitops` command line: parse options, call the pipeline, map errors to exit codes.

Commands parse their options, call the pipeline and emit a report (generator/cli/_report.py); whatever they
raise reaches `main`, the one place the error handler is wired in.
"""

from __future__ import annotations

import atexit
import codecs
import gc
import importlib
import io
import json
import os
import sys
import threading
from collections.abc import Sequence
from typing import Annotated

import typer

from generator import __version__
from generator.error_handler import Invocation, flush_output, run, written
from generator.errors import EXIT_INTERRUPTED
from generator.redact import install_log_redaction
from generator.repo_lock import DEFAULT_TIMEOUT, TIMEOUT_ENV

# Each command's module in this package (NAME, HELP, EXAMPLE, command), by its name, in the order help lists them;
# then the groups' (app).
COMMANDS = {name: name for name in ("init", "validate", "lock", "render", "generate", "diff", "gate", "pin", "unpin")}
COMMANDS |= {"smoke-test": "smoke", "compat": "compat", "propose": "propose", "status": "status"}
GROUPS = ("schemas", "webhook", "image")


def _version(value: bool) -> None:
    if value:
        with written():
            print(f"kserve-gitops {__version__}")
        raise typer.Exit()


def _global(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    lock_timeout: Annotated[
        float,
        typer.Option(
            "--lock-timeout",
            envvar=TIMEOUT_ENV,
            min=0,
            metavar="SECONDS",
            help="How long to wait for another kserve-gitops run on the same repository before giving up.",
        ),
    ] = DEFAULT_TIMEOUT,
) -> None:
    invocation: Invocation = ctx.obj
    invocation.debug = debug
    invocation.lock_timeout = lock_timeout


def application(argv: Sequence[str]) -> typer.Typer:
    """The command line for `argv`: with the one command it names, else (help, a misspelt name) with every one.
    typer turns each command into click's in every run, ~10 ms for all of them: a one-model edit pays for its own."""
    app = typer.Typer(
        name="kserve-gitops",
        help="Resolve MLflow model references in models.yaml, lock them, and render KServe manifests for Argo CD.",
        pretty_exceptions_show_locals=False,
        pretty_exceptions_enable=False,
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
    )
    app.callback()(_global)
    named = _named(argv)
    for name, module in COMMANDS.items():
        if named in (None, name):
            command = importlib.import_module(f"generator.cli.{module}")
            app.command(name=command.NAME, help=command.HELP, epilog=command.EXAMPLE)(command.command)
    for name in GROUPS:
        if named in (None, name):
            app.add_typer(importlib.import_module(f"generator.cli.{name}").app, name=name)
    return app


def _named(argv: Sequence[str]) -> str | None:
    """The command `argv` names: its first argument that is neither a global option nor an option's value, when that
    is a command's name."""
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--lock-timeout":
            next(arguments, None)
        elif not argument.startswith("-"):
            return argument if argument in (*COMMANDS, *GROUPS) else None
    return None


def entry() -> int:
    """The installed `kserve-gitops` and `python -m generator`: `main` in a process of its own, which exits when it
    returns. Whatever is still alive then is frozen out of the cyclic collector, whose last collections at exit
    would otherwise walk the whole heap (the modules and what they cache): ~5% of a one-model edit of 1,000 models
    (bench/README.md). During the run itself the collector is paused (`_build.collector_paused`). Not in `main`, which
    tests call many times in one process, where frozen garbage would never be freed.

    A call abandoned at its deadline may still run in a thread the interpreter waits for at exit (mlflow downloads
    an MLmodel with a thread pool of its own, which a trickling server keeps busy for ever): the run is over and its
    answer printed, so the process then ends without waiting.

    Otherwise the process ends as Python ends it, exit handlers and all, but for the teardown of every module and
    object (`_untorn`): freeing memory the system frees anyway took ~4 ms of a one-model edit of 1,000 models and
    ~30 ms of a full run (bench/README.md)."""
    _escape_what_the_output_cannot_encode()
    returned: list[int] = []
    if _exit_handlers() == 0:  # then this one runs last; else one registered before it (coverage's) would be skipped
        atexit.register(_untorn, returned)
    try:
        code = main()
    finally:
        gc.freeze()
    if _waited_for_at_exit():
        if (logging := sys.modules.get("logging")) is not None:  # imported only by what logs
            logging.shutdown()
        flush_output()
        os._exit(code)
    returned.append(code)
    return code


def _escape_what_the_output_cannot_encode() -> None:
    """Standard output in an encoding without some character a message quotes (an ASCII or Latin-1 locale,
    PYTHONIOENCODING) says it as an escape instead of ending the command with a UnicodeEncodeError after part of its
    output: `\\u00ef`, which text shows and `-o json` reads back as the character (Python's `\\xef` is no JSON)."""
    if isinstance(sys.stdout, io.TextIOWrapper) and sys.stdout.errors == "strict":
        codecs.register_error(_JSON_ESCAPE, _json_escaped)
        sys.stdout.reconfigure(errors=_JSON_ESCAPE)


_JSON_ESCAPE = "kserve-gitops-json-escape"


def _json_escaped(error: UnicodeError) -> tuple[str, int]:
    """The characters an encoding cannot hold as JSON's `\\uXXXX`, a character past U+FFFF as its UTF-16 pair."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    unsaid = error.object[error.start : error.end]
    return json.dumps(unsaid)[1:-1], error.end


def _untorn(returned: list[int]) -> None:
    """At exit, after every other exit handler (all registered after it) and after the interpreter joined its
    threads: end the process with the code `entry` returned, its output flushed, without tearing down modules.
    When `entry` raised instead, or the output still cannot be flushed (`run` flushed it, and pointed a stream it could
    not write at /dev/null), the interpreter ends it as usual and says what it says."""
    if not returned:
        return
    try:
        flush_output()
    except (OSError, ValueError):
        return
    os._exit(returned[0])


def _exit_handlers() -> int:
    """How many exit handlers are registered; CPython's count (`atexit._ncallbacks`), else assumed some."""
    count = getattr(atexit, "_ncallbacks", None)
    return count() if callable(count) else 1


def _waited_for_at_exit() -> bool:
    """Whether a thread the interpreter joins at exit is still alive: a non-daemon one, or a worker of a
    concurrent.futures pool, which is joined at exit even when it is a daemon (CPython's concurrent/futures/
    thread.py, `_python_exit`, joins every thread in `_threads_queues`)."""
    pools = sys.modules.get("concurrent.futures.thread")
    workers = set(getattr(pools, "_threads_queues", {}))
    others = (t for t in threading.enumerate() if t is not threading.main_thread())
    return any(t.is_alive() and (not t.daemon or t in workers) for t in others)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI under the error handler; returns the exit code instead of exiting, so tests can call it with a
    list. The options fill in the `Invocation` (--debug, -o) that decides how a failure is shown."""
    install_log_redaction()
    invocation = Invocation()
    return run(lambda: _app(argv, invocation), invocation)


def _app(argv: list[str] | None, invocation: Invocation) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    try:
        application(arguments)(args=arguments, prog_name="kserve-gitops", obj=invocation)
    except SystemExit as exc:
        if exc.code == EXIT_INTERRUPTED:  # typer's answer to Ctrl-C; the handler says so, in the chosen format
            raise KeyboardInterrupt from exc
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return 0
