"""Which lock entries move, and when: the pip-compile contract of models.lock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from generator.lock.model import Lock, LockEntry
from generator.lock.resolve import Update, merge, queries_for, stale_entries
from generator.registry.base import ModelVersion, NotFound, Query
from generator.spec.load import parse_spec
from generator.spec.model import Ref, Spec

SPEC = """\
apiVersion: kserve-gitops/v1
registry: {artifactsDestination: "s3://bucket/mlartifacts"}
defaults: {resources: {limits: {cpu: 1, memory: 1Gi}}}
environments: {dev: {namespace: d}, staging: {namespace: s}, prod: {namespace: p}}
models:
  wine:
    registeredModel: Wine
    environments:
      dev: {latest: true}
      staging: {alias: challenger}
      prod: {alias: champion%s}
  churn:
    registeredModel: churn
    environments:
      prod: {version: 4}
"""


def _spec(prod_extra: str = "") -> Spec:
    return parse_spec(SPEC % prod_extra)[0]


def _entry(model: str, env: str, ref: Ref, version: str, registered: str = "Wine") -> LockEntry:
    source = f"mlflow-artifacts:/1/models/m-{version}/artifacts"
    return LockEntry(model, env, registered, ref, version, source, f"s3://bucket/mlartifacts/1/models/m-{version}/artifacts",
                     f"run{version}")


def _full_lock() -> Lock:
    entries = [
        _entry("wine", "dev", Ref("latest"), "3"),
        _entry("wine", "staging", Ref("alias", "challenger"), "3"),
        _entry("wine", "prod", Ref("alias", "champion"), "2"),
        _entry("churn", "prod", Ref("version", "4"), "4", "churn"),
    ]
    return Lock({e.key: e for e in entries})


def _answer(query: Query, version: str) -> ModelVersion:
    return ModelVersion(query.registered_model, version, f"mlflow-artifacts:/1/models/m-{version}/artifacts",
                        f"run{version}")


def test_complete_lock_needs_no_registry_call() -> None:
    assert queries_for(_spec(), _full_lock(), Update()) == []


def test_missing_entries_are_the_only_queries() -> None:
    lock = _full_lock()
    del lock.entries[("wine", "prod")]
    assert queries_for(_spec(), lock, Update()) == [Query("Wine", Ref("alias", "champion"))]


def test_update_asks_for_floating_references_only() -> None:
    queries = queries_for(_spec(), _full_lock(), Update.parse([]))
    assert Query("churn", Ref("version", "4")) not in queries
    assert len(queries) == 3


def test_update_of_one_target_moves_only_that_entry() -> None:
    spec, lock = _spec(), _full_lock()
    update = Update.parse(["wine/prod"])
    queries = queries_for(spec, lock, update)
    assert queries == [Query("Wine", Ref("alias", "champion"))]
    new, problems = merge(spec, lock, update, {queries[0]: _answer(queries[0], "5")})
    assert problems == []
    changed = {k for k in new.entries if new.entries[k] != lock.entries[k]}
    assert changed == {("wine", "prod")}
    assert new.entries[("wine", "prod")].version == "5"
    assert new.entries[("wine", "prod")].artifact_uri == "s3://bucket/mlartifacts/1/models/m-5/artifacts"


def test_update_by_model_name_selects_all_its_environments() -> None:
    assert len(queries_for(_spec(), _full_lock(), Update.parse(["wine"]))) == 3


def test_hold_keeps_the_locked_version_under_update() -> None:
    spec = _spec(", hold: true")
    queries = queries_for(spec, _full_lock(), Update.parse([]))
    assert Query("Wine", Ref("alias", "champion")) not in queries


def test_changed_reference_is_resolved_again_even_when_held() -> None:
    spec = parse_spec((SPEC % ", hold: true").replace("champion", "gold"))[0]
    assert Query("Wine", Ref("alias", "gold")) in queries_for(spec, _full_lock(), Update())


def test_changed_registered_model_is_resolved_again() -> None:
    lock = _full_lock()
    lock.entries[("churn", "prod")] = replace(lock.entries[("churn", "prod")], registered_model="old-churn")
    assert queries_for(_spec(), lock, Update()) == [Query("churn", Ref("version", "4"))]


def test_entries_for_removed_targets_are_dropped() -> None:
    lock = _full_lock()
    lock.entries[("gone", "dev")] = _entry("gone", "dev", Ref("latest"), "1")
    new, _ = merge(_spec(), lock, Update(), {})
    assert ("gone", "dev") not in new.entries


def test_not_found_becomes_a_located_diagnostic() -> None:
    spec, lock = _spec(), _full_lock()
    del lock.entries[("wine", "prod")]
    query = Query("Wine", Ref("alias", "champion"))
    answer = NotFound(query, "alias 'champion' not found on 'Wine'", "set it")
    _, problems = merge(spec, lock, Update(), {query: answer})
    assert [str(p) for p in problems] == [
        "models.yaml:11: $.models.wine.environments.prod.alias: alias 'champion' not found on 'Wine'\n  fix: set it"
    ]


def test_unfetchable_location_is_refused_with_a_fix() -> None:
    spec, lock = _spec(), _full_lock()
    del lock.entries[("wine", "prod")]
    query = Query("Wine", Ref("alias", "champion"))
    answer = ModelVersion("Wine", "2", "file:///tmp/mlruns/1/models/m-2/artifacts", "run2")
    _, problems = merge(spec, lock, Update(), {query: answer})
    assert "KServe cannot fetch" in problems[0].message
    assert "s3://" in problems[0].hint


def test_changed_artifacts_destination_relocates_kept_entries_without_registry() -> None:
    spec = replace(_spec(), artifacts_destination="s3://other/root")
    assert queries_for(spec, _full_lock(), Update()) == []
    assert len(stale_entries(spec, _full_lock())) == 4
    new, _ = merge(spec, _full_lock(), Update(), {})
    assert new.entries[("wine", "dev")].artifact_uri == "s3://other/root/1/models/m-3/artifacts"


def test_stale_entries_name_the_target_and_the_command() -> None:
    lock = _full_lock()
    del lock.entries[("churn", "prod")]
    (problem,) = stale_entries(_spec(), lock)
    assert problem.message == "churn/prod has no lock entry"
    assert "kserve-gitops lock" in problem.hint


@pytest.mark.parametrize(("values", "expected"), [(None, Update()), ([], Update(everything=True)),
                                                  (["a/b"], Update(selectors=("a/b",)))])
def test_update_parse(values: list[str] | None, expected: Update) -> None:
    assert Update.parse(values) == expected


def test_unknown_update_selector_is_reported() -> None:
    assert Update.parse(["wine/qa", "wine"]).unknown_selectors(_spec()) == ["wine/qa"]
