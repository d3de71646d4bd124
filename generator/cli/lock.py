from __future__ import annotations

import typer

from generator.cli import _build, _options

NAME = "lock"
HELP = (
    "Resolve references that have no lock entry (or whose reference changed) against MLflow and write "
    "models.lock. Numeric versions and held entries never move. --check also re-reads every locked version "
    "and fails on any entry the registry contradicts (version, run id, artifact location)."
)
EXAMPLE = (
    "Examples: kserve-gitops lock  |  kserve-gitops lock --update  |  kserve-gitops lock --update wine-classifier/prod"
)


def command(
    ctx: typer.Context,
    selectors: _options.Selectors = None,
    update: _options.Update = False,
    check: _options.Check = False,
    repo: _options.Repo = None,
    output: _options.Output = "text",
) -> None:
    from generator import pipeline  # noqa: PLC0415 -- only when the command runs: `--help` stays light

    root = _build.repo_root(repo)
    selection = _build.update_selection(update, selectors)
    _build.write_outcome(
        ctx,
        root,
        lambda: pipeline.lock(root, _build.registry_for, selection, _build.facts_for, check=check),
        check=check,
        fix="kserve-gitops lock",
    )
