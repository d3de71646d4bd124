"""`kserve-gitops compat`: load each locked version the way its runtime will, and record the verdict in models.lock.

The rule check (`lock/compat.py`) judges from what MLmodel says; this judges by
doing: it downloads the locked artifact, loads it with MLServer's MLflow runtime and the
runtime image's own MLflow and Python (`load.py`), and sends the V2 request built from
the model's signature and input example (`smoke/request.py`). The verdict, "loads" or
"fails" with the loader's own message, is recorded per lock entry together with the
image it was checked against, so the rule check stays quiet about verified versions
and refuses failed ones. One check per distinct (version, image); the edges come in as
functions, as the pipeline's registry does.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from generator.compat.load import Probed
from generator.errors import SmokeFailed, UserError
from generator.lock.model import LoadCheck, Lock, LockEntry
from generator.platform.runtimes import RuntimeImage, image_facts
from generator.smoke.mlmodel import as_logged, parse_mlmodel
from generator.smoke.request import check_v2_response, invocations_body, v2_request
from generator.spec.model import Spec
from generator.util.files import MAX_YAML_BYTES, read_regular

Download = Callable[[str, Path, str], Path]  # (artifact URI, destination, what) → model directory
Load = Callable[[str, RuntimeImage | None, Path, dict[str, Any] | None, str], Probed]  # image, facts, dir, request


@dataclass(frozen=True)
class LoadJob:
    """One distinct version and image, and every lock entry (MODEL/ENV) it stands for."""

    registered_model: str
    version: str
    artifact_uri: str
    image: str
    entries: tuple[tuple[str, str], ...]

    @property
    def what(self) -> str:
        return f"'{self.registered_model}' version {self.version} on {self.image}"


@dataclass(frozen=True)
class LoadOutcome:
    """What loading one LoadJob in the runtime gave: the verdict recorded in models.lock, and the request's fate."""

    job: LoadJob
    load_check: LoadCheck
    request: str  # what happened to the request: "answered N row(s)", "skipped: why", or the failure


@dataclass(frozen=True)
class CompatReport:
    results: list[LoadOutcome]
    skipped: list[str] = field(default_factory=list)  # targets that were not checked, and why
    recorded_failure: bool = False  # a version left out as already checked does not load

    @property
    def failed(self) -> bool:
        return self.recorded_failure or any(r.load_check.verdict == "fails" for r in self.results)


def plan_checks(
    spec: Spec, lock: Lock, model: str = "", env: str = "", *, recheck: bool = False, trusted: Lock | None = None
) -> tuple[list[LoadJob], list[str], bool]:
    """The checks for MODEL (all models if empty) in ENV (all if empty), the targets left out and why, and whether
    a left-out version has a recorded failure. Versions already checked on their image are left out unless
    `recheck`: a verdict only changes with the version or the image, and either one makes the entry unchecked.
    With `trusted` (models.lock of a pull request's base), only a verdict that lock records for the same registered
    version counts: one the pull request wrote is text anyone can forge, so its version is loaded again."""
    targets = [t for t in spec.targets if (not model or t.model == model) and (not env or t.env == env)]
    recorded = None if trusted is None else {_verdict_of(e) for e in trusted.entries.values()}
    if not targets:
        known = ", ".join(sorted({f"{t.model}/{t.env}" for t in spec.targets})) or "none"
        raise UserError.simple(
            f"nothing to check: no target {model or '*'}/{env or '*'} in {spec.source}",
            hint=f"name a model (and --env) from models.yaml: {known}",
        )
    grouped: dict[tuple[str, str, str], list[LockEntry]] = {}
    skipped: list[str] = []
    recorded_failure = False
    for target in targets:
        entry = lock.get(target.model, target.env)
        image = spec.platform.runtime_image(target.serving.runtime)
        if target.serving.method == "image":
            skipped.append(f"{target.model}/{target.env}: method image serves its own container, no runtime loads it")
        elif entry is None:
            skipped.append(f"{target.model}/{target.env}: not in models.lock; run `kserve-gitops lock` first")
        elif not image:
            skipped.append(
                f"{target.model}/{target.env}: no image is known for runtime '{target.serving.runtime}'; "
                "set platform.runtimeImage in models.yaml"
            )
        elif (
            not recheck
            and entry.load_check is not None
            and entry.load_check.image == image
            and (recorded is None or _verdict_of(entry) in recorded)
        ):
            skipped.append(
                f"{target.model}/{target.env}: version {entry.version} already checked on {image} "
                f"({entry.load_check.verdict}); --recheck loads it again"
            )
            recorded_failure = recorded_failure or entry.load_check.verdict == "fails"
        else:
            grouped.setdefault((entry.registered_model, entry.version, image), []).append(entry)
    checks = [
        LoadJob(name, version, entries[0].artifact_uri, image, tuple(e.key for e in entries))
        for (name, version, image), entries in sorted(grouped.items())
    ]
    return checks, skipped, recorded_failure


def _verdict_of(entry: LockEntry) -> tuple[str, str, LoadCheck | None]:
    """A verdict as a trusted lock must hold it: for the same registered version, under any model or environment."""
    return entry.registered_model, entry.version, entry.load_check


def run_checks(checks: list[LoadJob], *, download: Download, load: Load, docker: bool) -> list[LoadOutcome]:
    """Each check in turn. Without docker, an image without known pins cannot be rebuilt: that is an error."""
    results = []
    for check in checks:
        facts = image_facts(check.image)
        if facts is None and not docker:
            raise UserError.simple(
                f"{check.what}: kserve-gitops does not know what the image {check.image} contains, so it cannot "
                "build its environment",
                hint="run with --docker to load it in the image itself, or use an image "
                "listed in docs/model-compatibility.md",
            )
        with tempfile.TemporaryDirectory(prefix="kserve-gitops-compat-") as scratch:
            model_dir = download(check.artifact_uri, Path(scratch), check.what)
            request, note = _request(model_dir)
            probed = load(check.image, facts, model_dir, request.body if request else None, check.what)
        results.append(_result(check, probed, request.rows if request else 0, note))
    return results


def record(lock: Lock, results: list[LoadOutcome]) -> Lock:
    """The verdicts on their lock entries; everything else stays as it was."""
    entries = dict(lock.entries)
    for result in results:
        for key in result.job.entries:
            entries[key] = replace(entries[key], load_check=result.load_check)
    return Lock(entries)


def summary(report: CompatReport) -> list[str]:
    lines = []
    for result in report.results:
        where = ", ".join(f"{m}/{e}" for m, e in result.job.entries)
        verdict = result.load_check
        head = f"{verdict.verdict}: {result.job.what} ({verdict.environment}) for {where}"
        lines.append(head + (f"\n  {verdict.error}" if verdict.error else f"\n  request: {result.request}"))
    return lines + [f"not checked: {reason}" for reason in report.skipped]


def fields(report: CompatReport) -> dict[str, Any]:
    """The same facts as `summary`, for `-o json` (docs/cli-json.md)."""
    checks = [
        {
            "registeredModel": r.job.registered_model,
            "version": r.job.version,
            "image": r.job.image,
            "entries": [f"{m}/{e}" for m, e in r.job.entries],
            "verdict": r.load_check.verdict,
            "environment": r.load_check.environment,
            "error": r.load_check.error,
            "request": r.request,
        }
        for r in report.results
    ]
    return {"checks": checks, "skipped": list(report.skipped)}


def _request(model_dir: Path) -> tuple[Any, str]:
    """The V2 request built from the signature and input example, or None and why it is skipped."""
    try:
        with as_logged():
            model = parse_mlmodel(read_regular(model_dir / "MLmodel", MAX_YAML_BYTES).decode("utf-8"))
            example = json.loads(read_regular(model_dir / model.example_file, MAX_YAML_BYTES).decode("utf-8"))
            return v2_request(model.signature, invocations_body(model.example_kind, example)), ""
    except SmokeFailed as exc:
        return None, f"skipped: {'; '.join(d.message for d in exc.diagnostics)}"
    except (OSError, ValueError) as exc:
        return None, f"skipped: the input example cannot be read ({exc})"


_SHOWN = 2000  # characters of a loader's message worth recording; MLServer's own errors are a line or two


def _shown(text: str) -> str:
    """`text` as models.lock records it: at most `_SHOWN` characters. It quotes the model's own files (MLflow's
    `Unrecognized serialization format: …` repeats what MLmodel says), which whoever logged the model wrote: a
    megabyte there went into the lock whole, and past 16 MiB no command reads the lock any more."""
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}… ({len(text) - _SHOWN} more characters)"


def _result(check: LoadJob, probed: Probed, rows: int, note: str) -> LoadOutcome:
    outcome = _outcome(check, probed, rows, note)
    verdict = outcome.load_check
    return replace(outcome, load_check=replace(verdict, error=_shown(verdict.error)), request=_shown(outcome.request))


def _outcome(check: LoadJob, probed: Probed, rows: int, note: str) -> LoadOutcome:
    found = probed.result
    if not found.get("loads"):
        error = f"MLServer's MLflow runtime failed to load it: {found.get('error', 'no error given')}"
        return LoadOutcome(check, LoadCheck(check.image, "fails", probed.environment, error), "not sent")
    if note:
        return LoadOutcome(check, LoadCheck(check.image, "loads", probed.environment), note)
    if "predictError" in found:
        error = f"it loads, but the V2 request built from its input example failed: {found['predictError']}"
        return LoadOutcome(check, LoadCheck(check.image, "fails", probed.environment, error), "failed")
    try:
        outputs = check_v2_response(found.get("response"), rows)
    except SmokeFailed as exc:
        error = f"it loads, but its answer to the V2 request is wrong: {'; '.join(map(str, exc.diagnostics))}"
        return LoadOutcome(check, LoadCheck(check.image, "fails", probed.environment, error), "failed")
    names = ", ".join(o.name for o in outputs)
    return LoadOutcome(check, LoadCheck(check.image, "loads", probed.environment), f"answered {rows} row(s) ({names})")
