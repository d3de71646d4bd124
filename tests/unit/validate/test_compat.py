"""Which MLflow models kserve-mlserver can load, judged from their MLmodel facts alone."""

from __future__ import annotations

from dataclasses import replace

from generator.registry.base import ModelInfo
from generator.validate.compat import MLSERVER_FACTS, RULE, RuntimeFacts, check

MLSERVER = "kserve-mlserver"
CLOUDPICKLE = ModelInfo(("python_function", "sklearn"), "cloudpickle", "2.20.4", "3.10.11")
SKOPS = replace(CLOUDPICKLE, serialization_format="skops", mlflow_version="3.17.2")


def _severities(info: ModelInfo | None, runtime: str = MLSERVER) -> list[str]:
    return [d.severity for d in check(runtime, info)]


def test_cloudpickle_model_from_mlflow_2_loads_without_remark() -> None:
    assert check(MLSERVER, CLOUDPICKLE) == []


def test_skops_model_is_an_error_that_names_the_format_the_image_and_the_fix() -> None:
    error, _ = check(MLSERVER, SKOPS)
    assert (error.severity, error.rule) == ("error", RULE)
    assert "serialized as 'skops'" in error.message
    assert "docker.io/seldonio/mlserver:1.5.0 has MLflow 2.x" in error.message
    assert "Unrecognized serialization format: skops" in error.message
    assert 'mlflow.sklearn.log_model(..., serialization_format="cloudpickle")' in error.hint
    assert "new version" in error.hint


def test_the_fix_names_the_flavor_that_wrote_the_format() -> None:
    lightgbm = replace(SKOPS, flavors=("lightgbm", "python_function"))
    (error, _) = check(MLSERVER, lightgbm)
    assert "mlflow.lightgbm.log_model(" in error.hint


def test_model_without_python_function_flavor_is_an_error() -> None:
    (error,) = check(MLSERVER, replace(CLOUDPICKLE, flavors=("sklearn",)))
    assert error.severity == "error"
    assert error.message.startswith("it has no python_function flavor (it has: sklearn)")
    assert "mlflow.pyfunc.load_model" in error.message


def test_newer_mlflow_major_than_the_image_is_a_warning_naming_both() -> None:
    (warning,) = check(MLSERVER, replace(CLOUDPICKLE, mlflow_version="3.17.2"))
    assert warning.severity == "warning"
    assert "MLflow 3.17.2" in warning.message
    assert "MLflow 2.x in docker.io/seldonio/mlserver:1.5.0" in warning.message


def test_skops_from_mlflow_3_is_an_error_and_a_warning() -> None:
    assert _severities(SKOPS) == ["error", "warning"]


def test_unrecorded_facts_are_a_warning_with_the_command_that_records_them() -> None:
    (warning,) = check(MLSERVER, None, selector="wine/prod")
    assert warning.severity == "warning"
    assert "unknown" in warning.message
    assert "kserve-gitops lock --update wine/prod" in warning.hint


def test_missing_facts_in_the_mlmodel_are_not_guessed() -> None:
    assert check(MLSERVER, ModelInfo(("python_function",))) == []


def test_runtime_without_known_facts_is_not_judged() -> None:
    assert check("my-mlflow3-runtime", SKOPS) == []
    assert check("my-mlflow3-runtime", None) == []


def test_runtime_facts_can_be_replaced() -> None:
    newer = RuntimeFacts("example.com/mlserver:mlflow3", "3.17", 3, "python_function",
                         MLSERVER_FACTS.formats | {"skops"})
    assert check(MLSERVER, SKOPS, runtimes={MLSERVER: newer}) == []
