"""Which load checks `compat` runs, what it makes of the probe's answer, and what it records.

The two edges (download, load in the runtime) are passed in as the command passes them;
here they hand over a model directory saved by the real MLflow and a probe answer.
The real runtime is exercised in tests/acceptance/test_compat_load.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.compat.load import Probed
from generator.compat.run import LoadJob, LoadOutcome, plan_checks, record, run_checks
from generator.errors import UserError
from generator.lock import io as lock_io
from generator.lock.model import LoadCheck, Lock, LockEntry
from generator.platform.runtimes import RuntimeImage
from generator.spec.load import parse_spec
from generator.spec.model import Ref

SPEC = """\
apiVersion: kserve-gitops/v1
platform: {kserveInstall: kustomize}
environments: {dev: {namespace: d}, staging: {namespace: s}}
models:
  wine:
    registeredModel: Wine
    environments: {dev: {version: 3}, staging: {version: 3}}
  churn:
    registeredModel: churn
    method: image
    imageRepository: example.com/churn
    environments: {dev: {version: 1}}
  new:
    registeredModel: new
    environments: {dev: {version: 1}}
"""
IMAGE = "docker.io/seldonio/mlserver:1.7.1"


def _entry(model: str, env: str, name: str, version: str) -> LockEntry:
    return LockEntry(
        model,
        env,
        name,
        Ref("version", version),
        version,
        f"s3://b/{name}/{version}",
        f"s3://b/{name}/{version}",
        "run",
    )


LOCK = Lock(
    {
        e.key: e
        for e in (
            _entry("wine", "dev", "Wine", "3"),
            _entry("wine", "staging", "Wine", "3"),
            _entry("churn", "dev", "churn", "1"),
        )
    }
)


def test_one_check_per_version_and_image_and_a_reason_for_each_target_left_out() -> None:
    checks, skipped, _ = plan_checks(parse_spec(SPEC)[0], LOCK)
    assert checks == [LoadJob("Wine", "3", "s3://b/Wine/3", IMAGE, (("wine", "dev"), ("wine", "staging")))]
    assert skipped == [
        "churn/dev: method image serves its own container, no runtime loads it",
        "new/dev: not in models.lock; run `kserve-gitops lock` first",
    ]


def test_a_version_already_checked_on_its_image_is_left_out_unless_rechecked() -> None:
    failed = LoadCheck(IMAGE, "fails", "docker", "boom")
    lock = record(LOCK, [LoadOutcome(LoadJob("Wine", "3", "", IMAGE, (("wine", "dev"),)), failed, "not sent")])
    checks, skipped, recorded_failure = plan_checks(parse_spec(SPEC)[0], lock, "wine")
    assert [c.entries for c in checks] == [(("wine", "staging"),)]
    assert skipped == [f"wine/dev: version 3 already checked on {IMAGE} (fails); --recheck loads it again"]
    assert recorded_failure
    assert plan_checks(parse_spec(SPEC)[0], lock, "wine", recheck=True)[0][0].entries == (
        ("wine", "dev"),
        ("wine", "staging"),
    )


def test_with_a_trusted_base_only_a_verdict_it_records_for_that_version_counts() -> None:
    loads = LoadCheck(IMAGE, "loads", "docker")
    job = LoadJob("Wine", "3", "", IMAGE, (("wine", "dev"), ("wine", "staging")))
    lock = record(LOCK, [LoadOutcome(job, loads, "answered")])
    spec = parse_spec(SPEC)[0]
    forged, _, _ = plan_checks(spec, lock, "wine", trusted=LOCK)
    assert [c.entries for c in forged] == [(("wine", "dev"), ("wine", "staging"))], "new in the pull request: loaded"
    kept, skipped, _ = plan_checks(spec, lock, "wine", trusted=lock)
    assert kept == [] and len(skipped) == 2, "recorded on the base too: left out"


def test_naming_nothing_that_exists_is_an_error_listing_what_does() -> None:
    with pytest.raises(UserError) as caught:
        plan_checks(parse_spec(SPEC)[0], LOCK, "wine", "prod")
    assert "no target wine/prod in models.yaml" in str(caught.value)
    assert "wine/dev" in str(caught.value)


@pytest.fixture(scope="module")
def unsigned_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real MLflow model saved without a signature or input example."""
    import mlflow.sklearn  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    target = tmp_path_factory.mktemp("unsigned") / "model"
    mlflow.sklearn.save_model(
        LogisticRegression().fit([[0.0], [1.0]], [0, 1]),
        str(target),
        serialization_format="cloudpickle",
        pip_requirements=["scikit-learn"],
    )
    return target


def _run(model_dir: Path, answer: dict[str, Any], image: str = IMAGE) -> tuple[list[Any], list[Any]]:
    sent: list[Any] = []

    def load(
        image: str, facts: RuntimeImage | None, directory: Path, request: dict[str, Any] | None, what: str
    ) -> Probed:
        sent.append(request)
        return Probed("virtualenv (Python 3.10.13)", answer)

    check = LoadJob("Wine", "3", "s3://b/Wine/3", image, (("wine", "dev"),))
    results = run_checks([check], download=lambda uri, dest, what: model_dir, load=load, docker=False)
    return results, sent


def test_a_model_without_signature_is_still_loaded_and_the_request_says_why_it_is_skipped(unsigned_model: Path) -> None:
    (result,), sent = _run(unsigned_model, {"loads": True})
    assert sent == [None]
    assert result.load_check.verdict == "loads"
    assert result.request == ("skipped: the model has no input signature, so no request can be built")


@pytest.mark.parametrize(
    ("mlmodel", "skipped"),
    [
        ('{"flavors": {"python_function": {}}, "signature": "hello"}', "not as MLflow writes it (AttributeError"),
        ("#" * (16 * 2**20 + 1), "cannot be read (larger than 16777216 bytes)"),
    ],
    ids=["a signature that is no mapping", "an MLmodel over 16 MiB"],
)
def test_model_files_not_as_mlflow_writes_them_skip_the_request_not_the_check(
    tmp_path: Path, mlmodel: str, skipped: str
) -> None:
    (tmp_path / "MLmodel").write_text(mlmodel)
    (result,), sent = _run(tmp_path, {"loads": True})
    assert sent == [None]
    assert result.request.startswith("skipped: ") and skipped in result.request


def test_the_loaders_error_becomes_the_recorded_verdict(unsigned_model: Path) -> None:
    (result,), _ = _run(
        unsigned_model, {"loads": False, "error": "MlflowException: Unrecognized serialization format: skops."}
    )
    assert (result.load_check.verdict, result.load_check.image) == ("fails", IMAGE)
    assert result.load_check.error == (
        "MLServer's MLflow runtime failed to load it: MlflowException: Unrecognized serialization format: skops."
    )
    new = record(LOCK, [result])
    assert new.entries[("wine", "dev")].load_check == result.load_check
    assert new.entries[("wine", "staging")].load_check is None, "this check stood for wine/dev only"


def test_an_image_with_no_known_contents_needs_docker_and_says_which(unsigned_model: Path) -> None:
    with pytest.raises(UserError) as caught:
        _run(unsigned_model, {"loads": True}, image="registry.example.com/mlserver:custom")
    assert str(caught.value).startswith(
        "'Wine' version 3 on registry.example.com/mlserver:custom: kserve-gitops does not know what the image"
    )
    assert "--docker" in str(caught.value)


def test_what_the_models_files_say_is_recorded_bounded(unsigned_model: Path) -> None:
    """MLflow's error repeats MLmodel's serialization_format: the model's author writes what lands in models.lock."""
    said = "EVIL" + "A" * 3_000_000
    (result,), _ = _run(unsigned_model, {"loads": False, "error": f"MlflowException: Unrecognized format: {said}"})
    error = result.load_check.error
    assert error.startswith("MLServer's MLflow runtime failed to load it: MlflowException: Unrecognized format: EVILA")
    assert len(error) < 2100 and error.endswith(" more characters)")
    assert len(lock_io.dumps(record(LOCK, [result]))) < 10_000
