"""The storage initializer, run as KServe runs it, against the real MLflow test servers.

KServe starts the image's entrypoint with two arguments, the storageUri and /mnt/models, and the
environment the ClusterStorageContainer declares. So each test runs `python -m storage_initializer`
as a subprocess with the Dockerfile's own ENV plus only the MLflow (and, for direct S3, AWS)
variables the ConfigMap and Secret would hold. Then the downloaded directory is loaded the way
kserve-mlserver loads /mnt/models, with `mlflow.pyfunc.load_model`, and must predict exactly what
the registered version predicts. The Dockerfile itself cannot be built here (no container
engine), so its pins, entrypoint and lint are checked instead.
"""

from __future__ import annotations

import http.server
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from devtools.stack import free_port
from storage_initializer.fetch import MLMODEL, STAGING_PREFIX
from storage_initializer.uri import BadUri, ModelVersionRef, parse_models_uri
from tests.support.mlflow_server import MlflowServer, NewModel
from tests.support.paths import REPO_ROOT

IMAGE_DIR = REPO_ROOT / "images" / "storage-initializer"
DOCKERFILE = IMAGE_DIR / "Dockerfile"
EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE = 0, 1, 2
ON_BOTH_SERVERS = pytest.mark.parametrize(
    "server_fixture",
    [
        pytest.param("mlflow_proxied", id="proxied", marks=[pytest.mark.mlflow, pytest.mark.xdist_group("mlflow")]),
        pytest.param("mlflow_direct", id="direct", marks=[pytest.mark.mlflow, pytest.mark.xdist_group("mlflow")]),
    ],
)


# -- the Dockerfile, read as data -------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    logical = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in logical.splitlines()]
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.partition(" ") for line in lines if line and not line.startswith("#"))
    ]


def _one(instruction: str) -> str:
    found = [args for name, args in _instructions() if name == instruction]
    assert len(found) == 1, f"expected one {instruction} in {DOCKERFILE}, found {found}"
    return found[0]


def _image_env() -> dict[str, str]:
    """The image's ENV; PYTHONPATH=/app is where the image copies the package (here: the repo root)."""
    env = dict(item.split("=", 1) for name, args in _instructions() if name == "ENV" for item in shlex.split(args))
    assert env.pop("PYTHONPATH") == "/app", "the package is copied to /app"
    return env


def _pins() -> dict[str, str]:
    """`name==version` requirements of the image's pip install."""
    pins = {}
    for name, args in _instructions():
        if name == "RUN" and "pip install" in args:
            for word in shlex.split(args):
                if "==" in word:
                    req = Requirement(word)
                    (spec,) = req.specifier
                    assert spec.operator == "==", word
                    pins[req.name] = spec.version
    return pins


def _pyproject_requirement(name: str) -> Requirement:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    reqs = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    found = [Requirement(r) for r in reqs if Requirement(r).name == name]
    assert found, f"{name} is not a dependency in pyproject.toml"
    return found[0]


def test_image_pins_the_mlflow_skinny_the_tests_run_and_pyproject_allows() -> None:
    pins = _pins()
    assert pins["mlflow-skinny"] == dist_version("mlflow-skinny")
    assert _pyproject_requirement("mlflow-skinny").specifier.contains(pins["mlflow-skinny"])
    assert _pyproject_requirement("boto3").specifier.contains(pins["boto3"])


def test_image_runs_the_package_as_a_non_root_user() -> None:
    assert json.loads(_one("ENTRYPOINT")) == ["python", "-m", "storage_initializer"]
    assert importlib.util.find_spec("storage_initializer.__main__") is not None
    assert _one("COPY").split() == ["storage_initializer/", "/app/storage_initializer/"]
    assert _one("WORKDIR") == "/app"
    user, _, group = _one("USER").partition(":")
    assert user.isdigit() and int(user) != 0 and group.isdigit(), "numeric, so runAsNonRoot can check it"
    base = re.fullmatch(r"python:(\d+\.\d+)-slim", _one("FROM"))
    assert base, "a slim CPython base, by tag"
    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert Requirement(f"python{requires}").specifier.contains(base.group(1) + ".0")
    ignore = (IMAGE_DIR / "Dockerfile.dockerignore").read_text().split()
    assert ignore[ignore.index("*") + 1 :].count("!storage_initializer/") == 1, "the context is the package only"


# -- the URI: git must name the exact version -------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/wine/3", ModelVersionRef("wine", "3")),
        ("models:/Wine.Classifier 1a2b3c4d/12", ModelVersionRef("Wine.Classifier 1a2b3c4d", "12")),
        ("models:/fraud@eu?v=2#x %20/7", ModelVersionRef("fraud@eu?v=2#x %20", "7")),  # verbatim, never decoded
    ],
)
def test_uri_names_a_model_and_an_exact_version(uri: str, expected: ModelVersionRef) -> None:
    assert parse_models_uri(uri) == expected
    assert expected.uri == uri


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("models:/wine@champion", "is an alias, not a version"),
        ("models:/wine", "is a bare model name, not a version"),
        ("models:/wine/Production", "'Production' is a stage or 'latest'"),
        ("models:/wine/latest", "'latest' is a stage or 'latest'"),
        ("models:/wine/0", "'0' is not a positive version number"),
        ("models:/wine/03", "'03' is not a positive version number"),
        ("models:/wine/-1", "'-1' is not a positive version number"),
        ("models:/wine/\uff13", "is not a positive version number"),  # fullwidth 3: str.isdigit() says yes
        ("models:/wine/3/MLmodel", "has a path after the version"),
        ("models:/ /3", "does not name a registered model"),
        ("models://databricks/wine/3", "is not a models:/<name>/<version> URI"),
        ("s3://bucket/wine/3", "is not a models:/<name>/<version> URI"),
    ],
)
def test_uri_without_an_exact_version_is_refused(uri: str, reason: str) -> None:
    with pytest.raises(BadUri, match=re.escape(reason)):
        parse_models_uri(uri)


# -- the entrypoint, run as KServe runs it ----------------------------------------------------------


@dataclass(frozen=True)
class Run:
    code: int
    log: str  # stdout + stderr: everything the pod's log would show
    seconds: float


def run_initializer(uri: str, dest: Path, env: dict[str, str], *, timeout: float = 120) -> Run:
    """`python -m storage_initializer <uri> <dest>` with the image's ENV plus `env`, and nothing else."""
    # An empty HOME: no ~/.aws or ~/.mlflow of this machine may help the initializer.
    environment = _image_env() | {"PATH": os.defpath, "HOME": str(dest.parent)} | env
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "storage_initializer", uri, str(dest)],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(result.returncode, result.stdout + result.stderr, time.monotonic() - began)


def registry_env(server: MlflowServer, **extra: str) -> dict[str, str]:
    """What the ConfigMap and Secret hold: the tracking URI, and S3 access only for a direct server."""
    stack = server.stack
    return {"MLFLOW_TRACKING_URI": stack.tracking_uri} | (stack.s3_env if stack.mode == "direct" else {}) | extra


def wine_rows() -> Any:
    from sklearn.datasets import load_wine  # noqa: PLC0415

    features, _ = load_wine(return_X_y=True, as_frame=True)
    return features


def predictions(model_uri: str, server: MlflowServer) -> list[int]:
    import mlflow  # noqa: PLC0415

    with server.stack.client_environ():
        return [int(p) for p in mlflow.pyfunc.load_model(model_uri).predict(wine_rows())]


@ON_BOTH_SERVERS
def test_downloads_the_version_into_the_destination_where_it_loads_and_predicts_like_the_registry(
    server_fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server: MlflowServer = request.getfixturevalue(server_fixture)
    name = server.new_model(versions=2)  # "Wine.Classifier 1a2b3c4d": capitals, a dot and a space
    dest = tmp_path / "mnt" / "models"
    password, secret_key = f"pw-{uuid.uuid4().hex}", f"sk-{uuid.uuid4().hex}"
    env = registry_env(server, MLFLOW_TRACKING_USERNAME="kserve", MLFLOW_TRACKING_PASSWORD=password)
    if server.stack.mode == "direct":
        env["AWS_SECRET_ACCESS_KEY"] = secret_key  # moto takes any key; this one must never be logged

    run = run_initializer(f"models:/{name}/2", dest, env)

    assert run.code == EXIT_OK, run.log
    source = server.client.get_model_version_download_uri(name, "2")
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == server.stack.s3_keys(
        source
    ), "exactly the version's artifacts, MLmodel at the top"
    assert (dest / MLMODEL).is_file()
    assert not list(dest.glob(STAGING_PREFIX + "*"))
    assert password not in run.log and secret_key not in run.log
    assert f"fetched models:/{name}/2: " in run.log
    served = predictions(str(dest), server)
    assert set(served) <= {0, 1, 2}
    assert served == predictions(f"models:/{name}/2", server)
    print(f"{server.stack.mode}: storage initializer ran in {run.seconds:.2f}s")  # shown with -s / -rP


def test_names_mlflow_uris_cannot_carry_are_fetched_verbatim(
    mlflow_proxied: MlflowServer, new_model: NewModel, tmp_path: Path
) -> None:
    """Registered fine, yet MLflow's own models:/ parser reads `models:/Fraud@eu?…/1` as alias 'eu' of 'Fraud'."""
    name = new_model("Fraud@eu?v=2#x %20", versions=1)
    dest = tmp_path / "mnt" / "models"

    run = run_initializer(f"models:/{name}/1", dest, registry_env(mlflow_proxied))

    assert run.code == EXIT_OK, run.log
    assert (dest / MLMODEL).is_file()


def test_rerun_after_an_interrupted_download_replaces_what_it_left(
    mlflow_proxied: MlflowServer, new_model: NewModel, tmp_path: Path
) -> None:
    """An init container that failed runs again in the same pod, with the same emptyDir."""
    name = new_model(versions=1)
    dest = tmp_path / "mnt" / "models"
    (dest / f"{STAGING_PREFIX}old").mkdir(parents=True)
    (dest / f"{STAGING_PREFIX}old" / "model.pkl").write_text("half a file")
    (dest / MLMODEL).write_text("truncated")

    run = run_initializer(f"models:/{name}/1", dest, registry_env(mlflow_proxied))

    assert run.code == EXIT_OK, run.log
    assert not list(dest.glob(STAGING_PREFIX + "*"))
    assert "flavors:" in (dest / MLMODEL).read_text()


def test_alias_is_refused_before_any_request(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # asking it would end in exit 2, not 1

    run = run_initializer("models:/wine@champion", tmp_path / "mnt" / "models", {"MLFLOW_TRACKING_URI": dead})

    assert run.code == EXIT_REFUSED, run.log
    assert run.log == (
        "storage-initializer: error: 'models:/wine@champion' is an alias, not a version: the "
        "storageUri must name the exact version (models:/<name>/<version>) so git says what runs\n"
    )
    assert not (tmp_path / "mnt").exists()


def test_missing_tracking_uri_is_refused(tmp_path: Path) -> None:
    run = run_initializer("models:/wine/1", tmp_path / "mnt" / "models", {})

    assert run.code == EXIT_REFUSED
    assert "MLFLOW_TRACKING_URI is not set" in run.log


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("models:/{name}/7", "not found"),
        ("models:/{name} nope/1", "not found"),
    ],
)
def test_unknown_version_or_model_exits_1_with_one_line(
    uri: str, says: str, mlflow_proxied: MlflowServer, new_model: NewModel, tmp_path: Path
) -> None:
    uri = uri.format(name=new_model(versions=1))
    dest = tmp_path / "mnt" / "models"

    run = run_initializer(uri, dest, registry_env(mlflow_proxied))

    assert run.code == EXIT_REFUSED, run.log
    error = run.log.splitlines()[-1]
    assert error.startswith(f"storage-initializer: error: {uri}: ") and says in error, run.log
    assert not (dest / MLMODEL).exists()


def test_s3_store_without_credentials_is_refused(mlflow_direct: MlflowServer, tmp_path: Path) -> None:
    """A server with --no-serve-artifacts hands out s3:// URIs; without AWS_* the Secret is incomplete."""
    name = mlflow_direct.new_model(versions=1)
    env = {
        "MLFLOW_TRACKING_URI": mlflow_direct.stack.tracking_uri,
        "MLFLOW_S3_ENDPOINT_URL": mlflow_direct.stack.s3_endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
    }  # boto3 must not go looking for an instance role

    run = run_initializer(f"models:/{name}/1", tmp_path / "mnt" / "models", env)

    assert run.code == EXIT_REFUSED, run.log
    assert run.log.splitlines()[-1] == (
        f"storage-initializer: error: models:/{name}/1: Unable to locate credentials; "
        "S3 access comes from AWS_* in the Secret or the pod's IAM role"
    )


def test_dead_registry_exits_2_quickly(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"

    run = run_initializer(
        "models:/wine/1",
        tmp_path / "mnt" / "models",
        {"MLFLOW_TRACKING_URI": dead, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"},
        timeout=60,
    )

    assert run.code == EXIT_UNREACHABLE, run.log
    assert run.log.splitlines()[-1] == (
        "storage-initializer: error: cannot reach the registry or artifact store for models:/wine/1: Connection refused"
    )
    assert run.seconds < 30


class _FlakyProxy(http.server.ThreadingHTTPServer):
    """Forwards GETs to MLflow, but answers the first `failures` requests with 503 Service Unavailable."""

    def __init__(self, upstream: str, failures: int) -> None:
        super().__init__(("127.0.0.1", 0), _FlakyHandler)
        self.upstream, self.failures_left, self.lock = upstream, failures, threading.Lock()
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _FlakyHandler(http.server.BaseHTTPRequestHandler):
    server: _FlakyProxy

    def do_GET(self) -> None:
        with self.server.lock:
            fail = self.server.failures_left > 0
            self.server.failures_left -= fail
        status, body, kind = 503, b"", "text/plain"
        if not fail:
            try:
                with self.server.opener.open(self.server.upstream + self.path, timeout=30) as answer:
                    status, body, kind = answer.status, answer.read(), answer.headers.get("Content-Type", kind)
            except urllib.error.HTTPError as error:
                status, body, kind = error.code, error.read(), error.headers.get("Content-Type", kind)
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows stderr of failures
        pass


@pytest.fixture
def flaky_registry(mlflow_proxied: MlflowServer) -> Iterator[_FlakyProxy]:
    proxy = _FlakyProxy(mlflow_proxied.stack.tracking_uri, failures=2)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


def test_transient_503s_are_retried_by_mlflows_own_settings(
    flaky_registry: _FlakyProxy, new_model: NewModel, tmp_path: Path
) -> None:
    name = new_model(versions=1)
    dest = tmp_path / "mnt" / "models"
    retries = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
        "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
    }

    run = run_initializer(f"models:/{name}/1", dest, {"MLFLOW_TRACKING_URI": flaky_registry.url} | retries)

    assert run.code == EXIT_OK, run.log
    assert flaky_registry.failures_left == 0
    assert (dest / MLMODEL).is_file()


# -- hostile or broken answers, from small stand-in servers ----------------------------------------


class _Recorder(http.server.ThreadingHTTPServer):
    """Answers every GET with `answer(path)` (status, JSON) and records the Authorization header it got."""

    def __init__(self, answer: Any) -> None:
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        self.answer, self.authorizations = answer, list[str | None]()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    server: _Recorder

    def do_GET(self) -> None:
        self.server.authorizations.append(self.headers.get("Authorization"))
        status, payload = self.server.answer(self.path)
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorders() -> Iterator[Any]:
    started: list[_Recorder] = []

    def start(answer: Any) -> _Recorder:
        server = _Recorder(answer)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def _registry_storing_at(location: str) -> Any:
    """A registry whose version 1 of every model is READY and stored at `location`."""

    def answer(path: str) -> tuple[int, dict[str, Any]]:
        if "/model-versions/get-download-uri" in path:
            return 200, {"artifact_uri": location}
        if "/model-versions/get" in path:
            return 200, {"model_version": {"name": "wine", "version": "1", "status": "READY"}}
        if "/registered-models/get" in path:
            return 200, {"registered_model": {"name": "wine"}}
        return 200, {"files": [{"path": "MLmodel", "is_dir": False, "file_size": 2}]}

    return answer


@pytest.mark.parametrize(
    "location",
    ["{other}/api/2.0/mlflow-artifacts/artifacts/1/m/artifacts", "mlflow-artifacts://{other_host}/1/m/artifacts"],
    ids=["http", "mlflow-artifacts-with-host"],
)
def test_credentials_never_go_to_a_store_on_another_host_than_the_tracking_server(
    location: str, recorders: Any, tmp_path: Path
) -> None:
    """A version's source is whatever its registrant wrote; mlflow would send it the pod's token."""
    other = recorders(_registry_storing_at("mlflow-artifacts:/1/m/artifacts"))
    other_url = other.url.replace("127.0.0.1", "localhost")  # another host name, as a browser would see it
    location = location.format(other=other_url, other_host=other_url.removeprefix("http://"))
    registry = recorders(_registry_storing_at(location))
    token = f"tok-{uuid.uuid4().hex}"
    dest = tmp_path / "mnt" / "models"

    run = run_initializer(
        "models:/wine/1",
        dest,
        {"MLFLOW_TRACKING_URI": registry.url, "MLFLOW_TRACKING_TOKEN": token, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"},
        timeout=60,
    )

    assert other.authorizations == [], "nothing at all is asked of the other host"
    assert run.code == EXIT_REFUSED, run.log
    assert run.log.splitlines()[-1] == (
        f"storage-initializer: error: models:/wine/1 is stored at {location.split(':')[0]}://"
        f"{other_url.removeprefix('http://')}, "
        "not on the tracking server: refusing to send the registry's credentials to another host "
        f"(if it is yours: STORAGE_INITIALIZER_TRUSTED_HOSTS={other_url.removeprefix('http://')})"
    )
    assert token not in run.log
    assert not (dest / MLMODEL).exists()


@pytest.mark.parametrize(
    "malformed", ["{a}\r{b}", "{a}\n{b}\n", "{a}\u00e9{b}"], ids=["cr", "inner-newline", "non-ascii"]
)
def test_a_malformed_token_is_refused_without_being_printed(malformed: str, tmp_path: Path) -> None:
    """A Secret made from a file with Windows line endings or two lines: requests quotes the bad header."""
    halves = {"a": f"tok-{uuid.uuid4().hex}", "b": f"{uuid.uuid4().hex}-end"}
    token = malformed.format(**halves)
    dead = f"http://127.0.0.1:{free_port()}"

    run = run_initializer(
        "models:/wine/1",
        tmp_path / "mnt" / "models",
        {"MLFLOW_TRACKING_URI": dead, "MLFLOW_TRACKING_TOKEN": token, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"},
        timeout=60,
    )

    assert run.code in (EXIT_REFUSED, EXIT_UNREACHABLE), run.log
    assert run.log.splitlines()[-1].startswith("storage-initializer: error: "), run.log
    assert halves["a"] not in run.log and halves["b"] not in run.log, run.log


def test_a_password_with_an_unencoded_at_sign_in_the_tracking_uri_is_not_printed(tmp_path: Path) -> None:
    """urllib3 reads userinfo up to the authority's last `@`, so `https://u:p@ss@host` works, and must not leak `ss`."""
    tail = f"ss-{uuid.uuid4().hex}"
    port = free_port()

    run = run_initializer(
        "models:/wine/1",
        tmp_path / "mnt" / "models",
        {"MLFLOW_TRACKING_URI": f"http://kserve:p@{tail}@127.0.0.1:{port}", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"},
        timeout=60,
    )

    assert run.code == EXIT_UNREACHABLE, run.log
    assert tail not in run.log, run.log
    assert f"from http://***@127.0.0.1:{port} into " in run.log


class _TricklingHandler(_RecordingHandler):
    """A registry whose MLmodel never finishes: one byte every half second, each well within any read timeout."""

    def do_GET(self) -> None:
        if not self.path.endswith(f"/{MLMODEL}"):
            return super().do_GET()
        self.send_response(200)
        self.send_header("Content-Length", str(10**6))
        self.end_headers()
        for _ in range(240):  # two minutes at most, should the client never go away
            try:
                self.wfile.write(b"x")
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.5)
        return None


def test_a_download_that_never_ends_is_cut_at_the_deadline_with_exit_2(tmp_path: Path) -> None:
    """MLFLOW_HTTP_REQUEST_TIMEOUT bounds each read only; without a deadline the predictor would wait forever."""
    registry = _Recorder(_registry_storing_at("mlflow-artifacts:/1/m/artifacts"))
    registry.RequestHandlerClass = _TricklingHandler
    threading.Thread(target=registry.serve_forever, daemon=True).start()
    dest = tmp_path / "mnt" / "models"
    try:
        run = run_initializer(
            "models:/wine/1",
            dest,
            {
                "MLFLOW_TRACKING_URI": registry.url,
                "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
                "STORAGE_INITIALIZER_DEADLINE_SECONDS": "3",
            },
            timeout=60,
        )
    finally:
        registry.shutdown()
        registry.server_close()

    assert run.code == EXIT_UNREACHABLE, run.log
    assert run.log.splitlines()[-1] == (
        "storage-initializer: error: cannot reach the registry or artifact store for models:/wine/1: "
        "no complete answer within 3s (STORAGE_INITIALIZER_DEADLINE_SECONDS)"
    )
    assert run.seconds < 30
    assert not (dest / MLMODEL).exists(), "the predictor must not find a truncated model"


def test_a_deadline_that_is_not_a_number_is_refused(tmp_path: Path) -> None:
    run = run_initializer(
        "models:/wine/1",
        tmp_path / "mnt" / "models",
        {
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "STORAGE_INITIALIZER_DEADLINE_SECONDS": "1h",
        },
        timeout=60,
    )

    assert run.code == EXIT_REFUSED, run.log
    assert run.log.splitlines()[-1] == (
        "storage-initializer: error: STORAGE_INITIALIZER_DEADLINE_SECONDS='1h' is not a number of seconds "
        "(0: no deadline)"
    )


def test_a_store_that_keeps_answering_503_exits_2_like_a_registry_that_does(recorders: Any, tmp_path: Path) -> None:
    """The registry answers; the file download gets only 503s. Asking again may well work: that is exit 2, not 1."""
    registry_answer = _registry_storing_at("mlflow-artifacts:/1/m/artifacts")
    registry = recorders(
        lambda path: (503, {"error": "busy"}) if path.endswith(f"/{MLMODEL}") else registry_answer(path)
    )
    dest = tmp_path / "mnt" / "models"
    retries = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0"}

    run = run_initializer("models:/wine/1", dest, {"MLFLOW_TRACKING_URI": registry.url} | retries, timeout=60)

    assert run.code == EXIT_UNREACHABLE, run.log
    assert run.log.splitlines()[-1] == (
        "storage-initializer: error: cannot reach the registry or artifact store for models:/wine/1: "
        "too many 503 error responses"
    )
    assert not (dest / MLMODEL).exists()


def test_every_log_line_is_the_initializers_own_whatever_the_model_name_holds(recorders: Any, tmp_path: Path) -> None:
    """The name is taken verbatim, so a newline in it must not print a line that looks like a success."""
    registry = recorders(_registry_storing_at("mlflow-artifacts:/1/m/artifacts"))
    forged = "storage-initializer- fetched the model in 0.1s"  # no / nor :, which MLflow forbids in names

    run = run_initializer(
        f"models:/wine\n{forged}\r/1",
        tmp_path / "mnt" / "models",
        {"MLFLOW_TRACKING_URI": registry.url, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"},
        timeout=60,
    )

    assert run.code == EXIT_OK, run.log
    assert all(line.startswith("storage-initializer: ") for line in run.log.splitlines()), run.log
    assert f"fetched models:/wine\\n{forged}\\r/1: 1 files" in run.log


def test_an_artifact_server_listed_as_trusted_gets_the_credentials(recorders: Any, tmp_path: Path) -> None:
    """A separate `mlflow server --artifacts-only`, named in mlflow-artifacts://host/…, is the operator's own."""
    other = recorders(_registry_storing_at("mlflow-artifacts:/1/m/artifacts"))
    other_host = other.url.replace("127.0.0.1", "localhost").removeprefix("http://")
    registry = recorders(_registry_storing_at(f"mlflow-artifacts://{other_host}/1/m/artifacts"))
    env = {
        "MLFLOW_TRACKING_URI": registry.url,
        "MLFLOW_TRACKING_TOKEN": "tok",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "STORAGE_INITIALIZER_TRUSTED_HOSTS": f"elsewhere:1, {other_host.upper()}",
    }

    run = run_initializer("models:/wine/1", tmp_path / "mnt" / "models", env, timeout=60)

    assert run.code == EXIT_OK, run.log
    assert "Bearer tok" in other.authorizations
