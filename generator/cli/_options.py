"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from generator.cli import _report
from generator.redact import mask_credentials_of

Repo = Annotated[
    Path | None,
    typer.Option(
        "--repo",
        help="Platform repository holding models.yaml. Default: the git root, else the current directory.",
        file_okay=False,
        show_default=False,
    ),
]
Check = Annotated[
    bool,
    typer.Option("--check", help="Write nothing; print a unified diff and exit 1 if files would change."),
]
Update = Annotated[
    bool,
    typer.Option("--update", help="Also re-resolve floating references (alias, stage, latest); held entries stay."),
]
Selectors = Annotated[
    list[str] | None,
    typer.Argument(help="With --update: only these MODEL or MODEL/ENV.", show_default=False, metavar="MODEL[/ENV]"),
]
CrdDir = Annotated[
    Path | None,
    typer.Option(
        "--crd-dir",
        help="Directory of KServe/Argo CD CRDs for strict schema checks. Default: schemas/crds.",
        file_okay=False,
        show_default=False,
    ),
]
# -o/--format. Its callback hands the choice to the invocation, which `_report.emit` and the error handler read:
# a command declares the option and does nothing else with it.
Output = Annotated[
    Literal["text", "json"],
    typer.Option(
        "--format", "-o", help="text, or json: one document on stdout (docs/cli-json.md).", callback=_report.chosen
    ),
]
OutputOrGithub = Annotated[
    Literal["text", "json", "github"],
    typer.Option(
        "--format",
        "-o",
        help="text; json: one document on stdout (docs/cli-json.md); github: workflow annotations.",
        callback=_report.chosen,
    ),
]


def masked_url(value: str) -> str:
    """The callback of an option that takes a URL: its credentials are masked in every later message, as those of a
    URL the environment gives are (redact.mask_credentials_of)."""
    mask_credentials_of(value)
    return value
