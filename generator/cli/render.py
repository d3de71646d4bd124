from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from generator.cli import _build, _options

if TYPE_CHECKING:
    from generator.pipeline import Outcome

NAME = "render"
HELP = "Render models.yaml + models.lock into environments/<env>/ and the root kustomization.yaml. Offline."
EXAMPLE = "Examples: kserve-gitops render  |  kserve-gitops render --check   (CI: fail when files are stale)"


def command(
    ctx: typer.Context,
    check: _options.Check = False,
    repo: _options.Repo = None,
    crd_dir: _options.CrdDir = None,
    output: _options.Output = "text",
) -> None:
    root = _build.repo_root(repo)
    memo = _build.memo(root, NAME, crd_dir)

    def produce() -> Outcome:
        from generator import pipeline  # noqa: PLC0415 -- not for --help, nor for a run answered from its record

        return pipeline.render_tree(root, _build.crd_directory(root, crd_dir), memo, check=check)

    _build.write_outcome(ctx, root, produce, check=check, fix="kserve-gitops render", recall=memo)
