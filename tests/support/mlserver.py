"""A real MLServer with mlserver-mlflow, the server KServe's `kserve-mlserver` runtime runs, on loopback.

MLServer 1.7.1 pins fastapi<0.116 and protobuf<7, which would downgrade this
project's venv, so it gets a venv of its own. It is built once per requirement
list (about two minutes and 950 MB the first time) and kept in
`$XDG_CACHE_HOME/kserve-gitops/` (default `~/.cache/kserve-gitops/`), outside the
repository; a file lock lets parallel test runs share it. mlflow, scikit-learn
and cloudpickle are pinned to this venv's versions, so the server unpickles the
model with the libraries that logged it, as a matching runtime image would.

The server is configured as KServe configures it: one model, named after the
InferenceService, whose `uri` is the directory the storage initializer filled
(KServe: /mnt/models), served by `mlserver_mlflow.MLflowRuntime` with the default
worker pool.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version as dist_version
from pathlib import Path

from devtools.stack import LOOPBACK, QUIET_ENV, free_port, stop_group, wait_http

MLSERVER_VERSION = "1.7.1"
# uvloop 0.22 makes MLServer 1.7.1's inference workers die at start
# ("There is no current event loop in thread 'MainThread'", SeldonIO/MLServer#2286).
UVLOOP = "uvloop<0.22"
START_TIMEOUT = 120.0


def requirements() -> list[str]:
    same_as_here = [f"{name}=={dist_version(name)}" for name in ("mlflow", "scikit-learn", "cloudpickle")]
    return [f"mlserver=={MLSERVER_VERSION}", f"mlserver-mlflow=={MLSERVER_VERSION}", UVLOOP, *same_as_here]


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kserve-gitops"


def mlserver_venv(cache: Path | None = None) -> Path:
    """The venv for `requirements()`, built if missing; its `.complete` file records the build time."""
    wanted = requirements()
    key = hashlib.sha256("\n".join([sys.version.split()[0], *wanted]).encode()).hexdigest()[:12]
    root = (cache or cache_dir()) / f"mlserver-venv-{key}"
    root.parent.mkdir(parents=True, exist_ok=True)
    with (root.parent / f"{root.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a parallel run waits here instead of building it twice
        if not (root / ".complete").exists():
            _build(root, wanted)
    return root


def _build(root: Path, wanted: list[str]) -> None:
    if sys.version_info >= (3, 13):
        raise RuntimeError(f"MLServer {MLSERVER_VERSION} supports Python < 3.13; this is {sys.version.split()[0]}")
    began = time.monotonic()
    shutil.rmtree(root, ignore_errors=True)  # a build that died half-way
    for argv in ([sys.executable, "-m", "venv", str(root)],
                 [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                  *wanted]):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
            raise RuntimeError(f"{' '.join(argv)} failed with exit code {done.returncode}:\n{tail}")
    (root / ".complete").write_text(f"built in {time.monotonic() - began:.0f} s\n" + "\n".join(wanted) + "\n")


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
    (workdir / "model-settings.json").write_text(json.dumps(
        {"name": name, "implementation": "mlserver_mlflow.MLflowRuntime", "parameters": {"uri": str(model_dir)}}))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_", "MLSERVER_"))}
    log = workdir / "mlserver.log"
    began = time.monotonic()
    with log.open("ab") as out:
        proc = subprocess.Popen([str(venv / "bin" / "mlserver"), "start", str(workdir)], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, env=clean | QUIET_ENV, cwd=workdir,
                                start_new_session=True)
    url = f"http://{LOOPBACK}:{http}"
    try:
        # The model's own readiness: /v2/health/ready is true whenever no model is registered, including
        # after a failed load, which MLServer answers by removing the model.
        wait_http(f"{url}/v2/models/{name}/ready", proc, log, time.monotonic() + START_TIMEOUT)
        yield MLServer(url, name, log, time.monotonic() - began)
    finally:
        stop_group(proc)

