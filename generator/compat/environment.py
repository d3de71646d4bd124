"""A virtualenv with what a runtime image has inside: its MLServer, its MLflow, its libraries. ⚡ edge module.

Where docker cannot run the image itself, this is the next best thing: the pins the
image installs (`RuntimeImage.packages`), never this project's own MLflow, on an
interpreter of the image's Python minor version when one is found. It is built once
per image and interpreter (minutes and about 1 GB the first time) and kept in
`$XDG_CACHE_HOME/kserve-gitops/` (default `~/.cache/kserve-gitops/`), outside any
repository; a file lock lets parallel runs share it.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from generator.errors import EnvironmentProblem
from generator.platform.runtimes import RuntimeImage
from generator.util.proc import CommandError, run_cmd

PYTHON_VARIABLE = "KSERVE_GITOPS_RUNTIME_PYTHON"  # an interpreter to build runtime environments with
BUILD_TIMEOUT = 1200.0  # pip downloads ~1 GB the first time
_PROBE_TIMEOUT = 20.0


@dataclass(frozen=True)
class RuntimeEnvironment:
    root: Path
    python: str  # the interpreter version inside, e.g. "3.10.13"

    @property
    def interpreter(self) -> Path:
        return self.root / "bin" / "python"


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kserve-gitops"


def runtime_environment(image: RuntimeImage, cache: Path | None = None) -> RuntimeEnvironment:
    """The environment for `image`, built if missing; its `.complete` file lists what was installed."""
    base = cache or cache_dir()
    base.mkdir(parents=True, exist_ok=True)
    interpreter, version = _interpreter(image, base)
    key = hashlib.sha256("\n".join([image.reference, version, *image.packages]).encode()).hexdigest()[:12]
    root = base / f"runtime-{key}"
    with (root.parent / f"{root.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a parallel run waits here instead of building it twice
        if not (root / ".complete").exists():
            _build(root, interpreter, image)
    return RuntimeEnvironment(root, version)


def _interpreter(image: RuntimeImage, workdir: Path) -> tuple[str, str]:
    """An interpreter of the image's Python minor version; else this one, if the image's server supports it.
    Each is asked in `workdir`, a directory of ours, not the repository's (run in CI on a pull request): Python puts
    its working directory first on the path of `-c` and `-m`, and a pyenv shim reads `.python-version` there.

    Candidates: $KSERVE_GITOPS_RUNTIME_PYTHON, `pythonX.Y` on PATH, then pyenv's versions directory
    (a pyenv shim on PATH refuses versions that are installed but not selected).
    """
    wanted = image.python_minor
    pyenv = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates = [
        os.environ.get(PYTHON_VARIABLE, ""),
        shutil.which(f"python{wanted}") or "",
        *sorted(glob.glob(f"{pyenv}/versions/{wanted}.*/bin/python{wanted}"), reverse=True),
    ]
    for candidate in filter(None, candidates):
        try:
            version = run_cmd(
                [candidate, "-c", "import sys; print('.'.join(map(str, sys.version_info[:3])))"],
                cwd=workdir,
                timeout=_PROBE_TIMEOUT,
            ).strip()
        except CommandError:
            continue
        if ".".join(version.split(".")[:2]) == wanted:
            return candidate, version
    here = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info >= (3, 13):
        raise EnvironmentProblem.simple(
            f"no Python {wanted} interpreter found to build {image.reference}'s environment, and this Python "
            f"({here}) is newer than its MLServer supports",
            hint=f"install Python {wanted} and set {PYTHON_VARIABLE} to it, or run with --docker",
        )
    return sys.executable, here


def _build(root: Path, interpreter: str, image: RuntimeImage) -> None:
    began = time.monotonic()
    shutil.rmtree(root, ignore_errors=True)  # a build that died half-way
    steps = (
        [interpreter, "-m", "venv", str(root)],
        [
            str(root / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *image.packages,
        ],
    )
    try:
        for argv in steps:
            # ours: `-m venv`, `-m pip` (see _interpreter); a session, so a timeout also stops the builds pip started
            run_cmd(argv, cwd=root.parent, timeout=BUILD_TIMEOUT, session=True)
    except CommandError as exc:
        tail = "\n".join((exc.stdout + exc.stderr).splitlines()[-15:])
        raise EnvironmentProblem.simple(
            f"cannot build the environment of {image.reference} ({' '.join(image.packages)}): exit code {exc.rc}",
            hint=f"pip said:\n{tail}\n(needs the package index; or run with --docker)",
        ) from None
    (root / ".complete").write_text(
        f"{image.reference}\nbuilt in {time.monotonic() - began:.0f} s\n" + "\n".join(image.packages) + "\n"
    )
