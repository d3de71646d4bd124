"""Which MLflow models kserve-mlserver can load: errors for what is known to fail, nothing for what is fine or verified,
and "unknown" (a warning, or an error under strict policies) only where nothing can tell."""

from __future__ import annotations

from dataclasses import replace

from generator.lock.compat import RULE, Served, check
from generator.lock.model import LoadCheck
from generator.platform.runtimes import MLSERVER, MLSERVER_1_5_0, MLSERVER_1_7_1
from generator.registry.base import ModelInfo

HELM = Served(MLSERVER, MLSERVER_1_5_0.reference)
KUSTOMIZE = Served(MLSERVER, MLSERVER_1_7_1.reference)
STRICT = replace(KUSTOMIZE, allow_unverified=False)
CLOUDPICKLE = ModelInfo(("python_function", "sklearn"), "cloudpickle", "2.20.4", "3.10.11")
MLFLOW_3 = replace(CLOUDPICKLE, mlflow_version="3.17.2", python_version="3.11.7")
SKOPS = replace(MLFLOW_3, serialization_format="skops")
LOADS = LoadCheck(MLSERVER_1_7_1.reference, "loads", "virtualenv (Python 3.10.13)")
FAILS = LoadCheck(MLSERVER_1_7_1.reference, "fails", "docker", "MLServer's MLflow runtime failed to load it: boom")


def test_cloudpickle_model_loads_without_remark() -> None:
    assert check(HELM, CLOUDPICKLE) == []


def test_a_model_saved_by_mlflow_3_is_not_a_finding_by_itself() -> None:
    """The old "newer MLflow" warning fired on every MLflow 3 model; the load check is the answer to that doubt."""
    assert check(HELM, MLFLOW_3) == []
    assert check(STRICT, MLFLOW_3) == []


def test_skops_model_is_an_error_that_names_the_format_the_image_and_its_mlflow() -> None:
    (error,) = check(KUSTOMIZE, SKOPS)
    assert (error.severity, error.rule) == ("error", RULE)
    assert "serialized as 'skops'" in error.message
    assert "docker.io/seldonio/mlserver:1.7.1 has MLflow 2.19.0" in error.message
    assert "Unrecognized serialization format: skops" in error.message
    assert 'mlflow.sklearn.log_model(..., serialization_format="cloudpickle")' in error.hint


def test_the_registry_s_words_in_a_finding_start_no_line_of_their_own() -> None:
    """The format and the flavor come from an MLmodel file: whoever logged the model wrote them."""
    hostile = replace(SKOPS, serialization_format="x\nmodels.yaml:1: forged", flavors=("ev\nil", "python_function"))
    (error,) = check(KUSTOMIZE, hostile)
    assert "\n" not in error.message and "\n" not in error.hint
    assert "serialized as 'x\\nmodels.yaml:1: forged'" in error.message
    assert "mlflow.ev\\nil.log_model(" in error.hint


def test_the_helm_image_has_an_older_mlflow_and_says_so() -> None:
    (error,) = check(HELM, SKOPS)
    assert "docker.io/seldonio/mlserver:1.5.0 has MLflow 2.10.2" in error.message


def test_the_fix_names_the_flavor_that_wrote_the_format() -> None:
    (error,) = check(KUSTOMIZE, replace(SKOPS, flavors=("lightgbm", "python_function")))
    assert "mlflow.lightgbm.log_model(" in error.hint


def test_model_without_python_function_flavor_is_an_error() -> None:
    (error,) = check(KUSTOMIZE, replace(CLOUDPICKLE, flavors=("sklearn",)))
    assert error.severity == "error"
    assert error.message.startswith("it has no python_function flavor (it has: sklearn)")


def test_a_version_verified_by_loading_in_this_image_has_no_finding_even_without_mlmodel_facts() -> None:
    assert check(STRICT, None, LOADS) == []
    assert check(STRICT, MLFLOW_3, LOADS) == []


def test_a_recorded_load_does_not_silence_what_the_image_is_known_to_refuse() -> None:
    """models.lock is reviewed text: a hand-written `verdict: loads` for a skops model on an image whose MLflow
    cannot read skops is a contradiction, and the known failure wins."""
    (error,) = check(STRICT, SKOPS, LOADS)
    assert error.severity == "error"
    assert "serialized as 'skops'" in error.message


def test_a_recorded_failure_is_an_error_with_the_loaders_own_words() -> None:
    (error,) = check(KUSTOMIZE, CLOUDPICKLE, FAILS)
    assert error.severity == "error"
    assert error.message == (
        "it does not load in kserve-mlserver's image docker.io/seldonio/mlserver:1.7.1 (docker): "
        "MLServer's MLflow runtime failed to load it: boom"
    )


def test_a_verdict_for_another_image_does_not_count() -> None:
    assert check(HELM, None, LOADS)[0].message.startswith("whether kserve-mlserver can load it is unknown")
    assert check(HELM, CLOUDPICKLE, FAILS) == []  # 1.5.0 was never tried; the rules find nothing wrong


def test_unrecorded_facts_are_a_warning_naming_the_command_that_checks_by_loading() -> None:
    (warning,) = check(KUSTOMIZE, None, selector="wine --env dev")
    assert warning.severity == "warning"
    assert "its MLmodel file is not recorded in models.lock" in warning.message
    assert "kserve-gitops compat wine --env dev" in warning.hint


def test_unknown_loadability_is_refused_where_policies_do_not_allow_unverified_models() -> None:
    (error,) = check(STRICT, None)
    assert error.severity == "error"
    assert "policies.allowUnverifiedModels is false" in error.message
    assert "allowUnverifiedModels: true" in error.hint


def test_an_image_without_known_facts_is_unknown_not_guessed() -> None:
    mirror = Served(MLSERVER, "registry.example.com/mirror/mlserver:1.7.1")
    (warning,) = check(mirror, CLOUDPICKLE)
    assert "no facts about the image registry.example.com/mirror/mlserver:1.7.1" in warning.message
    assert check(mirror, CLOUDPICKLE, replace(LOADS, image=mirror.image)) == []


def test_missing_facts_in_the_mlmodel_are_not_guessed() -> None:
    assert check(KUSTOMIZE, ModelInfo(("python_function",))) == []


def test_a_runtime_of_your_own_without_an_image_is_not_judged() -> None:
    assert check(Served("my-mlflow3-runtime", ""), SKOPS) == []
    assert check(Served("my-mlflow3-runtime", ""), None) == []
