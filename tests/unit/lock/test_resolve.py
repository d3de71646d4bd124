"""Which lock entries move, and when: the pip-compile contract of models.lock."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import pytest

from generator.lock.io import dumps, loads
from generator.lock.model import LoadCheck, Lock
from generator.lock.resolve import Update, compatibility, merge, queries_for, stale_entries
from generator.registry.base import ModelInfo, ModelVersion, NotFound, Query
from generator.spec.load import parse_spec
from generator.spec.model import Ref, Spec
from tests.support.lock_entries import locked

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


CLOUDPICKLE = ModelInfo(("python_function", "sklearn"), "cloudpickle", "2.20.4")
_entry = partial(locked, info=CLOUDPICKLE)  # resolved versions carry their MLmodel facts
SKOPS = ModelInfo(("python_function", "sklearn"), "skops", "2.20.4")


def _spec(prod_extra: str = "") -> Spec:
    return parse_spec(SPEC % prod_extra)[0]


def _full_lock() -> Lock:
    entries = [
        _entry("wine", "dev", Ref("latest"), "3"),
        _entry("wine", "staging", Ref("alias", "challenger"), "3"),
        _entry("wine", "prod", Ref("alias", "champion"), "2"),
        _entry("churn", "prod", Ref("version", "4"), "4", "churn"),
    ]
    return Lock({e.key: e for e in entries})


def _answer(query: Query, version: str, info: ModelInfo | None = CLOUDPICKLE) -> ModelVersion:
    return ModelVersion(
        query.registered_model, version, f"mlflow-artifacts:/1/models/m-{version}/artifacts", f"run{version}", info
    )


def _unrecorded(lock: Lock) -> Lock:
    """The lock as written before MLmodel facts were recorded."""
    return Lock({key: replace(entry, info=None) for key, entry in lock.entries.items()})


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


@pytest.mark.parametrize(
    ("version", "run_id", "said"),
    [("02", "run2", "version '02'"), ("2", "../../etc", "run id '../../etc'"), ("9" * 400, "run2", "version '999")],
)
def test_an_answer_the_lock_could_not_be_read_back_with_is_refused_at_its_environment(
    version: str, run_id: str, said: str
) -> None:
    spec, lock = _spec(), _full_lock()
    del lock.entries[("wine", "prod")]
    query = Query("Wine", Ref("alias", "champion"))
    answer = ModelVersion("Wine", version, "mlflow-artifacts:/1/models/m-2/artifacts", run_id)
    new, problems = merge(spec, lock, Update(), {query: answer})
    assert ("wine", "prod") not in new.entries
    (problem,) = problems
    assert problem.line == 11
    assert problem.message.startswith(f"Wine: the registry gives {said}")
    assert problem.message.endswith("which models.lock cannot hold")


def test_a_version_registered_without_a_run_is_locked_and_read_back() -> None:
    spec, lock = _spec(), _full_lock()
    del lock.entries[("wine", "prod")]
    query = Query("Wine", Ref("alias", "champion"))
    new, problems = merge(spec, lock, Update(), {query: replace(_answer(query, "2"), run_id="")})
    assert problems == []
    assert loads(dumps(new).decode()).entries[("wine", "prod")].run_id == ""


def test_a_merge_that_changes_nothing_gives_the_old_lock_with_the_text_it_was_read_from() -> None:
    old = replace(_full_lock(), text="# the file as read\n")
    new, problems = merge(_spec(), old, Update(), {})
    assert (new, problems) == (old, [])
    assert new.text == old.text, "io.dumps gives that text back when this tool wrote it"


def test_changed_artifacts_destination_relocates_kept_entries_without_registry() -> None:
    spec = replace(_spec(), artifacts_destination="s3://other/root")
    assert queries_for(spec, _full_lock(), Update()) == []
    assert len(stale_entries(spec, _full_lock())) == 4
    new, _ = merge(spec, _full_lock(), Update(), {})
    assert new.entries[("wine", "dev")].artifact_uri == "s3://other/root/1/models/m-3/artifacts"


def test_an_artifact_location_that_is_not_where_the_source_leads_names_both_and_both_causes() -> None:
    """A hand-edited artifactUri looks, to render, like a changed destination: the message says what the lock has,
    what it should have, and that either may be why, so nobody hunts for a destination change that never was."""
    lock = _full_lock()
    lock.entries[("wine", "dev")] = replace(lock.entries[("wine", "dev")], artifact_uri="s3://bucket/mlartifacts/x")
    (problem,) = stale_entries(_spec(), lock)
    assert problem.message == (
        "models.lock has 's3://bucket/mlartifacts/x' for wine/dev, but its source with registry.artifactsDestination "
        "gives 's3://bucket/mlartifacts/1/models/m-3/artifacts': the destination changed since the lock was written, "
        "or the lock was edited by hand"
    )
    assert "kserve-gitops lock" in problem.hint


def test_stale_entries_name_the_target_and_the_command() -> None:
    lock = _full_lock()
    del lock.entries[("churn", "prod")]
    (problem,) = stale_entries(_spec(), lock)
    assert problem.message == "churn/prod has no lock entry"
    assert "kserve-gitops lock" in problem.hint


@pytest.mark.parametrize(
    ("values", "expected"), [(None, Update()), ([], Update(everything=True)), (["a/b"], Update(selectors=("a/b",)))]
)
def test_update_parse(values: list[str] | None, expected: Update) -> None:
    assert Update.parse(values) == expected


def test_unknown_update_selector_is_reported() -> None:
    assert Update.parse(["wine/qa", "wine"]).unknown_selectors(_spec()) == ["wine/qa"]


def test_fresh_entry_records_the_mlmodel_facts() -> None:
    lock = _full_lock()
    del lock.entries[("wine", "prod")]
    query = Query("Wine", Ref("alias", "champion"))
    new, problems = merge(_spec(), lock, Update(), {query: _answer(query, "2")})
    assert problems == []
    assert new.entries[("wine", "prod")].info == CLOUDPICKLE


def test_version_its_runtime_cannot_load_is_refused_at_its_environment_with_the_fix() -> None:
    lock = _full_lock()
    del lock.entries[("wine", "prod")]
    query = Query("Wine", Ref("alias", "champion"))
    new, problems = merge(_spec(), lock, Update(), {query: _answer(query, "2", SKOPS)})
    assert ("wine", "prod") not in new.entries
    (problem,) = problems
    assert problem.location() == "models.yaml:11: $.models.wine.environments.prod"
    assert problem.message.startswith("'Wine' version 2: it is serialized as 'skops', which kserve-mlserver")
    assert 'serialization_format="cloudpickle"' in problem.hint
    assert problem.rule == "model-runtime-compat"


def test_kept_entry_its_runtime_cannot_load_is_refused_too() -> None:
    lock = _full_lock()
    lock.entries[("churn", "prod")] = replace(lock.entries[("churn", "prod")], info=SKOPS)
    assert queries_for(_spec(), lock, Update()) == []
    new, problems = merge(_spec(), lock, Update(), {})
    assert [p.path for p in problems] == ["$.models.churn.environments.prod"]
    assert ("churn", "prod") not in new.entries


def test_lock_without_facts_is_kept_without_registry_calls_and_warned_about_outside_prod() -> None:
    spec, lock = _spec(), _unrecorded(_full_lock())
    for entry in ("wine", "prod"), ("churn", "prod"):
        lock.entries[entry] = replace(lock.entries[entry], info=CLOUDPICKLE)
    assert queries_for(spec, lock, Update()) == []
    new, problems = merge(spec, lock, Update(), {})
    assert (new, problems) == (lock, [])
    (warning,) = compatibility(spec, new)  # one finding, at its first place, naming every place
    assert warning.severity == "warning"
    assert warning.path.removeprefix("$.models.") == "wine.environments.dev"
    assert warning.message.endswith("(served at wine/dev and wine/staging)")
    assert "run `kserve-gitops compat` to load it" in warning.hint


def test_prod_refuses_a_version_whose_loadability_is_unknown_unless_its_policies_allow_it() -> None:
    lock = _unrecorded(_full_lock())
    new, problems = merge(_spec(), lock, Update(), {})
    assert [p.path.removeprefix("$.models.") for p in problems] == ["churn.environments.prod", "wine.environments.prod"]
    assert "policies.allowUnverifiedModels is false" in problems[0].message
    assert "`kserve-gitops compat churn --env prod`" in problems[0].hint, "each refusal names its own target"
    assert "`kserve-gitops compat wine --env prod`" in problems[1].hint
    assert ("wine", "prod") not in new.entries
    allowed = parse_spec(
        SPEC.replace("prod: {namespace: p}", "prod: {namespace: p, policies: {allowUnverifiedModels: true}}") % ""
    )[0]
    assert merge(allowed, lock, Update(), {}) == (lock, [])


def test_a_version_verified_by_loading_is_kept_in_prod_without_mlmodel_facts() -> None:
    lock = _unrecorded(_full_lock())
    verified = LoadCheck("docker.io/seldonio/mlserver:1.5.0", "loads", "docker")
    for key in ("wine", "prod"), ("churn", "prod"):
        lock.entries[key] = replace(lock.entries[key], load_check=verified)
    assert merge(_spec(), lock, Update(), {}) == (lock, [])


def test_a_load_check_follows_its_version_only() -> None:
    verified = LoadCheck("docker.io/seldonio/mlserver:1.5.0", "loads", "docker")
    lock = _full_lock()
    lock.entries[("wine", "staging")] = replace(lock.entries[("wine", "staging")], load_check=verified)
    lock.entries[("wine", "dev")] = replace(lock.entries[("wine", "dev")], load_check=verified)
    queries = queries_for(_spec(), lock, Update.parse(["wine/staging", "wine/dev"]))
    answers = {q: _answer(q, "3" if q.ref.kind == "alias" else "5") for q in queries}
    new, _ = merge(_spec(), lock, Update.parse(["wine/staging", "wine/dev"]), answers)
    assert new.entries[("wine", "staging")].load_check == verified, "re-read, same version"
    assert new.entries[("wine", "dev")].load_check is None, "moved to version 5: unchecked"


def test_update_records_missing_facts_of_held_and_pinned_versions_without_moving_them() -> None:
    spec, lock = _spec(", hold: true"), _unrecorded(_full_lock())
    update = Update.parse(["wine/prod", "churn"])
    queries = queries_for(spec, lock, update)
    assert queries == [Query("Wine", Ref("version", "2")), Query("churn", Ref("version", "4"))]
    answers = {q: _answer(q, q.ref.value) for q in queries}
    new, problems = merge(spec, lock, update, answers)
    assert problems == []
    assert new.entries[("wine", "prod")] == replace(lock.entries[("wine", "prod")], info=CLOUDPICKLE)
    assert new.entries[("churn", "prod")].info == CLOUDPICKLE
    assert new.entries[("wine", "dev")].info is None, "not selected"


def test_compatibility_says_nothing_about_a_model_from_a_newer_mlflow() -> None:
    """It warned on every MLflow 3 model; a warning that always fires teaches people to ignore it."""
    lock = _full_lock()
    lock.entries[("churn", "prod")] = replace(
        lock.entries[("churn", "prod")], info=replace(CLOUDPICKLE, mlflow_version="3.17.2")
    )
    assert compatibility(_spec(), lock) == []


def test_the_same_finding_is_reported_once_with_its_model_versions_and_places() -> None:
    skops = replace(CLOUDPICKLE, serialization_format="skops")
    lock = Lock({key: replace(entry, info=skops) for key, entry in _full_lock().entries.items()})
    (warning,) = compatibility(_spec(), lock)
    assert warning.location() == "models.yaml:15: $.models.churn.environments.prod"
    assert warning.message.startswith(
        "'churn' version 4, 'Wine' version 3 and 'Wine' version 2: it is serialized as 'skops'"
    )
    assert warning.message.endswith("(served at churn/prod, wine/dev, wine/staging and wine/prod)")


def test_a_finding_at_scale_stays_one_bounded_line() -> None:
    envs = "{dev: {latest: true}, prod: {version: 1}}"
    models = "".join(f"  m{i:03d}: {{registeredModel: M{i:03d}, environments: {envs}}}\n" for i in range(500))
    spec, _ = parse_spec(SPEC.split("models:", maxsplit=1)[0] + "models:\n" + models)
    skops = replace(CLOUDPICKLE, serialization_format="skops")
    lock = Lock(
        {
            t.key: _entry(t.model, t.env, t.ref, "1" if t.env == "prod" else "2", t.registered_model, info=skops)
            for t in spec.targets
        }
    )
    (warning,) = compatibility(spec, lock)
    assert warning.message.startswith(
        "'M000' version 2, 'M000' version 1, 'M001' version 2 and 997 more model versions: it is serialized as 'skops'"
    )
    assert warning.message.endswith(
        "(served at m000/dev, m000/prod, m001/dev, m001/prod, m002/dev, m002/prod and 994 more places)"
    )


def test_compatibility_judges_only_targets_served_by_a_runtime() -> None:
    spec = _spec()
    image = tuple(replace(t, serving=replace(t.serving, method="image")) for t in spec.targets)
    assert compatibility(replace(spec, targets=image), _unrecorded(_full_lock())) == []


FOLLOWING = SPEC.replace("prod: {namespace: p}", "prod: {namespace: p, follow: staging}")


def _moved(lock: Lock, spec: Spec, versions: dict[str, str]) -> tuple[Lock, list[str]]:
    """`lock --update` after the registry moved: env → the version its reference now resolves to."""
    update = Update.parse([])
    answers = {}
    for query in queries_for(spec, lock, update):
        env = next(t.env for t in spec.targets if (t.registered_model, t.wanted) == (query.registered_model, query.ref))
        answers[query] = _answer(query, versions.get(env, "3"))
    new, problems = merge(spec, lock, update, answers)
    return new, [p.message for p in problems]


def test_following_environment_takes_a_version_its_leader_has_locked() -> None:
    new, problems = _moved(_full_lock(), parse_spec(FOLLOWING % "")[0], {"staging": "5", "prod": "5"})
    assert problems == []
    assert new.entries[("wine", "prod")].version == "5"


def test_following_environment_keeps_its_version_until_the_leader_has_the_new_one() -> None:
    new, problems = _moved(_full_lock(), parse_spec(FOLLOWING % "")[0], {"staging": "3", "prod": "6"})
    assert problems == []
    assert new.entries[("wine", "prod")] == _full_lock().entries[("wine", "prod")]


def test_following_environment_without_a_lock_entry_names_the_leader() -> None:
    lock = _full_lock()
    del lock.entries[("wine", "prod")]
    new, problems = _moved(lock, parse_spec(FOLLOWING % "")[0], {"staging": "3", "prod": "6"})
    assert problems == ["version 6 is not locked in 'staging', which prod follows"]
    assert ("wine", "prod") not in new.entries


CHAIN = FOLLOWING.replace("staging: {namespace: s}", "staging: {namespace: s, follow: dev}")


def test_a_chain_gates_step_by_step_a_follower_never_takes_what_its_leader_was_held_back_from() -> None:
    new, problems = _moved(_full_lock(), parse_spec(CHAIN % "")[0], {"dev": "4", "staging": "5", "prod": "5"})
    assert problems == []
    assert new.entries[("wine", "dev")].version == "4"
    assert new.entries[("wine", "staging")] == _full_lock().entries[("wine", "staging")], "5 is not locked in dev"
    assert new.entries[("wine", "prod")] == _full_lock().entries[("wine", "prod")], "staging was held back from 5"


def test_a_chain_moves_together_once_each_leader_has_the_version() -> None:
    new, problems = _moved(_full_lock(), parse_spec(CHAIN % "")[0], {"dev": "5", "staging": "5", "prod": "5"})
    assert problems == []
    assert [new.entries[("wine", env)].version for env in ("dev", "staging", "prod")] == ["5", "5", "5"]


def test_pinned_hold_resolves_exactly_that_version_and_keeps_the_reference_for_later() -> None:
    spec = _spec(", hold: 1")
    (query,) = queries_for(spec, _full_lock(), Update())
    assert query == Query("Wine", Ref("version", "1"))
    new, _ = merge(spec, _full_lock(), Update(), {query: _answer(query, "1")})
    assert (new.entries[("wine", "prod")].version, new.entries[("wine", "prod")].reference) == ("1", query.ref)
    assert Query("Wine", Ref("alias", "champion")) not in queries_for(spec, new, Update.parse([])), "held"


def test_a_hand_edited_version_of_a_numeric_reference_is_resolved_again() -> None:
    lock = _full_lock()
    lock.entries[("churn", "prod")] = replace(lock.entries[("churn", "prod")], version="999")
    assert queries_for(_spec(), lock, Update()) == [Query("churn", Ref("version", "4"))]


def test_a_registry_location_outside_the_declared_prefixes_is_not_locked() -> None:
    lock = _full_lock()
    del lock.entries[("wine", "prod")]
    query = Query("Wine", Ref("alias", "champion"))
    answer = replace(_answer(query, "2"), download_uri="s3://elsewhere/1/models/m-2/artifacts")
    new, (problem,) = merge(_spec(), lock, Update(), {query: answer})
    assert ("wine", "prod") not in new.entries
    assert problem.message == (
        "Wine version 2: the registry gives 's3://elsewhere/1/models/m-2/artifacts', which is "
        "not under an allowed storage prefix (allowed prefixes: s3://bucket/mlartifacts)"
    )
    assert "registry.allowedStoragePrefixes" in problem.hint


def test_an_unfetchable_locked_source_is_stale_for_render() -> None:
    lock = _full_lock()
    lock.entries[("wine", "prod")] = replace(
        lock.entries[("wine", "prod")], source="file:///etc/passwd", artifact_uri="file:///etc/passwd"
    )
    (problem,) = stale_entries(_spec(), lock)
    assert "'file:///etc/passwd' uses 'file', which KServe cannot fetch" in problem.message
