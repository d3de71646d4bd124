from __future__ import annotations

import typer

from generator import diagnostics
from generator.cli import _build, _options
from generator.cli._report import CommandReport, emit

NAME = "validate"
HELP = (
    "Check models.yaml, models.lock and the generated tree on disk: schema, meaning, policies, drift, strict "
    "CRD schemas, KServe's rules and kustomize builds. Reports every problem at once. Offline."
)
EXAMPLE = "Examples: kserve-gitops validate  |  kserve-gitops validate --crd-dir ../crds --format github"


def command(
    ctx: typer.Context,
    repo: _options.Repo = None,
    crd_dir: _options.CrdDir = None,
    output: _options.OutputOrGithub = "text",
) -> None:
    from generator import pipeline  # noqa: PLC0415 -- only when the command runs: `--help` stays light

    root = _build.repo_root(repo)
    with _build.in_session(ctx, root, write_tree=False), _build.collector_paused():
        found = pipeline.validate_repo(root, _build.crd_directory(root, crd_dir))
        failed = len(diagnostics.errors(found))
        summary = f"{failed} error(s), {len(diagnostics.warnings(found))} warning(s)\n" if found else "valid\n"
        prefix = _build.git_prefix(root) if output == "github" else ""
        shown = summary if output == "text" else ""
        emit(ctx, CommandReport(found, shown, code=1 if failed else 0, listed=True, files_from=prefix))
