"""Markdown tables for stdout and for bench/README.md, where each benchmark owns one marked section.

The figures in README.md must come from a real run, so each benchmark rewrites
only its own section (between `<!-- NAME:begin -->` and `<!-- NAME:end -->`) and
leaves the other benchmark's figures and the hand-written text alone.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"
_ROOT = Path(__file__).resolve().parents[1]
Row = Sequence[object]


def table(headers: Sequence[str], rows: Sequence[Row]) -> str:
    """A GitHub Markdown table; numbers right-aligned, so columns of figures read easily."""
    numeric = [all(isinstance(r[i], int | float) or _is_figure(r[i]) for r in rows) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---:" if n else "---" for n in numeric) + " |",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def seconds(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def mib(value: float) -> str:
    return f"{value:,.0f} MiB"


def machine() -> str:
    """One line saying what produced the figures: cores as `nproc` counts them, CPU, memory, versions."""
    parts = [
        f"{len(os.sched_getaffinity(0))} cores (nproc)",
        _cpu_model(),
        f"{_mem_total_gib():.0f} GiB RAM",
        f"{platform.system()} {platform.release()}",
        f"Python {platform.python_version()}",
        f"MLflow {_dist('mlflow')}",
        _kustomize_version(),
    ]
    return ", ".join(p for p in parts if p)


def filesystem(path: Path) -> str:
    """The type of the file system `path` is on, as /proc/mounts says ("unknown" elsewhere): a benchmark that writes
    thousands of files reads differently on a disk that stalls now and then and on tmpfs."""
    try:
        mounts = [line.split()[1:3] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    resolved = path.resolve().as_posix()
    under = [(point, kind) for point, kind in mounts if (resolved + "/").startswith(point.rstrip("/") + "/")]
    return max(under, key=lambda mount: len(mount[0]))[1] if under else "unknown"


def stamp() -> str:
    """When, on which code, and how busy the machine was.

    The commit is the one checked out when the benchmark started, since that is the
    code it imported. Others may edit generator/ while a long run goes on; then the
    figures of this process and those of a fresh `kserve-gitops` process differ in
    code, not only in timing, and the stamp says so.
    """
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    changed = (
        " (generator/ changed during the run: the fresh-process figures ran newer code than the rest)"
        if _source_digest() != START_SOURCE
        else ""
    )
    return f"{now}, commit {START_COMMIT}{changed}, 1-minute load average {START_LOAD:.2f} at the start"


def _commit() -> str:
    head, dirty = _git("rev-parse", "--short", "HEAD"), _git("status", "--porcelain", "generator")
    return (head or "unknown") + (" + uncommitted changes in generator/" if dirty else "")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=_ROOT, capture_output=True, text=True, check=False).stdout.strip()


def _source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((_ROOT / "generator").rglob("*.py")):
        digest.update(path.as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def update_readme(section: str, body: str, path: Path = README) -> None:
    """Replace the marked section (appending it if absent); everything else in the file stays as it is."""
    begin, end = f"<!-- {section}:begin -->", f"<!-- {section}:end -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + f"\n\n{block}\n"
    path.write_text(text, encoding="utf-8")


def _cell(value: object) -> str:
    if isinstance(value, float):
        return seconds(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _is_figure(value: object) -> bool:
    """Formatted numbers ("1.5x", "12%", "300 MiB") and the dash for "not applicable"."""
    return isinstance(value, str) and (value == "—" or value[:1].isdigit())


def _dist(name: str) -> str:
    try:
        return dist_version(name)
    except PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")


def _mem_total_gib() -> float:
    try:
        first = Path("/proc/meminfo").read_text().splitlines()[0]
    except (OSError, IndexError):
        return 0.0
    return int(first.split()[1]) / 1024 / 1024


def _kustomize_version() -> str:
    """Which kustomize the manifest checks ran (the standalone binary wins, as in generator.validate)."""
    for cmd in (["kustomize", "version"], ["kubectl", "version", "--client"]):
        if shutil.which(cmd[0]):
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            first = " ".join(done.stdout.split("\n", 2)[:2]).strip()
            return f"{cmd[0]} ({first})" if first else cmd[0]
    return "no kustomize"


# Taken on import, i.e. when the benchmark starts: its load shows others' work, not ours.
START_LOAD = os.getloadavg()[0]
START_COMMIT = _commit()
START_SOURCE = _source_digest()
