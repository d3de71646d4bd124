"""How long `kserve-gitops generate` takes on a large registry, phase by phase, against the seed's way.

    python -m bench.generate [--models N] [--workers W] [--out DIR] [--skip-baseline] [--no-readme]

Starts the local MLflow + S3 stack (proxied artifacts), registers N models x 3
versions with aliases, writes a models.yaml of N models x dev/staging/prod, then:

1. times one generate phase by phase (load, resolve, lock, render, validate, write),
   counting the registry's HTTP requests;
2. runs `kserve-gitops generate` end to end in a second repository, then again with
   nothing to change (in this process, and in a fresh one);
3. resolves every reference again with the lock current (`lock --update`), and the
   same references the seed's way (one client call after another).

Prints Markdown tables and rewrites the `generate` section of bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench import _report
from bench._baseline import resolve_one_by_one
from bench._generate_report import Results, render_report
from bench._measure import child_trees, peak_rss_mib
from bench._phases import fresh_process, in_process, phase_split, relock_current
from bench._seed import seed
from bench.scenario import models_yaml, registered_names
from devtools.stack import Stack
from generator.spec import SPEC_FILE
from generator.spec.load import load_spec
from generator.spec.model import Target
from generator.util.environ import scoped_environ

CRD_DIR = Path(__file__).resolve().parents[1] / "schemas" / "crds"  # kserve-gitops schemas fetch
# Fail in seconds, not minutes, if the server dies mid-run (mlflow's defaults retry for ~2 minutes).
HTTP_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the stack stops
    with _workspace(args.out) as out, Stack(out / "stack", mode="proxied", workers=args.workers) as stack:
        results = _run(stack, out, args)
    report = render_report(results)
    print(report)
    if not args.no_readme:
        _report.update_readme(_section(args), report)
    return 0


def _section(args: argparse.Namespace) -> str:
    """The default run owns `generate`; other sizes and worker counts get a section each, never replacing it."""
    defaults = _arguments([])
    if (args.models, args.workers) == (defaults.models, defaults.workers):
        return "generate"
    return f"generate-{args.models}-models-{args.workers}-workers"


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=1000, help="registered models to seed (default: 1000)")
    parser.add_argument("--workers", type=int, default=2, help="MLflow server workers (default: 2)")
    parser.add_argument("--out", type=Path, help="keep the stack and repositories here (default: a temp dir)")
    parser.add_argument("--skip-baseline", action="store_true", help="do not resolve the seed's way")
    parser.add_argument("--no-readme", action="store_true", help="print only; leave bench/README.md alone")
    parser.add_argument("--crd-dir", type=Path, default=CRD_DIR, help=f"CRDs to validate with (default: {CRD_DIR})")
    return parser.parse_args(argv)


@contextlib.contextmanager
def _workspace(out: Path | None) -> Iterator[Path]:
    """`--out` is kept for inspection (its previous run removed first); the default temp dir is not."""
    if out is None:
        with tempfile.TemporaryDirectory(prefix="kserve-gitops-bench-") as scratch:
            yield Path(scratch)
        return
    for stale in ("stack", "repo-phases", "repo-cli"):
        shutil.rmtree(out / stale, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    yield out.resolve()


def _run(stack: Stack, out: Path, args: argparse.Namespace) -> Results:
    names = registered_names(args.models)
    with scoped_environ(HTTP_ENV):
        seeding = seed(stack, names)
    repos = [_repo(out / name, args.models) for name in ("repo-phases", "repo-cli")]
    with scoped_environ(stack.client_env | HTTP_ENV):
        split = phase_split(repos[0], args.crd_dir)
        relock = relock_current(repos[0], split.lock)
        runs = [
            in_process("generate (first run: resolves everything)", repos[1], args.crd_dir),
            in_process("generate again (no-op)", repos[1], args.crd_dir),
            fresh_process("generate again (no-op), fresh process", repos[1], args.crd_dir),
        ]
        references = [(t.registered_model, t.ref) for t in _targets(repos[0])]
        baseline = None if args.skip_baseline else resolve_one_by_one(stack.client(), references)
    return Results(args.models, args.workers, seeding, split, relock, runs, baseline, child_trees(), peak_rss_mib())


def _repo(root: Path, models: int) -> Path:
    root.mkdir(parents=True)
    (root / SPEC_FILE).write_text(models_yaml(models), encoding="utf-8")
    return root


def _targets(repo: Path) -> list[Target]:
    spec, _ = load_spec(repo / SPEC_FILE, SPEC_FILE)
    return list(spec.targets)


if __name__ == "__main__":
    raise SystemExit(main())
