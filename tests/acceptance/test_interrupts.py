"""A real 1,000-model `render` interrupted, terminated or killed mid-swap, racing writers, symlinked outputs:
the tree is always fully old or fully new, with nothing left behind. Offline: the repository is the
benchmark's synthetic one (bench/scenario.py), with a complete models.lock."""

from __future__ import annotations

import json
import random
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from bench.scenario import models_yaml, synthetic_lock
from generator.generated import GENERATED_MARK
from generator.lock import io as lock_io
from generator.render.tree import render
from generator.spec.load import parse_spec
from tests.support.writer import Tree, kserve_gitops, tree, wait_for_lock, wait_until_swapped

MODELS = 1000
HAND_WRITTEN = {"environments/dev/README.md": b"hand-written, never touched\n"}
RETIRED = {"environments/retired/gone.yaml": f"{GENERATED_MARK}\nkind: ConfigMap\n".encode()}


class Snapshots(NamedTuple):
    old: Tree
    new: Tree
    files: int


def _repository(models: int, *, namespace: str = "ml-dev") -> tuple[Tree, Tree]:
    """(what is on disk before `render`, what `render` makes of it): every rendered file outdated, one
    stale generated file to prune, one hand-written file to keep."""
    text = models_yaml(models).replace("namespace: ml-dev}", f"namespace: {namespace}}}")
    spec, _ = parse_spec(text)
    lock = synthetic_lock(spec)
    inputs = {"models.yaml": text.encode(), "models.lock": lock_io.dumps(lock)}
    rendered = render(spec, lock)
    old = inputs | {path: content + b"# outdated\n" for path, content in rendered.items()} | RETIRED | HAND_WRITTEN
    return old, inputs | rendered | HAND_WRITTEN


def _write(root: Path, files: Tree) -> None:
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)


@pytest.fixture(scope="module")
def snapshots() -> Snapshots:
    old, new = _repository(MODELS)
    return Snapshots(old, new, sum(1 for p in new if p.startswith(("environments/", "kustomization"))))


class Trial(NamedTuple):
    code: int
    err: str
    after: Tree


def _interrupt(root: Path, files: Tree, at: int, signum: signal.Signals, then: Callable[[Path], None]) -> Trial:
    """Run `render` and send SIGNUM once AT files have been swapped (AT 0: as soon as it holds the lock)."""
    _write(root, files)
    process = kserve_gitops("render", "--repo", str(root))
    if at:
        assert wait_until_swapped(root, at, process), process.output()
    else:
        wait_for_lock(root, process)
    process.send_signal(signum)
    _, err = process.output()
    then(root)
    return Trial(process.returncode, err, tree(root))


def _nothing(_: Path) -> None:
    pass


# Seeded points: how many files the swap has moved when the signal is sent (0: as soon as it holds the lock).
_DRAW = random.Random(9)
POINTS = [(0, signal.SIGTERM), *((_DRAW.random(), signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGINT))]


@pytest.mark.parametrize(("fraction", "signum"), POINTS)
def test_render_interrupted_anywhere_leaves_the_old_tree_and_nothing_else(
    tmp_path: Path, snapshots: Snapshots, fraction: float, signum: signal.Signals
) -> None:
    at = 1 + int(fraction * snapshots.files / 3) if fraction else 0
    trial = _interrupt(tmp_path / "repo", snapshots.old, at, signum, _nothing)
    assert trial.code == 128 + signum, trial.err
    assert f"error: interrupted by {signum.name}" in trial.err
    assert trial.after == snapshots.old


def test_after_kill_9_mid_swap_the_next_command_recovers_first(tmp_path: Path, snapshots: Snapshots) -> None:
    """Even a command that only reads (`render --check`) finishes or undoes the killed write before anything else."""

    def next_run(root: Path) -> None:
        process = kserve_gitops("render", "--check", "--repo", str(root))
        out, err = process.output()
        assert out.startswith("--- a/"), out[:200]  # the recovered tree, compared with what render would write
        assert "warning: .kserve-gitops/journal: an earlier run was killed while writing: put every file back" in err
        # It then checks the recovered (old, deliberately outdated) tree: drift, exit 1, and nothing written.
        assert process.returncode == 1, err
        assert "3005 file(s) out of date" in err

    trial = _interrupt(
        tmp_path / "repo", snapshots.old, random.Random(7).randrange(1, snapshots.files // 3), signal.SIGKILL, next_run
    )
    assert trial.after == snapshots.old


RECOVERED = "an earlier run was killed while writing: put every file back as it was before it"


@pytest.mark.parametrize("output", ["json", "github"])
def test_after_kill_9_the_recovery_is_a_warning_of_the_report_that_tools_read(tmp_path: Path, output: str) -> None:
    """With `-o json` or `-o github` the report is the one thing printed, stderr stays empty: what the recovery says
    is one of its warnings, as any other."""
    old, _ = _repository(300)
    # render writes the recovered (old, outdated) tree anew; validate finds it outdated
    command, code = (("render", "-o", "json"), 0) if output == "json" else (("validate", "-o", "github"), 1)

    def next_run(root: Path) -> None:
        process = kserve_gitops(*command, "--repo", str(root))
        out, err = process.output()
        assert (process.returncode, err) == (code, ""), out[-2000:]
        if output == "json":
            report = json.loads(out)
            assert {"file": ".kserve-gitops/journal", "severity": "warning", "message": RECOVERED} in report["findings"]
        else:
            assert f"::warning file=.kserve-gitops/journal::{RECOVERED}\n" in out

    _interrupt(tmp_path / "repo", old, 100, signal.SIGKILL, next_run)


def test_a_second_writer_gives_up_naming_the_first_which_finishes(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    old, new = _repository(300)
    _write(root, old)
    first = kserve_gitops("generate", "--repo", str(root))
    wait_for_lock(root, first)
    second = kserve_gitops("--lock-timeout", "0.2", "generate", "--repo", str(root))
    _, second_err = second.output()
    _, first_err = first.output()
    assert first.returncode == 0, first_err
    assert second.returncode == 2, second_err
    assert f"is in use by process {first.pid} (" in second_err and "generate --repo" in second_err
    assert "gave up after waiting 0.2 s" in second_err
    assert tree(root) == new


def test_a_second_writer_waits_and_then_writes_its_own_tree_never_a_mix(tmp_path: Path) -> None:
    """`generate` holds the repository; a `render` of a changed models.yaml waits for it, then writes."""
    root = tmp_path / "repo"
    old, first_result = _repository(300)
    _, second_result = _repository(300, namespace="ml-dev-2")
    _write(root, old)
    first = kserve_gitops("generate", "--repo", str(root))
    wait_for_lock(root, first)
    # Saved as editors save, by renaming a whole new file over it: the first run reads one version or the other.
    (root / "models.yaml.new").write_bytes(second_result["models.yaml"])
    (root / "models.yaml.new").replace(root / "models.yaml")
    second = kserve_gitops("--lock-timeout", "900", "render", "--repo", str(root))
    _, second_err = second.output()
    _, first_err = first.output()
    assert (first.returncode, second.returncode) == (0, 0), first_err + second_err
    assert tree(root) == second_result
    assert set(first_result) == set(second_result)


@pytest.mark.parametrize("link", ["environments", "environments/dev"])
def test_render_refuses_a_symlinked_output_directory_and_touches_nothing_outside(tmp_path: Path, link: str) -> None:
    root, outside = tmp_path / "repo", tmp_path / "outside"
    old, _ = _repository(1)
    _write(root, {p: c for p, c in old.items() if not p.startswith("environments/")})
    _write(outside, {"stale.yaml": f"{GENERATED_MARK}\nsomeone else's\n".encode()})
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    (root / link).symlink_to(outside, target_is_directory=True)
    before = tree(outside)
    process = kserve_gitops("render", "--repo", str(root))
    _, err = process.output()
    assert process.returncode == 1
    assert f"error: {link}: is a symbolic link (to {outside}); kserve-gitops never writes or deletes" in err
    assert tree(outside) == before
    shutil.rmtree(outside)
