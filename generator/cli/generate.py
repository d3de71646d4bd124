from __future__ import annotations

import typer

from generator.cli import _build, _options

NAME = "generate"
HELP = ("Lock (missing entries, or --update) + render + validate, written all at once or not at all. "
        "The one command to run after editing models.yaml.")
EXAMPLE = "Examples: kserve-gitops generate  |  kserve-gitops generate --update  |  kserve-gitops generate --check"


def command(
    ctx: typer.Context,
    selectors: _options.Selectors = None,
    update: _options.Update = False,
    check: _options.Check = False,
    repo: _options.Repo = None,
    crd_dir: _options.CrdDir = None,
) -> None:
    from generator import pipeline  # noqa: PLC0415 -- only when the command runs: `--help` stays light

    root = _build.repo_root(repo)
    selection = _build.update_selection(update, selectors)
    _build.write_outcome(
        ctx, root,
        lambda: pipeline.generate(root, _build.registry_for, selection, _build.manifest_checks(root, crd_dir),
                                  verify=check),
        check=check, fix="kserve-gitops generate",
    )
