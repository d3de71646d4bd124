"""The generate benchmark's figures as Markdown: what README.md shows and stdout prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bench._baseline import Baseline
from bench._measure import ProcessPeak
from bench._phases import CHECKS, COMPAT, CRD_LOAD, PHASES, CliRun, Relock, Split
from bench._report import machine, mib, stamp, table
from bench._seed import Seeding
from bench.scenario import ALIASES, VERSIONS
from generator import diagnostics


@dataclass(frozen=True)
class Results:
    models: int
    workers: int
    seeding: Seeding
    split: Split
    relock: Relock
    runs: list[CliRun]
    baseline: Baseline | None
    servers: list[ProcessPeak]
    peak_rss_mib: float


def render_report(r: Results) -> str:
    references = len(r.split.lock.entries)
    parts = [
        f"### `python -m bench.generate --models {r.models} --workers {r.workers}`: "
        f"{references:,} InferenceServices, MLflow server with {r.workers} worker(s)",
        f"Measured {stamp()} on {machine()}. MLflow server: {r.workers} worker(s), SQLite backend, "
        "proxied artifacts on moto S3, loopback. Each timed run starts with a cold CRD cache, as a new "
        "`kserve-gitops` process would.",
        "#### Seeding (set-up; not part of any generate figure)\n\n" + _seeding(r),
        "#### One generate, phase by phase (no models.lock yet: every reference is resolved)\n\n" + _phases(r),
        "#### `kserve-gitops generate` end to end (`generator.cli.main`)\n\n" + _runs(r),
        f"#### Resolving {references:,} references: the seed's way vs ours\n\n" + _versus(r),
        "#### Memory (peak RSS)\n\n" + _memory(r),
    ]
    return "\n\n".join(parts) + "\n"


def _seeding(r: Results) -> str:
    s = r.seeding
    per_model = f"{VERSIONS} versions + {len(ALIASES)} aliases"
    return table(
        ["step", "seconds", "HTTP requests"],
        [
            ["log the wine model (one artifact upload)", s.log_seconds, "—"],
            [f"register {s.models:,} models x ({per_model}), 8 threads", s.seconds, sum(s.requests.values())],
        ],
    )


def _phases(r: Results) -> str:
    timer, total = r.split.phases, r.split.phases.total(*PHASES)
    rows: list[list[object]] = []
    for name in PHASES:
        requests = sum(r.split.requests.values()) if name == "resolve" else "—"
        rows.append(
            [name, timer.seconds[name], _share(timer.seconds[name], total), requests, mib(timer.rss_after[name])]
        )
        if name == "validate":
            rows += [
                [
                    f"↳ {sub.removeprefix('validate: ')}",
                    timer.seconds[sub],
                    _share(timer.seconds[sub], total),
                    "—",
                    mib(timer.rss_after[sub]),
                ]
                for sub in (CRD_LOAD, CHECKS, COMPAT)
            ]
    rows.append(["**total**", total, "100%", sum(r.split.requests.values()), mib(r.peak_rss_mib)])
    note = (
        f"\n\n{r.split.files:,} files planned and written; validation found "
        f"{len(diagnostics.errors(r.split.findings)):,} error(s) and "
        f'{len(diagnostics.warnings(r.split.findings)):,} warning(s). "peak RSS after" is this process\'s '
        "high-water mark when the phase ended (it includes seeding and sklearn, so it only grows). "
        "The phases call the stage functions `pipeline.generate` calls, in its order."
    )
    return table(["phase", "seconds", "share", "HTTP requests", "peak RSS after"], rows) + note


def _runs(r: Results) -> str:
    rows = [
        [
            run.label,
            run.seconds,
            "—" if run.requests is None else run.requests,
            _said(run),
            _warnings(run),
            mib(run.peak_rss_mib),
        ]
        for run in r.runs
    ]
    return table(["run", "seconds", "HTTP requests", "stdout", "warnings", "peak RSS"], rows) + (
        "\n\nIn-process runs reuse this interpreter's imports (mlflow, jsonschema); the fresh process pays "
        "them, as a user does. In-process peak RSS is this benchmark process's high-water mark; the fresh "
        "process's is its own VmHWM."
    )


def _versus(r: Results) -> str:
    ours_requests, ours_seconds = r.split.requests, r.split.phases.seconds["resolve"]
    references = len(r.split.lock.entries)
    rows: list[list[object]] = []
    if r.baseline is not None:
        base = sum(r.baseline.requests.values())
        rows.append(
            [
                "seed's way: per reference, one call after another",
                base,
                f"{base / references:.3f}",
                r.baseline.seconds,
                "1.0x",
            ]
        )
    for label, requests, seconds in (
        ("ours, first run: resolve phase (no lock; every MLmodel read)", ours_requests, ours_seconds),
        (
            "ours, lock current: `lock --update` (every reference again; MLmodel facts from the lock)",
            r.relock.requests,
            r.relock.seconds,
        ),
    ):
        count = sum(requests.values())
        speedup = f"{r.baseline.seconds / seconds:.1f}x" if r.baseline is not None else "—"
        rows.append([label, count, f"{count / references:.3f}", seconds, speedup])
    body = table(["", "HTTP requests", "per reference", "seconds", "speed-up"], rows)
    return body + "\n\n" + _endpoints(ours_requests, r.relock.requests, r.baseline) + _agreement(r)


def _endpoints(ours: Counter[str], current: Counter[str], baseline: Baseline | None) -> str:
    theirs = baseline.requests if baseline is not None else Counter[str]()
    rows = [
        [
            f"`{e.removeprefix('/api/2.0/mlflow/')}`",
            theirs.get(e, 0) if baseline else "—",
            ours.get(e, 0),
            current.get(e, 0),
        ]
        for e in sorted({*ours, *theirs, *current})
    ]
    return table(["REST endpoint", "seed's way", "ours, first run", "ours, lock current"], rows)


def _agreement(r: Results) -> str:
    if r.baseline is None:
        return "\n\nBaseline skipped (`--skip-baseline`)."
    ours = {(e.registered_model, e.reference): (e.version, e.source) for e in r.split.lock.entries.values()}
    same = sum(r.baseline.answers.get(key) == answer for key, answer in ours.items())
    return f"\n\nBoth ways agree on version and download URI for {same:,} of {len(ours):,} references."


def _memory(r: Results) -> str:
    rows = [["benchmark process (seeding, sklearn, mlflow client, every phase)", mib(r.peak_rss_mib)]]
    rows += [
        [f"`{p.label}` server, {p.processes} process(es), sum of each one's VmHWM", mib(p.peak_mib)] for p in r.servers
    ]
    for run in (run for run in r.runs if "fresh" in run.label):
        rows += [
            [f"fresh `kserve-gitops generate` process: {run.label.split(',')[0]}", mib(run.peak_rss_mib)],
            ["its largest `kubectl kustomize` child", mib(run.kustomize_peak_mib)],
        ]
    return table(["process", "peak RSS"], rows)


def _said(run: CliRun) -> str:
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    if run.code != 0:
        errors = [line for line in run.stderr.splitlines() if line.startswith("error")]
        return f"exit {run.code}: {errors[-1] if errors else ''}"
    if len(lines) == 1:
        return f"`{lines[0]}`"
    return f"{len(lines):,} lines (`{lines[0]}` …)"


def _warnings(run: CliRun) -> str:
    """How many warnings the run printed, and the rule of the most frequent one."""
    rules = Counter(
        line.rsplit("[", 1)[-1].rstrip("]") if line.endswith("]") else "?"
        for line in run.stderr.splitlines()
        if line.startswith("warning")
    )
    if not rules:
        return "0"
    rule, _ = rules.most_common(1)[0]
    return f"{sum(rules.values()):,} (`{rule}`)"


def _share(part: float, total: float) -> str:
    return f"{100 * part / total:.1f}%" if total else "—"
