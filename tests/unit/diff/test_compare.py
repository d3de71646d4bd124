"""Two builds of one directory compared object by object: what changed, in which object, as a unified diff."""

from __future__ import annotations

import copy
from typing import Any

from generator.diff.compare import Build, ObjectId, compare, object_changes, skipped


def isvc(name: str, *, replicas: int = 1, version: str = "v1beta1") -> dict[str, Any]:
    return {
        "apiVersion": f"serving.kserve.io/{version}",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": "ml-prod"},
        "spec": {"predictor": {"minReplicas": replicas, "model": {"modelFormat": {"name": "mlflow"}}}},
    }


PROJECT = {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "models"}}


def test_the_same_objects_in_another_order_are_no_change() -> None:
    before = Build((isvc("a"), isvc("b"), PROJECT))
    after = Build((PROJECT, isvc("b"), isvc("a")))

    result = compare("environments/prod", before, after)

    assert (result.status, result.changes, result.diff, result.summary) == ("unchanged", (), "", "no change")


def test_one_changed_field_names_exactly_that_object_and_line() -> None:
    result = compare("environments/prod", Build((isvc("a"), isvc("b"))), Build((isvc("a"), isvc("b", replicas=2))))

    assert result.status == "changed"
    assert [(c.id, c.change) for c in result.changes] == [
        (ObjectId("serving.kserve.io", "InferenceService", "ml-prod", "b"), "changed")
    ]
    assert result.diff.startswith(
        "--- before/environments/prod/InferenceService/ml-prod/b\n"
        "+++ after/environments/prod/InferenceService/ml-prod/b\n@@ "
    )
    assert "-    minReplicas: 1\n+    minReplicas: 2\n" in result.diff
    assert (result.added, result.removed, result.summary) == (1, 1, "+1 \N{MINUS SIGN}1 lines")


def test_added_and_removed_objects_diff_against_dev_null_in_a_stable_order() -> None:
    changes = object_changes("environments/dev", [isvc("gone"), PROJECT], [isvc("new"), PROJECT])

    assert [(c.id.name, c.change) for c in changes] == [("gone", "removed"), ("new", "added")]
    assert changes[0].diff.startswith("--- before/environments/dev/InferenceService/ml-prod/gone\n+++ /dev/null\n")
    assert changes[1].diff.startswith("--- /dev/null\n+++ after/environments/dev/InferenceService/ml-prod/new\n")
    assert all(line.startswith("+") for line in changes[1].diff.splitlines()[2:] if not line.startswith("@@"))


def test_a_new_api_version_of_the_same_object_is_a_change_not_a_replacement() -> None:
    changes = object_changes("environments/prod", [isvc("a")], [isvc("a", version="v1")])

    assert [c.change for c in changes] == ["changed"]
    assert "-apiVersion: serving.kserve.io/v1beta1\n+apiVersion: serving.kserve.io/v1\n" in changes[0].diff


def test_cluster_scoped_objects_have_no_namespace_in_their_path() -> None:
    changed = copy.deepcopy(PROJECT) | {"spec": {"description": "models"}}

    [change] = object_changes("argocd", [PROJECT], [changed])

    assert change.diff.startswith("--- before/argocd/AppProject/models\n")


def test_a_directory_only_one_side_has_is_new_or_removed() -> None:
    new = compare("environments/qa", Build(), Build((isvc("a"), isvc("b"))))
    removed = compare("environments/qa", Build((isvc("a"),)), Build())

    assert (new.status, new.summary) == ("new", f"new, {new.added} lines")
    assert new.added > 10 and new.removed == 0
    assert (removed.status, removed.summary) == ("removed", f"removed, {removed.removed} lines")


def test_an_empty_build_on_one_side_still_counts_as_built() -> None:
    """A kustomization with no resources is there: its objects appearing is a change, not a new directory."""
    assert compare("environments/qa", Build(()), Build((isvc("a"),))).status == "changed"


def test_a_failed_build_is_reported_with_its_side_and_kustomize_s_words() -> None:
    broken = Build(error="kustomize build failed: missing resource x.yaml")

    at_base = compare("environments/prod", broken, Build((isvc("a"),)))
    in_tree = compare("environments/prod", broken, Build(error="kustomize build failed: bad patch"))

    assert (at_base.status, at_base.failed, at_base.error) == (
        "build-failed",
        "base",
        "kustomize build failed: missing resource x.yaml",
    )
    assert at_base.summary == "⚠️ kustomize failed on the base"
    assert (in_tree.failed, in_tree.error) == ("working tree", "kustomize build failed: bad patch")


def test_a_skipped_directory_says_why() -> None:
    assert skipped("environments/Bad_Name").summary == "⚠️ not an environment name, not built"


def test_an_object_one_build_holds_in_two_api_versions_is_shown_twice_never_hidden() -> None:
    """kustomize builds both (its ids hold the version); a diff keyed without it would show one of them alone."""
    hidden = isvc("a", replicas=9, version="v1")

    changes = object_changes("environments/prod", [isvc("a")], [isvc("a"), hidden])

    assert [(c.id.path, c.change) for c in changes] == [("InferenceService.v1/ml-prod/a", "added")]
    assert "+    minReplicas: 9\n" in changes[0].diff
    assert object_changes("environments/prod", [isvc("a"), hidden], [isvc("a"), hidden]) == ()


def test_names_in_diff_headers_are_printable_and_start_no_line_of_their_own() -> None:
    forged = isvc("evil\x1b[2J\n::error file=models.yaml::forged")

    [change] = object_changes("environments/prod", [], [forged])

    assert change.diff.splitlines()[1] == (
        "+++ after/environments/prod/InferenceService/ml-prod/evil\\x1b[2J\\n::error file=models.yaml::forged"
    )
    assert not any(line.startswith("::") for line in change.diff.splitlines())


def test_a_value_that_reads_otherwise_than_it_shows_is_shown_escaped() -> None:
    """A bidirectional control in a value (the base's hand-made manifest, a registry's URI) would reorder the diff's
    line in a terminal or in the pull request's comment: the line shows the escape, in YAML that means the same."""
    before, after = isvc("a"), isvc("a")
    after["spec"]["predictor"]["model"]["storageUri"] = "s3://models/\u202egnp.txt"

    result = compare("environments/prod", Build((before,)), Build((after,)))

    assert '+      storageUri: "s3://models/\\u202Egnp.txt"\n' in result.diff
    assert "\u202e" not in result.diff
