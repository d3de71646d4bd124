from __future__ import annotations

from typing import Annotated, Literal

import typer

from generator.cli import _build, _options

NAME = "validate"
HELP = ("Check models.yaml, models.lock and the generated tree on disk: schema, meaning, policies, drift, strict "
        "CRD schemas, KServe's rules and kustomize builds. Reports every problem at once. Offline.")
EXAMPLE = "Examples: kserve-gitops validate  |  kserve-gitops validate --crd-dir ../crds --format github"

Format = Annotated[Literal["text", "json", "github"], typer.Option("--format", "-o", help="Report format.")]


def command(
    ctx: typer.Context, repo: _options.Repo = None, crd_dir: _options.CrdDir = None, output: Format = "text"
) -> None:
    from generator import pipeline  # noqa: PLC0415 -- only when the command runs: `--help` stays light

    root = _build.repo_root(repo)

    def job() -> int:
        from generator.report import REPORTERS  # noqa: PLC0415
        from generator.validate.manifests import tree_checks  # noqa: PLC0415

        found = pipeline.validate_repo(root, tree_checks(_build.crd_directory(root, crd_dir)))
        errors = sum(d.severity == "error" for d in found)
        print(REPORTERS[output](found), end="")
        if output == "text":
            print(f"{errors} error(s), {len(found) - errors} warning(s)" if found else "valid")
        return 1 if errors else 0

    _build.in_session(ctx, root, job, write_tree=False)
