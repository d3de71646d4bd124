from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from generator import pipeline
from generator.cli import _build, _options
from generator.compat import load
from generator.compat.run import Report, plan_checks, record, run_checks, summary
from generator.error_handler import run
from generator.lock import io as lock_io
from generator.platform.runtimes import RuntimeImage
from generator.spec.load import load_spec
from generator.write import plan

NAME = "compat"
HELP = ("Load each locked model version not yet checked on its runtime image the way KServe will: download the "
        "artifact, load it with MLServer's MLflow runtime and the image's own MLflow and Python, send the V2 "
        "request built from its signature, and record the verdict and the image in models.lock. Exit 1 if a "
        "version does not load (now or as recorded), 2 if it cannot be checked (artifact unreadable, no docker).")
EXAMPLE = ("Examples: kserve-gitops compat  |  kserve-gitops compat wine-classifier --env prod  |  "
           "kserve-gitops compat wine-classifier --docker")

Model = Annotated[str, typer.Argument(help="InferenceService name (a key under models:). Default: every model.",
                                      show_default=False)]
Env = Annotated[str, typer.Option("--env", help="Only this environment. Default: every environment.",
                                  show_default=False)]
Recheck = Annotated[bool, typer.Option(
    "--recheck", help="Load versions again that models.lock already records as checked on their image.")]
Docker = Annotated[bool, typer.Option(
    "--docker", help="Run the exact runtime image with docker. Default: a cached virtualenv with the image's pinned "
                     "MLServer, MLflow and libraries.")]


def command(ctx: typer.Context, model: Model = "", env: Env = "", docker: Docker = False, recheck: Recheck = False,
            repo: _options.Repo = None) -> None:
    root = _build.repo_root(repo)

    def job() -> int:
        spec, warnings = load_spec(root / pipeline.SPEC_FILE, pipeline.SPEC_FILE)
        _build.warn(warnings)
        old = lock_io.read(root / pipeline.LOCK_FILE)
        checks, skipped, recorded_failure = plan_checks(spec, old, model, env, recheck=recheck)
        tracking = os.environ.get("MLFLOW_TRACKING_URI") or spec.tracking_uri

        def fetch(uri: str, destination: Path, what: str) -> Path:
            if docker:
                load.docker_command(what)  # refuse before downloading anything
            return load.download(uri, destination, tracking, what=what)

        def probe(image: str, facts: RuntimeImage | None, model_dir: Path, request: dict[str, Any] | None,
                  what: str) -> load.Probed:
            if docker:
                return load.in_docker(image, model_dir, request, what=what)
            assert facts is not None  # run_checks refuses unknown images without docker
            return load.in_environment(facts, model_dir, request)

        report = Report(run_checks(checks, download=fetch, load=probe, docker=docker), skipped, recorded_failure)
        print("\n".join(summary(report)))
        new = record(old, report.results)
        written = plan(root, {pipeline.LOCK_FILE: lock_io.dumps(new)})
        if not written.empty:
            _build.finish(root, written, check=False, fix="")
        return 1 if report.failed else 0

    raise typer.Exit(run(job, debug=ctx.obj["debug"]))
