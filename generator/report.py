"""Diagnostics as text (grouped by file), GitHub workflow annotations, or inside a command's JSON document."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Sequence
from itertools import groupby
from typing import Any, Literal, TextIO

from generator.diagnostics import INVISIBLE, UNSEEN, Diagnostic, errors, escaped, ordered, printable, warnings
from generator.excerpt import MESSAGE_LIMIT, excerpt

Format = Literal["text", "json", "github"]
# What GitHub's runner takes for a workflow command in a step's output (actions/runner, ActionCommandManager): a
# line (ended by '\n' or '\r') that starts with '::' after blanks, or that holds '##[' anywhere (the old form). Blanks
# as .NET's TrimStart() takes them (ActionCommand.TryParseV2): every Unicode white space, a no-break space or an
# ideographic space too, which a quoted YAML line may start with.
_COMMAND_LIKE = re.compile(r"(?:^|\r)[^\S\n]*::|##\[", re.MULTILINE)
_TERMINAL_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{UNSEEN}{INVISIBLE}]")  # all a terminal acts on but \n, \t
# json.dumps escapes the rest (below 0x20) itself; a lone surrogate (a server's JSON may say "\\ud800") cannot be
# written as UTF-8 at all: printing it would fail, and no document would be printed.
_JSON_HIDDEN = re.compile(f"[\x7f-\x9f{UNSEEN}{INVISIBLE}\ud800-\udfff]")


def inert(text: str, *, into: TextIO | None = None) -> str:
    """`text` as neither a terminal nor the runner will act on it. Findings, diffs and answers quote what a pull
    request or a server wrote (a key, a file name, a file's lines, an output's name), which could otherwise drive the
    terminal (an escape sequence, a carriage return that hides a line), add annotations of its own or
    `::stop-commands::` the real ones. Every control character but line breaks and tabs is shown as its escape.
    Under GitHub Actions, text that looks like a command is wrapped in `::stop-commands::<token>` … `::<token>::`, the
    documented way to print untrusted text (a token nobody can guess). `into`: the stream it goes to; the runner reads
    a step's output, never a regular file, so text redirected to one (`diff -o markdown > comment.md`, the
    pull-request comment) is not wrapped: the runner's lines would be in the comment, before the marker it starts
    with."""
    text = _escaped(text)
    if not text or os.environ.get("GITHUB_ACTIONS") != "true" or not _COMMAND_LIKE.search(text) or _file(into):
        return text
    import secrets  # noqa: PLC0415 -- only for text that needs it (random's import is not free)

    token = secrets.token_hex(16)
    ended = text if text.endswith("\n") else text + "\n"
    return f"::stop-commands::{token}\n{ended}::{token}::\n"


def _file(stream: TextIO | None) -> bool:
    """Whether `stream` writes to a regular file (not the terminal or pipe a runner reads)."""
    try:
        return stream is not None and stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):  # no file descriptor (io.UnsupportedOperation is both), or a closed one
        return False


def _escaped(text: str) -> str:
    """Every control, bidirectional or invisible character but line breaks and tabs as its escape (`\\x1b`)."""
    return _TERMINAL_CONTROL.sub(lambda match: escaped(match.group()), text)


def text(diagnostics: Sequence[Diagnostic]) -> str:
    lines: list[str] = []
    for file, group in groupby(ordered(diagnostics), key=lambda d: d.file):
        lines.append(printable(file) or "(general)")
        for d in group:
            lines.extend(f"  {line}" for line in d.describe(with_file=False).splitlines())
    return "\n".join(lines) + ("\n" if lines else "")


def document(command: str, findings: Sequence[Diagnostic], *, ok: bool, **fields: Any) -> str:
    """The one JSON document every command prints with `-o json`, on success and on failure (docs/cli-json.md):
    which command, whether it succeeded, its findings counted and listed, then what only this command reports."""
    items = ordered(findings)
    body = {
        "command": command,
        "ok": ok,
        "errors": len(errors(items)),
        "warnings": len(warnings(items)),
        "findings": [d.as_dict() for d in items],
        **fields,
    }
    return json_text(body, indent=2) + "\n"


def json_text(value: Any, *, indent: int | None = None) -> str:
    """JSON as this tool prints it: text as it reads, but for what a terminal acts on or does not show (C1 controls,
    bidirectional controls, invisible characters) and lone surrogates, written `\\uXXXX`, and `##[`, written
    `##\\u005b`, which a runner would take for a command. Such characters occur only inside strings (JSON's own
    syntax is ASCII), where every JSON reader reads the escape back as the same string."""
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    return _JSON_HIDDEN.sub(lambda match: json.dumps(match.group())[1:-1], text).replace("##[", "##\\u005b")


def github(diagnostics: Sequence[Diagnostic], prefix: str = "") -> str:
    """`::error file=…,line=…::message` lines, which GitHub shows on the pull request's diff. `prefix`: the
    repository's path from the checkout's git root (`platform/`), from where GitHub reads `file=`. The file and the
    message are shown as text and JSON show them (`printable`, `_escaped`): they quote what a pull request wrote (a
    key holding a bidirectional override would reorder the annotation), and a file name that is not UTF-8 could not
    be printed at all."""

    def escape(value: str) -> str:
        return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def escape_property(value: str) -> str:
        """A property also ends at ',' and the properties at ':': a file named `x,line=9::y` would otherwise
        write its own annotation (actions/toolkit, packages/core/src/command.ts, `escapeProperty`)."""
        return escape(value).replace(":", "%3A").replace(",", "%2C")

    lines = []
    for d in ordered(diagnostics):
        props = [f"file={escape_property(printable(prefix + d.file))}"] if d.file else []
        props += [f"line={d.line}"] if d.line else []
        props += [f"col={d.column}"] if d.column else []
        props += [f"title={escape_property(d.rule)}"] if d.rule else []
        message = excerpt(d.message, MESSAGE_LIMIT)
        body = f"{d.path}: {message}" if d.path else message
        body += f"\nfix: {excerpt(d.hint, MESSAGE_LIMIT)}" if d.hint else ""
        lines.append(f"::{d.severity} {','.join(props)}::{escape(_escaped(body))}")
    return "\n".join(lines) + ("\n" if lines else "")
