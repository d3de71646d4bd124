"""A Docker build context for one registered model version, made by MLflow's own tooling.

`mlflow models generate-dockerfile` downloads the version into `<dir>/model_dir` and writes a Dockerfile
whose entrypoint is MLflow's scoring server (`/invocations`, `/ping` on port 8080), the protocol the
rendered `method: image` InferenceService declares. MLflow writes it, so it stays what MLflow serves
(MLflow 3.13+ has no MLServer option: the image always speaks MLflow's scoring protocol).

Run as a subprocess of this very Python, so the mlflow that builds the context is the one kserve-gitops
was installed with; MLflow reads its tracking URI and credentials from the environment.
"""

from __future__ import annotations

import sys
from pathlib import Path

from generator.errors import EnvironmentProblem
from generator.util.environ import scoped_environ
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


def generate(registered_model: str, version: str, output: Path, *, tracking_uri: str) -> None:
    """Write the build context to `output`; an EnvironmentProblem with MLflow's own output if it fails."""
    environ = {"MLFLOW_TRACKING_URI": tracking_uri} if tracking_uri else {}
    try:
        with scoped_environ(environ):
            run_cmd(command(registered_model, version, output))
    except CommandError as exc:
        raise EnvironmentProblem.simple(
            f"MLflow could not generate the build context for {model_uri(registered_model, version)}:\n"
            f"{_tail(exc.stderr or exc.stdout)}",
            hint="check MLFLOW_TRACKING_URI and the registry credentials (MLFLOW_TRACKING_TOKEN or "
            "MLFLOW_TRACKING_USERNAME/PASSWORD), and that the version exists",
        ) from None
    if not (output / "Dockerfile").is_file():
        raise EnvironmentProblem.simple(f"MLflow reported success but wrote no Dockerfile to {output}")


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(no output)"
