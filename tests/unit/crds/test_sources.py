"""What to fetch, and every decision about the lock, with plain values: no network, no disk."""

from __future__ import annotations

import pytest

from generator.crds import CRD_LOCK_FILE
from generator.crds.sources import (
    CrdFile,
    CrdLockEntry,
    crd_files,
    crd_problem,
    drift,
    dumps_lock,
    loads_lock,
    relock,
    sha256,
    untrusted,
)
from generator.errors import UserError
from generator.spec.model import Platform

RAW = "https://raw.githubusercontent.com"
FILES = crd_files(Platform())
ISVC, *_, APP_PROJECT = FILES
WHERE = "schemas/crds"
HASH_A, HASH_B = sha256(b"a"), sha256(b"b")


def _crd(group: str, kind: str, api_version: str = "apiextensions.k8s.io/v1") -> bytes:
    return (
        f"apiVersion: {api_version}\nkind: CustomResourceDefinition\n"
        f"spec:\n  group: {group}\n  names:\n    kind: {kind}\n"
    ).encode()


def _locked(file: CrdFile, digest: str = HASH_A, version: str = "") -> dict[str, CrdLockEntry]:
    return {file.local: CrdLockEntry(version or file.version, file.url, digest)}


def test_default_platform_fetches_the_eight_crds_from_the_tagged_release_layout() -> None:
    assert [f.url for f in FILES] == [
        f"{RAW}/kserve/kserve/v0.20.0/config/crd/full/serving.kserve.io_inferenceservices.yaml",
        f"{RAW}/kserve/kserve/v0.20.0/config/crd/full/serving.kserve.io_servingruntimes.yaml",
        f"{RAW}/kserve/kserve/v0.20.0/config/crd/full/serving.kserve.io_clusterservingruntimes.yaml",
        f"{RAW}/kserve/kserve/v0.20.0/config/crd/full/clusterstoragecontainer/"
        "serving.kserve.io_clusterstoragecontainers.yaml",
        f"{RAW}/kserve/kserve/v0.20.0/config/crd/full/serving.kserve.io_inferencegraphs.yaml",
        f"{RAW}/argoproj/argo-cd/v3.5.1/manifests/crds/application-crd.yaml",
        f"{RAW}/argoproj/argo-cd/v3.5.1/manifests/crds/applicationset-crd.yaml",
        f"{RAW}/argoproj/argo-cd/v3.5.1/manifests/crds/appproject-crd.yaml",
    ]
    assert [f.local for f in FILES] == [
        "kserve/serving.kserve.io_inferenceservices.yaml",
        "kserve/serving.kserve.io_servingruntimes.yaml",
        "kserve/serving.kserve.io_clusterservingruntimes.yaml",
        "kserve/serving.kserve.io_clusterstoragecontainers.yaml",
        "kserve/serving.kserve.io_inferencegraphs.yaml",
        "argocd/application-crd.yaml",
        "argocd/applicationset-crd.yaml",
        "argocd/appproject-crd.yaml",
    ]
    assert [(f.project.group, f.kind) for f in (ISVC, APP_PROJECT)] == [
        ("serving.kserve.io", "InferenceService"),
        ("argoproj.io", "AppProject"),
    ]


def test_pinned_versions_and_base_url_shape_every_url() -> None:
    files = crd_files(Platform(kserve_version="v0.21.0", argocd_version="v3.6.3"), "https://ghe.example.com/raw/")
    assert files[0].url == (
        "https://ghe.example.com/raw/kserve/kserve/v0.21.0/config/crd/full/serving.kserve.io_inferenceservices.yaml"
    )
    assert files[-1].url == "https://ghe.example.com/raw/argoproj/argo-cd/v3.6.3/manifests/crds/appproject-crd.yaml"
    assert {f.version for f in files} == {"v0.21.0", "v3.6.3"}


@pytest.mark.parametrize(
    "base", ["raw.githubusercontent.com", "ftp://mirror/x", "https://", "http://[::1", "http://user:pa/ss@mirror:8080"]
)
def test_base_url_must_be_http(base: str) -> None:
    with pytest.raises(UserError, match="is not an http\\(s\\) URL") as caught:
        crd_files(Platform(), base)
    assert "KSERVE_GITOPS_CRD_BASE_URL" in caught.value.diagnostics[0].hint


def test_real_crd_of_the_expected_kind_passes() -> None:
    assert crd_problem(ISVC, _crd("serving.kserve.io", "InferenceService")) == ""


def test_a_body_larger_than_any_yaml_file_read_is_refused_unparsed() -> None:
    """60 MB of YAML took minutes and gigabytes to parse; the mark a fast refusal can give is its size."""
    huge = _crd("serving.kserve.io", "InferenceService") + b"# " + b"x" * (16 * 2**20) + b"\n"
    assert crd_problem(ISVC, huge) == f"is {len(huge)} bytes, larger than 16 MiB, the limit for a YAML file"


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (
            _crd("serving.kserve.io", "InferenceGraph"),
            "holds apiextensions.k8s.io/v1 CustomResourceDefinition of serving.kserve.io InferenceGraph",
        ),
        (_crd("serving.kserve.io", "InferenceService", "apiextensions.k8s.io/v1beta1"), "v1beta1"),
        (b"<html><body>Sign in to continue</body></html>", "holds no Kubernetes object"),
        (b"apiVersion: v1\nkind: ConfigMap\n", "holds v1 ConfigMap"),
        (b"", "holds 0 YAML documents"),
        (_crd("serving.kserve.io", "InferenceService") + b"---\n" + _crd("a", "B"), "holds 2 YAML documents"),
        (b"key: [unclosed", "is not YAML"),
    ],
)
def test_anything_but_the_expected_crd_is_named(data: bytes, found: str) -> None:
    problem = crd_problem(ISVC, data)
    assert problem.startswith(
        (
            "is not the apiextensions.k8s.io/v1 CustomResourceDefinition of serving.kserve.io "
            "InferenceService; it holds ",
            "is not YAML (",
        )
    )
    assert found in problem


def test_lock_round_trips_sorted_with_a_header_and_no_timestamps() -> None:
    lock = {f.local: CrdLockEntry(f.version, f.url, HASH_A) for f in reversed(FILES)}
    text = dumps_lock(lock)
    assert text == dumps_lock(dict(sorted(lock.items())))
    assert text.startswith(b"# Generated by kserve-gitops schemas fetch")
    assert text.decode().splitlines()[2:6] == [
        "argocd/application-crd.yaml:",
        "  version: v3.5.1",
        f"  url: {RAW}/argoproj/argo-cd/v3.5.1/manifests/crds/application-crd.yaml",
        f"  sha256: {HASH_A}",
    ]
    assert loads_lock(text, CRD_LOCK_FILE) == lock


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"[1, 2]", "expected a mapping"),
        (b"kserve/a.yaml: {version: v1, url: u}\n", "entry 'kserve/a.yaml' needs exactly"),
        (b"a: [unclosed", "not YAML"),
        (b"kserve/../../../docs/loose.yaml: {}\n", "entry 'kserve/../../../docs/loose.yaml' is not a file"),
        (b"/etc/passwd: {}\n", "entry '/etc/passwd' is not a file `kserve-gitops schemas fetch` writes"),
        (b"kserve/sub/a.yaml: {}\n", "(<project>/<name>.yaml, the project one of kserve, argocd)"),
        (b"x" * (16 * 2**20 + 1), "larger than 16 MiB, the limit for a YAML file"),
    ],
)
def test_a_broken_lock_names_the_file_and_how_to_recover(text: bytes, message: str) -> None:
    with pytest.raises(UserError) as caught:
        loads_lock(text, f"{WHERE}/{CRD_LOCK_FILE}")
    first = caught.value.diagnostics[0]
    assert first.file == f"{WHERE}/{CRD_LOCK_FILE}"
    assert message in first.message
    assert "schemas fetch" in first.hint


def test_a_matching_file_needs_nothing() -> None:
    assert drift([ISVC], {ISVC.local: HASH_A}, _locked(ISVC), WHERE) == {}


@pytest.mark.parametrize(
    ("on_disk", "lock", "message"),
    [
        ({}, {}, f"not recorded in {CRD_LOCK_FILE}"),
        (
            {ISVC.local: HASH_A},
            _locked(ISVC, version="v0.19.0"),
            "crds.lock.yaml has v0.19.0, but platform.kserveVersion pins v0.20.0",
        ),
        ({ISVC.local: None}, _locked(ISVC), "missing"),
        ({ISVC.local: HASH_B}, _locked(ISVC), f"changed on disk: sha256 {HASH_B}, crds.lock.yaml has {HASH_A}"),
    ],
)
def test_drift_says_why_a_file_is_not_the_locked_copy(
    on_disk: dict[str, str | None], lock: dict[str, CrdLockEntry], message: str
) -> None:
    (diagnostic,) = drift([ISVC], on_disk, lock, WHERE).values()
    assert diagnostic.file == f"{WHERE}/{ISVC.local}"
    assert diagnostic.message == message
    assert "kserve-gitops schemas fetch" in diagnostic.hint


def test_same_version_with_other_bytes_is_refused_naming_both_hashes_and_the_way_out() -> None:
    (problem,) = untrusted({ISVC: HASH_B}, _locked(ISVC), WHERE)
    assert problem.file == f"{WHERE}/{ISVC.local}"
    assert ISVC.url in problem.message
    assert f"sha256 {HASH_B}, locked {HASH_A}" in problem.message
    assert "nothing was written" in problem.hint
    assert f"delete the entry '{ISVC.local}' from {WHERE}/{CRD_LOCK_FILE}" in problem.hint


def test_first_use_and_new_versions_are_trusted() -> None:
    assert untrusted({ISVC: HASH_B}, {}, WHERE) == []
    assert untrusted({ISVC: HASH_B}, _locked(ISVC, version="v0.19.0"), WHERE) == []
    assert untrusted({ISVC: HASH_A}, _locked(ISVC), WHERE) == []


def test_relock_records_downloads_under_their_release_url_and_keeps_the_other_entries() -> None:
    """A mirror (with its credentials) is how the bytes came, not what they are: the committed lock stays the same."""
    kept = CrdLockEntry("v3.5.1", "https://mirror/old", HASH_A)
    via_mirror = CrdFile(ISVC.project, "v0.21.0", ISVC.path, ISVC.kind, "https://bot:s3cret@mirror/x.yaml")
    new = relock([via_mirror, APP_PROJECT], {APP_PROJECT.local: kept, "gone.yaml": kept}, {via_mirror: HASH_B})
    assert new == {
        ISVC.local: CrdLockEntry("v0.21.0", f"{RAW}/kserve/kserve/v0.21.0/{ISVC.path}", HASH_B),
        APP_PROJECT.local: kept,
    }
