"""A hand-edited models.lock is caught: offline by its artifact location, online by what the registry says."""

from __future__ import annotations

from dataclasses import replace

import pytest

from generator.lock import io as lock_io
from generator.lock.model import Lock
from generator.lock.verify import locations, queries, unserved, verify
from generator.registry.base import ModelInfo, NotFound, Query, Resolution
from generator.spec.model import Ref
from tests.unit.lock.test_resolve import CLOUDPICKLE, SKOPS, _answer, _full_lock, _spec


def _read(lock: Lock) -> Lock:
    """As `lock --check` sees it: read from the file, so every entry knows its lines."""
    return lock_io.loads(lock_io.dumps(lock).decode())


def _forged(**fields: str) -> Lock:
    lock = _full_lock()
    prod = lock.entries[("wine", "prod")]
    lock.entries[prod.key] = replace(
        prod,
        version=fields.get("version", prod.version),
        run_id=fields.get("run_id", prod.run_id),
        source=fields.get("source", prod.source),
        artifact_uri=fields.get("artifact_uri", prod.artifact_uri),
    )
    return _read(lock)


def _registry(lock: Lock, info: ModelInfo | None = CLOUDPICKLE) -> dict[Query, Resolution]:
    """What an honest registry answers: each version as `_answer` locked it (run id `run<N>`)."""
    return {q: _answer(q, q.ref.value, info) for q in queries(_spec(), lock)}


def test_every_locked_version_is_asked_once() -> None:
    assert queries(_spec(), _full_lock()) == [
        Query("Wine", Ref("version", "2")),
        Query("Wine", Ref("version", "3")),
        Query("churn", Ref("version", "4")),
    ]


def test_a_lock_the_registry_agrees_with_verifies() -> None:
    lock = _read(_full_lock())
    assert verify(_spec(), lock, _registry(lock)) == []
    assert locations(_spec(), lock) == []


def test_a_version_the_registered_model_does_not_have_is_refused_at_its_line() -> None:
    lock = _forged(version="999")
    answers = _registry(lock)
    answers[Query("Wine", Ref("version", "999"))] = NotFound(
        Query("Wine", Ref("version", "999")), "version 999 not found on 'Wine'"
    )
    (problem,) = verify(_spec(), lock, answers)
    assert (
        problem.location() == f"models.lock:{lock.entries[('wine', 'prod')].line_of('version')}: "
        "$.models.wine.prod.version"
    )
    assert problem.message == (
        "wine/prod: version 999 of registered model 'Wine' is not in the registry: version 999 not found on 'Wine'"
    )
    assert problem.hint == (
        "revert the hand edit of models.lock; if the version was deleted in MLflow, run "
        "`kserve-gitops lock --update wine/prod` to lock what its reference names now"
    )


def _gone(lock: Lock, model: str, env: str) -> dict[Query, Resolution]:
    """The registry once the version locked for `model`/`env` was deleted in MLflow."""
    answers = _registry(lock)
    query = Query(lock.entries[(model, env)].registered_model, Ref("version", lock.entries[(model, env)].version))
    answers[query] = NotFound(query, f"version {query.ref.value} not found on {query.registered_model!r}")
    return answers


def test_a_deleted_held_or_numeric_version_is_fixed_in_models_yaml_not_by_locking_it_again() -> None:
    """Deleting the entry and running `lock` would only ask for the deleted version again, and fail."""
    lock = _read(_full_lock())
    (held,) = verify(_spec(", hold: true"), lock, _gone(lock, "wine", "prod"))
    assert held.hint == (
        "revert the hand edit of models.lock; if the version was deleted in MLflow, pin an existing one: "
        "`kserve-gitops pin wine prod VERSION`"
    )
    (numeric,) = verify(_spec(), lock, _gone(lock, "churn", "prod"))
    assert numeric.hint == (
        "revert the hand edit of models.lock; if the version was deleted in MLflow, set "
        "models.churn.environments.prod.version in models.yaml to an existing version and run "
        "`kserve-gitops generate`"
    )


@pytest.mark.parametrize(
    ("field", "forged", "key", "registry"),
    [
        ("run_id", "run-forged", "runId", "run2"),
        ("source", "s3://other-bucket/m", "source", "mlflow-artifacts:/1/models/m-2/artifacts"),
        (
            "artifact_uri",
            "s3://bucket/mlartifacts/1/models/m-9/artifacts",
            "artifactUri",
            "s3://bucket/mlartifacts/1/models/m-2/artifacts",
        ),
    ],
)
def test_each_field_the_registry_gave_must_match_it(field: str, forged: str, key: str, registry: str) -> None:
    lock = _forged(**{field: forged})
    (problem,) = verify(_spec(), lock, _registry(lock))
    assert problem.path == f"$.models.wine.prod.{key}"
    assert problem.line == lock.entries[("wine", "prod")].line_of(key) > 0
    assert problem.message == (
        f"wine/prod: {key} is locked as '{forged}' but the registry has '{registry}' for 'Wine' version 2"
    )


def test_forged_loading_facts_are_refused_but_unreadable_ones_are_not_judged() -> None:
    lock = _read(_full_lock())
    (problem,) = {d.path for d in verify(_spec(), lock, _registry(lock, SKOPS)) if "wine.prod" in d.path}
    assert problem == "$.models.wine.prod.mlmodel"
    assert verify(_spec(), lock, _registry(lock, None)) == []


def test_a_held_or_numeric_entry_is_fixed_by_deleting_it_not_by_update() -> None:
    lock = _forged(run_id="run-forged")
    (problem,) = verify(_spec(", hold: true"), lock, _registry(lock))
    assert "delete models.wine.prod from models.lock and run `kserve-gitops lock`" in problem.hint


@pytest.mark.parametrize(
    "uri",
    [
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "s3://other-bucket/mlartifacts/1/models/m-2/artifacts",
    ],
)
def test_locations_outside_the_declared_prefixes_are_refused_offline(uri: str) -> None:
    lock = _forged(source=uri, artifact_uri=uri)
    (problem,) = locations(_spec(), lock)
    assert problem.location() == (
        f"models.lock:{lock.entries[('wine', 'prod')].line_of('artifactUri')}: $.models.wine.prod.artifactUri"
    )
    assert f"artifactUri '{uri}'" in problem.message
    assert "(allowed prefixes: s3://bucket/mlartifacts)" in problem.message
    assert problem.rule == "lock-storage-uri"
    assert "registry.allowedStoragePrefixes" in problem.hint


def test_a_location_too_malformed_to_parse_is_refused_offline_not_a_crash() -> None:
    lock = _forged(source="https://[::1/x", artifact_uri="https://[::1/x")
    (problem,) = locations(_spec(), lock)
    assert "artifactUri 'https://[::1/x' is not a well-formed location (Invalid IPv6 URL)" in problem.message


def test_locations_name_the_file_the_lock_was_read_from_and_redact_credentials() -> None:
    lock = _full_lock()
    uri = "s3://AKIA:secret@other/1"
    lock.entries[("wine", "prod")] = replace(lock.entries[("wine", "prod")], source=uri, artifact_uri=uri)
    (problem,) = locations(_spec(), lock_io.loads(lock_io.dumps(lock).decode(), "main:models.lock"))
    assert problem.file == "main:models.lock"
    assert "secret" not in str(problem)


def test_methods_that_do_not_render_the_artifact_location_are_not_judged_by_it() -> None:
    spec = _spec()
    spec = replace(spec, targets=tuple(replace(t, serving=replace(t.serving, method="image")) for t in spec.targets))
    assert locations(spec, _forged(source="file:///etc/passwd", artifact_uri="file:///etc/passwd")) == []


def test_entries_models_yaml_no_longer_serves_are_named_once_a_model_at_its_first_entry() -> None:
    lock = _read(_full_lock())
    spec = _spec()
    assert unserved(spec, lock, "error") == []
    only_wine_dev = replace(spec, targets=tuple(t for t in spec.targets if t.key == ("wine", "dev")))
    churn, wine = unserved(only_wine_dev, lock, "warning")  # in the file's order, as the lock's entries are
    first = lock.entries[("wine", "prod")].line_of()
    assert (wine.line, wine.path, wine.severity) == (first, "$.models.wine.prod", "warning")
    assert wine.message == "wine: entries for prod, staging, which models.yaml does not serve (they deploy nothing)"
    assert churn.message.startswith("churn: entries for prod,") and churn.line < wine.line
