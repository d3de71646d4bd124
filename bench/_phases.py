"""`generate` timed phase by phase, and as users run it (the CLI, then again with nothing to change).

The phase split calls the same stage functions, in the same order, as
`generator.pipeline.generate` (its last stage writes the plan), so the phases add up
to one generate run; the CLI runs then show what the split leaves out (typer,
error handling, warnings) and what a no-op run costs.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench._measure import ChildPeaks, Phases, peak_rss_mib
from bench.scenario import forget_crd_schemas
from devtools.metering import count_requests
from generator.cli import main as cli_main
from generator.cli._build import registry_for
from generator.diagnostics import Diagnostic
from generator.errors import EXIT_INTERRUPTED
from generator.lock import LOCK_FILE
from generator.lock import io as lock_io
from generator.lock.model import Lock
from generator.lock.resolve import Update, compatibility, merge, queries_for
from generator.pipeline import RENDERED
from generator.render.tree import render
from generator.spec import SPEC_FILE
from generator.spec.load import load_spec
from generator.validate.crds import load_crd_schemas
from generator.validate.manifests import checks
from generator.write import apply, plan

PHASES = ("load", "resolve", "lock", "render", "validate", "write")
CRD_LOAD = "validate: CRD schema load (cold)"
CHECKS = "validate: strict CRD + KServe rules + kustomize builds"
COMPAT = "validate: runtime compatibility (recorded MLmodel facts)"


@dataclass(frozen=True)
class Split:
    phases: Phases
    requests: Counter[str]
    lock: Lock
    findings: list[Diagnostic]
    files: int


@dataclass(frozen=True)
class CliRun:
    label: str
    seconds: float
    code: int
    stdout: str
    stderr: str
    requests: int | None  # None: another process, not counted
    peak_rss_mib: float  # the process that ran it: this one (ru_maxrss), or the fresh one (VmHWM)
    kustomize_peak_mib: float = 0.0  # the largest kubectl/kustomize child, where measured


def phase_split(repo: Path, crd_dir: Path) -> Split:
    """One generate on a repository with no lock yet: every reference is resolved."""
    timer = Phases()
    with timer.time("load"):
        spec, _ = load_spec(repo / SPEC_FILE, SPEC_FILE)
    with timer.time("resolve"), count_requests() as requests:
        queries = queries_for(spec, Lock(), Update())
        answers = dict(zip(queries, registry_for(spec).resolve(queries), strict=True))
    with timer.time("lock"):
        new, problems = merge(spec, Lock(), Update(), answers)
        files = {LOCK_FILE: lock_io.dumps(new)}
    if problems:
        raise SystemExit("\n".join(map(str, problems)))
    with timer.time("render"):
        files |= render(spec, new)
    forget_crd_schemas()
    with timer.time("validate"):
        with timer.time(CRD_LOAD):
            load_crd_schemas(crd_dir)
        with timer.time(CHECKS):
            findings = checks(crd_dir)(files, spec.platform)
        with timer.time(COMPAT):
            findings += compatibility(spec, new)
    with timer.time("write"):
        apply(repo, plan(repo, files, RENDERED))
    return Split(timer, requests, new, findings, len(files))


@dataclass(frozen=True)
class Relock:
    """`lock --update` on a current lock: every reference resolved again, MLmodel facts taken from the lock."""

    seconds: float
    requests: Counter[str]
    references: int


def relock_current(repo: Path, lock: Lock) -> Relock:
    spec, _ = load_spec(repo / SPEC_FILE, SPEC_FILE)
    queries = queries_for(spec, lock, Update(everything=True))
    with count_requests() as requests:
        start = time.perf_counter()
        registry_for(spec).resolve(queries, lock.infos())
        elapsed = time.perf_counter() - start
    return Relock(elapsed, requests, len(spec.targets))


def in_process(label: str, repo: Path, crd_dir: Path) -> CliRun:
    """`kserve-gitops generate` through `generator.cli.main`, with a cold CRD cache as a new process has."""
    forget_crd_schemas()
    out, err = io.StringIO(), io.StringIO()
    with count_requests() as requests, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        start = time.perf_counter()
        code = cli_main(["generate", "--repo", str(repo), "--crd-dir", str(crd_dir)])
        elapsed = time.perf_counter() - start
    if code == EXIT_INTERRUPTED:  # the CLI turned Ctrl-C into an exit code; stop the benchmark too
        raise KeyboardInterrupt
    return CliRun(label, elapsed, code, out.getvalue(), err.getvalue(), sum(requests.values()), peak_rss_mib())


def fresh_process(label: str, repo: Path, crd_dir: Path) -> CliRun:
    """The same command in a new interpreter: what a user waits for, imports included."""
    argv = [sys.executable, "-m", "generator", "generate", "--repo", str(repo), "--crd-dir", str(crd_dir)]
    with ChildPeaks() as peaks:
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
    return CliRun(
        label,
        elapsed,
        done.returncode,
        done.stdout,
        done.stderr,
        None,
        peaks.peaks.get("generator", 0.0),
        peaks.peaks.get("kubectl", 0.0),
    )
