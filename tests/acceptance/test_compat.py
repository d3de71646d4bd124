"""Lock time refuses a model version its runtime cannot load, and records what each version's MLmodel says."""

from __future__ import annotations

import sys
from dataclasses import replace
from importlib.metadata import version as dist_version

import mlflow
import pytest
import yaml

from devtools.stack import LoggedModel, seed_model
from generator.lock import io as lock_io
from generator.lock.model import Lock
from tests.acceptance.conftest import CRDS, Platform
from tests.support.mlflow_server import MlflowServer

WINE_MLMODEL = {
    "flavors": ["python_function", "sklearn"],
    "serializationFormat": "cloudpickle",
    "mlflowVersion": mlflow.__version__,
    "pythonVersion": ".".join(map(str, sys.version_info[:3])),
}


@pytest.fixture(scope="module")
def skops_model(mlflow_proxied: MlflowServer) -> LoggedModel:
    """A wine classifier logged as MLflow 3 logs scikit-learn models by default: in skops."""
    from sklearn.datasets import load_wine  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    features, labels = load_wine(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(features, labels)  # only types skops trusts by default
    requirements = [f"{d}=={dist_version(d)}" for d in ("scikit-learn", "skops")]
    with mlflow_proxied.stack.client_environ(), mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model, name="model", serialization_format="skops", pip_requirements=requirements
        )
    return LoggedModel(info.model_uri, run.info.run_id, info.model_id)


def _lock(platform: Platform) -> dict[str, dict[str, object]]:
    return yaml.safe_load(platform.read("models.lock"))["models"]["wine"]  # type: ignore[no-any-return]


def test_skops_version_is_refused_with_the_fix_and_nothing_is_written(
    platform: Platform, skops_model: LoggedModel
) -> None:
    seed_model(platform.server.client, platform.name, skops_model, versions=1)  # version 4: dev's latest
    platform.server.client.set_registered_model_alias(platform.name, "challenger", "4")
    result = platform.run("generate", *CRDS)
    assert result.code == 1
    assert result.err.startswith("error: 2 problems\n")
    for line, env in ((14, "dev"), (15, "staging")):
        assert (
            f"models.yaml:{line}: $.models.wine.environments.{env}: '{platform.name}' version 4: it is "
            "serialized as 'skops', which kserve-mlserver cannot load"
        ) in result.err
    assert 'fix: re-log it with `mlflow.sklearn.log_model(..., serialization_format="cloudpickle")`' in result.err
    assert "environments.prod" not in result.err, "prod's champion (version 2) is cloudpickle"
    assert sorted(platform.files()) == ["models.yaml"]


def test_lock_records_what_each_versions_mlmodel_says(platform: Platform) -> None:
    assert platform.run("generate", *CRDS).code == 0
    assert {env: entry["mlmodel"] for env, entry in _lock(platform).items()} == {
        "dev": WINE_MLMODEL,
        "staging": WINE_MLMODEL,
        "prod": WINE_MLMODEL,
    }


def test_lock_without_recorded_facts_is_kept_until_update_records_them_in_place(platform: Platform) -> None:
    platform.write_spec(prod_extra=", hold: true")
    assert platform.run("generate", *CRDS).code == 0
    written = lock_io.loads(platform.read("models.lock"))
    unrecorded = lock_io.dumps(Lock({k: replace(e, info=None) for k, e in written.entries.items()}))
    (platform.root / "models.lock").write_bytes(unrecorded)  # as a lock written before facts were recorded
    assert b"mlmodel" not in unrecorded
    refused = platform.run("generate", *CRDS)
    assert refused.code == 1, "prod refuses a version whose loadability is unknown"
    assert "$.models.wine.environments.prod: " in refused.err
    assert "policies.allowUnverifiedModels is false" in refused.err
    assert "environments.dev" not in refused.err, "dev allows unverified models: a warning, not refused"
    assert (platform.root / "models.lock").read_bytes() == unrecorded, "nothing written"

    platform.server.client.set_registered_model_alias(platform.name, "champion", "3")
    assert platform.run("lock", "--update", "wine/prod").code == 0
    lock = _lock(platform)
    assert (lock["prod"]["version"], lock["prod"]["mlmodel"]) == ("2", WINE_MLMODEL), "held: recorded, not moved"
    assert "mlmodel" not in lock["dev"] and "mlmodel" not in lock["staging"]


def test_compat_refuses_a_hand_edited_artifact_location_before_downloading_it(platform: Platform) -> None:
    """render refuses it; so must the load check, which would download it with this machine's credentials and load
    it (a pickle runs code when it loads)."""
    assert platform.run("generate", *CRDS).code == 0
    lock = platform.root / "models.lock"
    locked = _lock(platform)["dev"]["artifactUri"]
    lock.write_text(lock.read_text().replace(f"artifactUri: {locked}", "artifactUri: s3://elsewhere/models/wine", 1))
    before = platform.files()
    result = platform.run("compat", "wine", "--env", "dev")
    assert result.code == 1, result.err
    assert "artifactUri 's3://elsewhere/models/wine' is not under an allowed storage prefix" in result.err, result.err
    assert "cannot download" not in result.err
    assert platform.files() == before
