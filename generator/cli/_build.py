"""Turn command-line values into the objects the pipeline needs (check-jsonschema's build_*)."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from generator.cli._report import CommandReport, changes, emit
from generator.diagnostics import Diagnostic
from generator.lock import LOCK_FILE
from generator.report import inert
from generator.spec import SPEC_FILE

if TYPE_CHECKING:  # the rest is imported where used, so that `--help` and `--version` load none of it
    from generator.cache import Memo
    from generator.gate.review import FactsSource
    from generator.lock.resolve import Update
    from generator.pipeline import Outcome
    from generator.registry.base import Registry
    from generator.spec.model import Spec
    from generator.write import Plan

DEFAULT_CRD_DIR = Path("schemas/crds")
MEMO_INPUTS = (SPEC_FILE, LOCK_FILE)


def repo_root(repo: Path | None) -> Path:
    if repo is not None:
        return resolved(repo)
    here = resolved(Path.cwd())
    return next((p for p in (here, *here.parents) if (p / ".git").exists()), here)


def resolved(path: Path) -> Path:
    """`path` absolute, its links followed. A link loop is exit 2 naming the path, not Python's RuntimeError (3.11)
    or OSError (3.13)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError) as exc:
        from generator.errors import EnvironmentProblem  # noqa: PLC0415 -- not for --help

        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "a loop of symbolic links"
        raise EnvironmentProblem.simple(
            f"cannot follow {path}: {reason}", hint="remove or fix the symbolic link that points back into itself"
        ) from None


def git_prefix(root: Path) -> str:
    """`root`'s path from the root of the git checkout holding it (`platform/`, or ''): GitHub places an annotation by
    its path from there, and a platform repository may be a directory of a larger one (action.yml's
    `working-directory`)."""
    from generator.util.proc import GIT_TIMEOUT, CommandError, run_cmd  # noqa: PLC0415

    try:
        return run_cmd(["git", "rev-parse", "--show-prefix"], cwd=root, timeout=GIT_TIMEOUT).strip()
    except CommandError:
        return ""  # not in a git checkout: the paths are the repository's own


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
    from generator.registry.base import GATES_UNKNOWN, configured_tracking_uri  # noqa: PLC0415

    uri = configured_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or spec.tracking_uri, GATES_UNKNOWN)
    from generator.registry.gate_facts import MlflowFacts  # noqa: PLC0415

    return MlflowFacts(uri)


def reported(
    plan: Plan, warnings: Sequence[Diagnostic], *, written: bool = False, check: bool, fix: str
) -> CommandReport:
    """What a writing command says: the files it wrote, or with --check the drift it found (then an error)."""
    fields = {"changes": changes(plan), "written": written}
    if check:
        if plan.empty:
            return CommandReport(list(warnings), "up to date\n", fields)
        drift = Diagnostic(message=f"{len(plan.writes) + len(plan.deletes)} file(s) out of date", hint=f"run `{fix}`")
        return CommandReport([*warnings, drift], plan.diff(), fields, code=1)
    if plan.empty:
        return CommandReport(list(warnings), "nothing to change\n", fields)
    return CommandReport(list(warnings), "".join(f"{line}\n" for line in plan.summary()), fields)


def crd_directory(root: Path, crd_dir: Path | None) -> Path:
    return resolved(crd_dir) if crd_dir is not None else root / DEFAULT_CRD_DIR


def memo(root: Path, command: str, crd_dir: Path | None) -> Memo:
    """The record of `command` for this repository's current inputs (generator/cache.py)."""
    from generator.cache import Memo  # noqa: PLC0415 -- not for --help

    return Memo.open(command, root, MEMO_INPUTS, crd_directory(root, crd_dir))


def write_outcome(
    ctx: typer.Context,
    root: Path,
    produce: Callable[[], Outcome],
    *,
    check: bool = False,
    fix: str = "",
    recall: Memo | None = None,
) -> NoReturn:
    """Run a writing command's pipeline job inside the repository session and report its outcome. A run `recall`
    remembers unchanged is answered from its record, before the pipeline is even imported."""
    with in_session(ctx, root, write_tree=not check), collector_paused():
        recalled = recall.recall(root) if recall is not None else None
        if recalled is not None:
            from generator.write import Plan  # noqa: PLC0415 -- not the pipeline: the record answers

            emit(ctx, reported(Plan(), recalled.warnings, check=check, fix=fix))
        outcome = produce()
        emit(ctx, reported(outcome.plan, outcome.warnings, written=outcome.written, check=check, fix=fix))


def platform_outputs() -> tuple[str, ...]:
    """What commands write in a platform repository (`pipeline.written`), imported only once a journal was left."""
    from generator.pipeline import written  # noqa: PLC0415 -- the whole pipeline: not for a command that only reads

    return written()


@contextmanager
def in_session(
    ctx: typer.Context, root: Path, *, write_tree: bool, outputs: Callable[[], Sequence[str]] = platform_outputs
) -> Iterator[None]:
    """Around everything a command reads or writes in the tree: the pipeline's session, with the repository lock
    held and a write an earlier killed run left half done recovered first: said at once on stderr in text, a
    warning of the command's report otherwise (`Invocation.recovered`). `outputs`: what commands write in `root`
    (the platform repository's, or the CRD directory's)."""
    from generator.cache import refuse_inside  # noqa: PLC0415 -- not for --help
    from generator.write import session  # noqa: PLC0415

    refuse_inside(root)
    with session(root, write_tree=write_tree, lock_timeout=ctx.obj.lock_timeout, outputs=outputs) as recovered:
        if ctx.obj.output == "text":
            print(inert("".join(f"{d}\n" for d in recovered)), end="", file=sys.stderr)
        else:
            ctx.obj.recovered.extend(recovered)
        yield


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a pipeline job (the writing commands and `validate`), as it
    was before afterwards.

    A run builds a few hundred thousand objects that live until it ends (the spec, the lock, every manifest)
    and makes no reference cycles worth collecting: reference counting frees the rest. The collector would
    walk them again and again for nothing, a fifth of a one-model edit's time and over a second of a full run
    of 1,000 models, with the same peak memory either way (bench/README.md). Commands that spend their time
    on the network or in other processes (compat's downloads, propose, the webhook server) keep it.

    Afterwards what the job made is handed to the oldest generation (frozen, then unfrozen: moved, not walked).
    Left young, the first allocation after the collector is back would walk all of it at once, ~4% of a one-model
    edit; in the oldest generation it is walked only by a full collection, and collected by one as garbage should.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()
