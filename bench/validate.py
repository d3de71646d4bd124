"""Where the time goes when `generate` validates thousands of InferenceServices; no MLflow needed.

    python -m bench.validate [--count 3000] [--crd-dir DIR] [--no-readme]

Renders count/3 models x dev/staging/prod from a synthetic lock (the lock a run
against bench.generate's registry would write), then times each part of the
manifest checks on its own: (a) loading the CRD schemas, (b) strict CRD schema +
KServe rules per object, (c) the kustomize builds (root and each environment),
plus what `checks()` adds around them (file:line positions, writing a scratch
tree). Prints Markdown tables and rewrites the `validate` section of bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import yaml

from bench import _report
from bench._measure import ChildPeaks, Phases, peak_rss_mib
from bench._report import mib, table
from bench.scenario import ENVIRONMENTS, forget_crd_schemas, models_yaml, synthetic_lock
from generator.cache import CACHE_ENV
from generator.render.tree import ROOT_KUSTOMIZATION, render
from generator.spec.load import parse_spec
from generator.spec.yaml_lines import load as load_with_positions
from generator.validate import manifests
from generator.validate.crds import CrdSchemas, load_crd_schemas
from generator.validate.kserve_rules import check_inference_service
from generator.validate.kustomize import build_staged, kustomize_build
from generator.validate.manifests import CheckContext, check_object, checks

CRD_DIR = Path(__file__).resolve().parents[1] / "schemas" / "crds"  # kserve-gitops schemas fetch
BUILDS = (".", *(f"environments/{env}" for env in ENVIRONMENTS))
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Objects = list[dict[str, Any]]


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    models = math.ceil(args.count / len(ENVIRONMENTS))
    spec, _ = parse_spec(models_yaml(models))
    timer = Phases()
    with timer.time("render"):
        files = render(spec, synthetic_lock(spec))
    objects = _timed_parse(timer, files)
    with tempfile.TemporaryDirectory(prefix="kserve-gitops-bench-validate-") as scratch:
        _write(Path(scratch), files)
        crds = _timed_checks(timer, args.crd_dir, objects, spec.platform.kubernetes_version)
        with ChildPeaks() as children:
            for build in BUILDS:
                with timer.time(f"kustomize {build}"):
                    kustomize_build(Path(scratch) / build)
    with timer.time("checks"), _builds_in_checks() as in_checks:
        findings = checks(args.crd_dir)(files, spec.platform)
    report = _render_report(
        timer,
        len(objects),
        crds=crds,
        findings=findings,
        kubectl_mib=children.peaks.get("kubectl", 0.0),
        in_checks=in_checks,
    )
    print(report)
    if not args.no_readme:
        _report.update_readme("validate", report)
    return 0


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.validate", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=3000, help="InferenceServices to check (default: 3000)")
    parser.add_argument("--crd-dir", type=Path, default=CRD_DIR, help=f"CRDs to validate with (default: {CRD_DIR})")
    parser.add_argument("--no-readme", action="store_true", help="print only; leave bench/README.md alone")
    return parser.parse_args(argv)


def _timed_parse(timer: Phases, files: Mapping[str, bytes]) -> Objects:
    """Both parses the checks use: plain data (C loader, as for kustomize output) and data with positions."""
    manifests = [
        content
        for path, content in files.items()
        if path.startswith("environments/") and not path.endswith(ROOT_KUSTOMIZATION)
    ]
    with timer.time("parse"):
        objects: Objects = [yaml.load(content, Loader=_YamlLoader) for content in manifests]
    with timer.time("positions"):
        for content in manifests:
            load_with_positions(content.decode(), "manifest.yaml")
    return objects


def _timed_checks(timer: Phases, crd_dir: Path, objects: Objects, k8s_version: str) -> CrdSchemas:
    """(a) and (b): the CRD load once, cold; then each check over every object, and both as the product calls them."""
    forget_crd_schemas()
    with timer.time("crd load"):
        crds = load_crd_schemas(crd_dir)
    with timer.time("strict first"):
        crds.validate(objects[0])
    with timer.time("strict"):
        for obj in objects:
            crds.validate(obj)
    with timer.time("rules"):
        for obj in objects:
            check_inference_service(obj)
    context = CheckContext(crds, k8s_version)
    with timer.time("check_object"):
        for obj in objects:
            check_object(obj, context)
    return crds


@contextlib.contextmanager
def _builds_in_checks() -> Iterator[dict[str, float]]:
    """Which kustomize builds `checks()` itself runs, and for how long, by wrapping the functions it calls: whole
    directories, and batches of files (plain kustomizations are assembled from what kustomize makes of each file).

    Measured rather than assumed, because the product decides which kustomizations to build (it skips one that
    only aggregates directories it builds anyway). No run cache: every file is built, as in a first run.
    """
    seconds: dict[str, float] = {}

    def recorded(directory: Path) -> list[dict[str, Any]]:
        start = time.perf_counter()
        try:
            return kustomize_build(directory)
        finally:
            relative = f"environments/{directory.name}" if directory.parent.name == "environments" else "."
            seconds[relative] = time.perf_counter() - start

    def batch(staged: Path) -> str | None:
        start = time.perf_counter()
        try:
            return build_staged(staged)
        finally:
            files = sum(1 for p in staged.iterdir() if p.name != "kustomization.yaml")
            seconds[f"a batch of {files} files, #{len(seconds) + 1}"] = time.perf_counter() - start

    with (
        mock.patch.dict(os.environ, {CACHE_ENV: "off"}),
        mock.patch.object(manifests, "kustomize_build", recorded),
        mock.patch.object(manifests, "build_staged", batch),
    ):
        yield seconds


def _write(root: Path, files: Mapping[str, bytes]) -> None:
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)


def _render_report(
    timer: Phases, count: int, *, crds: CrdSchemas, findings: list[Any], kubectl_mib: float, in_checks: dict[str, float]
) -> str:
    t = timer.seconds
    kustomize = sum(t[f"kustomize {b}"] for b in BUILDS)
    per = 1000 / count
    rows: list[list[object]] = [
        *_rows(t, count, crds, per, in_checks),
        [
            f"**(c)** kustomize builds, total ({len(BUILDS)} builds; `checks()` ran {len(in_checks)})",
            kustomize,
            "—",
            sum(in_checks.values()),
        ],
        ["file:line positions (`yaml_lines.load`)", t["positions"], t["positions"] * per, "—"],
        [
            "the product's `checks()` on the whole tree, CRDs already loaded",
            t["checks"],
            t["checks"] * per,
            t["checks"],
        ],
    ]
    errors = sum(1 for d in findings if getattr(d, "severity", "") == "error")
    return (
        "\n\n".join(
            [
                f"### `python -m bench.validate --count {count}`: {count:,} InferenceServices",
                f"Measured {_report.stamp()} on {_report.machine()}.",
                table(["step", "seconds", "ms per object", "within `checks()`"], rows),
                f"`checks()` found {errors} error(s) in {len(findings)} finding(s). "
                '"within `checks()`": the same build '
                'timed inside the product\'s own run ("not built": it does not run that build). Peak RSS: this process '
                f"{mib(peak_rss_mib())}; largest `kubectl kustomize` child {mib(kubectl_mib)} (VmHWM, polled).",
            ]
        )
        + "\n"
    )


def _rows(
    t: dict[str, float], count: int, crds: CrdSchemas, per: float, in_checks: dict[str, float]
) -> list[list[object]]:
    """(a), (b) and (c) in the order the brief names them; each build also as `checks()` ran it, if it did."""
    builds: list[list[object]] = [
        [f"**(c)** `kubectl kustomize {b}`", t[f"kustomize {b}"], "—", in_checks.get(b, "not built")] for b in BUILDS
    ]
    return [
        [f"render {count:,} InferenceServices + kustomizations (synthetic lock)", t["render"], t["render"] * per, "—"],
        ["parse them back (PyYAML C loader)", t["parse"], t["parse"] * per, "—"],
        [f"**(a)** CRD schema load, once, cold ({len(crds.schemas)} kinds)", t["crd load"], "—", "—"],
        ["**(b)** strict CRD schema, first object (builds its validator)", t["strict first"], "—", "—"],
        [f"**(b)** strict CRD schema, all {count:,}", t["strict"], t["strict"] * per, "—"],
        [f"**(b)** KServe rules, all {count:,}", t["rules"], t["rules"] * per, "—"],
        [
            f"**(b)** `check_object` (both, as the product calls it), all {count:,}",
            t["check_object"],
            t["check_object"] * per,
            "—",
        ],
        *builds,
    ]


if __name__ == "__main__":
    raise SystemExit(main())
