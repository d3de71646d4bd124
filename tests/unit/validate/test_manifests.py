"""The checks on a generated tree: objects come out of kustomize and map back to their file and line."""

from __future__ import annotations

import copy
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator import yamlio
from generator.cache import CACHE_ENV
from generator.errors import EnvironmentProblem
from generator.render.tree import HEADER
from generator.spec.model import Platform
from generator.validate.crds import CrdSchemas
from generator.validate.kustomize import batch_count, kustomize_command
from generator.validate.manifests import check_tree, checks, summaries, tree_checks
from generator.yamlio import Kept
from tests.support.paths import REPO_ROOT
from tests.unit.validate.conftest import MLFLOW_ISVC

PLATFORM = Platform(kubernetes_version="1.33")  # what these trees are checked against

STORAGE_CONTAINER: dict[str, Any] = {
    "apiVersion": "serving.kserve.io/v1alpha1",
    "kind": "ClusterStorageContainer",
    "metadata": {"name": "mlflow-registry"},
    "spec": {
        "container": {"name": "storage-initializer", "image": "example.com/mlflow-storage:1"},
        "supportedUriFormats": [{"prefix": "models:/"}],
    },
}


def _tree(root: Path, objects: dict[str, dict[str, Any]]) -> list[str]:
    for name, obj in objects.items():
        (root / name).write_text(yaml.safe_dump(obj))
    (root / "kustomization.yaml").write_text(yaml.safe_dump({"resources": sorted(objects)}))
    return ["kustomization.yaml", *sorted(objects)]


def _registry_isvc() -> dict[str, Any]:
    isvc = copy.deepcopy(MLFLOW_ISVC)
    isvc["spec"]["predictor"]["model"]["storageUri"] = "models:/fraud/7"
    return isvc


def test_valid_tree_has_no_findings(tmp_path: Path, crds: CrdSchemas) -> None:
    assert check_tree(tmp_path, _tree(tmp_path, {"fraud.yaml": MLFLOW_ISVC}), crds, PLATFORM) == []


def test_findings_point_at_the_source_file_and_line(tmp_path: Path, crds: CrdSchemas) -> None:
    isvc = copy.deepcopy(MLFLOW_ISVC)
    isvc["spec"]["predictor"]["model"]["storageURI"] = isvc["spec"]["predictor"]["model"].pop("storageUri")
    (finding,) = check_tree(tmp_path, _tree(tmp_path, {"fraud.yaml": isvc}), crds, PLATFORM)
    assert (finding.file, finding.path) == ("fraud.yaml", "$.spec.predictor.model.storageURI")
    assert finding.line > 1


def test_models_uri_needs_a_storage_container_that_claims_its_prefix(tmp_path: Path, crds: CrdSchemas) -> None:
    alone = check_tree(
        tmp_path, _tree(tmp_path, {"fraud.yaml": _registry_isvc()}), crds, Platform(kubernetes_version="1.33")
    )
    assert [f.rule for f in alone] == ["kserve-storage-uri"]
    with_container = _tree(tmp_path, {"fraud.yaml": _registry_isvc(), "storage.yaml": STORAGE_CONTAINER})
    assert check_tree(tmp_path, with_container, crds, PLATFORM) == []


def test_root_that_aggregates_environments_is_checked_without_building_it_again(
    tmp_path: Path, crds: CrdSchemas
) -> None:
    paths = []
    for env in ("dev", "prod"):
        (tmp_path / env).mkdir()
        paths += [f"{env}/{p}" for p in _tree(tmp_path / env, {"fraud.yaml": MLFLOW_ISVC})]
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["dev", "prod"]}))
    (finding,) = check_tree(tmp_path, ["kustomization.yaml", *paths], crds, PLATFORM)
    assert finding.file == "kustomization.yaml"
    assert finding.message.startswith("InferenceService ml-prod/fraud comes from both dev and prod")


def test_a_crd_directory_holding_only_the_lock_has_no_crds(tmp_path: Path) -> None:
    """A fresh clone has schemas/crds/crds.lock.yaml (committed) and no CRD (git-ignored) until `schemas fetch`:
    render warns and goes on, as with no directory at all, instead of failing to find a CustomResourceDefinition."""
    crd_dir = tmp_path / "schemas" / "crds"
    crd_dir.mkdir(parents=True)
    (crd_dir / "crds.lock.yaml").write_text("{}\n")
    kustomization = yaml.safe_dump({"resources": []}).encode()

    found = checks(crd_dir)({"kustomization.yaml": kustomization}, Platform())

    assert [(d.severity, d.rule, d.message.split(":")[0]) for d in found] == [
        ("warning", "crd-schema", f"no CRDs in {crd_dir}")
    ]


def test_the_documents_files_were_emitted_from_stand_in_for_parsing_them(
    crd_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline hands the checks what the files it dumped hold (yamlio.Kept, summaries), so that its own
    output is not parsed again: what they find must not change, down to a finding's line and the storage prefix
    a container claims."""
    monkeypatch.setenv(CACHE_ENV, "off")
    misspelt = copy.deepcopy(MLFLOW_ISVC)
    misspelt["metadata"]["name"] = "typo"
    misspelt["spec"]["predictor"]["model"]["storageURI"] = misspelt["spec"]["predictor"]["model"].pop("storageUri")
    objects = {"fraud.yaml": _registry_isvc(), "typo.yaml": misspelt, "storage.yaml": STORAGE_CONTAINER}
    kept = Kept()
    files = kept({name: ([obj], HEADER) for name, obj in objects.items()})
    files["kustomization.yaml"] = yaml.safe_dump({"resources": sorted(objects)}).encode()

    parsed = checks(crd_dir)(files, PLATFORM)
    given = checks(crd_dir)(files, PLATFORM, emitted=summaries(kept.documents))
    with_objects = checks(crd_dir)(files, PLATFORM, emitted=summaries(kept.documents), objects=objects)

    assert given == parsed
    assert with_objects == parsed
    assert [(f.file, f.path) for f in given] == [("typo.yaml", "$.spec.predictor.model.storageURI")]
    assert given[0].line > 1
    assert all(yamlio.load_plain(files[name]) == obj for name, obj in objects.items())


def test_validate_takes_what_the_drift_check_rendered_only_for_a_file_holding_exactly_those_bytes(
    crd_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`validate` knows what the files it renders for the drift check hold; a file on disk with the same bytes is
    not parsed again, and one edited by hand (here renamed, and a field misspelt) is read as it is."""
    monkeypatch.setenv(CACHE_ENV, "off")
    objects = {
        "fraud.yaml": _registry_isvc(),
        "typo.yaml": copy.deepcopy(MLFLOW_ISVC),
        "storage.yaml": STORAGE_CONTAINER,
    }
    objects["typo.yaml"]["metadata"]["name"] = "typo"
    kept = Kept()
    rendered = kept({name: ([obj], HEADER) for name, obj in objects.items()})
    known = {path: (rendered[path], summary, objects[path]) for path, summary in summaries(kept.documents).items()}
    edited = copy.deepcopy(objects["typo.yaml"])
    edited["metadata"]["name"] = "renamed"
    edited["spec"]["predictor"]["model"]["storageURI"] = edited["spec"]["predictor"]["model"].pop("storageUri")
    on_disk = {**rendered, "typo.yaml": yamlio.dump([edited], HEADER)}
    for name, content in on_disk.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({"resources": sorted(objects)}))
    paths = ["kustomization.yaml", *sorted(objects)]

    given = tree_checks(crd_dir)(tmp_path, paths, lambda: (PLATFORM, known))

    assert given == tree_checks(crd_dir)(tmp_path, paths, lambda: (PLATFORM, {}))
    assert [(f.file, f.path) for f in given] == [("typo.yaml", "$.spec.predictor.model.storageURI")]
    identity, _ = known["storage.yaml"][1]
    lie = {**known, "storage.yaml": (*known["storage.yaml"][:1], (identity, ()), STORAGE_CONTAINER)}
    believed = tree_checks(crd_dir)(tmp_path, paths, lambda: (PLATFORM, lie))  # "it makes nothing downloadable"
    assert [f.file for f in believed] == ["fraud.yaml", "typo.yaml"], "what is known is taken, the file not parsed"
    assert given[0].line > 1


def test_a_known_object_stands_in_for_kustomizes_output_only_when_kustomize_printed_exactly_it(
    crd_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What kustomize printed is compared with the text it prints for the object the drift check rendered (the same
    text is the same object: test_kustomize). An object that is not what the file holds (here one that misspells a
    field) does not give kustomize's text, so the output is parsed and the file judged as it is."""
    monkeypatch.setenv(CACHE_ENV, "off")
    kept = Kept()
    rendered = kept({"fraud.yaml": ([_registry_isvc()], HEADER)})
    (tmp_path / "fraud.yaml").write_bytes(rendered["fraud.yaml"])
    (tmp_path / "kustomization.yaml").write_text("resources: [fraud.yaml]\n")
    paths = ["fraud.yaml", "kustomization.yaml"]
    (summary,) = summaries(kept.documents).values()
    misspelt = copy.deepcopy(_registry_isvc())
    misspelt["spec"]["predictor"]["model"]["storageURI"] = misspelt["spec"]["predictor"]["model"].pop("storageUri")

    told = {"fraud.yaml": (rendered["fraud.yaml"], summary, misspelt)}

    judged = tree_checks(crd_dir)(tmp_path, paths, lambda: (PLATFORM, {}))
    assert tree_checks(crd_dir)(tmp_path, paths, lambda: (PLATFORM, told)) == judged, "the misspelt one was not taken"
    assert [f.path for f in judged] == ["$.spec.predictor.model.storageUri"]  # a models:/ URI, not a misspelling


_CHECK_OVER_THE_SIZE_LIMIT = """
import json, resource, signal, sys
from pathlib import Path
from generator.errors import EnvironmentProblem
from generator.spec.model import Platform
from generator.validate.manifests import checks
files = {"fraud.yaml": sys.argv[2].encode(), "kustomization.yaml": b"resources: [fraud.yaml]\\n"}
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # as Python does at start-up: a write past the limit fails (EFBIG)
resource.setrlimit(resource.RLIMIT_FSIZE, (16, 16))
try:
    checks(Path(sys.argv[1]))(files, Platform(kubernetes_version="1.33"))
except EnvironmentProblem as exc:
    print(json.dumps([exc.diagnostics[0].message, exc.diagnostics[0].hint]))
"""


def test_a_scratch_file_over_the_file_size_limit_says_which_limit(crd_dir: Path) -> None:
    """`ulimit -f` below a file kustomize is to build: the fix is that limit, not room in TMPDIR."""
    said = subprocess.run(
        [sys.executable, "-c", _CHECK_OVER_THE_SIZE_LIMIT, str(crd_dir), yaml.safe_dump(MLFLOW_ISVC)],
        env={**os.environ, CACHE_ENV: "off"},
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    message, hint = json.loads(said.stdout)
    assert message.startswith("cannot write the files kustomize builds to a scratch directory: File too large")
    assert hint.startswith("raise this process's file size limit (`ulimit -f`, RLIMIT_FSIZE)"), hint


def test_a_scratch_directory_that_cannot_take_the_files_is_said_to_be_the_machines_problem(
    crd_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, "off")
    gone = tmp_path / "gone"
    monkeypatch.setenv("TMPDIR", str(gone))
    monkeypatch.setattr(tempfile, "tempdir", str(gone))  # tempfile's documented default for `dir`, as TMPDIR sets it
    files = {"fraud.yaml": yaml.safe_dump(MLFLOW_ISVC).encode(), "kustomization.yaml": b"resources: [fraud.yaml]\n"}

    with pytest.raises(EnvironmentProblem) as refused:
        checks(crd_dir)(files, PLATFORM)

    (problem,) = refused.value.diagnostics
    assert problem.message.startswith("cannot write the files kustomize builds to a scratch directory: No such file")
    assert str(gone) in problem.message
    assert "TMPDIR" in problem.hint


def test_a_settled_file_counts_in_its_build_but_is_not_checked_again(
    crd_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settled file (one an earlier run saw pass every check under the same CRDs and platform) is taken as
    passed: a misspelt field in it stays unseen, which shows it was not checked. It still holds its object: no
    "not included" finding, and a second object of the same name in the build is still found."""
    monkeypatch.setenv(CACHE_ENV, "off")
    misspelt = copy.deepcopy(MLFLOW_ISVC)
    misspelt["spec"]["predictor"]["model"]["storageURI"] = misspelt["spec"]["predictor"]["model"].pop("storageUri")
    kept = Kept()
    files = kept({"fraud.yaml": ([misspelt], HEADER)})
    files["kustomization.yaml"] = yaml.safe_dump({"resources": ["fraud.yaml"]}).encode()
    emitted = summaries(kept.documents)

    checked = checks(crd_dir)(files, PLATFORM, emitted=emitted)
    settled = checks(crd_dir)(files, PLATFORM, emitted=emitted, settled={"fraud.yaml"})

    assert [(f.file, f.path) for f in checked] == [("fraud.yaml", "$.spec.predictor.model.storageURI")]
    assert settled == []

    twice = {**files, "copy.yaml": files["fraud.yaml"]}
    twice["kustomization.yaml"] = yaml.safe_dump({"resources": ["copy.yaml", "fraud.yaml"]}).encode()
    found = checks(crd_dir)(twice, PLATFORM, emitted=emitted, settled={"fraud.yaml"})
    assert any(f.file == "kustomization.yaml" and "already registered id" in f.message for f in found)


def test_a_build_that_fails_is_reported_once_with_paths_in_the_repository(
    crd_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kustomize refuses two files holding the same object. What it says names the files as the repository does
    (not the scratch directory the files were built in, gone by then, nor where the repository is on disk), and
    the files it lists are not also reported as "not included" (they are; the build failed)."""
    monkeypatch.setenv(CACHE_ENV, "off")
    isvc = yaml.safe_dump(MLFLOW_ISVC).encode()
    files = {
        "environments/dev/a.yaml": isvc,
        "environments/dev/b.yaml": isvc,
        "environments/dev/kustomization.yaml": b"resources: [a.yaml, b.yaml]\n",
    }
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)

    about_to_write = checks(crd_dir)(files, PLATFORM)
    on_disk = tree_checks(crd_dir)(tmp_path, sorted(files), lambda: (PLATFORM, {}))

    for found in (about_to_write, on_disk):
        (failure,) = found
        assert failure.file == "environments/dev/kustomization.yaml"
        assert "already registered id" in failure.message
        assert "'environments/dev/b.yaml'" in failure.message
        assert "kserve-gitops-build-" not in failure.message + failure.hint
        assert str(tmp_path) not in failure.message + failure.hint
    assert "nothing was written" in about_to_write[0].hint
    assert f"`{shlex.join(kustomize_command())} environments/dev` reproduces this" in on_disk[0].hint


def _blocked(tmp_path: Path, crds: CrdSchemas, paths: list[str]) -> list[str]:
    """What the findings on the root kustomization say (the build that was not run, and why)."""
    return [f.message for f in check_tree(tmp_path, paths, crds, PLATFORM) if f.file == "kustomization.yaml"]


def test_kustomize_is_not_given_a_huge_file_or_a_fifo_the_kustomization_names(tmp_path: Path, crds: CrdSchemas) -> None:
    """A kustomization built as it stands (here: it sets a label) is not given to kustomize when a file it names,
    or one a kustomization it names in turn names, is a FIFO or too large: kustomize would wait on the one for ever
    and read the other whole. Files it does not name do not count: git's pack files, a large file beside it."""
    paths = _tree(tmp_path, {"fraud.yaml": MLFLOW_ISVC})
    kustomization = "resources: [fraud.yaml]\nlabels: [{pairs: {team: ml}}]\n"
    (tmp_path / "kustomization.yaml").write_text(kustomization)
    pack = tmp_path / ".git/objects/pack/pack-1.pack"
    pack.parent.mkdir(parents=True)
    for large in (pack, tmp_path / "huge.bin"):
        with large.open("wb") as handle:
            handle.truncate(64 * 2**20)
    assert check_tree(tmp_path, paths, crds, PLATFORM) == []

    (tmp_path / "kustomization.yaml").write_text(
        kustomization + "configMapGenerator: [{name: weights, files: [huge.bin]}]\n"
    )
    assert _blocked(tmp_path, crds, paths) == [
        "huge.bin is larger than 16 MiB: kustomize would read it whole, so this kustomization was not built"
    ]

    (tmp_path / "base").mkdir()
    os.mkfifo(tmp_path / "base" / "patch.yaml")
    (tmp_path / "base" / "kustomization.yaml").write_text("patches: [{path: patch.yaml}]\n")
    (tmp_path / "kustomization.yaml").write_text("resources: [fraud.yaml, base]\nlabels: [{pairs: {team: ml}}]\n")
    assert _blocked(tmp_path, crds, paths) == [
        "base/patch.yaml is not a regular file (a FIFO, device or socket): kustomize would wait on it for ever or "
        "fail to read it, so this kustomization was not built"
    ]


def test_a_kustomization_that_is_not_plain_yaml_counts_its_own_files_not_its_subdirectories(
    tmp_path: Path, crds: CrdSchemas
) -> None:
    """Which files kustomize reads cannot be told from a kustomization that is not plain YAML (here: an anchor):
    every file beside it counts, but not what lies below (at the root: .git and its packs)."""
    paths = _tree(tmp_path, {"fraud.yaml": MLFLOW_ISVC})
    (tmp_path / "kustomization.yaml").write_text("resources: [&isvc fraud.yaml]\nlabels: [{pairs: {team: ml}}]\n")
    pack = tmp_path / ".git/objects/pack/pack-1.pack"
    pack.parent.mkdir(parents=True)
    with pack.open("wb") as handle:
        handle.truncate(64 * 2**20)
    assert check_tree(tmp_path, paths, crds, PLATFORM) == []

    with (tmp_path / "notes.bin").open("wb") as handle:
        handle.truncate(64 * 2**20)
    assert _blocked(tmp_path, crds, paths) == [
        "notes.bin is larger than 16 MiB: kustomize would read it whole, so this kustomization was not built"
    ]


def test_a_file_in_a_directory_without_a_kustomization_is_to_be_moved_where_one_lists_it(
    tmp_path: Path, crds: CrdSchemas
) -> None:
    """Listing it in a kustomization.yaml of its directory is no advice when the directory has none."""
    paths = _tree(tmp_path, {"fraud.yaml": MLFLOW_ISVC})
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "notes.yaml").write_text(yaml.safe_dump(STORAGE_CONTAINER))
    (found,) = check_tree(tmp_path, [*paths, "old/notes.yaml"], crds, PLATFORM)
    assert (found.file, found.message) == ("old/notes.yaml", "not included by any kustomization.yaml")
    assert found.hint == "nothing builds old/, which has no kustomization.yaml: move the file where one lists it"


@pytest.mark.parametrize("generated", [True, False])
def test_a_file_no_kustomization_lists_is_moved_out_of_a_directory_kserve_gitops_writes(
    generated: bool, tmp_path: Path, crds: CrdSchemas
) -> None:
    """Listing it in a kustomization.yaml kserve-gitops writes would be undone by its next run (and be drift)."""
    paths = _tree(tmp_path, {"fraud.yaml": MLFLOW_ISVC})
    if generated:
        kustomization = tmp_path / "kustomization.yaml"
        kustomization.write_text(HEADER + kustomization.read_text())
    (tmp_path / "notes.yaml").write_text(yaml.safe_dump(STORAGE_CONTAINER))
    (found,) = check_tree(tmp_path, [*paths, "notes.yaml"], crds, PLATFORM)
    assert (found.file, found.message) == ("notes.yaml", "not included by any kustomization.yaml")
    assert found.hint == (
        "move it out of ./: kserve-gitops writes that directory's kustomization.yaml, which lists only what it renders"
        if generated
        else "list it under `resources:` of its directory's kustomization.yaml"
    )


@pytest.mark.parametrize("transform", ["namePrefix: team-", "nameSuffix: -v2", "namespace: other"])
def test_a_file_its_kustomization_lists_and_renames_is_included_and_checked(
    transform: str, tmp_path: Path, crds: CrdSchemas
) -> None:
    """The build gives its objects other names or namespaces than the file does: it is in the build all the same."""
    paths = _tree(tmp_path, {"fraud.yaml": MLFLOW_ISVC})
    kustomization = tmp_path / "kustomization.yaml"
    kustomization.write_text(f"{kustomization.read_text()}{transform}\n")
    assert check_tree(tmp_path, paths, crds, PLATFORM) == []
    broken = {**MLFLOW_ISVC, "spec": {"predictor": {"model": {**MLFLOW_ISVC["spec"]["predictor"]["model"], "x": 1}}}}
    (tmp_path / "fraud.yaml").write_text(yaml.safe_dump(broken))
    found = check_tree(tmp_path, paths, crds, PLATFORM)
    assert {d.rule for d in found} == {"crd-schema"}  # the built object (what Argo CD applies) and the file's
    assert [d.file for d in found if d.line] == ["fraud.yaml"]


@pytest.mark.parametrize(("files", "batches"), [(0, 0), (1, 1), (200, 1), (201, 2), (401, 4), (3000, 16)])
def test_files_are_built_in_batches_of_about_200_two_at_a_time_to_the_end(files: int, batches: int) -> None:
    assert batch_count(files) == batches


def test_no_kustomize_nor_kubectl_on_path_is_the_machines_problem_not_each_kustomizations(
    tmp_path: Path, crds: CrdSchemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither on PATH: `render` and `validate` end with exit 2 and the one fix (install one), not with a finding on
    every kustomization (exit 1) whose hint is to fix the kustomization."""
    monkeypatch.setenv(CACHE_ENV, "off")
    paths = _tree(tmp_path, {"fraud.yaml": MLFLOW_ISVC})
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools-here"))
    with pytest.raises(EnvironmentProblem, match="neither kustomize nor kubectl is on PATH") as raised:
        check_tree(tmp_path, paths, crds, PLATFORM)
    assert raised.value.exit_code == 2
    files = {name: (tmp_path / name).read_bytes() for name in paths}
    with pytest.raises(EnvironmentProblem, match="install kubectl or kustomize"):
        checks(tmp_path / "crds")(files, PLATFORM)
