"""The InferenceService CRD is parsed by a helper process that leaves it in the run cache, when that can help."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from generator.validate.crd_prefetch import prefetched
from generator.validate.crds import load_crd_schemas, unparsed
from tests.support.paths import CRDS

KINDS = ["InferenceService"]
ONE_CORE = len(os.sched_getaffinity(0)) < 2 if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1) < 2


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KSERVE_GITOPS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.skipif(ONE_CORE, reason="the helper only runs beside the run on a second core")
def test_a_helper_parses_the_crd_into_the_run_cache_where_the_run_then_finds_it(cache: Path) -> None:
    assert [path.name for path in unparsed(CRDS, KINDS)] == ["serving.kserve.io_inferenceservices.yaml"]

    with prefetched(CRDS, KINDS) as helper:
        assert helper is not None
        assert helper.wait(timeout=120) == 0

    assert unparsed(CRDS, KINDS) == []
    with prefetched(CRDS, KINDS) as again:
        assert again is None  # nothing left to parse
    schema = load_crd_schemas(CRDS).schemas[("serving.kserve.io/v1beta1", "InferenceService")]
    assert schema.schema["properties"]["kind"] == {"const": "InferenceService"}


@pytest.mark.skipif(ONE_CORE, reason="the helper only runs beside the run on a second core")
def test_a_helper_still_at_work_when_the_run_is_done_is_stopped(cache: Path) -> None:
    with prefetched(CRDS, KINDS) as helper:
        assert helper is not None

    assert helper.returncode is not None  # stopped (or done) and reaped, not left behind


def test_no_helper_without_a_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KSERVE_GITOPS_CACHE_DIR", "off")
    with prefetched(CRDS, KINDS) as helper:
        assert helper is None  # nowhere to leave the parse


def test_no_helper_for_a_directory_without_crds(cache: Path, tmp_path: Path) -> None:
    with prefetched(tmp_path / "missing", KINDS) as helper:
        assert helper is None  # the run's own checks say what is wrong with the directory


def test_the_helper_started_by_hand_without_arguments_says_how_to_call_it() -> None:
    helper = [sys.executable, "-m", "generator.validate.crd_prefetch"]
    done = subprocess.run(helper, check=False, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "usage: python -m generator.validate.crd_prefetch CRD_DIR KIND...\n"
