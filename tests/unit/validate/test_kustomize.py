from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

from generator import yamlio
from generator.errors import EnvironmentProblem, UserError, ValidationFailed
from generator.pipeline import render_tree
from generator.util.proc import CommandError
from generator.validate import kustomize
from generator.validate.kustomize import kustomize_build, kustomize_command
from tests.support.paths import REPO_ROOT


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


def test_a_value_kustomize_prints_unquoted_that_cannot_be_read_back_is_a_validation_failure(tmp_path: Path) -> None:
    """go-yaml prints a run of digits too large for its numbers unquoted; YAML 1.1 reads it as an integer, and
    Python refuses to read one of over 4,300 digits."""
    write(tmp_path / "kustomization.yaml", "resources: [cm.yaml]\n")
    digits = "9" * 5000
    write(
        tmp_path / "cm.yaml",
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\ndata: {{n: '{digits}'}}\n",
    )

    with pytest.raises(ValidationFailed) as failure:
        kustomize_build(tmp_path)

    (problem,) = failure.value.diagnostics
    assert (problem.file, problem.rule) == (str(tmp_path), "kustomize")
    assert problem.message.startswith("kustomize's output cannot be read back: cannot read the value '9999")


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


def test_render_without_kustomize_says_to_install_it_not_to_fix_the_kustomization(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No edit of the files it is about to write fixes a machine without kustomize: the hint is kustomize_command's."""
    for name in ("models.yaml", "models.lock"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))

    with pytest.raises(UserError) as caught:
        render_tree(tmp_path, REPO_ROOT / "schemas" / "crds")
    assert {(d.message, d.hint) for d in caught.value.diagnostics} == {
        (
            "neither kustomize nor kubectl is on PATH; both can build a kustomization",
            "install kubectl or kustomize (https://kubectl.docs.kubernetes.io/installation/)",
        )
    }
    assert not (tmp_path / "environments").exists()


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


@pytest.mark.parametrize(("chosen", "seen"), [(None, "1 150"), ("4", "4 150"), ("off", "1 off")])
def test_a_batch_build_runs_go_on_one_thread_with_a_lazier_collector_unless_the_user_chose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chosen: str | None, seen: str
) -> None:
    tools = tmp_path / "bin"
    write(tools / "kustomize", f'#!/bin/sh\necho "$GOMAXPROCS $GOGC" > {tmp_path}/seen\n')
    (tools / "kustomize").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:/usr/bin:/bin")
    for name in ("GOMAXPROCS", "GOGC"):
        monkeypatch.delenv(name, raising=False)
    if chosen == "off":
        monkeypatch.setenv("GOGC", chosen)
    elif chosen is not None:
        monkeypatch.setenv("GOMAXPROCS", chosen)

    kustomize.build_files({"a.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"})

    assert (tmp_path / "seen").read_text() == f"{seen}\n"


def test_kustomizes_output_for_known_objects_is_those_objects_when_it_prints_exactly_the_expected_text(
    tmp_path: Path,
) -> None:
    """kustomize sorts keys and double-quotes what would read as a number or a boolean; yaml_block.KUSTOMIZE says the
    same, so objects whose text matches are taken as they are (the very objects, not parsed). Any difference (an
    object that is not what the file holds, a key go-yaml quotes and PyYAML does not) and the output is parsed."""
    service = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "fraud", "labels": {"kserve-gitops.io/model-version": "2"}},
        "spec": {"predictor": {"minReplicas": 1, "model": {"modelFormat": {"name": "mlflow"}, "runtime": "r"}}},
    }

    def built(config: dict[str, Any], told: dict[str, Any] | None = None) -> dict[str, list[dict[str, Any]]] | None:
        directory = tmp_path / str(len(list(tmp_path.iterdir())))
        directory.mkdir()
        files = {"a.yaml": yamlio.dump([service], "# generated\n"), "b.yaml": yamlio.dump([config])}
        kustomize.stage_files(directory, files)
        expected = kustomize.expected_outputs(told or {"a.yaml": service, "b.yaml": config})
        return kustomize.split_by_file(kustomize.build_staged(directory), files, expected)

    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"on": "yes", "k": "1"}}
    taken = built(config)
    assert taken is not None and taken["a.yaml"][0] is service and taken["b.yaml"][0] is config

    misspelt = {**config, "data": {"on": "yes", "k": 1}}
    parsed = built(config, {"a.yaml": service, "b.yaml": misspelt})
    assert parsed == {"a.yaml": [service], "b.yaml": [config]}
    assert parsed is not None and parsed["a.yaml"][0] is not service

    config_n = {**config, "data": {"n": "1"}}  # "n" is a boolean to go-yaml v2 (YAML 1.1), so kustomize quotes it
    parsed = built(config_n)
    assert parsed == {"a.yaml": [service], "b.yaml": [config_n]}
    assert parsed is not None and parsed["b.yaml"][0] is not config_n
