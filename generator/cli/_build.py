"""Turn command-line values into the objects the pipeline needs (check-jsonschema's build_*)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from generator.cache import Memo
from generator.error_handler import run

if TYPE_CHECKING:  # the rest is imported where used, so that `--help` and `--version` load none of it
    from generator.diagnostics import Diagnostic
    from generator.gate.review import FactsSource
    from generator.lock.resolve import Update
    from generator.pipeline import Outcome, Validator
    from generator.registry.base import Registry
    from generator.spec.model import Spec
    from generator.write import Plan

DEFAULT_CRD_DIR = Path("schemas/crds")
# pipeline.SPEC_FILE and pipeline.LOCK_FILE, named here so that a recalled run never imports the pipeline.
MEMO_INPUTS = ("models.yaml", "models.lock")


def repo_root(repo: Path | None) -> Path:
    if repo is not None:
        return repo.resolve()
    here = Path.cwd().resolve()
    return next((p for p in (here, *here.parents) if (p / ".git").exists()), here)


def update_selection(update: bool, selectors: list[str] | None) -> Update:
    if selectors and not update:
        raise typer.BadParameter("naming MODEL[/ENV] only makes sense with --update", param_hint="MODEL[/ENV]")
    from generator.lock.resolve import Update  # noqa: PLC0415

    return Update.parse(selectors or []) if update else Update()


def registry_for(spec: Spec) -> Registry:
    """Imported here, not at the top: only commands that resolve pay for importing mlflow."""
    from generator.registry.mlflow import MlflowRegistry  # noqa: PLC0415

    return MlflowRegistry(tracking_uri=os.environ.get("MLFLOW_TRACKING_URI") or spec.tracking_uri or None)


def facts_for(spec: Spec) -> FactsSource:
    """What gates read from MLflow (metrics, signature); imported here for the same reason as `registry_for`."""
    from generator.registry.gate_facts import MlflowFacts  # noqa: PLC0415

    return MlflowFacts(os.environ.get("MLFLOW_TRACKING_URI") or spec.tracking_uri)


def warn(diagnostics: Iterable[Diagnostic]) -> None:
    for diagnostic in diagnostics:
        print(diagnostic, file=sys.stderr)


def finish(root: Path, plan: Plan, *, check: bool, fix: str) -> int:
    """Apply the plan, or with --check report it as drift."""
    if check:
        if plan.empty:
            print("up to date")
            return 0
        print(plan.diff(), end="")
        print(f"error: {len(plan.writes) + len(plan.deletes)} file(s) out of date; run `{fix}`", file=sys.stderr)
        return 1
    if plan.empty:
        print("nothing to change")
        return 0
    from generator.write import apply  # noqa: PLC0415

    apply(root, plan)
    for line in plan.summary():
        print(line)
    return 0


def crd_directory(root: Path, crd_dir: Path | None) -> Path:
    return crd_dir.resolve() if crd_dir is not None else root / DEFAULT_CRD_DIR


def memo(root: Path, command: str, crd_dir: Path | None) -> Memo:
    """The record of `command` for this repository's current inputs (generator/cache.py)."""
    return Memo.open(command, root, MEMO_INPUTS, crd_directory(root, crd_dir))


def write_outcome(ctx: typer.Context, root: Path, produce: Callable[[], Outcome], *, check: bool = False,
                  fix: str = "", recall: Memo | None = None) -> NoReturn:
    """Run a pipeline job under the error handler, print its warnings, then apply its plan (or, with
    --check, report it as drift), and exit with the code that says which. A run `recall` remembers
    unchanged is answered from its record, before the pipeline is even imported."""

    def job() -> int:
        recalled = recall.recall(root) if recall is not None else None
        if recalled is not None:
            from generator.write import Plan  # noqa: PLC0415

            warn(recalled.warnings)
            return finish(root, Plan(), check=check, fix=fix)
        outcome = produce()
        warn(outcome.warnings)
        return finish(root, outcome.plan, check=check, fix=fix)

    in_session(ctx, root, job, write_tree=not check)


def in_session(ctx: typer.Context, root: Path, job: Callable[[], int], *, write_tree: bool) -> NoReturn:
    """Run a job that reads (or writes) the tree under the error handler, inside the pipeline's session:
    the repository lock held, and a write an earlier killed run left half done recovered first."""

    def locked() -> int:
        from generator.pipeline import session  # noqa: PLC0415 -- not for --help

        with session(root, write_tree=write_tree, lock_timeout=ctx.obj["lock_timeout"]) as recovered:
            warn(recovered)
            return job()

    raise typer.Exit(run(locked, debug=ctx.obj["debug"]))


def manifest_checks(root: Path, crd_dir: Path | None) -> Validator:
    from generator.validate.manifests import checks  # noqa: PLC0415

    return checks(crd_directory(root, crd_dir))
