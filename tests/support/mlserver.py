"""A real MLServer with mlserver-mlflow, the server KServe's `kserve-mlserver` runtime runs, on loopback.

Its environment is the one `kserve-gitops compat` loads models in: the pins the
runtime image docker.io/seldonio/mlserver:1.7.1 installs (MLflow 2.19.0,
scikit-learn 1.5.2, ...; generator/platform/runtimes.py), on Python 3.10 when one is
found, built once and cached under `$XDG_CACHE_HOME/kserve-gitops/`. Never this
project's MLflow: a model this project logs must load with the image's.

The server is configured as KServe configures it: one model, named after the
InferenceService, whose `uri` is the directory the storage initializer filled
(KServe: /mnt/models), served by `mlserver_mlflow.MLflowRuntime` with the default
worker pool.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devtools.stack import LOOPBACK, QUIET_ENV, free_port, stop_group, wait_http
from generator.compat.environment import runtime_environment
from generator.platform.runtimes import MLSERVER_1_7_1

IMAGE = MLSERVER_1_7_1  # what KServe v0.20.0's kustomize install runs for kserve-mlserver
START_TIMEOUT = 120.0


def mlserver_venv(cache: Path | None = None) -> Path:
    """The runtime image's environment, built if missing."""
    return runtime_environment(IMAGE, cache).root


@dataclass(frozen=True)
class MLServer:
    url: str  # http://127.0.0.1:<port>, what --url takes
    name: str  # the V2 model name
    log: Path
    start_seconds: float


@contextlib.contextmanager
def serve(venv: Path, model_dir: Path, name: str, workdir: Path) -> Iterator[MLServer]:
    """`mlserver start` on free loopback ports until the block ends; the whole process group is stopped."""
    workdir.mkdir(parents=True, exist_ok=True)
    http = free_port()
    settings = {"host": LOOPBACK, "http_port": http, "grpc_port": free_port(), "metrics_port": free_port()}
    (workdir / "settings.json").write_text(json.dumps(settings))
    (workdir / "model-settings.json").write_text(
        json.dumps(
            {"name": name, "implementation": "mlserver_mlflow.MLflowRuntime", "parameters": {"uri": str(model_dir)}}
        )
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_", "MLSERVER_"))}
    log = workdir / "mlserver.log"
    began = time.monotonic()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(venv / "bin" / "mlserver"), "start", str(workdir)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean | QUIET_ENV,
            cwd=workdir,
            start_new_session=True,
        )
    url = f"http://{LOOPBACK}:{http}"
    try:
        # The model's own readiness: /v2/health/ready is true whenever no model is registered, including
        # after a failed load, which MLServer answers by removing the model.
        wait_http(f"{url}/v2/models/{name}/ready", proc, log, time.monotonic() + START_TIMEOUT)
        yield MLServer(url, name, log, time.monotonic() - began)
    finally:
        stop_group(proc)
