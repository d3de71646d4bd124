"""One smoke test end to end with the MLflow edge stubbed: what is asked where, and what the user reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.errors import LockError, SmokeFailed, UserError
from generator.smoke.client import InferenceResponse, post_json
from generator.smoke.endpoint import Endpoint
from generator.smoke.mlmodel import MlModel, parse_mlmodel
from generator.smoke.request import Output, Request
from generator.smoke.run import Ask, SmokeReport, SmokeTarget, locate, smoke_test, summary
from tests.unit.smoke.conftest import FakeServer
from tests.unit.smoke.test_mlmodel import wine_mlmodel
from tests.unit.smoke.test_request import WINE_EXAMPLE

SPEC = """\
apiVersion: kserve-gitops/v1
registry: {trackingUri: "http://mlflow.example.com"}
environments:
  dev: {namespace: ml-dev}
  staging: {namespace: ml-staging}
models:
  wine:
    registeredModel: Wine
    environments:
      dev: {version: 3}
      staging: {version: 2}
  fraud:
    registeredModel: Fraud
    env: {MLSERVER_MODEL_NAME: fraud-v2}
    environments:
      dev: {version: 1}
  boxed:
    registeredModel: Boxed
    method: image
    imageRepository: example.com/models/boxed
    environments:
      dev: {version: 4}
"""
LOCK = """\
lockVersion: 1
models:
  wine:
    dev: {registeredModel: Wine, reference: {version: '3'}, version: '3', runId: r3,
          source: "mlflow-artifacts:/1/models/m-3/artifacts", artifactUri: "s3://b/1/models/m-3/artifacts"}
  fraud:
    dev: {registeredModel: Fraud, reference: {version: '1'}, version: '1', runId: r1,
          source: "mlflow-artifacts:/2/models/m-1/artifacts", artifactUri: "s3://b/2/models/m-1/artifacts"}
  boxed:
    dev: {registeredModel: Boxed, reference: {version: '4'}, version: '4', runId: r4,
          source: "mlflow-artifacts:/3/models/m-4/artifacts", artifactUri: "s3://b/3/models/m-4/artifacts"}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "models.yaml").write_text(SPEC)
    (tmp_path / "models.lock").write_text(LOCK)
    return tmp_path


def _wine(source: str, tracking_uri: str) -> tuple[MlModel, dict[str, Any]]:
    return parse_mlmodel(wine_mlmodel()), WINE_EXAMPLE


def test_default_target_is_the_predictor_service_with_the_locked_source(repo: Path) -> None:
    assert locate(repo, Ask("wine", "dev")) == SmokeTarget(
        "v2",
        Endpoint("http://wine-predictor.ml-dev.svc.cluster.local/v2/models/wine/infer"),
        "mlflow-artifacts:/1/models/m-3/artifacts",
        "http://mlflow.example.com",
    )


def test_method_image_speaks_mlflow_invocations_on_the_same_service(repo: Path) -> None:
    target = locate(repo, Ask("boxed", "dev"))
    assert (target.protocol, target.endpoint.url) == (
        "mlflow-invocations",
        "http://boxed-predictor.ml-dev.svc.cluster.local/invocations",
    )
    forced = locate(repo, Ask("boxed", "dev", protocol="v2"))
    assert forced.endpoint.url == "http://boxed-predictor.ml-dev.svc.cluster.local/v2/models/boxed/infer"


def test_url_host_and_source_given_on_the_command_line_win(repo: Path) -> None:
    target = locate(
        repo, Ask("wine", "dev", url="http://10.0.0.9", host="wine.ml-dev.example.com", source="models:/Wine/3")
    )
    assert target.endpoint == Endpoint("http://10.0.0.9/v2/models/wine/infer", "wine.ml-dev.example.com")
    assert target.source == "models:/Wine/3"


def test_the_environment_variable_wins_over_the_spec_tracking_uri(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://elsewhere:5000")
    assert locate(repo, Ask("wine", "dev")).tracking_uri == "http://elsewhere:5000"


def test_a_model_name_set_through_env_is_the_v2_model_name(repo: Path) -> None:
    target = locate(repo, Ask("fraud", "dev", url="http://localhost:8080"))
    assert target.endpoint.url == "http://localhost:8080/v2/models/fraud-v2/infer"


def test_with_url_and_source_the_repository_is_not_read(tmp_path: Path) -> None:
    target = locate(tmp_path, Ask("wine", "dev", url="http://x", source="s3://b/m"))
    assert target == SmokeTarget("v2", Endpoint("http://x/v2/models/wine/infer"), "s3://b/m", "")
    boxed = locate(tmp_path, Ask("boxed", "dev", url="http://x", source="s3://b/m", protocol="mlflow-invocations"))
    assert boxed.endpoint.url == "http://x/invocations"


def test_unknown_model_or_environment_lists_what_exists(repo: Path) -> None:
    with pytest.raises(UserError) as caught:
        locate(repo, Ask("wine", "qa"))
    assert str(caught.value) == (
        "models.yaml: no model 'wine' in environment 'qa'\n"
        "  fix: one of: boxed --env dev, fraud --env dev, wine --env dev, wine --env staging"
    )


def test_an_unlocked_target_asks_for_a_lock(repo: Path) -> None:
    with pytest.raises(LockError) as caught:
        locate(repo, Ask("wine", "staging"))
    assert str(caught.value).splitlines()[0] == "models.lock: no entry for wine in staging"


def test_a_passing_test_reports_request_answer_and_prediction(repo: Path, server: FakeServer) -> None:
    server.answer_json({"outputs": [{"name": "output-1", "shape": [2, 1], "datatype": "INT64", "data": [0, 0]}]})
    report = smoke_test(repo, Ask("wine", "dev", url=server.url), fetch=_wine, send=post_json)
    assert report.outputs == [Output("output-1", "INT64", (2, 1), [0, 0])]
    (seen,) = server.seen
    assert seen.path == "/v2/models/wine/infer"
    assert len(seen.body["inputs"]) == 13


def test_an_answer_with_the_wrong_number_of_rows_fails_naming_the_difference(repo: Path, server: FakeServer) -> None:
    server.answer_json({"outputs": [{"name": "output-1", "shape": [1], "datatype": "INT64", "data": [0]}]})
    with pytest.raises(SmokeFailed) as caught:
        smoke_test(repo, Ask("wine", "dev", url=server.url), fetch=_wine, send=post_json)
    assert str(caught.value) == "$.outputs[0]: shape [1] answers 1 row(s), the request sent 2"


def test_method_image_posts_the_scoring_body_and_counts_predictions(repo: Path, server: FakeServer) -> None:
    server.answer_json({"predictions": [0, 1]})
    report = smoke_test(repo, Ask("boxed", "dev", url=server.url), fetch=_wine, send=post_json)
    assert report.outputs == [Output("predictions", "", (2,), [0, 1])]
    assert (server.seen[0].path, server.seen[0].body) == ("/invocations", WINE_EXAMPLE)
    assert summary(report)[2:5] == [
        "request     2 row(s), MLflow scoring format (dataframe_split)",
        f"answer      200 in {report.reply.seconds * 1000:.0f} ms: predictions [2]",
        "prediction  predictions = [0, 1]",
    ]


def test_summary_is_one_fact_per_line_without_credentials() -> None:
    target = SmokeTarget(
        "v2", Endpoint("http://u:p@10.0.0.9/v2/models/wine/infer", "wine.ml-dev.example.com"), "s3://b/m", ""
    )
    request = Request(
        {
            "parameters": {"content_type": "pd"},
            "inputs": [{"datatype": "FP64"}, {"datatype": "FP64"}, {"datatype": "BYTES"}],
        },
        2,
    )
    outputs = [Output("output-1", "INT64", (2, 1), [0, 2])]
    assert summary(SmokeReport(target, request, InferenceResponse(200, {}, 0.0123), outputs)) == [
        "source      s3://b/m",
        "endpoint    POST http://***@10.0.0.9/v2/models/wine/infer  (Host: wine.ml-dev.example.com)",
        "request     2 row(s), 3 input(s) BYTES, FP64, content type pd",
        "answer      200 in 12 ms: output-1 INT64 [2, 1]",
        "prediction  output-1 = [0, 2]",
        "ok",
    ]
    forged = [Output("x\x1b[31m\n::error::forged", "INT64", (2, 1), [0, 2])]
    said = summary(SmokeReport(target, request, InferenceResponse(200, {}, 0.0123), forged))
    assert said[3:5] == [  # the server's names: no escape, no line of their own
        "answer      200 in 12 ms: x\\x1b[31m\\n::error::forged INT64 [2, 1]",
        "prediction  x\\x1b[31m\\n::error::forged = [0, 2]",
    ]
