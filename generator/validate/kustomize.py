"""Render an overlay with the real kustomize, as Argo CD will, and return its documents.

`kustomize build DIR` when a kustomize binary is on PATH, else the copy built into
kubectl (`kubectl kustomize DIR`). Validating kustomize's output rather than our own
files catches what only the build shows: broken patches, name prefixes, namespaces.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path
from typing import Any

from generator import yamlio
from generator.diagnostics import Diagnostic
from generator.errors import EnvironmentProblem, ValidationFailed
from generator.util.proc import CommandError, run_cmd


def kustomize_command() -> list[str]:
    """The build command available here, without the directory."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    raise EnvironmentProblem.simple(
        "neither kustomize nor kubectl is on PATH; both can build a kustomization",
        hint="install kubectl or kustomize (https://kubectl.docs.kubernetes.io/installation/)",
    )


# kubectl's log header (`E1130 05:10:28.576399   26308 run.go:72] `): a time and a process id that would make
# the same mistake read differently on every run.
_KLOG_HEADER = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [\w.-]+:\d+\] ", re.MULTILINE)


def kustomize_build(directory: Path) -> list[dict[str, Any]]:
    """The documents `kustomize build directory` prints, in order; empty documents dropped."""
    return yamlio.load_all(kustomize_output(directory))


def kustomize_output(directory: Path) -> str:
    """What `kustomize build directory` prints; raises ValidationFailed with kustomize's own error."""
    cmd = [*kustomize_command(), str(directory)]
    try:
        output = run_cmd(cmd)
    except CommandError as e:
        raise ValidationFailed(
            Diagnostic(
                file=str(directory),
                message=f"kustomize build failed: {_KLOG_HEADER.sub('', e.stderr).strip() or f'exit code {e.rc}'}",
                hint=f"fix the kustomization; `{shlex.join(cmd)}` reproduces this",
                rule="kustomize",
            )
        ) from e
    return output
