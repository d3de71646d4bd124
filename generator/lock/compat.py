"""Can the chosen KServe runtime load this MLflow model? The fast, offline rules over what models.lock recorded.

A model its runtime cannot load passes every manifest check, is merged, synced by
Argo CD, and only then crash-loops in the predictor pod (MLServer logs
"Unrecognized serialization format: skops"). These rules run at lock time instead,
on the facts models.lock records: what the version's MLmodel file says (`ModelInfo`)
and, once `kserve-gitops compat` has loaded it in the runtime's image, its verdict
(`LoadCheck`). The image and what it contains come from `generator/platform/runtimes.py`.

Precision is the point: a finding that fires on every model teaches people to ignore it.
- error: what is known to fail (a recorded failing load; no python_function flavor; a
  serialization format the image's MLflow does not load);
- nothing: a version loaded successfully in this image, or one the rules find no fault with;
- "unknown": neither the MLmodel facts nor the image's facts are known and no load check
  ran. That is a warning, or an error where the environment's policies do not allow
  unverified models (prod by default).

They return Diagnostics without a location; `lock/resolve.py` places them at the
model's environment in models.yaml and names the version.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.diagnostics import Diagnostic, Severity, printable
from generator.excerpt import quoted
from generator.lock.model import LoadCheck
from generator.platform.runtimes import RUNTIMES, RuntimeImage, image_facts
from generator.registry.base import ModelInfo

RULE = "model-runtime-compat"


@dataclass(frozen=True)
class Served:
    """Where a version is served: the runtime's name, its image ("" when unknown), and whether the environment
    accepts a version whose loadability is unknown (`policies.allowUnverifiedModels`)."""

    runtime: str
    image: str
    allow_unverified: bool = True


def check(
    served: Served,
    info: ModelInfo | None,
    load_check: LoadCheck | None = None,
    *,
    selector: str = "",
) -> list[Diagnostic]:
    """Errors for what is known to fail, the unknown where nothing can tell; nothing for runtimes with no facts.

    `selector` is the `kserve-gitops compat` argument that checks this version by loading it ("": the command
    without arguments, which checks every version without a verdict).
    """
    if served.runtime not in RUNTIMES and not served.image:
        return []
    facts = image_facts(served.image)
    # What the rules know to fail stays an error whatever models.lock says: a `loadCheck` is text in a
    # reviewed file, and a hand-written "loads" must not switch the check off.
    known = [] if facts is None or info is None else [*_loader(served, facts, info), *_format(served, facts, info)]
    if load_check is not None and load_check.image == served.image:
        return known if load_check.verdict == "loads" else [_failed(served, load_check)]
    if facts is None or info is None:
        return [_unknown(served, facts, selector)]
    return known


def _failed(served: Served, load_check: LoadCheck) -> Diagnostic:
    return _finding(
        "error",
        f"it does not load in {served.runtime}'s image {served.image} ({load_check.environment}): {load_check.error}",
        "fix the model and register a new version (`kserve-gitops compat` records the verdict of each new one), "
        "or serve it with a runtime image that loads it (platform.runtimeImage)",
    )


def _unknown(served: Served, facts: RuntimeImage | None, selector: str) -> Diagnostic:
    why = (
        f"kserve-gitops has no facts about the image {served.image or '(none known)'}"
        if facts is None
        else "its MLmodel file is not recorded in models.lock"
    )
    severity: Severity = "warning" if served.allow_unverified else "error"
    refusal = "" if served.allow_unverified else " (this environment's policies.allowUnverifiedModels is false)"
    return _finding(
        severity,
        f"whether {served.runtime} can load it is unknown: {why}, and no load check has run{refusal}",
        f"run `{f'kserve-gitops compat {selector}'.strip()}` to load it in the runtime's image and record the "
        "verdict; "
        "an unreadable MLmodel usually means missing artifact store credentials (AWS_* for s3://), or, for a "
        "proxied one (mlflow-artifacts:/), an MLFLOW_TRACKING_URI that is the server's database, not its URL"
        + ("" if served.allow_unverified else ", or set policies.allowUnverifiedModels: true to accept it"),
    )


def _loader(served: Served, facts: RuntimeImage, info: ModelInfo) -> list[Diagnostic]:
    if facts.loader_flavor in info.flavors:
        return []
    return [
        _finding(
            "error",
            f"it has no {facts.loader_flavor} flavor (it has: {', '.join(info.flavors) or 'none'}), and "
            f"{served.runtime} loads every model with mlflow.pyfunc.load_model",
            "log it with a flavor that adds python_function (e.g. mlflow.sklearn.log_model on a model with predict()) "
            "or with mlflow.pyfunc.log_model, and register that as a new version",
        )
    ]


def _format(served: Served, facts: RuntimeImage, info: ModelInfo) -> list[Diagnostic]:
    found = info.serialization_format
    if not found or found in facts.formats:
        return []
    flavor = next((f for f in info.flavors if f != facts.loader_flavor), "sklearn")
    safe = "cloudpickle" if "cloudpickle" in facts.formats else min(facts.formats)
    return [
        _finding(
            "error",
            f"it is serialized as {quoted(found)}, which {served.runtime} cannot load: its image {facts.reference} has "
            f"MLflow {facts.mlflow}, which loads only {' and '.join(sorted(facts.formats))} "
            f'("Unrecognized serialization format: {printable(found)}")',
            f're-log it with `mlflow.{printable(flavor)}.log_model(..., serialization_format="{safe}")` and register '
            f"that as a new version, or serve it with a runtime image whose MLflow loads {quoted(found)} "
            "(platform.runtimeImage)",
        )
    ]


def _finding(severity: Severity, message: str, hint: str) -> Diagnostic:
    return Diagnostic(message=message, hint=hint, severity=severity, rule=RULE)
