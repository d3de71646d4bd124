"""What a command prints, in one place: text for people, or with `-o json` one document for tools.

Text mode prints the command's text on standard output and its findings (warnings, or the error that
makes it fail) on standard error. JSON mode prints only `generator.report.document` on standard output:
the same findings, and the command's own fields (docs/cli-json.md). Failures raised instead of reported
take the same two roads in `generator.error_handler`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from generator.error_handler import written
from generator.report import document, github, inert, text

if TYPE_CHECKING:
    from generator.diagnostics import Diagnostic
    from generator.error_handler import Invocation
    from generator.write import Plan


@dataclass(frozen=True)
class CommandReport:
    """One command's result. `code` is its exit code; the JSON document says ok when it is 0."""

    findings: Sequence[Diagnostic] = ()
    text: str = ""  # text mode: standard output
    fields: Mapping[str, Any] = field(default_factory=dict)  # JSON mode: what only this command reports
    code: int = 0
    note: str = ""  # text mode: standard error after the findings (e.g. diff's per-directory notes)
    listed: bool = False  # the findings are the report (validate, gate): on stdout, -o text or -o github
    files_from: str = ""  # -o github: the repository's path from the git root (`_build.git_prefix`)


def chosen(ctx: typer.Context, value: str) -> str:
    """The -o/--format option's callback: tells the invocation (and so the error handler) how to report, and
    which command a JSON document names."""
    invocation: Invocation = ctx.obj
    invocation.output = value
    invocation.command = ctx.command_path.partition(" ")[2]
    return value


def emit(ctx: typer.Context, report: CommandReport) -> NoReturn:
    """Print `report` as the invocation asked and exit with its code; what the session recovered first (kept for the
    report outside text, `Invocation.recovered`) is among its findings."""
    invocation: Invocation = ctx.obj
    findings = [*invocation.recovered, *report.findings]
    with written():  # a full disk or closed pipe is the output's failure, not the command's
        if invocation.output == "json":
            print(document(invocation.command, findings, ok=report.code == 0, **report.fields), end="")
        else:  # every text through `inert`: it quotes what a pull request wrote
            if report.listed:
                if invocation.output == "github":
                    print(github(findings, report.files_from), end="")
                else:
                    print(inert(text(findings)), end="")
            else:
                shown = "".join(f"error: {f}\n" if f.severity == "error" else f"{f}\n" for f in findings)
                print(inert(shown), end="", file=sys.stderr)
            print(inert(report.text, into=sys.stdout), end="")  # a file when it is the comment (`> comment.md`)
            print(inert(report.note), end="", file=sys.stderr)
    raise typer.Exit(report.code)


def changes(plan: Plan) -> list[dict[str, str]]:
    """The plan's files as `{"action": "create|update|delete", "path": ...}`, in the order text mode lists them."""
    return [{"action": action, "path": path} for action, path in (line.split(" ", 1) for line in plan.summary())]
