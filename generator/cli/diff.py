from __future__ import annotations

import sys
from typing import Annotated, Literal

import typer

from generator.cli import _build, _options
from generator.diff import formats

NAME = "diff"
HELP = ("What Argo CD would change: build every environment (and argocd/, cluster/) with kustomize at a git "
        "ref and in the working tree, and show the difference object by object. Reads the ref from git; never "
        "touches the checkout. Default base: the merge-base of origin/HEAD and HEAD, else HEAD.")
EXAMPLE = ("Examples: kserve-gitops diff  |  kserve-gitops diff --base main -o json  |  "
           "kserve-gitops diff --base HEAD^1 -o markdown   (CI: the pull-request comment)")

Base = Annotated[str | None, typer.Option(
    "--base", help="Commit, branch or tag to compare with. Default: merge-base of origin/HEAD and HEAD, else HEAD.",
    show_default=False)]
Format = Annotated[Literal["text", "markdown", "json"], typer.Option(
    "--format", "-o", help="text: a patch; markdown: the pull-request comment (≤ 65,536 characters); json.")]
DetailsUrl = Annotated[str, typer.Option(
    "--details-url", help="Markdown: where a cut comment sends readers for the full diffs (e.g. the CI run).",
    show_default=False)]


def command(ctx: typer.Context, base: Base = None, output: Format = "text", details_url: DetailsUrl = "",
            repo: _options.Repo = None) -> None:
    root = _build.repo_root(repo)

    def job() -> int:
        # Imported here, not at the top: only diff pays for importing gitpython on every start of the CLI.
        from generator.diff.collect import rendered_diff  # noqa: PLC0415

        report = rendered_diff(root, base)
        if output == "markdown":
            print(formats.markdown(report, details_url=details_url), end="")
        else:
            print(formats.as_json(report) if output == "json" else formats.text(report), end="")
        print(formats.notes(report), end="", file=sys.stderr)
        return 0

    _build.in_session(ctx, root, job, write_tree=False)
