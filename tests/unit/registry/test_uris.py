"""Which artifact locations a lock may send KServe to: object stores under a declared prefix, nothing else."""

from __future__ import annotations

import pytest

from generator.registry.uris import (
    Unfetchable,
    foreign_host,
    location_problem,
    mlflow_cannot_read,
    scheme_of,
    storage_uri,
)

PREFIXES = ("s3://mlflow-artifacts/mlartifacts", "gs://ml-models/", "https://models.example.com/team-a")


@pytest.mark.parametrize(
    "uri",
    [
        "s3://mlflow-artifacts/mlartifacts/1/models/m-1/artifacts",
        "s3://mlflow-artifacts/mlartifacts",
        "gs://ml-models/wine/3",
    ],
)
def test_object_store_locations_under_a_declared_prefix_are_allowed(uri: str) -> None:
    assert location_problem(uri, PREFIXES) is None


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("file:///etc/passwd", "uses 'file://'; a storage location must use one of s3://, gs://, https://"),
        ("http://169.254.169.254/latest/meta-data/iam/", "uses 'http://'"),
        ("https://169.254.169.254/latest/meta-data/", "points at a loopback, private or link-local address"),
        ("https://[::1]/models", "points at a loopback, private or link-local address"),
        ("https://localhost/models", "points at a loopback, private or link-local address"),
        ("/var/lib/models", "uses no scheme"),
        ("pvc://models/wine", "uses 'pvc://'"),
        ("s3://other-bucket/mlartifacts/1/models/m-1/artifacts", "is not under an allowed storage prefix"),
        ("s3://mlflow-artifacts/mlartifacts-old/1", "is not under an allowed storage prefix"),
        ("s3://mlflow-artifacts/mlartifacts/../secrets", "has '.' or '..' path segments"),
        ("https://models.example.com/team-a/%2e%2e/team-b/secret", "has '.' or '..' path segments"),
        ("s3://mlflow-artifacts/mlartifacts/%2E%2E/secrets", "has '.' or '..' path segments"),
        ("s3://mlflow-artifacts/mlartifacts/..%2fsecrets", "percent-encoded '/'"),
        ("https://models.example.com/team-a/..%5Cteam-b", "percent-encoded '/'"),
        ("https://models.example.com/team-a/..\\team-b", "has a '\\'"),
        ("s3://mlflow-artifacts/mlartifacts/1/\u202emodel", "control characters"),
        ("s3://mlflow-artifacts/mlartifacts/1?versionId=x", "a query"),
        ("s3://key:secret@mlflow-artifacts/mlartifacts/1", "credentials"),
        ("s3://mlflow-artifacts/mlartifacts/1\n", "whitespace"),
    ],
)
def test_anything_else_is_refused_with_the_reason(uri: str, problem: str) -> None:
    found = location_problem(uri, PREFIXES)
    assert found is not None and problem in found


def test_without_a_declared_prefix_nothing_is_allowed() -> None:
    assert location_problem("s3://mlflow-artifacts/mlartifacts/1", ()) == (
        "cannot be checked: models.yaml declares no storage prefix"
    )


def test_registry_answers_outside_the_object_store_schemes_are_unfetchable() -> None:
    assert isinstance(storage_uri("file:///mlruns/1/artifacts", ""), Unfetchable)
    assert isinstance(storage_uri("http://minio:9000/bucket/1", ""), Unfetchable)
    assert storage_uri("mlflow-artifacts:/1/models/m-1/artifacts", "s3://b/ml") == "s3://b/ml/1/models/m-1/artifacts"


@pytest.mark.parametrize(
    "proxied",
    [
        "mlflow-artifacts:/1/models/m-1/artifacts",
        "mlflow-artifacts://mlflow.example.com:5000/1/models/m-1/artifacts",
        "http://mlflow:5000/api/2.0/mlflow-artifacts/artifacts/1/models/m-1/artifacts",
        "https://mlflow.example.com/api/2.0/mlflow-artifacts/artifacts/1/models/m-1/artifacts",
    ],
)
def test_every_form_of_a_proxied_location_is_mapped_onto_the_artifacts_destination(proxied: str) -> None:
    """KServe fetches one file from an http(s) location, never a model's directory: the tracking server's artifact
    API is read where the server itself reads it."""
    assert storage_uri(proxied, "s3://b/ml/") == "s3://b/ml/1/models/m-1/artifacts"
    assert isinstance(storage_uri(proxied, ""), Unfetchable)


@pytest.mark.parametrize("malformed", ["https://u:p@[::1/x", "s3://[bucket/1"])
def test_a_location_too_malformed_to_parse_is_refused_in_words(malformed: str) -> None:
    """A registry's answer or a hand-edited models.lock: urlsplit raises on these, which was a crash (exit 3)."""
    where = storage_uri(malformed, "s3://b/ml")
    assert isinstance(where, str)
    assert location_problem(where, ("s3://b/ml", "https://u:p@[::1")) == (
        "is not a well-formed location (Invalid IPv6 URL)"
    )


def test_a_scheme_is_read_as_urlsplit_reads_it_without_parsing_the_rest() -> None:
    assert [scheme_of(u) for u in ("S3://b/x", "models:/m/1", "/tmp/a:b", "1abc:x", "https://[::1")] == [
        "s3",
        "models",
        "",
        "",
        "https",
    ]


def test_a_location_the_registry_gives_is_quoted_with_its_control_characters_escaped() -> None:
    """What the registry returns reaches the terminal in a message: an escape sequence in it (which could clear the
    screen or forge text) is shown as `\\x1b`, and a NUL as `\\x00`, never sent raw."""
    hostile = "file:///mlartifacts/1/\x1b[2J\x1b[31mHACKED\x00/artifacts"
    refused = storage_uri(hostile, "s3://b/mlartifacts")
    assert isinstance(refused, Unfetchable)
    assert "\x1b" not in refused.message and "\x00" not in refused.message
    assert "\\x1b[2J\\x1b[31mHACKED\\x00" in refused.message


@pytest.mark.parametrize(
    ("uri", "readable"),
    [
        ("https://mlflow.example.com/api/2.0/mlflow-artifacts/artifacts/1/models/m-abc/artifacts", True),
        ("s3://bucket/1/models/m-abc/artifacts", True),
        ("mlflow-artifacts:/1/models/m-abc/artifacts", True),
        ("models:/wine/3", True),
        ("https://storage.example.com/models/wine", False),
        ("HTTP://10.0.0.9/wine", False),
        ("https://u:p@[::1/x", False),  # not parsed: what Python's URL parser refuses is refused here too
        ("/tmp/http://x", True),
    ],
)
def test_mlflow_reads_http_locations_only_at_a_servers_artifact_api(uri: str, readable: bool) -> None:
    problem = mlflow_cannot_read(uri)
    assert (problem is None) == readable
    if not readable:
        assert problem == (
            "MLflow reads an http(s):// location only at an MLflow server's artifact API "
            "(.../api/2.0/mlflow-artifacts/artifacts/...)"
        )


@pytest.mark.parametrize(
    ("uri", "tracking", "readable"),
    [
        ("mlflow-artifacts:/1/models/m-abc/artifacts", "https://mlflow.example.com", True),
        ("mlflow-artifacts://mlflow.example.com/1/m", "https://mlflow.example.com", True),
        ("https://MLflow.example.com:443/api/2.0/mlflow-artifacts/artifacts/1", "https://u:p@mlflow.example.com", True),
        ("s3://bucket/1/models/m-abc/artifacts", "", True),
        ("models:/wine/3", "https://mlflow.example.com", True),
        ("mlflow-artifacts://evil.example/1/models/m-abc/artifacts", "https://mlflow.example.com", False),
        ("https://evil.example/api/2.0/mlflow-artifacts/artifacts/1", "https://mlflow.example.com", False),
        ("http://mlflow.example.com:5000/api/2.0/mlflow-artifacts/artifacts/1", "http://mlflow.example.com", False),
        ("https://mlflow.example.com/api/2.0/mlflow-artifacts/artifacts/1", "", False),
        ("https://u:p@[::1/api/2.0/mlflow-artifacts/artifacts/x", "https://mlflow.example.com", True),  # the store's
    ],
)
def test_mlflow_reads_a_location_only_where_it_may_send_the_tracking_servers_credentials(
    uri: str, tracking: str, readable: bool
) -> None:
    problem = foreign_host(uri, tracking)
    assert (problem is None) == readable, problem
    if not readable:
        assert problem is not None and "MLflow's client would send the tracking server's credentials there" in problem
