"""A Docker build context for one registered model version, made by MLflow's own tooling.

`mlflow models generate-dockerfile` downloads the version into `<dir>/model_dir` and writes a Dockerfile
whose entrypoint is MLflow's scoring server (`/invocations`, `/ping` on port 8080), the protocol the
rendered `method: image` InferenceService declares. MLflow writes it, so it stays what MLflow serves
(MLflow 3.13+ has no MLServer option: the image always speaks MLflow's scoring protocol).

Run as a subprocess of this very Python, so the mlflow that builds the context is the one kserve-gitops
was installed with; MLflow reads its tracking URI and credentials from the environment.

The context is what `docker build` bakes into the image whose digest models.lock records, so it must hold
the locked version and nothing else: `generate` writes only to a new or empty directory (a file already
there, a stale `model_dir/` or someone's own Dockerfile, would end up in the image or be overwritten), and
MLflow writes into a staging directory beside it that is moved into place only once complete, so a failed,
stopped or interrupted run leaves no half-written context behind.

A model download is large, so the subprocess is bounded by `KSERVE_GITOPS_HTTP_DOWNLOAD_DEADLINE` and
stopped (with every process it started) past it; MLflow's own HTTP client inside it gets its timeouts and
retries from the same settings as every other MLflow call (`mlflow_http.environ`).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

from generator.errors import EnvironmentProblem, RegistryUnavailable, UserError
from generator.redact import redact
from generator.registry import mlflow_http
from generator.util.http_settings import HttpSettings, env_name
from generator.util.proc import CommandError, run_cmd


def model_uri(registered_model: str, version: str) -> str:
    """The exact version, never an alias: the image must hold what models.lock says."""
    return f"models:/{registered_model}/{version}"


def command(registered_model: str, version: str, output: Path) -> list[str]:
    return [
        sys.executable,
        "-P",  # not the working directory (the repository) first on the path, where an `mlflow/` would run instead
        "-m",
        "mlflow",
        "models",
        "generate-dockerfile",
        "--model-uri",
        model_uri(registered_model, version),
        "--output-directory",
        str(output),
    ]


def generate(
    registered_model: str, version: str, output: Path, *, tracking_uri: str, settings: HttpSettings | None = None
) -> None:
    """Write the build context to `output`, a new or empty directory; an EnvironmentProblem with MLflow's own
    output if it fails or does not finish within `settings.download_deadline`, and nothing at `output` then."""
    settings = settings or HttpSettings.from_env()
    require_empty(output)
    uri = model_uri(registered_model, version)
    environ = os.environ | mlflow_http.environ(settings)
    if tracking_uri:
        environ["MLFLOW_TRACKING_URI"] = tracking_uri
    if not environ.get("MLFLOW_TRACKING_URI"):
        # MLflow would fall back to a new sqlite:///mlflow.db in the working directory (the repository), create it,
        # and then say the registered model is not found there
        raise RegistryUnavailable.simple(
            f"reading {uri} needs an MLflow tracking server, and none is configured",
            hint="set MLFLOW_TRACKING_URI, or registry.trackingUri in models.yaml",
        )
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a directory goes, a read-only place
        raise UserError.simple(
            f"--output {output}: cannot create {output.parent}: {exc.strerror or exc}",
            hint="give a new or empty directory in a place this user can write, e.g. build/<model>-v<version>",
        ) from None
    server = redact(environ["MLFLOW_TRACKING_URI"])
    # beside `output`, so the move into place is a rename on the same file system
    with tempfile.TemporaryDirectory(prefix=f".{output.name}.", dir=output.parent) as scratch:
        staged = Path(scratch) / "context"  # created by MLflow, with the user's umask
        try:
            argv = command(registered_model, version, staged)
            run_cmd(argv, env=environ, timeout=settings.download_deadline, session=True)
        except CommandError as exc:
            raise _failed(exc, uri, server, settings.download_deadline) from None
        if not (staged / "Dockerfile").is_file():
            raise EnvironmentProblem.simple(f"MLflow reported success but wrote no Dockerfile for {uri}")
        require_empty(output)  # again: something may have been put there while MLflow ran
        os.replace(staged, output)  # replaces an empty directory, never a file or a non-empty one


def _failed(exc: CommandError, uri: str, server: str, deadline: float) -> UserError:
    said = _tail(redact(f"{exc.stdout}\n{exc.stderr}"))
    if exc.rc == 124:
        return EnvironmentProblem.simple(
            f"MLflow did not finish generating the build context for {uri} from the tracking server {server} "
            f"within {deadline:g} s; stopped\n{said}",
            hint="check that the tracking server is reachable; a large model over a slow link needs a longer "
            f"{env_name('download_deadline')} (seconds)",
        )
    return EnvironmentProblem.simple(
        f"MLflow could not generate the build context for {uri} from the tracking server {server}:\n{said}",
        hint="check MLFLOW_TRACKING_URI and the registry credentials (MLFLOW_TRACKING_TOKEN or "
        "MLFLOW_TRACKING_USERNAME/PASSWORD), and that the version exists",
    )


def require_empty(output: Path) -> None:
    """Exit 1 unless `output` is absent or an empty directory: what is there would be overwritten or built in."""
    if not output.exists() and not output.is_symlink():
        return
    if output.is_dir() and not output.is_symlink() and not any(output.iterdir()):
        return
    what = "is not a directory" if not output.is_dir() else "is not empty"
    raise UserError.simple(
        f"--output {output} {what}: the build context goes into a directory of its own, so the image holds "
        "exactly the locked version and nothing already there is overwritten",
        hint="give a new or empty directory, e.g. build/<model>-v<version>, or remove what is there",
    )


def _tail(text: str, lines: int = 8) -> str:
    """The end of what MLflow printed, without the frames of its tracebacks: the errors say what went wrong."""
    kept: list[str] = []
    frames = False
    for line in text.rstrip().splitlines():
        if line.startswith("Traceback (most recent call last)"):
            frames = True
        elif line.strip() and not (frames and line.startswith(" ")) and not _CHAINED.match(line):
            frames = False
            kept.append(line)
    return "\n".join(kept[-lines:]) or "(no output)"


_CHAINED = re.compile(r"(During handling of the above exception|The above exception was the direct cause)")
