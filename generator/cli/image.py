"""`kserve-gitops image pending|context|record`: model images for `method: image`, from build to models.lock.

The images workflow (.github/workflows/images.yml) runs them in this order: which versions still need an
image, MLflow's build context for one, and, after `docker build` and push, the digest into the lock, so
the manifests Argo CD syncs name the exact image that was built (docs/image-method.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from generator.cli import _build, _options
from generator.cli._report import CommandReport, emit
from generator.registry import image_context
from generator.spec import SPEC_FILE

app = typer.Typer(
    help="Model images for `method: image`: list what needs building, write MLflow's build context, record the "
    "pushed digest in models.lock.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

Model = Annotated[str, typer.Argument(help="InferenceService name (a key under models:).", show_default=False)]
Version = Annotated[int, typer.Argument(help="Registered model version the image holds.", min=1, show_default=False)]
Digest = Annotated[str, typer.Argument(help="The pushed image's digest, sha256:<64 hex>.", show_default=False)]
Env = Annotated[str, typer.Option("--env", help="Environment whose lock entry names the version.", show_default=False)]
BuildDir = Annotated[
    Path,
    typer.Option(
        "--output",
        help="New or empty directory for the Dockerfile and model_dir/ (nothing else may be built into the image).",
        file_okay=False,
        show_default=False,
    ),
]


@app.command("pending", epilog="Example: kserve-gitops image pending -o json")
def pending(ctx: typer.Context, repo: _options.Repo = None, output: _options.Output = "text") -> None:
    """List the image-method versions in models.lock that have no recorded digest yet (one per image tag)."""
    from generator import pipeline  # noqa: PLC0415 -- only when the command runs: `--help` stays light

    root = _build.repo_root(repo)
    with _build.in_session(ctx, root, write_tree=False):
        found = pipeline.pending_images(root)
        emit(
            ctx,
            CommandReport(
                text="".join(f"{image.tag}\n" for image in found),
                fields={"pending": [image.as_dict() for image in found]},
            ),
        )


@app.command("context", epilog="Example: kserve-gitops image context wine-classifier --env prod --output build/")
def context(
    ctx: typer.Context,
    model: Model,
    env: Env,
    output: BuildDir,
    repo: _options.Repo = None,
    output_format: _options.Output = "text",
) -> None:
    """Write the Docker build context for MODEL's locked version in ENV with `mlflow models generate-dockerfile`
    (needs MLFLOW_TRACKING_URI and credentials), then print the tag to push it as. The output directory must be
    new or empty; it appears only once complete, within KSERVE_GITOPS_HTTP_DOWNLOAD_DEADLINE seconds."""
    from generator import pipeline  # noqa: PLC0415
    from generator.lock.images import image_tag  # noqa: PLC0415
    from generator.spec.load import load_spec  # noqa: PLC0415

    root = _build.repo_root(repo)
    with _build.in_session(ctx, root, write_tree=False):
        target, entry = pipeline.image_target(root, model, env)
        spec, warnings = load_spec(root / SPEC_FILE, SPEC_FILE)
        tracking = os.environ.get("MLFLOW_TRACKING_URI") or spec.tracking_uri
        # absolute, not resolved: a symbolic link as --output stays one, which `generate` refuses, instead of the
        # context being written wherever it points
        image_context.generate(entry.registered_model, entry.version, output.absolute(), tracking_uri=tracking)
        tag = image_tag(target, entry)
        emit(
            ctx,
            CommandReport(
                warnings,
                f"{tag}\n",
                {
                    "tag": tag,
                    "registeredModel": entry.registered_model,
                    "version": entry.version,
                    "directory": str(output.absolute()),
                },
            ),
        )


@app.command("record", epilog="Example: kserve-gitops image record wine-classifier 3 sha256:0123…")
def record(
    ctx: typer.Context,
    model: Model,
    version: Version,
    digest: Digest,
    repo: _options.Repo = None,
    crd_dir: _options.CrdDir = None,
    output: _options.Output = "text",
) -> None:
    """Record DIGEST for every image-method lock entry of MODEL at VERSION and re-render: the manifests then pull
    `<tag>@<digest>`. Lock and manifests are written together, or not at all."""
    from generator import pipeline  # noqa: PLC0415

    root = _build.repo_root(repo)
    _build.write_outcome(
        ctx,
        root,
        lambda: pipeline.record_image(root, model, str(version), digest, crds=_build.crd_directory(root, crd_dir)),
    )
