"""Checks on rendered files before anything is written (placeholder until the validators land)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from generator.diagnostics import Diagnostic
from generator.pipeline import Validator


def checks(crd_dir: Path) -> Validator:
    def validate(files: Mapping[str, bytes]) -> list[Diagnostic]:
        return []

    return validate
