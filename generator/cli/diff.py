from __future__ import annotations

from typing import Annotated, Literal

import typer

from generator.cli import _build, _options, _report

NAME = "diff"
HELP = (
    "What Argo CD would change: build every environment (and argocd/, cluster/) with kustomize at a git "
    "ref and in the working tree, and show the difference object by object. Reads the ref from git; never "
    "touches the checkout. Default base: the merge-base of origin/HEAD and HEAD, else HEAD."
)
EXAMPLE = (
    "Examples: kserve-gitops diff  |  kserve-gitops diff --base main -o json  |  "
    "kserve-gitops diff --base HEAD^1 -o markdown   (CI: the pull-request comment)"
)

Base = Annotated[
    str | None,
    typer.Option(
        "--base",
        help="Commit, branch or tag to compare with. Default: merge-base of origin/HEAD and HEAD, else HEAD.",
        show_default=False,
    ),
]
Format = Annotated[
    Literal["text", "markdown", "json"],
    typer.Option(
        "--format",
        "-o",
        help="text: a patch; markdown: the pull-request comment (≤ 65,536 characters); json: one "
        "document on stdout (docs/cli-json.md).",
        callback=_report.chosen,
    ),
]
DetailsUrl = Annotated[
    str,
    typer.Option(
        "--details-url",
        help="Markdown: where a cut comment sends readers for the full diffs (e.g. the CI run).",
        show_default=False,
    ),
]


def command(
    ctx: typer.Context,
    base: Base = None,
    output: Format = "text",
    details_url: DetailsUrl = "",
    repo: _options.Repo = None,
) -> None:
    # Imported here, not at the top: only diff pays for importing gitpython on every start of the CLI.
    from generator.diff import formats  # noqa: PLC0415
    from generator.diff.collect import rendered_diff  # noqa: PLC0415

    root = _build.repo_root(repo)
    with _build.in_session(ctx, root, write_tree=False):
        report = rendered_diff(root, base)
        text = formats.markdown(report, details_url=details_url) if output == "markdown" else formats.text(report)
        _report.emit(
            ctx,
            _report.CommandReport(
                findings=formats.findings(report), text=text, fields=formats.fields(report), note=formats.notes(report)
            ),
        )
