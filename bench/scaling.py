"""Whether each command's cost grows with the repository, not with its square: N/4 and N models side by side.

    python -m bench.scaling [--models 1000] [--crd-dir DIR] [--no-readme]

Both repositories switch on every feature that adds work per model (bench.scenario's `featured`: gates, a
followed environment, a smoke-test Job beside each InferenceService, `method: registry`, holds), with the lock a
run against bench.generate's registry would write, so no MLflow is needed. In each, fresh `kserve-gitops`
processes run a first `generate`, `validate` on a fresh cache, `status`, then, after a change of every model
(the default memory limit), `render` and `diff` against the commit before it. The ratio of the two times is ~4
for a command whose cost grows with the models and ~16 for one that grows with their square (a quadratic step
found this way cost `diff` 99 s at 1,000 models); process start-up and fixed work pull it below 4.
Reports; never asserts.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench import _report
from bench._report import table
from bench.incremental import CRD_DIR, Run, compile_bytecode, env_for, timed
from bench.scenario import models_yaml, synthetic_lock
from generator.lock import LOCK_FILE
from generator.lock import io as lock_io
from generator.spec import SPEC_FILE
from generator.spec.load import parse_spec

STEPS = ("generate", "validate", "status", "render", "diff")
_CHANGED = ("memory: 4Gi}", "memory: 5Gi}")  # the default limit: every model's manifests change


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    with tempfile.TemporaryDirectory(prefix="kserve-gitops-bench-scaling-") as scratch:
        report = measure(Path(scratch), args.models, args.crd_dir.resolve())
    print(report)
    if not args.no_readme:
        _report.update_readme("scaling", report)
    return 0


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=1000, help="the larger repository's models (default: 1000)")
    parser.add_argument("--crd-dir", type=Path, default=CRD_DIR, help=f"CRDs (default: {CRD_DIR})")
    parser.add_argument("--no-readme", action="store_true", help="print only; leave bench/README.md alone")
    return parser.parse_args(argv)


def measure(scratch: Path, models: int, crd_dir: Path) -> str:
    compile_bytecode(scratch / "pycache")
    # `status` imports mlflow and `diff` gitpython: compiled once here, as an install would have them, not in a run
    subprocess.run([sys.executable, "-c", "import mlflow, git"], env=env_for(scratch / "cache"), check=True)
    sizes = (models // 4, models)
    runs = {size: _steps(scratch / f"repo-{size}", scratch / f"cache-{size}", size, crd_dir) for size in sizes}
    rows = [
        [step, *(runs[size][step].seconds for size in sizes), _ratio(runs, sizes, step), _exit(runs, step)]
        for step in STEPS
    ]
    return (
        "\n\n".join(
            [
                f"### `python -m bench.scaling --models {models}`: {sizes[0]:,} and {sizes[1]:,} models, every "
                "feature on",
                f"Measured {_report.stamp()} on {_report.machine()}. Each step is one fresh process; a ratio of "
                f"{sizes[1] / sizes[0]:.0f} grows with the models, {(sizes[1] / sizes[0]) ** 2:.0f} with their square.",
                table(["step", f"{sizes[0]:,} models (s)", f"{sizes[1]:,} models (s)", "ratio", "exit"], rows),
            ]
        )
        + "\n"
    )


def _ratio(runs: dict[int, dict[str, Run]], sizes: tuple[int, int], step: str) -> str:
    return f"{runs[sizes[1]][step].seconds / runs[sizes[0]][step].seconds:.1f}x"


def _exit(runs: dict[int, dict[str, Run]], step: str) -> int:
    """The step's exit code at either size: any failure shows."""
    return max((sizes[step].code for sizes in runs.values()), key=abs)


def _steps(repo: Path, cache: Path, models: int, crd_dir: Path) -> dict[str, Run]:
    text = models_yaml(models, featured=True)
    repo.mkdir(parents=True)
    (repo / SPEC_FILE).write_text(text)
    (repo / LOCK_FILE).write_bytes(lock_io.dumps(synthetic_lock(parse_spec(text)[0])))
    _git(repo, "init", "-q")
    env = env_for(cache)
    crds = ["--crd-dir", str(crd_dir)]
    runs = {"generate": timed(_command("generate", repo, *crds), env)}
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", "generated")
    runs["validate"] = timed(_command("validate", repo, *crds), env_for(cache.with_name(f"{cache.name}-fresh")))
    runs["status"] = timed(_command("status", repo), env)
    (repo / SPEC_FILE).write_text(text.replace(*_CHANGED))
    runs["render"] = timed(_command("render", repo, *crds), env)
    runs["diff"] = timed(_command("diff", repo, "--base", "HEAD"), env)
    return runs


def _command(name: str, repo: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "generator", name, "--repo", str(repo), *options]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True)


if __name__ == "__main__":
    raise SystemExit(main())
