"""The edges of a load check: download a locked artifact, and run the probe in the runtime image or its environment.

⚡ edge module. Downloading goes through MLflow's own artifact API, so every store MLflow
reads works (`s3://` with the standard AWS credential chain and MLFLOW_S3_ENDPOINT_URL,
`mlflow-artifacts:/`, `models:/`, `gs://` with its client installed). The probe
(`probe.py`) runs in the image itself under `docker`, or in a virtualenv with the image's
pins (`environment.py`); never with this project's MLflow.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.compat.environment import runtime_environment
from generator.errors import EnvironmentProblem, RegistryUnavailable, UserError
from generator.excerpt import excerpt
from generator.platform.runtimes import RuntimeImage
from generator.redact import credentials_of, redact
from generator.registry.uris import foreign_host, mlflow_cannot_read
from generator.util.proc import CommandError, run_cmd

PROBE = Path(__file__).with_name("probe.py")
LOAD_TIMEOUT = 600.0  # a large model's load, in a cold environment
DOCKER_TIMEOUT = 1800.0  # includes pulling the image
_REMOVE_TIMEOUT = 30.0  # seconds for the daemon to stop and remove a container left behind
_MOUNT = "/mnt/models"  # where KServe's storage initializer puts the model


@dataclass(frozen=True)
class Probed:
    """What the probe reported (`probe.py`), and where it ran."""

    environment: str  # "docker", or "virtualenv (Python X.Y.Z)"
    result: dict[str, Any]


def download(artifact_uri: str, destination: Path, tracking_uri: str, *, what: str) -> Path:
    """The whole model directory at `artifact_uri`; `what` names the model, version and image for messages."""
    import mlflow.artifacts  # noqa: PLC0415  (only commands that download pay for importing mlflow)

    from generator.registry import mlflow_http  # noqa: PLC0415  (requests, with mlflow)
    from generator.util.http_settings import HttpSettings  # noqa: PLC0415

    if (unreadable := mlflow_cannot_read(artifact_uri) or foreign_host(artifact_uri, tracking_uri)) is not None:
        raise UserError.simple(
            f"{what}: cannot download {redact(artifact_uri)}: {unreadable}",
            hint="the load check reads the artifact with MLflow's client: store the registry's artifacts in an object "
            "store (s3://, gs://) or behind a proxying MLflow server",
        )
    http = HttpSettings.from_env()
    deadlines = mlflow_http.Deadlines(http.download_deadline)
    fetch = deadlines.bound(f"{what}: downloading {redact(artifact_uri)}", mlflow.artifacts.download_artifacts)
    with mlflow_http.limited(http, {"MLFLOW_TRACKING_URI": tracking_uri} if tracking_uri else {}):
        try:
            model_dir = Path(deadlines.run(lambda: fetch(artifact_uri=artifact_uri, dst_path=str(destination))))
        except Exception as exc:  # each store fails its own way (mlflow, botocore, requests), or Overdue
            said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            reason = excerpt(said, 300, credentials_of(artifact_uri))
            raise RegistryUnavailable.simple(
                f"{what}: cannot download {redact(artifact_uri)}: {reason}",
                hint="the load check needs the artifact itself: set the store's credentials (AWS_* or an AWS "
                "profile, MLFLOW_S3_ENDPOINT_URL for S3-compatible stores; MLFLOW_TRACKING_URI and its "
                "credentials for mlflow-artifacts:/ and models:/)",
            ) from None
    if not (model_dir / "MLmodel").is_file():  # an empty prefix downloads as an empty directory
        raise RegistryUnavailable.simple(
            f"{what}: there is no MLmodel file at {redact(artifact_uri)}",
            hint="the artifact was moved or deleted; `kserve-gitops lock --update` "
            "re-reads where the version's files are",
        )
    return model_dir


def in_environment(image: RuntimeImage, model_dir: Path, request: dict[str, Any] | None) -> Probed:
    """Run the probe with the image's pinned packages in a cached virtualenv."""
    environment = runtime_environment(image)
    with tempfile.TemporaryDirectory(prefix="kserve-gitops-compat-") as scratch:
        result = _probe(
            [str(environment.interpreter), str(PROBE), str(model_dir)],
            Path(scratch),
            request,
            timeout=LOAD_TIMEOUT,
            what=image.reference,
        )
    return Probed(f"virtualenv (Python {environment.python})", result)


def docker_command(what: str) -> str:
    """The docker client, once its daemon answers; checked before anything is downloaded."""
    docker = shutil.which("docker")
    if docker is None:
        raise EnvironmentProblem.simple(
            f"{what}: --docker was asked for, but there is no `docker` on PATH",
            hint="install docker, or run without --docker: the load check then uses "
            "a virtualenv with the image's pinned packages",
        )
    try:
        run_cmd([docker, "version", "--format", "{{.Server.Version}}"], timeout=30)
    except CommandError as exc:
        last = (exc.stderr.strip().splitlines() or ["no output"])[-1]
        raise EnvironmentProblem.simple(
            f"{what}: --docker was asked for, but docker does not answer: {last}",
            hint="start the docker daemon, or run without --docker",
        ) from None
    return docker


def in_docker(
    image: str, model_dir: Path, request: dict[str, Any] | None, *, what: str, timeout: float = DOCKER_TIMEOUT
) -> Probed:
    """Run the probe in the image itself: the model read-only at /mnt/models, no network.

    A container outlives its client: stopping `docker run` (the timeout, Ctrl-C) leaves the probe loading in the
    daemon. So the container is named, and removed by that name unless the run ended by itself (`--rm` removes it
    then). `--init` gives it a PID 1 that passes the client's SIGTERM on: python as PID 1 would ignore it."""
    docker = docker_command(what)
    name = f"kserve-gitops-compat-{secrets.token_hex(8)}"
    with tempfile.TemporaryDirectory(prefix="kserve-gitops-compat-") as scratch:
        work = Path(scratch)
        shutil.copy(PROBE, work / "probe.py")
        argv = [
            docker,
            "run",
            "--rm",
            "--init",
            "--name",
            name,
            "--network",
            "none",
            "-v",
            f"{model_dir}:{_MOUNT}:ro",
            "-v",
            f"{work}:/probe",
            "--entrypoint",
            "python",
            image,
            "/probe/probe.py",
            _MOUNT,
        ]
        ended = False
        try:
            result = _probe(argv, work, request, timeout=timeout, what=what, inside="/probe")
            ended = True
        finally:
            if not ended:
                _removed(docker, name)
    return Probed("docker", result)


def _removed(docker: str, name: str) -> None:
    """`docker rm --force NAME`, best effort: the container may be gone already, or never have started."""
    with contextlib.suppress(CommandError):
        run_cmd([docker, "rm", "--force", name], timeout=_REMOVE_TIMEOUT)


def _probe(
    argv: list[str], work: Path, request: dict[str, Any] | None, *, timeout: float, what: str, inside: str = ""
) -> dict[str, Any]:
    """Run `argv` + REQUEST RESULT; `inside` is where `work` appears to the command (docker), else `work`."""
    seen = inside or str(work)
    request_arg = ""
    if request is not None:
        (work / "request.json").write_text(json.dumps(request), encoding="utf-8")
        request_arg = f"{seen}/request.json"
    try:
        run_cmd([*argv, request_arg, f"{seen}/result.json"], timeout=timeout, session=True)  # with what it starts
        loaded: dict[str, Any] = json.loads((work / "result.json").read_text(encoding="utf-8"))
    except (CommandError, OSError, ValueError) as exc:
        tail = "\n".join(str(exc).splitlines()[-12:])
        raise EnvironmentProblem.simple(
            f"{what}: the load check itself did not run to the end", hint=f"its output ends with:\n{redact(tail)}"
        ) from None
    return loaded
