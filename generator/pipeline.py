"""The product's jobs: load spec → resolve → lock → render → validate → plan the writes.

Functions return an `Outcome` (the plan plus warnings); the CLI decides whether
to apply it or, with `--check`, to report drift. Adapters (the registry) come in
as factories, so nothing talks to MLflow unless a reference really needs resolving.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from generator import repo_lock
from generator.diagnostics import Diagnostic
from generator.errors import LockError, RegistryError, UserError, ValidationFailed
from generator.lock import images as lock_images
from generator.lock import io as lock_io
from generator.lock.model import Lock, LockEntry
from generator.lock.resolve import Update, compatibility, merge, queries_for
from generator.propose import publish as propose_publish
from generator.registry.base import Registry
from generator.render.tree import ARGOCD_DIR, CLUSTER_DIR, ENVIRONMENTS_DIR, ROOT_KUSTOMIZATION, render
from generator.spec import edit as spec_edit
from generator.spec.load import load_spec, parse_spec
from generator.spec.model import Platform, Spec, Target
from generator.write import Plan, interrupted, plan, recover

SPEC_FILE = "models.yaml"
LOCK_FILE = "models.lock"
RENDERED = (ENVIRONMENTS_DIR, CLUSTER_DIR, ARGOCD_DIR, ROOT_KUSTOMIZATION)

RegistryFactory = Callable[[Spec], Registry]
Validator = Callable[[Mapping[str, bytes], Platform], list[Diagnostic]]
TreeChecks = Callable[[Path, list[str], Platform], list[Diagnostic]]


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    warnings: list[Diagnostic] = field(default_factory=list)
    lock: Lock = field(default_factory=Lock)


@contextlib.contextmanager
def session(repo: Path, *, write_tree: bool, lock_timeout: float) -> Iterator[list[Diagnostic]]:
    """Every command that reads or writes the tree runs inside one, from its first read to its last write.

    Writers hold the repository lock exclusively, so two never interleave; readers hold it shared, so
    they never see a half-swapped tree. Before anything reads the tree, a write that a killed run left
    half done is finished or undone (that needs the lock exclusively, even for a reader). Yields what
    was recovered, as warnings.
    """
    recovered: list[Diagnostic] = []
    with repo_lock.held(repo, lock_timeout) as lock:
        lock.acquire(exclusive=write_tree)
        while interrupted(repo):
            lock.acquire(exclusive=True)
            recovered.append(recover(repo))
            if not write_tree:
                lock.acquire(exclusive=False)
        yield recovered


def validate_repo(repo: Path, tree_checks: TreeChecks) -> list[Diagnostic]:
    """Every check over models.yaml, models.lock and the generated tree on disk; collects, never stops early."""
    platform = Platform()
    try:
        spec, found = load_spec(repo / SPEC_FILE, SPEC_FILE)
        platform = spec.platform
        current = _read_lock(repo)
        found += _drift(repo, spec, current) + compatibility(spec, current)
    except UserError as exc:
        found = list(exc.diagnostics)
    on_disk = [p.relative_to(repo).as_posix() for d in RENDERED for p in _files(repo / d)]
    return found + tree_checks(repo, on_disk, platform)


def lock(repo: Path, registry: RegistryFactory, update: Update) -> Outcome:
    spec, warnings = load_spec(repo / SPEC_FILE, SPEC_FILE)
    new = _relock(spec, _read_lock(repo), update, registry)
    return Outcome(plan(repo, {LOCK_FILE: lock_io.dumps(new)}), warnings + _compat_warnings(spec, new), new)


def render_tree(repo: Path, validate: Validator) -> Outcome:
    spec, warnings = load_spec(repo / SPEC_FILE, SPEC_FILE)
    current = _read_lock(repo)
    files = render(spec, current)
    warnings += _check(files, validate, spec.platform)
    return Outcome(plan(repo, files, RENDERED), warnings, current)


def generate(repo: Path, registry: RegistryFactory, update: Update, validate: Validator) -> Outcome:
    """lock + render + validate as one atomic plan: the lock and the manifests always agree."""
    spec, warnings = load_spec(repo / SPEC_FILE, SPEC_FILE)
    new = _relock(spec, _read_lock(repo), update, registry)
    files = {LOCK_FILE: lock_io.dumps(new), **render(spec, new)}
    warnings += _check(files, validate, spec.platform) + _compat_warnings(spec, new)
    return Outcome(plan(repo, files, RENDERED), warnings, new)


def pin(repo: Path, model: str, env: str, version: str, *, registry: RegistryFactory, validate: Validator) -> Outcome:
    """Hold MODEL in ENV at VERSION: models.yaml, lock and manifests change together, or nothing does."""
    return _edit(repo, lambda text: spec_edit.pin(text, model, env, version), registry, validate)


def unpin(repo: Path, model: str, env: str, *, registry: RegistryFactory, validate: Validator) -> Outcome:
    """Release a hold: the reference as written (alias, stage, latest) applies again."""
    return _edit(repo, lambda text: spec_edit.unpin(text, model, env), registry, validate)


def _edit(repo: Path, change: Callable[[str], str], registry: RegistryFactory, validate: Validator) -> Outcome:
    try:
        text = (repo / SPEC_FILE).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError.simple(f"cannot read: {exc.strerror or exc}", file=SPEC_FILE) from None
    edited = change(text)
    spec, warnings = parse_spec(edited, SPEC_FILE)
    new = _relock(spec, _read_lock(repo), Update(), registry)
    files = {LOCK_FILE: lock_io.dumps(new), **render(spec, new)}
    warnings += _check(files, validate, spec.platform)
    files[SPEC_FILE] = edited.encode("utf-8")
    return Outcome(plan(repo, files, RENDERED, edited=[SPEC_FILE]), warnings, new)


def _compat_warnings(spec: Spec, lock: Lock) -> list[Diagnostic]:
    """What may not load on its runtime but is not refused (errors were refused while locking)."""
    return [d for d in compatibility(spec, lock) if d.severity == "warning"]


def _drift(repo: Path, spec: Spec, current: Lock) -> list[Diagnostic]:
    try:
        files = render(spec, current)
    except LockError as exc:
        return list(exc.diagnostics)
    planned = plan(repo, files, RENDERED)
    return [Diagnostic(file=path, message=f"differs from what models.yaml and models.lock render ({change})",
                       hint="run `kserve-gitops render` and commit the result", rule="drift")
            for change, path in (line.split(" ", 1) for line in planned.summary())]


def _files(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted(p for p in path.rglob("*.yaml") if p.is_file())


def _relock(spec: Spec, old: Lock, update: Update, registry: RegistryFactory) -> Lock:
    unknown = update.unknown_selectors(spec)
    if unknown:
        known = sorted({t.model for t in spec.targets} | {f"{t.model}/{t.env}" for t in spec.targets})
        raise UserError.simple(f"--update names nothing in {SPEC_FILE}: {', '.join(unknown)}",
                               hint=f"use MODEL or MODEL/ENV, one of: {', '.join(known)}")
    queries = queries_for(spec, old, update)
    answers = dict(zip(queries, registry(spec).resolve(queries), strict=True)) if queries else {}
    new, problems = merge(spec, old, update, answers)
    if problems:
        raise RegistryError(problems)
    return new


def _read_lock(repo: Path) -> Lock:
    return lock_io.read(repo / LOCK_FILE)


def _check(files: dict[str, bytes], validate: Validator, platform: Platform) -> list[Diagnostic]:
    """Raise on errors (nothing gets written); return the warnings."""
    found = validate(files, platform)
    problems = [d for d in found if d.severity == "error"]
    if problems:
        raise ValidationFailed(problems)
    return [d for d in found if d.severity == "warning"]


def propose(
    repo: Path, settings: propose_publish.Settings, *, git: propose_publish.GitSide,
    github: propose_publish.GitHubSide | None, runs: propose_publish.RunSource, validate: Validator,
) -> propose_publish.Published:
    """The working tree's models.lock, as `lock --update` left it, proposed group by group against the base branch.

    A missing lock is an error, not an empty one: that would read as "nothing to promote" and close every bot PR.
    """
    if not (repo / LOCK_FILE).is_file():
        raise UserError.simple("no models.lock in the working tree", file=LOCK_FILE,
                               hint="run `kserve-gitops lock --update` first, then propose what it changed")
    return propose_publish.propose(_read_lock(repo), settings, git=git, github=github, runs=runs,
                                   check=lambda files, platform: _check(dict(files), validate, platform))


def record_image(repo: Path, model: str, version: str, digest: str, *, validate: Validator) -> Outcome:
    """The pushed image's digest into every image-method entry of MODEL at VERSION, and the manifests re-rendered
    to `tag@digest`: lock and manifests change together, or nothing does (as `pin`). No registry call."""
    lock_images.check_digest(digest)
    spec, warnings = load_spec(repo / SPEC_FILE, SPEC_FILE)
    new = lock_images.record(spec, _read_lock(repo), model, version, digest)
    files = {LOCK_FILE: lock_io.dumps(new), **render(spec, new)}
    warnings += _check(files, validate, spec.platform)
    return Outcome(plan(repo, files, RENDERED), warnings, new)


def pending_images(repo: Path) -> list[lock_images.Pending]:
    """Image-method versions in models.lock that have no digest yet: what the images workflow builds."""
    spec, _ = load_spec(repo / SPEC_FILE, SPEC_FILE)
    return lock_images.pending(spec, _read_lock(repo))


def image_target(repo: Path, model: str, env: str) -> tuple[Target, LockEntry]:
    """The locked image-method target MODEL/ENV, or an error saying why there is none."""
    spec, _ = load_spec(repo / SPEC_FILE, SPEC_FILE)
    found = {(t.model, t.env): (t, e) for t, e in lock_images.image_entries(spec, _read_lock(repo))}
    if (model, env) not in found:
        known = ", ".join(f"{m}/{e}" for m, e in found) or "none"
        raise UserError.simple(f"{model}/{env} is not a locked target with method image",
                               hint=f"image-method targets in {LOCK_FILE}: {known}; run `kserve-gitops lock` first "
                                    "if it is new")
    return found[(model, env)]
