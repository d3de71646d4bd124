"""A real MLflow tracking server with a moto S3 artifact store, on loopback.

The tests, the demo and the benchmark all use this one stack, so they exercise
the same components a user runs: MLflow's REST API and S3 artifacts, in either
artifact mode ("proxied": clients see `mlflow-artifacts:/…`; "direct": clients
see `s3://…` and talk to S3 themselves).

Both servers run as child processes in their own process groups, so `stop()`
leaves nothing behind, including gunicorn/uvicorn workers.

mlflow, boto3 and sklearn are imported where used: the test plugin imports this
module, and test runs that never start a server should not pay seconds for them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version as dist_version
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from generator.util.environ import scoped_environ

if TYPE_CHECKING:
    from mlflow import MlflowClient

ArtifactMode = Literal["proxied", "direct"]

BUCKET = "mlflow-artifacts"  # as in the example models.yaml (registry.artifactsDestination)
LOOPBACK = "127.0.0.1"
# Dummy credentials: moto accepts anything, and real AWS must never be reached.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}
_OWN_FILES = ("mlflow.db", "mlflow.log", "moto.log")


class StackError(RuntimeError):
    """A server did not come up; the message carries the tail of its log."""


class Stack:
    """moto S3 + MLflow tracking server; use as a context manager or start()/stop()."""

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        mode: ArtifactMode = "proxied",
        workers: int = 1,
        start_timeout: float = 60.0,
    ) -> None:
        self.mode: ArtifactMode = mode
        self._workdir = workdir
        self._tempdir: str | None = None
        self._workers = workers
        self._start_timeout = start_timeout
        self._procs: list[subprocess.Popen[bytes]] = []
        self.tracking_uri = ""
        self.s3_endpoint = ""
        self.artifacts_destination = f"s3://{BUCKET}/" + ("mlartifacts" if mode == "proxied" else "direct")
        self.start_seconds = 0.0

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            self._tempdir = tempfile.mkdtemp(prefix="mlflow-stack-")
            self._workdir = Path(self._tempdir)
        return self._workdir

    def start(self) -> Self:
        began = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name in _OWN_FILES:
            (self.workdir / name).unlink(missing_ok=True)
        try:
            moto, mlflow = self._spawn_moto(), self._spawn_mlflow()  # both boot in parallel
            deadline = time.monotonic() + self._start_timeout
            wait_http(f"{self.s3_endpoint}/moto-api/", moto, self._log("moto"), deadline)
            self.s3().create_bucket(Bucket=BUCKET)
            wait_http(f"{self.tracking_uri}/health", mlflow, self._log("mlflow"), deadline)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Terminate each server's whole process group; kill it if it lingers."""
        for proc in reversed(self._procs):
            stop_group(proc)
        self._procs.clear()
        if self._tempdir:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = self._workdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def s3_env(self) -> dict[str, str]:
        return {"MLFLOW_S3_ENDPOINT_URL": self.s3_endpoint, **AWS_ENV}

    @property
    def client_env(self) -> dict[str, str]:
        """What an MLflow client needs; in proxied mode it never talks to S3 itself."""
        env = {"MLFLOW_TRACKING_URI": self.tracking_uri, **QUIET_ENV}
        return env | self.s3_env if self.mode == "direct" else env

    @contextlib.contextmanager
    def client_environ(self) -> Iterator[None]:
        """Point this process's mlflow (fluent API, boto3) at the stack, then unset it again."""
        import mlflow  # noqa: PLC0415

        with scoped_environ(self.client_env | self.s3_env):
            mlflow.set_tracking_uri(self.tracking_uri)
            try:
                yield
            finally:
                mlflow.set_tracking_uri(None)  # type: ignore[arg-type]

    def client(self) -> MlflowClient:
        from mlflow import MlflowClient  # noqa: PLC0415

        return MlflowClient(tracking_uri=self.tracking_uri)

    def s3(self) -> Any:
        """A boto3 S3 client for the moto server (credentials passed, not read from env)."""
        import boto3  # noqa: PLC0415

        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            region_name=AWS_ENV["AWS_DEFAULT_REGION"],
        )

    def s3_url(self, uri: str) -> str:
        """The s3:// location behind a download URI (proxied URIs live under the destination)."""
        prefix = "mlflow-artifacts:/"
        if uri.startswith(prefix):
            return f"{self.artifacts_destination}/{uri.removeprefix(prefix).lstrip('/')}"
        return uri

    def s3_keys(self, uri: str) -> list[str]:
        """Object keys under a download URI, relative to it."""
        bucket, _, prefix = self.s3_url(uri).removeprefix("s3://").partition("/")
        pages = self.s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/")
        return sorted(
            obj["Key"].removeprefix(prefix.rstrip("/") + "/") for page in pages for obj in page.get("Contents", [])
        )

    def _spawn_moto(self) -> subprocess.Popen[bytes]:
        port = free_port()
        self.s3_endpoint = f"http://{LOOPBACK}:{port}"
        argv = [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)]
        return self._spawn("moto", argv, {})

    def _spawn_mlflow(self) -> subprocess.Popen[bytes]:
        port = free_port()
        self.tracking_uri = f"http://{LOOPBACK}:{port}"
        argv = [
            *[sys.executable, "-m", "mlflow", "server", "--host", LOOPBACK, "--port", str(port)],
            *["--workers", str(self._workers)],
            *["--backend-store-uri", f"sqlite:///{self.workdir / 'mlflow.db'}"],
            *(
                ["--artifacts-destination", self.artifacts_destination]
                if self.mode == "proxied"
                else ["--no-serve-artifacts", "--default-artifact-root", self.artifacts_destination]
            ),
        ]
        env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **self.s3_env}
        return self._spawn("mlflow", argv, env)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_"))}
        with self._log(name).open("ab") as log:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=clean | QUIET_ENV | env,
                cwd=self.workdir,
                start_new_session=True,
            )
        self._procs.append(proc)
        return proc

    def _log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"


def free_port() -> int:
    """A loopback port nothing holds, for a server that another process binds a moment later.

    Drawn at random outside the kernel's ephemeral range, never from it: a port the kernel
    hands out for `bind(port 0)` is as soon handed to the next outgoing connection of any
    process, which may hold it when the server binds. CI saw exactly that: MLServer's
    uvicorn exited with STARTUP_FAILURE (`loop.create_server` raised OSError) on such a
    port while the other test worker was busy with HTTP. Outside the range only another
    `free_port` can take the port before its server binds it, so a port is handed out once
    per process, and each pytest-xdist worker draws from its own share (a fresh clone's run
    saw two draws meet: MLflow's server then found its port in use).
    """
    ports = _share(_outside_ephemeral(), os.environ)
    if not ports:  # the kernel hands out every unprivileged port: only its own pick is left
        with socket.socket() as sock:
            sock.bind((LOOPBACK, 0))
            kernels: int = sock.getsockname()[1]
            return kernels
    for _ in range(100):
        port = ports[secrets.randbelow(len(ports))]
        if port not in _HANDED_OUT and _bindable(port):
            _HANDED_OUT.add(port)
            return port
    raise StackError(f"no free loopback port in {ports}")


_HANDED_OUT: set[int] = set()  # by this process: a server may not have bound one yet


def _share(ports: range, environ: Mapping[str, str]) -> range:
    """This process's share of `ports`: pytest-xdist's workers (gw0, gw1, ...) take every n-th port, each its own."""
    worker, count = environ.get("PYTEST_XDIST_WORKER", ""), environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if not (worker.startswith("gw") and worker[2:].isdigit() and count.isdigit() and int(count) > 1):
        return ports
    return ports[int(worker[2:]) % int(count) :: int(count)]


def _outside_ephemeral(ranges: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> range:
    """The larger stretch of unprivileged ports beside the ephemeral range (Linux's default where unreadable).

    Below it, ports under 20000 are left to the services a developer's machine runs.
    """
    try:
        low, high = (int(field) for field in ranges.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return max(range(20000, low), range(high + 1, 65536), key=len)


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    """Poll until the URL answers; fail early, with the log, if the server dies."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while proc.poll() is None:
        with contextlib.suppress(OSError):
            opener.open(url, timeout=1).close()
            return
        if time.monotonic() > deadline:
            raise StackError(f"{url} did not answer in time\n{_tail(log)}")
        time.sleep(0.1)
    raise StackError(f"server for {url} exited with {proc.returncode}\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    """The log's last lines, after any OS error it logged earlier: a server's warnings can push those out."""
    text = log.read_text(errors="replace").splitlines()
    errors = [line for line in text[:-lines] if "[Errno " in line][:5]
    return "\n".join([*errors, *(["[...]"] if errors else []), *text[-lines:]])


def stop_group(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(grace)
            break
        except subprocess.TimeoutExpired:
            continue
    # Workers may outlive their parent briefly; make sure the group is gone.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@dataclass(frozen=True)
class LoggedModel:
    """A logged model that registered versions can point at (`source`)."""

    model_uri: str
    run_id: str
    model_id: str


@functools.cache
def _wine_classifier(n_estimators: int) -> tuple[Any, Any]:
    from sklearn.datasets import load_wine  # noqa: PLC0415
    from sklearn.ensemble import RandomForestClassifier  # noqa: PLC0415

    features, labels = load_wine(return_X_y=True, as_frame=True)
    model = RandomForestClassifier(n_estimators=n_estimators, max_depth=3, random_state=0)
    return model.fit(features, labels), features


def log_wine_model(stack: Stack, *, n_estimators: int = 10, experiment: str = "wine") -> LoggedModel:
    """Train on sklearn's bundled wine data and log it in a format KServe's MLServer can load.

    cloudpickle, because MLflow 3 defaults to skops; explicit requirements, because
    inferring them spawns a subprocess and costs seconds.
    """
    import mlflow  # noqa: PLC0415
    from mlflow.models import infer_signature  # noqa: PLC0415

    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)  # the warning says "cloudpickle is unsafe"
    model, features = _wine_classifier(n_estimators)
    client = stack.client()
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    with stack.client_environ(), mlflow.start_run(experiment_id=experiment_id) as run:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="cloudpickle",
            input_example=features.head(3),
            signature=infer_signature(features, model.predict(features)),
            pip_requirements=[f"{d}=={dist_version(d)}" for d in ("scikit-learn", "cloudpickle")],
        )
    return LoggedModel(info.model_uri, run.info.run_id, info.model_id)


def seed_model(
    client: MlflowClient,
    name: str,
    logged: LoggedModel,
    *,
    versions: int = 3,
    aliases: dict[str, int] | None = None,
    stages: dict[int, str] | None = None,
) -> list[str]:
    """Register `versions` versions of `name` that share one logged artifact.

    `create_model_version(source=models:/m-…)` costs one request, where logging a
    model costs an upload; the server still records the artifact location, so
    `get_model_version_download_uri` answers as for a normally logged model.
    """
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    with contextlib.suppress(MlflowException):  # already exists: add versions to it
        client.create_registered_model(name)
    numbers = [
        client.create_model_version(
            name,
            source=logged.model_uri,
            run_id=logged.run_id,
            model_id=logged.model_id,
            await_creation_for=0,  # OSS versions are READY at once; polling costs a request
        ).version
        for _ in range(versions)
    ]
    for alias, version in (aliases or {}).items():
        client.set_registered_model_alias(name, alias, str(version))
    for version, stage in (stages or {}).items():
        client.transition_model_version_stage(name, str(version), stage)
    return [str(n) for n in numbers]


def seed_many(
    client: MlflowClient,
    logged: LoggedModel,
    names: Iterable[str],
    *,
    versions: int = 1,
    workers: int = 8,
) -> None:
    """Register many models concurrently (benchmarks): one request per model, plus one per version."""
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda name: seed_model(client, name, logged, versions=versions), names))
