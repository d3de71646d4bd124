from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from generator.errors import EnvironmentProblem, ValidationFailed
from generator.util.proc import CommandError
from generator.validate import kustomize
from generator.validate.kustomize import kustomize_build, kustomize_command


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    write(tmp_path / "base" / "kustomization.yaml", "resources: [sa.yaml, cm.yaml]\n")
    write(
        tmp_path / "base" / "sa.yaml",
        """\
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: kserve-sa}
        """,
    )
    write(
        tmp_path / "base" / "cm.yaml",
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
        data: {released: 2026-08-05}
        """,
    )
    write(tmp_path / "prod" / "kustomization.yaml", "namespace: ml-prod\nresources: [../base]\n")
    return tmp_path / "prod"


def test_build_returns_the_documents_of_a_real_kustomize_build(overlay: Path) -> None:
    docs = kustomize_build(overlay)

    assert sorted((d["kind"], d["metadata"]["name"], d["metadata"]["namespace"]) for d in docs) == [
        ("ConfigMap", "settings", "ml-prod"),
        ("ServiceAccount", "kserve-sa", "ml-prod"),
    ]


def test_values_kustomize_prints_as_strings_stay_strings(overlay: Path) -> None:
    [config_map] = [d for d in kustomize_build(overlay) if d["kind"] == "ConfigMap"]

    assert config_map["data"] == {"released": "2026-08-05T00:00:00Z"}


def test_broken_kustomization_is_a_validation_failure_showing_kustomizes_error(tmp_path: Path) -> None:
    write(tmp_path / "kustomization.yaml", "resources: [missing.yaml]\n")

    with pytest.raises(ValidationFailed) as failure:
        kustomize_build(tmp_path)

    assert "kustomize build failed" in str(failure.value)
    assert "missing.yaml" in str(failure.value)
    assert isinstance(failure.value.__cause__, CommandError)
    assert failure.value.__cause__.rc != 0


def test_no_kustomize_and_no_kubectl_is_an_environment_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(EnvironmentProblem, match="neither kustomize nor kubectl is on PATH"):
        kustomize_command()


def test_a_build_that_hangs_is_stopped_at_the_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a kustomize fetching a remote base from a server that never answers: it outlives any deadline
    tools = tmp_path / "bin"
    write(tools / "kustomize", "#!/bin/sh\nexec sleep 60\n")
    (tools / "kustomize").chmod(0o755)
    write(tmp_path / "overlay" / "kustomization.yaml", "resources: [https://example.invalid/base]\n")
    monkeypatch.setenv("PATH", f"{tools}:/usr/bin:/bin")
    monkeypatch.setattr(kustomize, "DEADLINE", 1.0)

    with pytest.raises(ValidationFailed, match="timed out after 1 s"):
        kustomize_build(tmp_path / "overlay")
    assert kustomize.build_files({"a.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"}) is None


def test_files_for_kustomize_are_staged_in_memory_unless_tmpdir_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TMPDIR", raising=False)
    memory = kustomize.scratch_root()
    assert memory is None or (memory == "/dev/shm" and os.access(memory, os.W_OK))  # None: there is no room there
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert kustomize.scratch_root() is None  # tempfile then takes TMPDIR, as the user asked


@pytest.mark.parametrize(("chosen", "seen"), [(None, "1"), ("4", "4")])
def test_a_batch_build_runs_go_on_one_thread_unless_the_user_chose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chosen: str | None, seen: str
) -> None:
    tools = tmp_path / "bin"
    write(tools / "kustomize", f'#!/bin/sh\necho "$GOMAXPROCS" > {tmp_path}/seen\n')
    (tools / "kustomize").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:/usr/bin:/bin")
    if chosen is None:
        monkeypatch.delenv("GOMAXPROCS", raising=False)
    else:
        monkeypatch.setenv("GOMAXPROCS", chosen)

    kustomize.build_files({"a.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"})

    assert (tmp_path / "seen").read_text() == f"{seen}\n"
