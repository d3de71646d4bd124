"""MlflowRegistry against a real MLflow server (moto S3 behind it); no mocks.

Tests that take a server fixture are marked `mlflow` by conftest.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast
from urllib.parse import quote

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion as MlflowVersion
from mlflow.exceptions import MlflowException

from devtools.metering import count_requests
from devtools.stack import free_port, log_wine_model, seed_many, seed_model
from generator.errors import RegistryUnavailable
from generator.registry.base import Facts, ModelInfo, ModelVersion, NotFound, Query, Resolution
from generator.registry.gate_facts import MlflowFacts
from generator.registry.mlflow import (
    _FILTER_BUDGET,
    MlflowRegistry,
    _in_filters,
)
from generator.spec.model import Ref, RefKind
from generator.util.http import HttpSettings
from tests.support.faults import Fault, Mode, faulty
from tests.support.mlflow_server import MlflowServer, NewModel

# What the MLmodel of devtools' wine model says: logged here, by this mlflow, in cloudpickle.
WINE_INFO = ModelInfo(("python_function", "sklearn"), "cloudpickle", mlflow.__version__, platform.python_version())
MLMODEL_READ = "mlflow-artifacts/artifacts/MLmodel"


def q(name: str, kind: RefKind, value: str | int = "") -> Query:
    return Query(name, Ref(kind, str(value)))


def resolve(server: MlflowServer, *queries: Query) -> list[Resolution]:
    return MlflowRegistry(server.stack.tracking_uri).resolve(queries)


def versions(results: list[Resolution]) -> list[str]:
    return [r.version if isinstance(r, ModelVersion) else "-" for r in results]


def messages(results: list[Resolution]) -> list[str]:
    return [r.message for r in results if isinstance(r, NotFound)]


def by_endpoint(counts: dict[str, int]) -> dict[str, int]:
    """`/api/2.0/mlflow/model-versions/get` → `model-versions/get`; artifact calls keep their service name."""
    return {endpoint.rsplit("/mlflow/", 1)[-1].lstrip("/"): n for endpoint, n in counts.items()}


class FlakyServer(ThreadingHTTPServer):
    """Answers `status` to the first `failures` requests, then forwards GETs and POSTs to `upstream`; a request
    whose path starts with `drop` is never answered: the connection is closed, as by a server that went away. With a
    `prefix`, a reverse proxy serving MLflow under that path: it forwards what lies under it without the prefix,
    and answers 404 to anything else."""

    def __init__(self, upstream: str, failures: int, status: int, drop: str = "", prefix: str = "") -> None:
        super().__init__(("127.0.0.1", 0), _FlakyHandler)
        self.upstream, self.failures, self.status, self.hits = upstream, failures, status, 0
        self.drop, self.prefix = drop, prefix
        self.url = f"http://127.0.0.1:{self.server_port}"


class _FlakyHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server = cast(FlakyServer, self.server)
        server.hits += 1
        sent = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if server.drop and self.path.startswith(server.drop):
            self.close_connection = True
            return
        if not self.path.startswith(f"{server.prefix}/"):
            status, body = 404, b""
        elif server.hits <= server.failures:
            status, body = server.status, b""
        else:
            status, body = self._forward(server.upstream + self.path.removeprefix(server.prefix), sent)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET  # search_experiments and search_logged_models are POSTs

    def _forward(self, url: str, sent: bytes) -> tuple[int, bytes]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(
            url,
            data=sent or None,
            method=self.command,
            headers={"Content-Type": self.headers.get("Content-Type") or ""},
        )
        try:
            with opener.open(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:  # MLflow's 404 for unknown things, with a JSON body
            return error.code, error.read()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def flaky_server(
    upstream: str = "", *, failures: int = 1_000_000, status: int = 503, drop: str = "", prefix: str = ""
) -> Iterator[FlakyServer]:
    server = FlakyServer(upstream, failures, status, drop, prefix)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_every_reference_kind_resolves(mlflow_proxied: MlflowServer, new_model: NewModel) -> None:
    name = new_model(versions=4, aliases={"champion": 2}, stages={1: "Production", 3: "Staging"})
    results = resolve(
        mlflow_proxied,
        q(name, "version", 3),
        q(name, "alias", "champion"),
        q(name, "stage", "Production"),
        q(name, "stage", "staging"),
        q(name, "latest"),
    )
    assert versions(results) == ["3", "2", "1", "3", "4"]
    for result in results:
        assert isinstance(result, ModelVersion)
        assert result.registered_model == name
        assert result.run_id == mlflow_proxied.logged.run_id
        assert result.download_uri.startswith("mlflow-artifacts:/")
        assert result.info == WINE_INFO


def test_latest_is_the_highest_version_in_any_stage(mlflow_proxied: MlflowServer, new_model: NewModel) -> None:
    name = new_model(versions=3, stages={3: "Archived"})
    assert versions(resolve(mlflow_proxied, q(name, "latest"))) == ["3"]


def test_names_with_quotes_and_backslashes_resolve(mlflow_proxied: MlflowServer, new_model: NewModel) -> None:
    name = new_model('It\'s a "Wine" \\ model', versions=2)
    assert versions(resolve(mlflow_proxied, q(name, "latest"), q(name, "version", 1))) == ["2", "1"]


def test_moving_an_alias_moves_the_resolution(mlflow_proxied: MlflowServer, new_model: NewModel) -> None:
    name = new_model(versions=3, aliases={"champion": 2})
    assert versions(resolve(mlflow_proxied, q(name, "alias", "champion"))) == ["2"]
    mlflow_proxied.client.set_registered_model_alias(name, "champion", "3")
    assert versions(resolve(mlflow_proxied, q(name, "alias", "champion"))) == ["3"]


def test_deleted_version_and_its_alias_are_not_found(mlflow_proxied: MlflowServer, new_model: NewModel) -> None:
    name = new_model(versions=3, aliases={"champion": 2, "challenger": 3})
    mlflow_proxied.client.delete_model_version(name, "2")
    results = resolve(mlflow_proxied, q(name, "version", 2), q(name, "alias", "champion"), q(name, "version", 1))
    assert messages(results) == [
        f"version 2 not found on '{name}'",
        f"alias 'champion' not found on '{name}' (has: 'challenger')",
    ]
    assert versions(results)[2] == "1"


def test_deleted_alias_is_not_found(mlflow_proxied: MlflowServer, new_model: NewModel) -> None:
    name = new_model(versions=2, aliases={"champion": 1, "challenger": 2})
    mlflow_proxied.client.delete_registered_model_alias(name, "champion")
    [result] = resolve(mlflow_proxied, q(name, "alias", "champion"))
    assert isinstance(result, NotFound)
    assert result.message == f"alias 'champion' not found on '{name}' (has: 'challenger')"
    assert result.query == q(name, "alias", "champion")


def test_unknown_model_is_not_found_with_a_close_name(mlflow_proxied: MlflowServer, new_model: NewModel) -> None:
    name = new_model(versions=1)
    [result] = resolve(mlflow_proxied, q(name.lower(), "latest"))
    assert isinstance(result, NotFound)
    assert result.message == f"registered model '{name.lower()}' not found"
    assert result.hint.startswith(f"did you mean '{name}'")  # the closest comes first


def test_model_without_versions_is_not_found_for_every_kind(mlflow_proxied: MlflowServer, new_model: NewModel) -> None:
    name = new_model(versions=0)
    results = resolve(
        mlflow_proxied,
        q(name, "latest"),
        q(name, "version", 1),
        q(name, "alias", "champion"),
        q(name, "stage", "Production"),
        q(name, "stage", "Prod"),
    )
    assert messages(results) == [
        f"'{name}' has no versions",
        f"version 1 not found on '{name}'",
        f"alias 'champion' not found on '{name}' (has: none)",
        f"no version of '{name}' is in stage 'Production'",
        "'Prod' is not an MLflow stage",
    ]


def test_stage_references_raise_no_deprecation_warning(mlflow_proxied: MlflowServer, new_model: NewModel) -> None:
    name = new_model(versions=2, stages={2: "Production"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert versions(resolve(mlflow_proxied, q(name, "stage", "Production"))) == ["2"]


def test_proxied_download_uri_holds_the_model_in_the_bucket(mlflow_proxied: MlflowServer, new_model: NewModel) -> None:
    name = new_model(versions=1)
    [result] = resolve(mlflow_proxied, q(name, "version", 1))
    assert isinstance(result, ModelVersion)
    assert result.download_uri.startswith("mlflow-artifacts:/")
    assert mlflow_proxied.stack.s3_url(result.download_uri).startswith("s3://mlflow-artifacts/mlartifacts/")
    assert {"MLmodel", "model.pkl"} <= set(mlflow_proxied.stack.s3_keys(result.download_uri))


def test_direct_download_uri_is_s3_and_holds_the_model(
    mlflow_direct: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = mlflow_direct.new_model(versions=2, aliases={"champion": 1})
    for key, value in mlflow_direct.stack.s3_env.items():  # a direct store is read with the client's credentials
        monkeypatch.setenv(key, value)
    [result] = resolve(mlflow_direct, q(name, "alias", "champion"))
    assert isinstance(result, ModelVersion)
    assert result.download_uri.startswith("s3://mlflow-artifacts/direct/")
    assert {"MLmodel", "model.pkl"} <= set(mlflow_direct.stack.s3_keys(result.download_uri))
    assert result.info == WINE_INFO


def test_each_distinct_artifact_has_its_mlmodel_read_once(mlflow_proxied: MlflowServer, new_model: NewModel) -> None:
    name = new_model(versions=3)  # three versions of the shared wine artifact
    other = log_wine_model(mlflow_proxied.stack, n_estimators=11)
    seed_model(mlflow_proxied.client, name, other, versions=1)  # version 4: an artifact of its own
    with count_requests() as counts:
        results = resolve(mlflow_proxied, *(q(name, "version", v) for v in (1, 2, 3, 4)))
    found = [r for r in results if isinstance(r, ModelVersion)]
    assert [r.info for r in found] == [WINE_INFO] * 4
    assert len({r.download_uri for r in found}) == 2
    assert by_endpoint(counts)[MLMODEL_READ] == by_endpoint(counts)["mlflow-artifacts/artifacts"] == 2


def test_version_without_a_readable_mlmodel_still_resolves(mlflow_proxied: MlflowServer, new_model: NewModel) -> None:
    name = new_model(versions=0)
    run = mlflow_proxied.client.get_run(mlflow_proxied.logged.run_id)
    mlflow_proxied.client.create_model_version(
        name, source=f"{run.info.artifact_uri}/no-model-here", run_id=run.info.run_id, await_creation_for=0
    )
    [result] = resolve(mlflow_proxied, q(name, "latest"))
    assert isinstance(result, ModelVersion)
    assert (result.version, result.info) == ("1", None)


def test_requests_grow_with_models_and_versions_not_queries(mlflow_proxied: MlflowServer, new_model: NewModel) -> None:
    fraud = new_model("Fraud.Detector", versions=3, aliases={"champion": 2, "challenger": 3}, stages={1: "Production"})
    churn = new_model("Churn Model", versions=2, aliases={"champion": 1})
    wine = new_model("wine.v2", versions=3, stages={3: "Staging"})
    distinct = [
        (q(fraud, "version", 1), "1"),
        (q(fraud, "alias", "champion"), "2"),
        (q(fraud, "alias", "challenger"), "3"),
        (q(fraud, "stage", "Production"), "1"),
        (q(fraud, "latest"), "3"),
        (q(churn, "version", 1), "1"),
        (q(churn, "alias", "champion"), "1"),
        (q(churn, "latest"), "2"),
        (q(wine, "version", 1), "1"),
        (q(wine, "stage", "Staging"), "3"),
        (q(wine, "latest"), "3"),
        (q(wine, "alias", "champion"), "-"),
    ]
    batch = distinct + distinct[:8]  # 20 queries
    registry = MlflowRegistry(mlflow_proxied.stack.tracking_uri)
    with count_requests() as counts:
        results = registry.resolve([query for query, _ in batch])
    assert versions(results) == [version for _, version in batch]
    # One search for the three models, one for their versions; the shared logged model's artifact
    # location from one search of the experiments and one of the logged models; and per distinct
    # artifact, a listing and a read of its MLmodel: every version here shares one.
    assert by_endpoint(counts) == {
        "registered-models/search": 1,
        "model-versions/search": 1,
        "experiments/search": 1,
        "logged-models/search": 1,
        "mlflow-artifacts/artifacts": 1,
        MLMODEL_READ: 1,
    }
    with count_requests() as again:
        registry.resolve([query for query, _ in distinct])
    assert again == counts


def test_recorded_mlmodel_facts_are_not_read_again(mlflow_proxied: MlflowServer, new_model: NewModel) -> None:
    name = new_model(versions=2)
    registry = MlflowRegistry(mlflow_proxied.stack.tracking_uri)
    [first] = registry.resolve([q(name, "latest")])
    assert isinstance(first, ModelVersion) and first.info == WINE_INFO
    with count_requests() as counts:
        [again] = registry.resolve([q(name, "latest")], recorded={first.download_uri: WINE_INFO})
    assert again == first
    assert "mlflow-artifacts" not in str(dict(counts))


def test_batched_resolution_stays_within_a_tenth_of_a_request_per_reference(mlflow_proxied: MlflowServer) -> None:
    """The issue's budget: ≤ 0.1 request per reference when every reference is a version, an alias or latest."""
    names = [f"Budget.Model {i:03d}" for i in range(40)]
    for name in names:
        seed_model(mlflow_proxied.client, name, mlflow_proxied.logged, versions=3, aliases={"champion": 2})
    queries = [
        query for name in names for query in (q(name, "latest"), q(name, "alias", "champion"), q(name, "version", 1))
    ]
    registry = MlflowRegistry(mlflow_proxied.stack.tracking_uri)
    with count_requests() as first:
        results = registry.resolve(queries)
    assert versions(results) == ["3", "2", "1"] * len(names)
    assert sum(first.values()) <= 0.1 * len(queries)  # 120 references: 6 requests, 2 of them the one MLmodel
    recorded = {r.download_uri: r.info for r in results if isinstance(r, ModelVersion) and r.info}
    with count_requests() as current:
        registry.resolve(queries, recorded)
    assert sum(current.values()) == 4  # the lock knows the MLmodel: only the searches


def test_batched_resolution_equals_one_by_one_calls(
    mlflow_proxied: MlflowServer, new_model: NewModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every reference kind resolves to what MLflow's one-call-per-reference API answers, download URI included;
    and resolving writes nothing where it runs (MLflow would create ./mlflow.db resolving `runs:/` sources)."""
    client = mlflow_proxied.client
    logged3 = new_model(
        "MLflow3.Model",
        versions=4,
        aliases={"champion": 2, "challenger": 4, "old": 1},
        stages={1: "Production", 3: "Staging"},
    )
    client.delete_registered_model_alias(logged3, "old")
    client.delete_model_version(logged3, "4")  # `challenger` goes with it
    # MLflow 2 style: a run-relative source, and the run's resolved artifact path as MLflow 2's register_model wrote.
    run = client.get_run(mlflow_proxied.logged.run_id)
    legacy = new_model("MLflow2.Model", versions=0)
    for source in (f"runs:/{run.info.run_id}/model", f"{run.info.artifact_uri}/model"):
        client.create_model_version(legacy, source=source, run_id=run.info.run_id, await_creation_for=0)
    client.set_registered_model_alias(legacy, "champion", "1")
    # A version registered from another version's URI, and one whose logged model was deleted since.
    chained = new_model("Chained.Model", versions=0)
    client.create_model_version(chained, source=f"models:/{logged3}/2", await_creation_for=0)
    orphan = log_wine_model(mlflow_proxied.stack, n_estimators=12)
    seed_model(client, chained, orphan, versions=1)
    client.delete_logged_model(orphan.model_id)
    pending = new_model("Pending.Model", versions=3)
    _set_status(mlflow_proxied, pending, "3", "PENDING_REGISTRATION")
    _set_status(mlflow_proxied, pending, "1", "FAILED_REGISTRATION")

    queries = [
        *(q(logged3, "version", v) for v in (1, 2, 3, 4, "02")),
        *(q(logged3, "alias", a) for a in ("champion", "challenger", "old")),
        *(q(logged3, "stage", s) for s in ("Production", "staging", "Archived")),
        q(logged3, "latest"),
        q(legacy, "version", 1),
        q(legacy, "version", 2),
        q(legacy, "alias", "champion"),
        q(legacy, "latest"),
        q(chained, "version", 1),
        q(chained, "version", 2),
        q(chained, "latest"),
        q(pending, "latest"),
        q(pending, "version", 3),
        q(pending, "version", 1),
        q(pending, "version", 2),
        q("No Such Model", "latest"),
        q("No Such Model", "version", 1),
    ]
    monkeypatch.chdir(tmp_path)
    ours = MlflowRegistry(mlflow_proxied.stack.tracking_uri).resolve(queries)
    assert list(tmp_path.iterdir()) == []
    assert [_answer(r) for r in ours] == [_one_by_one(client, query) for query in queries]
    assert versions(ours)[-6:-2] == ["2", "-", "-", "2"]  # latest skips the PENDING version 3
    assert {r.download_uri for r in ours if isinstance(r, ModelVersion) and r.registered_model == legacy} == {
        f"runs:/{run.info.run_id}/model",
        f"{run.info.artifact_uri}/model",
    }


def _set_status(server: MlflowServer, name: str, version: str, status: str) -> None:
    """What a registry that copies artifacts (Databricks) shows while it works: OSS MLflow has no API for it."""
    with sqlite3.connect(server.stack.workdir / "mlflow.db") as db:
        db.execute("UPDATE model_versions SET status = ? WHERE name = ? AND version = ?", (status, name, int(version)))


def _answer(result: Resolution) -> tuple[str, str, str] | None:
    return (result.version, result.download_uri, result.run_id) if isinstance(result, ModelVersion) else None


def _one_by_one(client: MlflowClient, query: Query) -> tuple[str, str, str] | None:
    """The reference semantics: MlflowClient's own calls for this one reference, one after another."""
    name, ref = query.registered_model, query.ref
    mv: MlflowVersion | None
    try:
        if ref.kind == "version":
            mv = client.get_model_version(name, ref.value)
        elif ref.kind == "alias":
            mv = client.get_model_version_by_alias(name, ref.value)
        elif ref.kind == "stage":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                [mv] = client.get_latest_versions(name, [ref.value]) or [None]
        else:
            every = client.search_model_versions(f"name = '{name}'")
            mv = max((v for v in every if v.status == "READY"), key=lambda v: int(v.version), default=None)
        if mv is None or mv.status != "READY":
            return None
        return (str(mv.version), client.get_model_version_download_uri(name, mv.version), mv.run_id or "")
    except MlflowException:
        return None


def test_many_long_names_are_searched_in_chunks(mlflow_proxied: MlflowServer) -> None:
    names = [f"Long.Name {i:02d} " + "x" * 150 for i in range(40)]
    seed_many(mlflow_proxied.client, mlflow_proxied.logged, names)
    with count_requests() as counts:
        results = resolve(mlflow_proxied, *(q(name, "latest") for name in names))
    assert versions(results) == ["1"] * 40
    assert by_endpoint(counts)["registered-models/search"] == len(_in_filters(names)) == 2


def test_empty_batch_sends_nothing(mlflow_proxied: MlflowServer) -> None:
    with count_requests() as counts:
        assert resolve(mlflow_proxied) == []
    assert not counts


def test_tracking_uri_comes_from_the_environment(
    mlflow_proxied: MlflowServer, new_model: NewModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = new_model(versions=1)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_proxied.stack.tracking_uri)
    assert versions(MlflowRegistry().resolve([q(name, "latest")])) == ["1"]


def test_dead_server_is_unavailable_within_seconds() -> None:
    registry = MlflowRegistry(
        f"http://user:s3cret@127.0.0.1:{free_port()}",
        http=HttpSettings(retries=1, backoff=0, connect_timeout=2, read_timeout=2),
    )
    started = time.monotonic()
    with pytest.raises(RegistryUnavailable) as caught:
        registry.resolve([q("fraud", "latest")])
    assert time.monotonic() - started < 3
    message = str(caught.value)
    assert message.startswith("cannot use the MLflow registry at http://***@127.0.0.1:")
    assert "Connection refused" in message
    assert "s3cret" not in message
    assert caught.value.exit_code == 2
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # set for the call only


def test_transient_errors_are_retried(mlflow_proxied: MlflowServer, new_model: NewModel) -> None:
    name = new_model(versions=2)
    with flaky_server(mlflow_proxied.stack.tracking_uri, failures=2) as flaky:
        registry = MlflowRegistry(flaky.url, http=HttpSettings(retries=3, backoff=0))
        assert versions(registry.resolve([q(name, "latest")])) == ["2"]
    # two 503s, then the two searches, the experiments and the logged models, the MLmodel listing and read
    assert flaky.hits == 2 + 6


@pytest.mark.parametrize("tail", ["/mlflow", "/mlflow/"])
def test_a_server_behind_a_path_prefix_answers_every_call_and_the_mlmodel(
    mlflow_proxied: MlflowServer, new_model: NewModel, tail: str
) -> None:
    """A reverse proxy serving MLflow under /mlflow (or `mlflow server --static-prefix /mlflow`): the batched
    searches, the logged-model lookups and the MLmodel read through the artifact API all go under the prefix, with
    or without a trailing slash; a call that left it out would get the proxy's 404."""
    name = new_model(versions=2, aliases={"champion": 1})
    with flaky_server(mlflow_proxied.stack.tracking_uri, failures=0, prefix="/mlflow") as proxy:
        results = MlflowRegistry(proxy.url + tail).resolve([q(name, "alias", "champion"), q(name, "latest")])
    assert versions(results) == ["1", "2"]
    assert [r.info for r in results if isinstance(r, ModelVersion)] == [WINE_INFO, WINE_INFO]


@pytest.mark.parametrize(
    "drop",
    [
        "/api/2.0/mlflow-artifacts/artifacts?",  # listing the MLmodel
        "/api/2.0/mlflow-artifacts/artifacts/",  # reading it, once listed
    ],
)
def test_a_server_gone_while_the_mlmodel_is_read_is_unavailable_not_an_unreadable_mlmodel(
    mlflow_proxied: MlflowServer, new_model: NewModel, drop: str
) -> None:
    """A proxying server that stops answering mid-run fails the run (exit 2): it must not lock the version as if its
    MLmodel could never be read, which a later `lock` would not read again."""
    name = new_model(versions=1)
    with flaky_server(mlflow_proxied.stack.tracking_uri, failures=0, drop=drop) as flaky:
        registry = MlflowRegistry(flaky.url, http=HttpSettings(retries=0, backoff=0))
        with pytest.raises(RegistryUnavailable) as caught:
            registry.resolve([q(name, "latest")])
    assert str(caught.value).startswith(f"cannot use the MLflow registry at {flaky.url}: ")
    assert caught.value.exit_code == 2


def test_gate_facts_of_a_version_the_registry_lacks_say_so(mlflow_proxied: MlflowServer, new_model: NewModel) -> None:
    """A locked version deleted in MLflow: `status` must not show it as one that did not log its metrics."""
    name = new_model(versions=1)
    facts = MlflowFacts(mlflow_proxied.stack.tracking_uri).facts(
        [(name, "1"), (name, "9")], signature=False, metrics={}
    )
    assert facts[(name, "9")] == Facts({}, None, missing=True)
    assert not facts[(name, "1")].missing


@pytest.mark.parametrize("status", [429, 500, 503])
def test_persistent_errors_are_unavailable_after_the_retries(status: int) -> None:
    with flaky_server(status=status) as flaky:
        registry = MlflowRegistry(flaky.url, http=HttpSettings(retries=2, backoff=0))
        with pytest.raises(RegistryUnavailable) as caught:
            registry.resolve([q("fraud", "latest")])
    assert str(caught.value).splitlines()[0] == (
        f"cannot use the MLflow registry at {flaky.url}: too many {status} error responses"
    )
    assert flaky.hits == 3


@pytest.mark.parametrize(
    ("mode", "cause"),
    [
        ("not-http", "the server does not answer in HTTP (its first line: 'SSH-2.0-OpenSSH_8.9')"),
        ("hang", "no answer in time (KSERVE_GITOPS_HTTP_CONNECT_TIMEOUT, KSERVE_GITOPS_HTTP_READ_TIMEOUT)"),
        ("reset", "Connection reset by peer"),
    ],
)
def test_a_broken_server_is_named_by_the_cause_not_by_mlflows_words_around_it(mode: Mode, cause: str) -> None:
    """mlflow writes the failed request's URL, then the cause: a long URL cut the cause off."""
    with faulty(Fault(mode)) as url, pytest.raises(RegistryUnavailable) as caught:
        MlflowRegistry(url, http=HttpSettings(retries=0, backoff=0, read_timeout=1)).resolve([q("fraud", "latest")])
    assert str(caught.value).splitlines()[0] == f"cannot use the MLflow registry at {url}: {cause}"


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_mlflow_does_not_know_is_one_error_and_nothing_else_on_stderr(
    status: int, capfd: pytest.CaptureFixture[str]
) -> None:
    """An authenticating proxy in front of MLflow answers with its own error code: MLflow logs a warning about it
    to stderr, which would stand above the one line that says what is wrong."""
    proxy = Fault("status", status=status, body={"error_code": "PROXY_DENIED", "message": "token expired"})
    with faulty(proxy) as url, pytest.raises(RegistryUnavailable) as caught:
        MlflowRegistry(url, http=HttpSettings(retries=0, backoff=0)).resolve([q("fraud", "latest")])
    assert "PROXY_DENIED: token expired" in str(caught.value)
    assert capfd.readouterr().err == ""


def test_no_tracking_uri_is_unavailable() -> None:
    with pytest.raises(RegistryUnavailable, match="no MLflow tracking URI"):
        MlflowRegistry()


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("databricks", "Databricks registries are not supported"),
        ("databricks://my-profile", "Databricks registries are not supported"),
        ("databricks-uc", "Databricks registries are not supported"),
        ("file:///tmp/mlruns", "a local directory is MLflow's file store"),
        ("mlflow.example.com", "a local directory is MLflow's file store"),  # a host without its scheme
        ("sqlite:///mlflow.db", "no database file 'mlflow.db' is there, and MLflow would create an empty one"),
        ("https://", "it names no host"),
        ("postgresql+nodriver://bob:s3cret@127.0.0.1:9/mlflow", "its database driver cannot be loaded"),
        ("ftp://mlflow.example.com", "'ftp:' is not an MLflow registry"),
        ("http://bob:s3cret@127.0.0.1:5000/ x", "it holds whitespace or a control character"),
        ("http://127.0.0.1:5000\n", "it holds whitespace or a control character"),
    ],
)
def test_a_uri_naming_no_registry_we_can_use_is_refused_before_mlflow_sees_it(
    uri: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's client would fail on these in its own words (a traceback where a command did not expect it), wait for
    Databricks credentials, or create ./mlflow.db or ./mlruns in the repository: refused in ours, naming the setting,
    writing nothing."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-s3cret")
    with pytest.raises(RegistryUnavailable) as caught:
        MlflowRegistry(uri)
    message = str(caught.value)
    assert message.startswith("cannot use the MLflow registry at ")
    assert problem in message.splitlines()[0]
    assert "fix: set MLFLOW_TRACKING_URI (or registry.trackingUri in models.yaml) to " in message
    assert "s3cret" not in message
    assert caught.value.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_a_databricks_registry_uri_is_refused_whatever_the_tracking_uri(
    mlflow_proxied: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's client asks MLFLOW_REGISTRY_URI, when set, for every registry call: a Unity Catalog registry behind a
    working tracking server would fail each search in words that blame the server."""
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "databricks-uc")
    with pytest.raises(RegistryUnavailable) as caught:
        MlflowRegistry(mlflow_proxied.stack.tracking_uri)
    assert str(caught.value).startswith("cannot use the MLflow registry at databricks-uc: Databricks registries")
    assert "fix: unset MLFLOW_REGISTRY_URI" in str(caught.value)


def test_name_filters_fit_a_url_and_a_page() -> None:
    names = [f"m{i}" for i in range(2500)] + ["x" * 3000, "y" * 3000]
    filters = _in_filters(names)
    assert len(filters) > 3
    assert all(len(quote(f)) <= _FILTER_BUDGET + len(quote("name IN ()")) for f in filters)
    assert ", ".join(f.removeprefix("name IN (").removesuffix(")") for f in filters) == ", ".join(map(repr, names))
