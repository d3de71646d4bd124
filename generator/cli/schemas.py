"""`kserve-gitops schemas fetch|verify`: the CRDs that manifests are validated against, fetched for the user.

CRDs are never committed to a platform repository; this puts the releases pinned in
models.yaml where `validate` and `generate` read them (`--crd-dir`, default schemas/crds).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from generator.cli import _build, _options
from generator.cli._report import CommandReport, changes, emit
from generator.crds import BASE_URL_ENV, CRD_LOCK_FILE, DEFAULT_BASE_URL
from generator.spec import SPEC_FILE

if TYPE_CHECKING:
    from generator.diagnostics import Diagnostic
    from generator.spec.model import Platform

app = typer.Typer(
    help="Fetch the KServe and Argo CD CRDs pinned in models.yaml (platform.kserveVersion, platform.argocdVersion) "
    "to schemas/crds, where validate and generate read them, and verify them offline.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

Dest = Annotated[
    Path | None,
    typer.Option(
        "--dest",
        help="Directory for the CRDs and crds.lock.yaml. Default: <repo>/schemas/crds, "
        "which validate and generate read (--crd-dir).",
        file_okay=False,
        show_default=False,
    ),
]
BaseUrl = Annotated[
    str,
    typer.Option(
        "--base-url",
        envvar=BASE_URL_ENV,
        callback=_options.masked_url,
        help="Where release files are read, as "
        "<base>/<owner>/<repo>/<tag>/<path>: a mirror or GitHub Enterprise (https://ghe.example.com/raw).",
    ),
]
Refresh = Annotated[
    bool,
    typer.Option(
        "--refresh",
        help="Download even when the files on disk match crds.lock.yaml (otherwise no "
        "network is used). Other bytes for the same version are still refused.",
    ),
]


@app.command(
    "fetch",
    help="Download the CRDs of the pinned releases and record their sha256 in crds.lock.yaml (trust on first use). "
    "Files already matching the lock are not downloaded. A version whose bytes differ from the lock is "
    "refused (exit 1) and nothing is written; an unknown version exits 1, an unreachable host exits 2.",
    epilog="Examples: kserve-gitops schemas fetch  |  kserve-gitops schemas fetch --refresh  |  "
    "kserve-gitops schemas fetch --base-url https://mirror.example.com/github-raw",
)
def fetch_command(
    ctx: typer.Context,
    repo: _options.Repo = None,
    dest: Dest = None,
    base_url: BaseUrl = DEFAULT_BASE_URL,
    refresh: Refresh = False,
    output: _options.Output = "text",
) -> None:
    from generator.crds import fetch as crds  # noqa: PLC0415 -- requests only for this command
    from generator.crds.sources import crd_files  # noqa: PLC0415 -- not for --help
    from generator.write import apply  # noqa: PLC0415

    root = _build.repo_root(repo)
    target, where = _destination(root, dest)
    platform, warnings = _platform(root)
    with _locked(ctx, target, write=True):
        plan = crds.fetch(target, crd_files(platform, base_url), where=where, refresh=refresh)
        fields: dict[str, object] = {"directory": where, "versions": _pinned(platform), "changes": changes(plan)}
        fields["written"] = not plan.empty
        if plan.empty:
            done = "downloaded again, identical" if refresh else "nothing downloaded (--refresh forces it)"
            emit(
                ctx,
                CommandReport(
                    warnings, f"{where}: {_versions(platform)} up to date with {CRD_LOCK_FILE}; {done}\n", fields
                ),
            )
        apply(target, plan)
    text = "".join(line.replace(" ", f" {where}/", 1) + "\n" for line in plan.summary())
    emit(ctx, CommandReport(warnings, f"{text}{where}: {_versions(platform)}\n", fields))


@app.command(
    "verify",
    help="Offline: check that the CRD files on disk are the ones crds.lock.yaml records for the versions "
    "models.yaml pins. Exit 1 on any difference (edited or missing file, version changed without a fetch).",
    epilog="Example (CI, after restoring schemas/crds): kserve-gitops schemas verify --repo ./platform",
)
def verify_command(
    ctx: typer.Context, repo: _options.Repo = None, dest: Dest = None, output: _options.Output = "text"
) -> None:
    from generator.crds import fetch as crds  # noqa: PLC0415
    from generator.crds.sources import crd_files  # noqa: PLC0415

    root = _build.repo_root(repo)
    target, where = _destination(root, dest)
    platform, warnings = _platform(root)
    files = crd_files(platform)
    with _locked(ctx, target, write=False):
        crds.verify(target, files, where=where)
    emit(
        ctx,
        CommandReport(
            warnings,
            f"{where}: {len(files)} files match {CRD_LOCK_FILE} ({_versions(platform)})\n",
            {"directory": where, "versions": _pinned(platform), "files": len(files)},
        ),
    )


@contextmanager
def _locked(ctx: typer.Context, target: Path, *, write: bool) -> Iterator[None]:
    """The CRD directory's own session, as the tree's (`_build.in_session`): fetches one after the other, a verify
    never in the middle of one, and what a killed fetch left half written finished or undone first (its journal
    is in the directory it writes). A first fetch creates the directory before locking it, so that two first
    fetches lock the same one; it is removed again if nothing was written into it."""
    from generator.crds.sources import WRITTEN  # noqa: PLC0415
    from generator.errors import EnvironmentProblem  # noqa: PLC0415 -- not for --help

    missing = [p for p in (target, *target.parents) if not p.exists() and not p.is_symlink()] if write else []
    try:
        if missing:
            target.mkdir(parents=True)
    except OSError as exc:
        raise EnvironmentProblem.simple(
            f"cannot create the CRD directory {target}: {exc.strerror or exc}",
            hint="give --dest a directory that can be created, or remove the file in its way",
        ) from None
    try:
        with _build.in_session(ctx, target, write_tree=write, outputs=lambda: WRITTEN):
            yield
    finally:
        with contextlib.suppress(OSError):  # not empty: the fetch wrote it
            for directory in missing:  # innermost first
                directory.rmdir()


def _destination(root: Path, dest: Path | None) -> tuple[Path, str]:
    """The directory `--crd-dir` would read, and how messages name it: relative to the repository when inside it.
    The repository's own (no --dest) is refused where a link leads it elsewhere: a commit may bring the link."""
    from generator.write import refuse_linked_directory  # noqa: PLC0415 -- not for --help

    if dest is None:
        refuse_linked_directory(root, _build.DEFAULT_CRD_DIR.as_posix())
    target = _build.crd_directory(root, dest)
    return target, target.relative_to(root).as_posix() if target.is_relative_to(root) else str(target)


def _platform(root: Path) -> tuple[Platform, list[Diagnostic]]:
    from generator.spec.load import load_spec  # noqa: PLC0415

    spec, warnings = load_spec(root / SPEC_FILE, SPEC_FILE)
    return spec.platform, warnings


def _pinned(platform: Platform) -> dict[str, str]:
    from generator.crds.sources import pinned  # noqa: PLC0415 -- not for --help

    return {project.title: version for project, version in pinned(platform)}


def _versions(platform: Platform) -> str:
    from generator.crds.sources import pinned  # noqa: PLC0415 -- not for --help

    return ", ".join(f"{project.title} {version}" for project, version in pinned(platform))
