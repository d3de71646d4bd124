"""`kserve-gitops smoke-test` against a real MLServer serving what the generated manifests point at.

The model is registered on the session's MLflow server, `kserve-gitops generate`
writes models.lock and the InferenceService, the files under the rendered
`storageUri` are copied from S3 the way KServe's storage initializer copies them
to /mnt/models, and MLServer + mlserver-mlflow (what `kserve-mlserver` runs) serve
them under the InferenceService's name. A pass means the generated reference, the
runtime and the request built from the model's signature and example agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.stack import Stack, free_port
from generator.cli import main
from generator.errors import EnvironmentProblem
from generator.smoke.job import smoke_job
from generator.util.environ import scoped_environ
from tests.acceptance.conftest import CRDS, SPEC, Result
from tests.support.mlflow_server import MlflowServer
from tests.support.mlserver import MLServer, mlserver_venv, serve

WINE_CLASSES = {0, 1, 2}
IMAGE_DEFAULTS = "defaults:\n  method: image\n  imageRepository: example.com/models/wine\n"
_PREDICTION = re.compile(r"^prediction  (\S+) = (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Served:
    repo: Path
    image_repo: Path  # the same model with `method: image`
    server: MLServer
    model_dir: Path  # what the storage initializer would have put in /mnt/models
    lock: dict[str, str]  # models.lock's entry for wine in dev
    stack: Stack


@pytest.fixture(scope="session")
def mlserver_env() -> Path:
    """The MLServer venv; fails (never skips) with pip's own output when it cannot be built."""
    try:
        return mlserver_venv()
    except EnvironmentProblem as exc:
        pytest.fail(f"cannot build the MLServer venv: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def served(
    mlflow_proxied: MlflowServer, mlserver_env: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """Generated repositories and one MLServer serving their dev model, shared by this module's tests."""
    root = tmp_path_factory.mktemp("smoke")
    name = mlflow_proxied.new_model(versions=3, aliases={"challenger": 3, "champion": 2})
    stack = mlflow_proxied.stack
    spec = SPEC.format(destination=stack.artifacts_destination, name=name, prod_extra="")
    repo = _generate(root / "platform", spec, stack)
    image_repo = _generate(root / "platform-image", spec.replace("defaults:\n", IMAGE_DEFAULTS), stack)
    isvc = yaml.safe_load((repo / "environments" / "dev" / "wine.yaml").read_text())
    model_dir = _storage_initializer(stack, isvc["spec"]["predictor"]["model"]["storageUri"], root / "mnt-models")
    lock = yaml.safe_load((repo / "models.lock").read_text())["models"]["wine"]["dev"]
    with serve(mlserver_env, model_dir, isvc["metadata"]["name"], root / "mlserver") as server:
        yield Served(repo, image_repo, server, model_dir, lock, stack)


def _generate(repo: Path, spec: str, stack: Stack) -> Path:
    repo.mkdir()
    (repo / "models.yaml").write_text(spec)
    with scoped_environ({"MLFLOW_TRACKING_URI": stack.tracking_uri, "KSERVE_GITOPS_HTTP_RETRIES": "0"}):
        assert main(["generate", "--repo", str(repo), *CRDS]) == 0
    return repo


def _storage_initializer(stack: Stack, storage_uri: str, dest: Path) -> Path:
    """What KServe's storage initializer does for an s3:// storageUri: copy every object under it."""
    bucket, _, prefix = storage_uri.removeprefix("s3://").partition("/")
    for key in stack.s3_keys(storage_uri):
        (dest / key).parent.mkdir(parents=True, exist_ok=True)
        stack.s3().download_file(bucket, f"{prefix.rstrip('/')}/{key}", str(dest / key))
    return dest


def _predictions(out: str) -> dict[str, list[Any]]:
    return {name: json.loads(data) for name, data in _PREDICTION.findall(out)}


def _local_prediction(model_dir: Path) -> list[int]:
    """The same artifacts, loaded in this process: what the served model must answer."""
    import mlflow.pyfunc  # noqa: PLC0415
    from mlflow.models import Model  # noqa: PLC0415

    example = Model.load(str(model_dir)).load_input_example(str(model_dir))
    return [int(v) for v in mlflow.pyfunc.load_model(str(model_dir)).predict(example)]


def test_smoke_test_passes_against_mlserver_serving_the_locked_artifacts(
    served: Served, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", served.stack.tracking_uri)
    result = cli("smoke-test", "wine", "--env", "dev", "--url", served.server.url, "--repo", str(served.repo))
    assert result.code == 0, result.err
    assert f"source      {served.lock['source']}" in result.out
    assert f"endpoint    POST {served.server.url}/v2/models/wine/infer" in result.out
    assert "request     3 row(s), 13 input(s) FP64, content type pd" in result.out
    (predicted,) = _predictions(result.out).values()
    assert len(predicted) == 3
    assert set(predicted) <= WINE_CLASSES
    assert predicted == _local_prediction(served.model_dir)
    assert result.out.endswith("ok\n")
    as_json = cli(
        "smoke-test", "wine", "--env", "dev", "--url", served.server.url, "--repo", str(served.repo), "-o", "json"
    )
    document = json.loads(as_json.out)
    assert (as_json.code, as_json.err, document["ok"], document["rows"]) == (0, "", True, 3)
    assert document["endpoint"]["url"] == f"{served.server.url}/v2/models/wine/infer"
    assert [o["data"] for o in document["outputs"]] == [predicted]


def test_the_post_sync_jobs_command_passes_without_a_repository(
    served: Served, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The Job's own command line, pointed at this server instead of the in-cluster Service.

    It reads the artifacts straight from S3 (`artifactUri`), as a Job running under
    the predictor's service account would, with no MLflow server configured.
    """
    job = smoke_job("wine", "ml-dev", "dev", "example.com/kserve-gitops:test", source=served.lock["artifactUri"])
    (container,) = job["spec"]["template"]["spec"]["containers"]
    command = container["command"][1:]
    command[command.index("--url") + 1] = served.server.url
    monkeypatch.chdir(tmp_path)  # no models.yaml anywhere
    for key, value in served.stack.s3_env.items():
        monkeypatch.setenv(key, value)
    result = cli(*command, "--host", "wine.ml-dev.example.com")
    assert result.code == 0, result.err
    assert set(next(iter(_predictions(result.out).values()))) <= WINE_CLASSES


def test_method_image_is_checked_through_mlflows_invocations_endpoint(
    served: Served, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLServer's MLflow runtime also serves MLflow's own /invocations, the protocol `method: image` images speak."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", served.stack.tracking_uri)
    result = cli("smoke-test", "wine", "--env", "dev", "--url", served.server.url, "--repo", str(served.image_repo))
    assert result.code == 0, result.err
    assert f"endpoint    POST {served.server.url}/invocations\n" in result.out
    assert "request     3 row(s), MLflow scoring format (dataframe_split)" in result.out
    assert _predictions(result.out) == {"predictions": _local_prediction(served.model_dir)}


def test_a_model_the_server_does_not_serve_fails_with_its_status_and_message(
    served: Served, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", served.stack.tracking_uri)
    result = cli("smoke-test", "wine-v2", "--env", "dev", "--url", served.server.url, "--source", served.lock["source"])
    assert result.code == 1
    assert result.err.startswith(f"error: POST {served.server.url}/v2/models/wine-v2/infer answered 404 Not Found: ")
    assert "Model wine-v2 not found" in result.err
    assert "Traceback" not in result.err


def test_an_endpoint_nobody_listens_on_exits_2_with_the_url(
    served: Served, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", served.stack.tracking_uri)
    url = f"http://127.0.0.1:{free_port()}"
    result = cli("smoke-test", "wine", "--env", "dev", "--url", url, "--repo", str(served.repo))
    assert result.code == 2
    assert result.err.splitlines()[0].startswith(
        f"error: cannot reach {url}/v2/models/wine/infer: [Errno 111] Connection refused ("
    )


def test_a_url_that_is_not_a_url_exits_1_naming_it_before_anything_is_read(cli: Callable[..., Result]) -> None:
    """urlsplit raises on an IPv6 host left open: that was an unexpected error (exit 3)."""
    result = cli("smoke-test", "wine", "--env", "dev", "--url", "http://u:hunter2@[::1", "--source", "models:/Wine/1")
    assert result.code == 1
    assert result.err.splitlines()[0] == "error: --url http://***@[::1 is not a URL: Invalid IPv6 URL"
    assert "hunter2" not in result.err


def test_an_unreachable_mlflow_exits_2_before_anything_is_sent(
    cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    tracking = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    monkeypatch.setenv("KSERVE_GITOPS_HTTP_RETRIES", "0")
    result = cli("smoke-test", "wine", "--env", "dev", "--url", "http://127.0.0.1:9", "--source", "models:/Wine/1")
    assert result.code == 2
    assert result.err.splitlines()[0] == "error: cannot read models:/Wine/1/MLmodel: Connection refused"


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ("s3://k:hunter2SECRET@bucket/x", 'Invalid bucket name "***@bucket"'),  # botocore repeats the credentials
        ("https://u:hunter2SECRET@[::1/api/2.0/mlflow-artifacts/artifacts/x", "Invalid IPv6 URL"),
        ("gs://bucket/x", "No module named"),  # google-cloud-storage, which MLflow reads gs:// with, is not installed
    ],
)
def test_a_source_its_store_refuses_exits_2_with_its_reason_and_without_its_credentials(
    source: str, said: str, cli: Callable[..., Result]
) -> None:
    result = cli("smoke-test", "wine", "--env", "dev", "--url", "http://127.0.0.1:9", "--source", source)
    assert result.code == 2, result.err
    assert result.err.startswith("error: cannot read "), result.err
    assert said in result.err
    assert "hunter2" not in result.err and "SECRET" not in result.err


def test_an_input_example_that_is_not_utf8_fails_naming_the_file(tmp_path: Path, cli: Callable[..., Result]) -> None:
    model = tmp_path / "model"
    model.mkdir()
    info = {"artifact_path": "input_example.json", "type": "ndarray"}
    inputs = '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 2]}}]'
    card = {"saved_input_example_info": info, "signature": {"inputs": inputs}}
    (model / "MLmodel").write_text(json.dumps(card))
    (model / "input_example.json").write_bytes(b'{"inputs": [[1.0, 2.0]]}\xff\xfe')
    result = cli("smoke-test", "wine", "--env", "dev", "--url", "http://127.0.0.1:9", "--source", str(model))
    assert result.code == 1, result.err
    assert result.err.startswith(
        f"error: input_example.json: not UTF-8 text: byte 24 cannot be decoded (read from {model}/input_example.json)\n"
    )
