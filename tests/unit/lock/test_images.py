"""Image digests in models.lock: the format, the round trip, recording, and when a digest is dropped."""

from __future__ import annotations

from dataclasses import replace

import pytest

from generator.errors import LockError, UserError
from generator.lock.images import check_digest, image_tag, pending, record
from generator.lock.io import dumps, loads
from generator.lock.model import Lock, LockEntry
from generator.lock.resolve import Update, merge
from generator.registry.base import ModelVersion, Query
from generator.render.inferenceservice import image_reference
from generator.spec.load import parse_spec
from generator.spec.model import Ref, Spec
from tests.support.lock_entries import locked

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
SPEC = """\
apiVersion: kserve-gitops/v1
registry: {artifactsDestination: "s3://bucket/mlartifacts"}
defaults: {resources: {limits: {cpu: 1, memory: 1Gi}}}
environments:
  dev: {namespace: d}
  staging: {namespace: s}
  prod: {namespace: p, policies: {allowUnverifiedModels: true}}  # churn's MLmodel facts are not what this tests
models:
  wine:
    registeredModel: Wine
    method: image
    imageRepository: example.com/models/wine
    environments:
      dev: {latest: true}
      staging: {alias: challenger}
      prod: {alias: champion}
  churn:
    registeredModel: churn
    environments:
      prod: {version: 3}
"""


def _spec() -> Spec:
    return parse_spec(SPEC)[0]


def _lock(*entries: LockEntry) -> Lock:
    return Lock({e.key: e for e in entries})


LOCK = _lock(
    locked("wine", "dev", Ref("latest"), "3"),
    locked("wine", "staging", Ref("alias", "challenger"), "3"),
    locked("wine", "prod", Ref("alias", "champion"), "2"),
    locked("churn", "prod", Ref("version", "3"), "3", "churn"),
)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "sha256:" + "AB" * 32,
        "sha256:" + "a" * 63,
        "sha512:" + "a" * 64,
        "ab" * 32,
        DIGEST + "\n",
        "sha256:" + "g" * 64,
    ],
)
def test_only_sha256_with_64_lowercase_hex_is_a_digest(bad: str) -> None:
    with pytest.raises(UserError, match="not an image digest"):
        check_digest(bad)
    assert check_digest(DIGEST) == DIGEST


def test_lock_round_trip_with_and_without_digest() -> None:
    lock = _lock(*LOCK.entries.values(), replace(LOCK.entries[("wine", "prod")], env="canary", image_digest=DIGEST))
    text = dumps(lock).decode()
    assert text.count("imageDigest") == 1 and f"imageDigest: {DIGEST}" in text
    assert loads(text) == lock


def test_a_lock_without_digests_keeps_its_bytes() -> None:
    text = dumps(LOCK).decode()
    assert "imageDigest" not in text and dumps(loads(text)).decode() == text


def test_a_malformed_digest_in_the_lock_is_refused() -> None:
    text = dumps(record(_spec(), LOCK, "wine", "2", DIGEST)).decode().replace(DIGEST, "sha256:nope")
    with pytest.raises(LockError, match="does not match"):
        loads(text)


def test_image_reference_appends_the_digest_once_recorded() -> None:
    target = next(t for t in _spec().targets if t.key == ("wine", "prod"))
    entry = LOCK.entries[("wine", "prod")]
    assert image_reference(target, entry) == image_tag(target, entry) == "example.com/models/wine:wine-v2"
    assert image_reference(target, replace(entry, image_digest=DIGEST)) == f"example.com/models/wine:wine-v2@{DIGEST}"


def test_record_sets_the_digest_on_every_image_entry_of_that_model_and_version_only() -> None:
    new = record(_spec(), LOCK, "wine", "3", DIGEST)
    assert {key for key, e in new.entries.items() if e.image_digest} == {("wine", "dev"), ("wine", "staging")}
    assert new.entries[("wine", "prod")] == LOCK.entries[("wine", "prod")]


@pytest.mark.parametrize(
    ("model", "version", "named"),
    [
        ("wine", "7", "dev: version 3 (method image); staging: version 3 (method image); prod: version 2"),
        ("churn", "3", "prod: version 3 (method runtime)"),
        ("nope", "1", "models: churn, wine"),
    ],
)
def test_record_without_a_matching_entry_names_what_exists(model: str, version: str, named: str) -> None:
    with pytest.raises(UserError, match="served by method image") as caught:
        record(_spec(), LOCK, model, version, DIGEST)
    assert named in str(caught.value)


def test_pending_lists_each_undigested_image_once_with_the_environments_it_serves() -> None:
    found = pending(_spec(), record(_spec(), LOCK, "wine", "2", DIGEST))
    assert [p.as_dict() for p in found] == [
        {
            "model": "wine",
            "version": "3",
            "registeredModel": "Wine",
            "tag": "example.com/models/wine:wine-v3",
            "env": "dev",
            "envs": ["dev", "staging"],
        }
    ]
    assert pending(_spec(), record(_spec(), record(_spec(), LOCK, "wine", "2", DIGEST), "wine", "3", OTHER)) == []


def _moved(lock: Lock, version: str) -> Lock:
    """`lock --update wine/staging` with the registry saying challenger → `version`."""
    query = Query("Wine", Ref("alias", "challenger"))
    answer = ModelVersion("Wine", version, f"mlflow-artifacts:/1/models/m-{version}/artifacts", f"run{version}")
    new, problems = merge(_spec(), lock, Update.parse(["wine/staging"]), {query: answer})
    assert problems == []
    return new


def test_a_new_version_drops_the_digest() -> None:
    new = _moved(record(_spec(), LOCK, "wine", "3", DIGEST), "4")
    assert (new.entries[("wine", "staging")].version, new.entries[("wine", "staging")].image_digest) == ("4", "")
    assert new.entries[("wine", "dev")].image_digest == DIGEST  # not selected: kept as it was


def test_re_reading_an_alias_that_did_not_move_keeps_the_digest() -> None:
    new = _moved(record(_spec(), LOCK, "wine", "3", DIGEST), "3")
    assert new.entries[("wine", "staging")].image_digest == DIGEST
