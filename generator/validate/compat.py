"""Can the chosen KServe runtime load this MLflow model? Rules over what the version's MLmodel file says.

A model its runtime cannot load passes every manifest check, is merged, synced by
Argo CD, and only then crash-loops in the predictor pod (MLServer logs
"Unrecognized serialization format: skops"). These rules run at lock time
instead, on the facts models.lock records (`ModelInfo`). They return Diagnostics
without a location; `lock/resolve.py` places them at the model's environment in
models.yaml and names the version.

The runtime facts and their sources are in docs/model-compatibility.md. KServe
v0.20's own runtime manifest could not be read; the facts hold for every KServe
release that could (v0.13 to v0.17.1), and callers may pass their own `runtimes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from generator.diagnostics import Diagnostic, Severity
from generator.registry.base import ModelInfo
from generator.validate.kserve_rules import MLSERVER

RULE = "model-runtime-compat"
PYFUNC = "python_function"


@dataclass(frozen=True)
class RuntimeFacts:
    """What a ServingRuntime's image can load."""

    image: str
    mlflow: str  # the MLflow inside the image, as messages show it
    mlflow_major: int
    loader_flavor: str  # the flavor its server asks MLflow to load
    formats: frozenset[str]  # the serialization formats that MLflow's flavors load


# KServe's kserve-mlserver ClusterServingRuntime: image tag from charts/kserve-runtime-configs/values.yaml
# (v0.16.0, v0.17.1); MLflow 2.x from MLServer's poetry.lock (mlserver-mlflow pins `mlflow = "*"`);
# the loader from mlserver_mlflow/runtime.py (`mlflow.pyfunc.load_model`); the formats from
# mlflow/sklearn/__init__.py before skops (SUPPORTED_SERIALIZATION_FORMATS).
MLSERVER_FACTS = RuntimeFacts(
    image="docker.io/seldonio/mlserver:1.5.0",
    mlflow="2.x",
    mlflow_major=2,
    loader_flavor=PYFUNC,
    formats=frozenset({"pickle", "cloudpickle"}),
)
RUNTIMES: Mapping[str, RuntimeFacts] = {MLSERVER: MLSERVER_FACTS}


def check(
    runtime: str,
    info: ModelInfo | None,
    *,
    selector: str = "MODEL/ENV",
    runtimes: Mapping[str, RuntimeFacts] = RUNTIMES,
) -> list[Diagnostic]:
    """Errors for what the runtime cannot load, warnings for what it may not; nothing for unknown runtimes.

    `selector` is the `lock --update` argument that records missing facts.
    """
    facts = runtimes.get(runtime)
    if facts is None:
        return []
    if info is None:
        return [_unknown(runtime, selector)]
    return [*_loader(runtime, facts, info), *_format(runtime, facts, info), *_mlflow_version(runtime, facts, info)]


def _unknown(runtime: str, selector: str) -> Diagnostic:
    return _finding(
        "warning",
        f"its MLmodel file is not recorded in models.lock, so whether {runtime} can load it is unknown",
        f"run `kserve-gitops lock --update {selector}` to record it (a floating reference also moves to where "
        "it points now); if it stays unknown, the MLflow client here cannot read the model's artifacts",
    )


def _loader(runtime: str, facts: RuntimeFacts, info: ModelInfo) -> list[Diagnostic]:
    if facts.loader_flavor in info.flavors:
        return []
    return [_finding(
        "error",
        f"it has no {facts.loader_flavor} flavor (it has: {', '.join(info.flavors) or 'none'}), and {runtime} "
        "loads every model with mlflow.pyfunc.load_model",
        "log it with a flavor that adds python_function (e.g. mlflow.sklearn.log_model on a model with predict()) "
        "or with mlflow.pyfunc.log_model, and register that as a new version",
    )]


def _format(runtime: str, facts: RuntimeFacts, info: ModelInfo) -> list[Diagnostic]:
    found = info.serialization_format
    if not found or found in facts.formats:
        return []
    flavor = next((f for f in info.flavors if f != PYFUNC), "sklearn")
    safe = "cloudpickle" if "cloudpickle" in facts.formats else min(facts.formats)
    return [_finding(
        "error",
        f"it is serialized as '{found}', which {runtime} cannot load: its image {facts.image} has MLflow "
        f"{facts.mlflow}, which loads only {' and '.join(sorted(facts.formats))} "
        f"(\"Unrecognized serialization format: {found}\")",
        f"re-log it with `mlflow.{flavor}.log_model(..., serialization_format=\"{safe}\")` and register that as a "
        f"new version, or serve it with a ServingRuntime whose image has MLflow 3 and can load '{found}'",
    )]


def _mlflow_version(runtime: str, facts: RuntimeFacts, info: ModelInfo) -> list[Diagnostic]:
    major = info.mlflow_version.split(".", 1)[0]
    if not major.isdigit() or int(major) <= facts.mlflow_major:
        return []
    return [_finding(
        "warning",
        f"it was saved by MLflow {info.mlflow_version}, and {runtime} loads it with the MLflow {facts.mlflow} in "
        f"{facts.image}, which may not understand everything a newer MLflow writes",
        f"check that it loads in {facts.image} before promoting it, or log it with MLflow {facts.mlflow_major}",
    )]


def _finding(severity: Severity, message: str, hint: str) -> Diagnostic:
    return Diagnostic(message=message, hint=hint, severity=severity, rule=RULE)
