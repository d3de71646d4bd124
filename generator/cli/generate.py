from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from generator.cli import _build, _options

if TYPE_CHECKING:
    from generator.pipeline import Outcome

NAME = "generate"
HELP = (
    "Lock (missing entries, or --update) + render + validate, written all at once or not at all. "
    "The one command to run after editing models.yaml."
)
EXAMPLE = "Examples: kserve-gitops generate  |  kserve-gitops generate --update  |  kserve-gitops generate --check"


def command(
    ctx: typer.Context,
    selectors: _options.Selectors = None,
    update: _options.Update = False,
    check: _options.Check = False,
    repo: _options.Repo = None,
    crd_dir: _options.CrdDir = None,
    output: _options.Output = "text",
) -> None:
    root = _build.repo_root(repo)
    selection = _build.update_selection(update, selectors) if update or selectors else None
    # --update and --check ask the registry every time; only a plain run can be answered from its record.
    memo = _build.memo(root, NAME, crd_dir) if selection is None and not check else None

    def produce() -> Outcome:
        from generator import pipeline  # noqa: PLC0415 -- not for --help, nor for a run answered from its record
        from generator.cache import Memo  # noqa: PLC0415
        from generator.lock.resolve import Update  # noqa: PLC0415

        return pipeline.generate(
            root,
            _build.registry_for,
            selection or Update(),
            _build.crd_directory(root, crd_dir),
            _build.facts_for,
            check=check,
            memo=memo or Memo.off(),
        )

    _build.write_outcome(ctx, root, produce, check=check, fix="kserve-gitops generate", recall=memo)
