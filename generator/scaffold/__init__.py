"""What `kserve-gitops init` writes: a platform repository a team can push as is.

The templates are package data, so `init` works from an installed release, offline. They
reference the same release: the workflows install `kserve-gitops==<this version>` through
its GitHub Action `<action repo>@v<this version>`, and models.yaml's `$schema` line points at
that tag. `schemas/crds/crds.lock.yaml` is the sha256 lock of the CRDs models.yaml pins,
exactly what `kserve-gitops schemas fetch` records, so the first fetch is already held to it.

`files` and `models_section` are pure; `refusal` only looks at the target directory, so `init`
decides everything before the atomic writer touches the disk.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from generator import __version__
from generator.diagnostics import Diagnostic, printable
from generator.errors import EnvironmentProblem, UserError
from generator.spec import SPEC_FILE
from generator.write import STATE_DIR

if TYPE_CHECKING:
    from generator.registry.base import Registered

DEFAULT_ACTION_REPO = "kserve-gitops/kserve-gitops"
CRD_LOCK = "schemas/crds/crds.lock.yaml"
IMAGES_WORKFLOW = ".github/workflows/images.yml"
# destination in the new repository → template in generator/scaffold/templates
TEMPLATES = {
    SPEC_FILE: "models.yaml",
    ".gitignore": "gitignore",
    ".github/workflows/checks.yml": "checks.yml",
    ".github/workflows/promote.yml": "promote.yml",
}
# A directory holding only these (what a new GitHub repository starts with) counts as empty.
# What a new repository may already hold, and this tool's own write state (what a killed run may leave behind).
NEW_REPOSITORY_FILES = re.compile(
    rf"\.git|\.gitignore|\.gitattributes|README(\..*)?|LICEN[CS]E(\..*)?|{re.escape(STATE_DIR)}", re.IGNORECASE
)
_ACTION_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")
NO_MODEL = "models: {}\n"  # the template's last line; `--from-registry` replaces it
# The template's environments, and the aliases that usually mean "serve this here", most specific first.
# `latest` is allowed in dev only (prod's policy forbids it).
ENV_ALIASES = {
    "dev": ("dev", "development", "challenger", "candidate"),
    "staging": ("staging", "challenger", "candidate", "champion"),
    "prod": ("prod", "production", "champion"),
}
# KServe's host label `<name>-predictor-<namespace>` has at most 63 characters; the template's longest
# namespace, models-staging, leaves 38 for the name.
_NAME_LIMIT = 38
_PLAIN_WORD = re.compile(r"[A-Za-z0-9_.-]+")  # an alias or version shown as it is in a comment


@dataclass(frozen=True)
class Options:
    """`action_repo`: the GitHub repository (OWNER/NAME) of the kserve-gitops action the workflows use."""

    action_repo: str = DEFAULT_ACTION_REPO
    version: str = __version__


def files(options: Options, *, images: bool, models: str = NO_MODEL) -> dict[str, bytes]:
    """Every scaffold file by its path in the new repository; the images workflow only for `method: image`.
    `models`: the `models:` section of models.yaml (default: none yet)."""
    if not _ACTION_REPO.fullmatch(options.action_repo):
        raise UserError.simple(
            f"--action-repo '{options.action_repo}' is not a GitHub repository",
            hint=f"use OWNER/NAME, like {DEFAULT_ACTION_REPO}",
        )
    chosen = {**TEMPLATES, **({IMAGES_WORKFLOW: "images.yml"} if images else {})}
    from importlib import resources  # noqa: PLC0415 -- only `init` reads the templates

    package = resources.files(__package__)
    found = {
        path: _fill((package / "templates" / name).read_text(encoding="utf-8"), options).encode("utf-8")
        for path, name in chosen.items()
    }
    found[CRD_LOCK] = (package / "crds.lock.yaml").read_bytes()
    found[SPEC_FILE] = found[SPEC_FILE].replace(NO_MODEL.encode(), models.encode())
    return found


def models_section(registered: Sequence[Registered]) -> str:
    """A starting `models:` section for what a registry holds: one model per registered model, each
    environment following the alias that usually means it (ENV_ALIASES), dev the latest version when no
    alias fits. Keys are InferenceService names derived from the registered names; say which in a comment."""
    if not registered:
        return NO_MODEL
    lines = ["models:"]
    used: set[str] = set()
    for model in registered:
        key = _unique(_isvc_name(model.name), used)
        aliases = ", ".join(f"{_said(alias)} → {_said(version)}" for alias, version in sorted(model.aliases.items()))
        lines += [
            f"  {key}:  # aliases: {aliases or 'none'}",
            f"    registeredModel: {json.dumps(model.name, ensure_ascii=False)}",
            "    environments:",
        ]
        for env, preferred in ENV_ALIASES.items():
            alias = next((a for a in preferred if a in model.aliases), None)
            if alias is not None:
                lines.append(f"      {env}: {{alias: {json.dumps(alias)}}}")
            elif env == "dev":
                lines.append("      dev: {latest: true}")
    return "\n".join(lines) + "\n"


def _said(word: str) -> str:
    r"""A registry's word as a comment may hold it: as it is when plain, else JSON-quoted (escaped, ASCII). A line break
    in it would end the comment and let the registry write models.yaml; MLflow's alias check lets a trailing one
    through (`re.compile(r"^[\w\-]*$").match`: mlflow/mlflow v3.17.2, mlflow/utils/validation.py)."""
    return word if _PLAIN_WORD.fullmatch(word) else json.dumps(word)


def _isvc_name(registered: str) -> str:
    """DNS-1035: lowercase letters, digits and '-', starting with a letter; short enough for KServe's host names."""
    name = re.sub(r"[^a-z0-9]+", "-", registered.lower()).lstrip("-0123456789")[:_NAME_LIMIT].rstrip("-")
    return name or "model"


def _unique(name: str, used: set[str]) -> str:
    candidate, number = name, 1
    while candidate in used:
        number += 1
        suffix = f"-{number}"
        candidate = name[: _NAME_LIMIT - len(suffix)].rstrip("-") + suffix
    used.add(candidate)
    return candidate


def _fill(template: str, options: Options) -> str:
    return template.replace("@@ACTION_REPO@@", options.action_repo).replace("@@VERSION@@", options.version)


def refusal(target: Path, *, force: bool) -> UserError | None:
    """Why `init` must not write into `target`, or None. Read-only: nothing is created to find out."""
    existing = next(p for p in (target, *target.parents) if p.exists() or p.is_symlink())
    if not existing.is_dir():
        what = "is a file" if existing == target else f"cannot be created: {existing} is a file"
        return EnvironmentProblem(
            Diagnostic(
                file=str(target),
                message=f"{what}, not a directory",
                hint="pass the directory to create the platform repository in: kserve-gitops init DIR",
            )
        )
    if not os.access(existing, os.W_OK):  # also true for root on a read-only file system
        return EnvironmentProblem(
            Diagnostic(
                file=str(existing),
                message="is not writable; nothing was written",
                hint="pick a directory you can write to, or make this one writable (a read-only mount, a permission)",
            )
        )
    if existing != target or force or (target / SPEC_FILE).exists():
        return None
    others = sorted(p.name for p in target.iterdir() if not NEW_REPOSITORY_FILES.fullmatch(p.name))
    if not others:
        return None
    shown = ", ".join(map(printable, others[:5])) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
    return UserError(
        Diagnostic(
            file=str(target),
            message=f"holds another project ({shown}) and no {SPEC_FILE}: not a platform repository",
            hint="run `kserve-gitops init NEW_DIR` for a new repository, or add --force to write the platform "
            "files here anyway (files with the same names are replaced)",
        )
    )
