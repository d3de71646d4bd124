"""The product's jobs: load spec → resolve → lock → render → validate → write.

This module alone knows the order of the stages. Each command is one function here
that returns an `Outcome`: the plan, its warnings, and whether it was written (with
`check`, nothing is, and the plan is the drift to report). Adapters (the registry,
the gates' facts) come in as factories, so nothing talks to MLflow unless a
reference really needs resolving; the CRD directory comes in as a path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from generator import diagnostics, progress, yamlio
from generator.cache import Memo, TargetMemory
from generator.diagnostics import Diagnostic, json_path, printable
from generator.errors import (
    EXIT_ENVIRONMENT,
    EnvironmentProblem,
    LockError,
    RegistryError,
    RegistryUnavailable,
    SpecError,
    UserError,
    ValidationFailed,
    unreadable,
)
from generator.gate import review as gate_review
from generator.gate.evaluate import Verdict, applicable
from generator.lock import LOCK_FILE
from generator.lock import io as lock_io
from generator.lock import verify as lock_verify
from generator.lock.model import Lock, LockEntry
from generator.lock.resolve import Update, compatibility, merge, queries_for
from generator.platform.runtimes import RuntimeImage
from generator.registry.base import Deployment, ModelInfo, ModelVersion, Query, Registered, Registry, Resolution
from generator.render.tree import (
    ARGOCD_DIR,
    CLUSTER_DIR,
    ENVIRONMENTS_DIR,
    ROOT_KUSTOMIZATION,
    TargetKey,
    generated,
    render,
    target_files,
    target_inputs,
)
from generator.spec import SPEC_FILE
from generator.spec.load import load_spec, parse_spec, registered_name_problem
from generator.spec.model import Platform, Spec, Target
from generator.spec.yaml_lines import load as load_yaml
from generator.util.files import MAX_YAML_BYTES, Refused, read_regular
from generator.util.proc import CommandError, run_git
from generator.validate import crd_prefetch
from generator.validate.manifests import (
    Known,
    Summary,
    summaries,
    summary_of,
    tree_checks,
    verdict_context,
)
from generator.validate.manifests import checks as manifest_checks
from generator.write import Plan, apply, plan
from generator.yamlio import Dump, Kept

if TYPE_CHECKING:  # command-specific: imported by the command that needs them, not by every run
    from generator import scaffold
    from generator import status as status_rows
    from generator.compat import load as compat_load
    from generator.compat import run as compat_run
    from generator.lock import images as lock_images
    from generator.propose import publish as propose_publish
    from generator.propose.plan import Change

RENDERED = (ENVIRONMENTS_DIR, CLUSTER_DIR, ARGOCD_DIR, ROOT_KUSTOMIZATION)
PREFETCHED_KINDS = ("InferenceService",)  # what every model renders: its CRD is parsed beside the run's start

RegistryFactory = Callable[[Spec], Registry]
FactsFactory = Callable[[Spec], gate_review.FactsSource]


def written() -> tuple[str, ...]:
    """Every path a command writes in a platform repository, a directory for everything in it (`init`'s scaffold
    too): a write journal left in the repository may name nothing else (generator.write.recover)."""
    from generator import scaffold  # noqa: PLC0415 -- asked only where a journal was left

    return (*RENDERED, LOCK_FILE, *scaffold.TEMPLATES, scaffold.IMAGES_WORKFLOW, scaffold.CRD_LOCK)


@dataclass(frozen=True)
class Outcome:
    """What a command did: its plan, applied (`written`) unless it was only checked or had nothing to change."""

    plan: Plan
    warnings: list[Diagnostic] = field(default_factory=list)
    lock: Lock = field(default_factory=Lock)
    written: bool = False


def _settled(repo: Path, outcome: Outcome, *, check: bool) -> Outcome:
    """The last stage of every command that writes: the plan applied all at once, unless `check` only compares."""
    if check or outcome.plan.empty:
        return outcome
    apply(repo, outcome.plan)
    return replace(outcome, written=True)


def validate_repo(repo: Path, crds: Path) -> list[Diagnostic]:
    """Every check over models.yaml, models.lock and the generated tree on disk; collects, never stops early.
    models.yaml, models.lock, their drift and compatibility are checked while kustomize builds the tree."""
    found: list[Diagnostic] = []

    def inputs() -> tuple[Platform, Known]:
        nonlocal found
        try:
            spec, found = load_spec(repo / SPEC_FILE, SPEC_FILE)
        except UserError as exc:
            found = list(exc.diagnostics)
            return Platform(), {}
        rendered: Known = {}
        try:
            current = _read_lock(repo)
            drift, rendered = _drift(repo, spec, current)
            found += drift + _strays(repo, spec) + lock_verify.unserved(spec, current, "error")
            found += compatibility(spec, current)
        except UserError as exc:
            found = list(exc.diagnostics)
        return spec.platform, rendered

    on_disk = [p.relative_to(repo).as_posix() for d in RENDERED for p in _files(repo / d)]
    with progress.stage(f"validating {len(on_disk)} generated file(s)"):
        tree = tree_checks(crds)(repo, on_disk, inputs)
    return found + tree


def lock(
    repo: Path, registry: RegistryFactory, update: Update, facts: FactsFactory | None = None, *, check: bool = False
) -> Outcome:
    """With `facts`, a floating reference whose new version fails its gates keeps its locked version (a warning).
    `check`: write nothing, and also re-read every locked version and refuse entries the registry contradicts."""
    spec, warnings = load_spec(repo / SPEC_FILE, SPEC_FILE)
    new, gated = _gated_relock(spec, _read_lock(repo), update, registry, facts, verify=check)
    found = warnings + gated + _compat_warnings(spec, new)
    return _settled(repo, Outcome(plan(repo, {LOCK_FILE: lock_io.dumps(new)}), found, new), check=check)


def render_tree(repo: Path, crds: Path, memo: Memo = Memo.off(), *, check: bool = False) -> Outcome:  # noqa: B008
    """`crds`: the CRDs the files are checked against. `memo` remembers what this run wanted, so that repeating it
    unchanged is answered from the record (`Memo.off()` holds nothing to change, hence the default)."""
    with crd_prefetch.prefetched(crds, PREFETCHED_KINDS):
        spec, warnings = load_spec(repo / SPEC_FILE, SPEC_FILE)
        current = _read_lock(repo)
        files, planned, checked = _produced(repo, spec, current, crds, with_lock=False)
    warnings += lock_verify.unserved(spec, current, "warning") + checked
    memo.remember(files, RENDERED, warnings)
    return _settled(repo, Outcome(planned, warnings, current), check=check)


def generate(
    repo: Path,
    registry: RegistryFactory,
    update: Update,
    crds: Path,
    facts: FactsFactory | None = None,
    *,
    check: bool = False,
    memo: Memo = Memo.off(),  # noqa: B008 -- holds nothing to change
) -> Outcome:
    """lock + render + validate as one atomic plan: the lock and the manifests always agree. `check` as `lock`.
    `memo` as for `render_tree`, only without `update` or `check` (those ask the registry every time)."""
    with crd_prefetch.prefetched(crds, PREFETCHED_KINDS):
        spec, warnings = load_spec(repo / SPEC_FILE, SPEC_FILE)
        new, gated = _gated_relock(spec, _read_lock(repo), update, registry, facts, verify=check)
        files, planned, checked = _produced(repo, spec, new, crds, with_lock=True)
    warnings += gated + checked + _compat_warnings(spec, new)
    if update == Update() and not check:
        memo.remember(files, RENDERED, warnings)
    return _settled(repo, Outcome(planned, warnings, new), check=check)


def pin(repo: Path, model: str, env: str, version: str, *, registry: RegistryFactory, crds: Path) -> Outcome:
    """Hold MODEL in ENV at VERSION: models.yaml, lock and manifests change together, or nothing does."""
    from generator.spec import edit as spec_edit  # noqa: PLC0415 -- command-specific

    return _settled(
        repo, _edit(repo, lambda text: spec_edit.pin(text, model, env, version), registry, crds), check=False
    )


def unpin(repo: Path, model: str, env: str, *, registry: RegistryFactory, crds: Path) -> Outcome:
    """Release a hold: the reference as written (alias, stage, latest) applies again."""
    from generator.spec import edit as spec_edit  # noqa: PLC0415 -- command-specific

    def released(spec: Spec) -> None:
        if any(t.hold for t in spec.targets if (t.model, t.env) == (model, env)):
            raise UserError(
                Diagnostic(
                    file=SPEC_FILE,
                    line=next(t.line for t in spec.targets if (t.model, t.env) == (model, env)),
                    path=json_path(("models", model, "environments", env)),
                    message=f"{model} in {env} is held by a mapping merged into it (`<<: *anchor`), not by a `hold` "
                    "of its own: unpin cannot release it",
                    hint="remove `hold` where the anchor is written, or write this environment's settings out",
                )
            )

    edit = _edit(repo, lambda text: spec_edit.unpin(text, model, env), registry, crds, released)
    return _settled(repo, edit, check=False)


def _edit(
    repo: Path,
    change: Callable[[str], str],
    registry: RegistryFactory,
    crds: Path,
    check: Callable[[Spec], None] = lambda _: None,
) -> Outcome:
    """`change` applied to models.yaml, the lock and the tree made to agree; `check` may refuse the changed spec."""
    try:
        text = yamlio.read_text(repo / SPEC_FILE, follow=False)
    except PermissionError as exc:
        raise unreadable(SPEC_FILE, exc) from None
    except OSError as exc:
        raise UserError.simple(f"cannot read: {exc.strerror or exc}", file=SPEC_FILE) from None
    except UnicodeDecodeError as exc:
        raise UserError.simple(str(exc), file=SPEC_FILE) from None
    try:
        edited = change(text)
    except (yaml.YAMLError, SpecError):
        parse_spec(text, SPEC_FILE)  # the file's own problem said as validate says it, at its line
        raise
    spec, warnings = parse_spec(edited, SPEC_FILE)
    check(spec)
    new = _relock(spec, _read_lock(repo), Update(), registry)
    _, planned, checked = _produced(repo, spec, new, crds, with_lock=True, edited={SPEC_FILE: edited})
    if SPEC_FILE in planned.writes and planned.before.get(SPEC_FILE) != text.encode("utf-8"):  # saved meanwhile
        raise EnvironmentProblem.simple(
            "changed while kserve-gitops was editing it (by someone or something else); nothing was written",
            file=SPEC_FILE,
            hint="run the command again once nothing else writes there",
        )
    return Outcome(planned, warnings + checked, new)


def init(
    repo: Path, options: scaffold.Options, *, force: bool, catalog: Callable[[], Sequence[Registered]] | None = None
) -> Outcome:
    """A new platform repository: the scaffold plus what `generate` makes of its models.yaml (no model yet: an
    empty lock and empty environments), so the first commit already passes `validate` and every `--check`.
    Files that exist are kept (a warning each) unless `force`. A models.yaml with models (listed from the
    registry by `catalog`, or the user's own, kept) needs the registry to lock: its tree is left to `generate`,
    and it decides whether the images workflow belongs."""
    from generator import scaffold  # noqa: PLC0415 -- command-specific

    problem = scaffold.refusal(repo, force=force)
    if problem is not None:
        raise problem
    listed = catalog() if catalog is not None else []
    unnameable = {r.name: reason for r in listed if (reason := registered_name_problem(r.name)) is not None}
    models = scaffold.models_section([r for r in listed if r.name not in unnameable])
    template = scaffold.files(options, images=False, models=models)
    if force or (not (repo / SPEC_FILE).is_symlink() and _existing(repo / SPEC_FILE) is None):
        spec, _ = parse_spec(template[SPEC_FILE].decode("utf-8"), SPEC_FILE)
    else:  # the user's own, read as validate reads it: never through a link, never undecoded
        spec, _ = load_spec(repo / SPEC_FILE, SPEC_FILE)
    files = scaffold.files(options, images=any(t.serving.method == "image" for t in spec.targets), models=models)
    if not spec.targets:
        files.update({LOCK_FILE: lock_io.dumps(Lock()), **render(spec, Lock())})
    kept = [] if force else [p for p, content in files.items() if _existing(repo / p) not in (None, content)]
    warnings = [
        Diagnostic(
            file=p,
            message="exists and differs from what init writes; kept",
            severity="warning",
            hint="`kserve-gitops init --force` replaces it",
        )
        for p in kept
    ] + [
        Diagnostic(
            file=SPEC_FILE,
            message=f"registered model left out: {reason}",
            severity="warning",
            hint="rename it in the registry (MlflowClient.rename_registered_model), then add it to models.yaml",
        )
        for reason in unnameable.values()
    ]
    wanted = {p: content for p, content in files.items() if p not in kept}
    return _settled(repo, Outcome(plan(repo, wanted, edited=wanted if force else ()), warnings), check=False)


def _existing(path: Path) -> bytes | None:
    try:
        return read_regular(path, MAX_YAML_BYTES)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, Refused):
        return None  # a directory, a FIFO or a huge file in a file's place is left to `plan`, which refuses it


def _produced(
    repo: Path, spec: Spec, lock: Lock, crds: Path, *, with_lock: bool, edited: Mapping[str, str] | None = None
) -> tuple[dict[str, bytes], Plan, list[Diagnostic]]:
    """Every manifest this lock renders (and models.lock itself, `with_lock`), checked, and the plan that writes
    them (`_checked_plan`). A target (a model in an environment) whose inputs an earlier run rendered, and whose files
    passed every check there under the same CRDs, validators and tool, is neither rendered nor checked again
    (cache.TargetMemory); a target whose files pass every check here is remembered."""
    with TargetMemory.open(lambda: verdict_context(crds)) as memory:
        inputs = target_inputs(spec, lock) if memory.enabled else {}
        given, settled = _whole(spec, memory.recall(inputs))
        emit = generated if with_lock else render
        files, emitted, objects = _emitted(lambda dump: emit(spec, lock, dump, given))
        emitted |= settled
        planned, warnings = _checked_plan(
            repo, files, crds, spec.platform, emitted=emitted, objects=objects, settled=settled, edited=edited
        )
        rendered = [target for target in spec.targets if target.key in inputs and target.key not in given]
        for target in _passed(spec, rendered, warnings):  # without a store there are no inputs: nothing is learned
            paths = target_files(spec, target)
            if all(path in emitted for path in paths):
                memory.learn(inputs[target.key], {path: (files[path], emitted[path]) for path in paths})
    return files, planned, warnings


def _whole(
    spec: Spec, recalled: Mapping[TargetKey, Mapping[str, tuple[bytes, Any]]]
) -> tuple[dict[TargetKey, dict[str, bytes]], dict[str, Summary]]:
    """The recalled targets whose facts are whole, exactly the files the target renders, each noted with what it
    holds: their files by target, and what each file holds. A damaged fact (a store written by hand, or broken) is a
    miss, as a fact the store does not have."""
    given: dict[TargetKey, dict[str, bytes]] = {}
    settled: dict[str, Summary] = {}
    for target in spec.targets:
        kept = recalled.get(target.key)
        if kept is None or kept.keys() != set(target_files(spec, target)):
            continue
        try:
            summaries = {path: summary_of(note) for path, (_, note) in kept.items()}
        except (ValueError, TypeError):
            continue
        given[target.key] = {path: content for path, (content, _) in kept.items()}
        settled |= summaries
    return given, settled


def _passed(spec: Spec, targets: Sequence[Target], warnings: Sequence[Diagnostic]) -> list[Target]:
    """The `targets` that passed every check without a finding: none names their files or their environment's
    kustomization. None at all when a finding names no file (it may concern any)."""
    flagged = {w.file for w in warnings}
    if "" in flagged:
        return []
    return [
        target
        for target in targets
        if flagged.isdisjoint(target_files(spec, target))
        and f"{ENVIRONMENTS_DIR}/{target.env}/kustomization.yaml" not in flagged
    ]


def _emitted(
    emit: Callable[[Dump], dict[str, bytes]],
) -> tuple[dict[str, bytes], dict[str, Summary], dict[str, Any]]:
    """The files `emit` writes, what each holds as the checks see it, and the object of each file of one object:
    the checks need not parse what was emitted here, nor what kustomize prints for it."""
    kept = Kept()
    files = emit(kept)
    held = summaries(kept.documents)
    return files, held, {path: kept.documents[path][0] for path in held}


def _compat_warnings(spec: Spec, lock: Lock) -> list[Diagnostic]:
    """What may not load on its runtime but is not refused (errors were refused while locking)."""
    return diagnostics.warnings(compatibility(spec, lock))


def _drift(repo: Path, spec: Spec, current: Lock) -> tuple[list[Diagnostic], Known]:
    """Each generated file that differs from what models.yaml and models.lock render, and what the rendered files
    hold (the checks need not parse a file on disk that is byte for byte the same)."""
    try:
        files, emitted, objects = _emitted(lambda dump: render(spec, current, dump))
    except LockError as exc:
        return list(exc.diagnostics), {}
    planned = plan(repo, files, RENDERED)
    return [
        Diagnostic(
            file=path,
            message=f"differs from what models.yaml and models.lock render ({change})",
            hint="run `kserve-gitops render` and commit the result",
            rule="drift",
        )
        for change, path in (line.split(" ", 1) for line in planned.summary())
    ], {path: (files[path], summary, objects[path]) for path, summary in emitted.items()}


def _strays(repo: Path, spec: Spec) -> list[Diagnostic]:
    """A warning for each directory under environments/ that names no environment of models.yaml (one taken out,
    whose generated files render deleted, that still holds files of someone's; or one made by hand): it looks
    deployed in a review, but no Application of argocd/ syncs it and the root kustomization leaves it out."""
    try:
        names = sorted(e.name for e in os.scandir(repo / ENVIRONMENTS_DIR) if e.is_dir(follow_symlinks=False))
    except OSError:  # no environments/ yet, or one the tree checks say is unreadable
        return []
    return [
        Diagnostic(
            file=f"{ENVIRONMENTS_DIR}/{printable(name)}/",
            severity="warning",
            rule="unknown-environment",
            message="not an environment of models.yaml: nothing syncs it (argocd/ and the root kustomization.yaml "
            "name models.yaml's environments), and render removes only the files it generated there",
            hint="delete the directory, or add the environment to models.yaml and run `kserve-gitops render`",
        )
        for name in names
        if name not in spec.environments
    ]


def _files(path: Path) -> list[Path]:
    """The YAML files under one generated path. A generated directory that is a symbolic link is not walked: the
    drift check refuses the link, and what it points to may be anywhere outside the repository (`/`, a home
    directory), whose every YAML file would be read and built; rglob itself follows no link below it."""
    if path.is_symlink() and path.is_dir():
        return []
    return [path] if path.is_file() else sorted(p for p in path.rglob("*.yaml") if p.is_file())


def _relock(spec: Spec, old: Lock, update: Update, registry: RegistryFactory) -> Lock:
    return _merged(spec, old, update, _answers(spec, old, update, registry))


def _answers(
    spec: Spec, old: Lock, update: Update, registry: RegistryFactory, *, verify: bool = False
) -> dict[Query, Resolution]:
    """The registry's answers; with `verify`, the old lock's entries are re-read in the same batch and must hold."""
    unknown = update.unknown_selectors(spec)
    if unknown:
        known = sorted({t.model for t in spec.targets} | {f"{t.model}/{t.env}" for t in spec.targets})
        raise UserError.simple(
            f"--update names nothing in {SPEC_FILE}: {', '.join(unknown)}",
            hint=f"use MODEL or MODEL/ENV, one of: {', '.join(known)}",
        )
    checks = lock_verify.queries(spec, old) if verify else []
    # Verification reads every MLmodel again: facts copied from the lock would vouch for themselves.
    answers = _ask(spec, registry, [*queries_for(spec, old, update), *checks], {} if verify else old.infos())
    if verify:
        _refuse_untrue(spec, old, answers)
    return answers


def _merged(
    spec: Spec,
    old: Lock,
    update: Update,
    answers: dict[Query, Resolution],
    keep: frozenset[tuple[str, str]] = frozenset(),
) -> Lock:
    new, problems = merge(spec, old, update, answers, keep)
    if problems:
        raise RegistryError(problems)
    return new


def _ask(
    spec: Spec, registry: RegistryFactory, queries: list[Query], recorded: Mapping[str, ModelInfo]
) -> dict[Query, Resolution]:
    """One batched resolve for every distinct question; no registry at all when there is none. `recorded`: MLmodel
    facts already known by artifact location, which are not read again."""
    distinct = sorted(set(queries))
    if not distinct:
        return {}
    with progress.stage(f"resolving {len(distinct)} reference(s) in the model registry"):
        return dict(zip(distinct, registry(spec).resolve(distinct, recorded), strict=True))


def _refuse_untrue(spec: Spec, lock: Lock, answers: Mapping[Query, Resolution]) -> None:
    """Raise when an entry is outside the allowed storage locations or differs from the registry."""
    problems = lock_verify.locations(spec, lock) + lock_verify.verify(spec, lock, answers)
    if problems:
        raise LockError(problems)


def _verify_lock(spec: Spec, lock: Lock, registry: RegistryFactory) -> None:
    """`lock --check`'s verification on its own: every entry re-read from the registry and compared."""
    _refuse_untrue(spec, lock, _ask(spec, registry, lock_verify.queries(spec, lock), {}))


def _gated_relock(
    spec: Spec,
    old: Lock,
    update: Update,
    registry: RegistryFactory,
    facts: FactsFactory | None,
    *,
    verify: bool = False,
) -> tuple[Lock, list[Diagnostic]]:
    """`_relock`, then the gates of every version that moves: a promotion that fails them (no override) keeps its
    locked version, and `follow` is applied again on top. What a person changed by hand is locked as asked and
    only warned about here; the pull-request check `kserve-gitops gate` fails it."""
    answers = _answers(spec, old, update, registry, verify=verify)
    new = _merged(spec, old, update, answers)
    moving = gate_review.gated(spec, gate_review.moves(spec, old, new))
    if facts is None or not moving:
        return new, []
    verdicts = _verdicts(spec, moving, facts)
    held = frozenset(m.target.key for m in moving if m.promotion and not verdicts[m.target.key].admitted)
    notes = [gate_review.finding(spec, m, verdicts[m.target.key]) for m in moving if not verdicts[m.target.key].passed]
    return (_merged(spec, old, update, answers, held) if held else new), notes


def _verdicts(spec: Spec, moving: list[gate_review.Move], facts: FactsFactory) -> dict[tuple[str, str], Verdict]:
    wanted = gate_review.wanted(spec, moving)
    with progress.stage(f"reading the gate metrics of {len(moving)} moved version(s)"):
        found = facts(spec).facts(wanted.versions, signature=wanted.signature, metrics=wanted.metrics)
    return gate_review.verdicts(spec, moving, found)


def gate(repo: Path, base: str, facts: FactsFactory) -> list[Diagnostic]:
    """The pull-request check: every version models.lock moves against `base` (a git revision) must pass its gates.

    A failure is an error on the line that chose the version (models.yaml for `version:` and `hold: N`, else the
    entry's `version:` in models.lock); an override turns it into a warning that reviewers see. No moves with
    gates: no registry call.
    """
    spec, warnings = load_spec(repo / SPEC_FILE, SPEC_FILE)
    lock_text = _read_text(repo / LOCK_FILE)
    moving = gate_review.gated(spec, gate_review.moves(spec, _lock_at(repo, base), lock_io.loads(lock_text, LOCK_FILE)))
    if not moving:
        return warnings
    verdicts = _verdicts(spec, moving, facts)
    _, positions, _ = load_yaml(lock_text, LOCK_FILE)
    found = []
    for move in moving:
        verdict = verdicts[move.target.key]
        if verdict.passed:
            continue
        finding = gate_review.finding(spec, move, verdict, severity="warning" if verdict.override else "error")
        target = move.target
        if not (target.pinned or target.ref.kind == "version"):
            where = ("models", target.model, target.env, "version")
            finding = replace(finding, file=LOCK_FILE, line=positions.line_of(where)[0], path=json_path(where))
        found.append(finding)
    return warnings + found


@dataclass(frozen=True)
class StatusReport:
    rows: list[status_rows.Row]
    warnings: list[Diagnostic] = field(default_factory=list)


DeploymentsFactory = Callable[[Spec], Sequence[Deployment]]


def status(
    repo: Path, *, facts: FactsFactory | None, deployments: DeploymentsFactory | None, registry: RegistryFactory | None
) -> StatusReport:
    """Which version is locked, gated, deployed and healthy where (`status.py`). Without registry factories (no
    MLflow configured), or when MLflow does not answer, the registry columns say "unknown" and nothing fails."""
    from generator import status as status_rows  # noqa: PLC0415 -- command-specific

    spec, warnings = load_spec(repo / SPEC_FILE, SPEC_FILE)
    current = _read_lock(repo)
    verdicts: dict[tuple[str, str], Verdict] | None = None
    deployed: Sequence[Deployment] | None = None
    pending: dict[tuple[str, str], str] | None = None
    try:
        if facts is not None:
            locked = [gate_review.Move(t, None, e) for t in spec.targets if (e := current.get(t.model, t.env))]
            verdicts = _verdicts(spec, gate_review.gated(spec, locked), facts)
        deployed = deployments(spec) if deployments is not None else None
        pending = _pending(spec, registry) if registry is not None else None
    except UserError as exc:
        if exc.exit_code != EXIT_ENVIRONMENT:
            raise
        warnings += [replace(d, severity="warning") for d in exc.diagnostics]
    compat = {t.key: compatibility(replace(spec, targets=(t,)), current) for t in spec.targets}
    rows = status_rows.rows(
        spec,
        current,
        compat=compat,
        verdicts=verdicts,
        deployed=deployed,
        revision_order=_revision_order(repo),
        pending=pending,
    )
    return StatusReport(rows, warnings)


def _pending(spec: Spec, registry: RegistryFactory) -> dict[tuple[str, str], str]:
    """Where each floating, unheld reference points in the registry now; `status.NOT_FOUND` where at nothing."""
    from generator.status import NOT_FOUND  # noqa: PLC0415 -- command-specific

    targets = [t for t in spec.targets if t.wanted.floating and not t.hold]
    queries = sorted({Query(t.registered_model, t.wanted) for t in targets})
    answers = _ask(spec, registry, queries, {})
    return {
        t.key: answer.version
        if isinstance(answer := answers[Query(t.registered_model, t.wanted)], ModelVersion)
        else NOT_FOUND
        for t in targets
    }


def _revision_order(repo: Path) -> dict[str, int]:
    """Recent commits of HEAD, newest first (0); empty outside a git repository."""
    try:
        listed = run_git(repo, "rev-list", "--max-count=1000", "HEAD").split()
    except (CommandError, EnvironmentProblem):
        return {}
    return {sha: index for index, sha in enumerate(listed)}


def _lock_at(repo: Path, revision: str) -> Lock:
    """models.lock as committed at `revision`; an empty lock when the file did not exist there."""
    try:
        run_git(repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except CommandError:
        raise EnvironmentProblem.simple(
            f"git revision {revision!r} is not in this clone",
            hint="pass --base with the pull request's base commit, and check it out (actions/checkout fetch-depth: 2 "
            "makes HEAD^1 the base of a pull_request merge commit)",
        ) from None
    committed = f"{revision}:./{LOCK_FILE}"  # `./`: relative to the repository directory, which may be a
    try:  # subdirectory of a monorepo's git root
        size = int(run_git(repo, "cat-file", "-s", committed))
    except CommandError:
        return Lock()
    if size > MAX_YAML_BYTES:  # the limit a models.lock on disk is held to, asked of git before reading the blob
        raise LockError.simple(
            f"larger than {MAX_YAML_BYTES // 2**20} MiB, the limit for a YAML file ({size} bytes)",
            file=f"{revision}:{LOCK_FILE}",
            hint="a models.lock never comes near this: check the base revision, or pass --base another one",
        )
    try:
        text = run_git(repo, "show", committed)
    except CommandError:
        return Lock()
    except UnicodeDecodeError as exc:  # git's answer is decoded as UTF-8
        raise LockError.simple(
            str(yamlio.NotUtf8(exc.encoding, exc.object, exc.start, exc.end, exc.reason)),
            file=f"{revision}:{LOCK_FILE}",
            hint="the base's models.lock is not one this tool wrote: regenerate it there (`kserve-gitops lock`), or "
            "compare with another base",
        ) from None
    return lock_io.loads(text, f"{revision}:{LOCK_FILE}")


def _read_text(path: Path) -> str:
    try:
        return yamlio.read_text(path, follow=False)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise LockError.simple(
            f"cannot read: {reason}", file=path.name, hint="run `kserve-gitops lock` first"
        ) from None


def _read_lock(repo: Path) -> Lock:
    return lock_io.read(repo / LOCK_FILE)


def _check(
    files: dict[str, bytes],
    crds: Path,
    platform: Platform,
    *,
    alongside: Callable[[], object] = lambda: None,
    emitted: Mapping[str, Summary] | None = None,
    objects: Mapping[str, Any] | None = None,
    settled: Collection[str] = frozenset(),
) -> list[Diagnostic]:
    """Raise on errors (nothing gets written); return the warnings. `alongside` runs while kustomize builds;
    `emitted`: what files emitted in this run hold (manifests.summaries), `objects` their objects; `settled`:
    those known to pass."""
    with progress.stage(f"validating {len(files)} file(s)"):
        found = manifest_checks(crds)(
            files, platform, alongside=alongside, emitted=emitted or {}, settled=settled, objects=objects or {}
        )
    if problems := diagnostics.errors(found):
        raise ValidationFailed(problems)
    return diagnostics.warnings(found)


def _checked_plan(
    repo: Path,
    files: dict[str, bytes],
    crds: Path,
    platform: Platform,
    *,
    emitted: Mapping[str, Summary],
    objects: Mapping[str, Any],
    settled: Collection[str] = frozenset(),
    edited: Mapping[str, str] | None = None,
) -> tuple[Plan, list[Diagnostic]]:
    """The plan that writes `files` (and `edited`, files people own that this run changes), made while kustomize
    builds them (reading what is on disk takes about as long as a kustomize process takes to start), and their
    warnings. The files' errors raise first; then the plan's own refusals (a file this tool did not write, a link)."""
    wanted = {**files, **{path: text.encode("utf-8") for path, text in (edited or {}).items()}}
    made: list[Plan | UserError] = []

    def planning() -> None:
        try:
            made.append(plan(repo, wanted, RENDERED, edited=list(edited or {})))
        except UserError as exc:
            made.append(exc)

    warnings = _check(files, crds, platform, alongside=planning, emitted=emitted, objects=objects, settled=settled)
    if isinstance(made[0], UserError):
        raise made[0]
    return made[0], warnings


def propose(
    repo: Path,
    settings: propose_publish.ProposeSettings,
    *,
    git: propose_publish.GitSide,
    github: propose_publish.GitHubSide | None,
    runs: propose_publish.RunSource,
    crds: Path,
    registry: RegistryFactory,
    facts: FactsFactory | None = None,
) -> propose_publish.Published:
    """The working tree's models.lock, as `lock --update` left it, proposed group by group against the base branch.

    A missing lock is an error, not an empty one: that would read as "nothing to promote" and close every bot PR.
    The lock is verified against the registry first (as `lock --check`): a hand-forged entry is never pushed.
    """
    from generator.propose import publish as propose_publish  # noqa: PLC0415

    if not (repo / LOCK_FILE).is_file():
        raise UserError.simple(
            "no models.lock in the working tree",
            file=LOCK_FILE,
            hint="run `kserve-gitops lock --update` first, then propose what it changed",
        )
    new = _read_lock(repo)
    _verify_lock(load_spec(repo / SPEC_FILE, SPEC_FILE)[0], new, registry)
    gates = ProposeGates(registry, facts) if facts is not None else None
    return propose_publish.propose(
        new,
        settings,
        git=git,
        github=github,
        runs=runs,
        check=lambda files, platform: _check(dict(files), crds, platform),
        gates=gates,
    )


@dataclass(frozen=True)
class ProposeGates:
    """`propose`'s view of the gates, against the base branch's lock.

    Every change gets the facts for its comparison table and, when gated, a verdict. The registry is asked again
    (as `lock --update` did) only when models.yaml has gates: a candidate `lock --update` held back is not in
    models.lock, yet its pull request must say why it is missing.
    """

    registry: RegistryFactory
    facts: FactsFactory

    def review(self, spec: Spec, base: Lock, changes: Sequence[Change], update: Update) -> gate_review.GateReview:
        """Verdicts of the changes, and what is held back: failing changes, and failing versions the registry
        offers now that models.lock does not carry (`lock --update` held them back)."""
        proposed = [
            gate_review.Move(target, c.old, c.new)
            for c in changes
            if (target := spec.target(c.model, c.env)) is not None
        ]
        gated = any(applicable(spec, t) for t in spec.targets)
        taken = {(m.target.key, m.candidate.version) for m in proposed}
        offered = (
            [
                m
                for m in gate_review.gated(
                    spec, gate_review.moves(spec, base, _relock(spec, base, update, self.registry))
                )
                if m.promotion and (m.target.key, m.candidate.version) not in taken
            ]
            if gated
            else []
        )
        if not proposed and not offered:
            return gate_review.GateReview()
        wanted = gate_review.wanted(spec, proposed + offered)
        try:
            found = self.facts(spec).facts(wanted.versions, signature=wanted.signature, metrics=wanted.metrics)
        except RegistryUnavailable:
            if gated:
                raise
            return gate_review.GateReview()  # only the comparison tables were wanted: the body says less
        verdicts = gate_review.verdicts(spec, proposed, found)
        offers = gate_review.verdicts(spec, offered, found)
        held = [
            (m, verdicts[m.target.key])
            for m in proposed
            if m.promotion and m.target.key in verdicts and not verdicts[m.target.key].admitted
        ]
        held += [(m, offers[m.target.key]) for m in offered if not offers[m.target.key].admitted]
        return gate_review.GateReview(found, verdicts, tuple(held))


def compat(
    repo: Path, model: str, env: str, tracking_uri: str, *, docker: bool, recheck: bool, base: str = ""
) -> tuple[Outcome, compat_run.CompatReport]:
    """Load each locked version not yet checked on its runtime image the way KServe will (`compat/`), and the
    lock with every verdict recorded. `model`/`env` narrow it ("" for all); `tracking_uri` overrides the spec's;
    `base` (a git revision): only verdicts models.lock already recorded there count as checked."""
    from generator.compat import load as compat_load  # noqa: PLC0415
    from generator.compat import run as compat_run  # noqa: PLC0415

    spec, warnings = load_spec(repo / SPEC_FILE, SPEC_FILE)
    old = _read_lock(repo)
    # as render does: a hand-edited artifactUri outside the declared storage prefixes is refused before anything is
    # downloaded from it with this machine's credentials and loaded (a pickle runs code when it loads)
    if misplaced := lock_verify.locations(spec, old):
        raise LockError(misplaced)
    trusted = _lock_at(repo, base) if base else None
    checks, skipped, recorded_failure = compat_run.plan_checks(spec, old, model, env, recheck=recheck, trusted=trusted)
    tracking = tracking_uri or spec.tracking_uri

    def fetch(uri: str, destination: Path, what: str) -> Path:
        if docker:
            compat_load.docker_command(what)  # refuse before downloading anything
        return compat_load.download(uri, destination, tracking, what=what)

    def probe(
        image: str, facts: RuntimeImage | None, model_dir: Path, request: dict[str, Any] | None, what: str
    ) -> compat_load.Probed:
        if docker:
            return compat_load.in_docker(image, model_dir, request, what=what)
        assert facts is not None  # run_checks refuses unknown images without docker
        return compat_load.in_environment(facts, model_dir, request)

    results = compat_run.run_checks(checks, download=fetch, load=probe, docker=docker)
    new = compat_run.record(old, results)
    report = compat_run.CompatReport(results, skipped, recorded_failure)
    return _settled(repo, Outcome(plan(repo, {LOCK_FILE: lock_io.dumps(new)}), warnings, new), check=False), report


def record_image(repo: Path, model: str, version: str, digest: str, *, crds: Path) -> Outcome:
    """The pushed image's digest into every image-method entry of MODEL at VERSION, and the manifests re-rendered
    to `tag@digest`: lock and manifests change together, or nothing does (as `pin`). No registry call."""
    from generator.lock import images as lock_images  # noqa: PLC0415 -- command-specific

    lock_images.check_digest(digest)
    spec, warnings = load_spec(repo / SPEC_FILE, SPEC_FILE)
    new = lock_images.record(spec, _read_lock(repo), model, version, digest)
    _, planned, checked = _produced(repo, spec, new, crds, with_lock=True)
    return _settled(repo, Outcome(planned, warnings + checked, new), check=False)


def pending_images(repo: Path) -> list[lock_images.Pending]:
    """Image-method versions in models.lock that have no digest yet: what the images workflow builds."""
    from generator.lock import images as lock_images  # noqa: PLC0415 -- command-specific

    spec, _ = load_spec(repo / SPEC_FILE, SPEC_FILE)
    return lock_images.pending(spec, _read_lock(repo))


def image_target(repo: Path, model: str, env: str) -> tuple[Target, LockEntry]:
    """The locked image-method target MODEL/ENV, or an error saying why there is none."""
    from generator.lock import images as lock_images  # noqa: PLC0415 -- command-specific

    spec, _ = load_spec(repo / SPEC_FILE, SPEC_FILE)
    found = {(t.model, t.env): (t, e) for t, e in lock_images.image_entries(spec, _read_lock(repo))}
    if (model, env) not in found:
        known = ", ".join(f"{m}/{e}" for m, e in found) or "none"
        raise UserError.simple(
            f"{model}/{env} is not a locked target with method image",
            hint=f"image-method targets in {LOCK_FILE}: {known}; run `kserve-gitops lock` first if it is new",
        )
    return found[(model, env)]
