from __future__ import annotations

from collections.abc import Mapping

from generator.errors import RegistryError, RegistryUnavailable
from generator.github.api import GitHubApi
from generator.webhook.github import FileMissing, GitHubError, WebhookGitHub
from generator.webhook.tagging import DeploymentTagger
from tests.unit.webhook.support import LOCK, REPOSITORY, SHA, argocd_body, fake_github, isvc

TOKEN = "argocd-shared-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Repository:
    def __init__(self, files: dict[tuple[str, str], str] | None = None, error: Exception | None = None) -> None:
        self._files = files if files is not None else {("models.lock", SHA): LOCK}
        self._error = error

    def read_file(self, path: str, ref: str) -> str:
        if self._error:
            raise self._error
        if (path, ref) not in self._files:
            raise FileMissing(f"{path} not found at {ref}", 404)
        return self._files[(path, ref)]


class Registry:
    def __init__(self, failures: Mapping[str, Exception] | None = None) -> None:
        self.tags: dict[tuple[str, str], dict[str, str]] = {}
        self._failures = dict(failures or {})

    def set_tags(self, name: str, version: str, tags: Mapping[str, str]) -> None:
        if name in self._failures:
            raise self._failures[name]
        self.tags.setdefault((name, version), {}).update(tags)


def test_deployment_tags_every_model_version_of_the_environment() -> None:
    registry = Registry()
    request = argocd_body(resources=[isvc("wine", "ml-prod", "Healthy"), isvc("iris", "ml-prod", "Healthy")])

    answer = DeploymentTagger(TOKEN, Repository(), registry).handle(AUTH, request)

    assert (answer.status, answer.action, answer.detail) == (200, "tagged", "")
    assert registry.tags == {
        ("Wine Classifier", "2"): {"deployed.prod": SHA, "health.prod": "Healthy"},
        ("iris", "1"): {"deployed.prod": SHA, "health.prod": "Healthy"},
    }
    assert answer.fields == {
        "event": "deployed",
        "app": "kserve-gitops-prod",
        "env": "prod",
        "revision": SHA,
        "tagged": "Wine Classifier/2, iris/1",
    }


def test_wrong_or_missing_token_is_refused_before_anything_is_read() -> None:
    registry = Registry()
    tagger = DeploymentTagger(TOKEN, Repository(error=AssertionError("must not be read")), registry)

    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
        assert (tagger.handle(headers, argocd_body()).status, registry.tags) == (401, {})


def test_lock_missing_at_that_revision_is_unusable_not_retried() -> None:
    answer = DeploymentTagger(TOKEN, Repository(files={}), Registry()).handle(AUTH, argocd_body())

    assert (answer.status, answer.action) == (422, "unusable")
    assert "models.lock not found at" in answer.detail


def test_unreadable_lock_is_unusable() -> None:
    answer = DeploymentTagger(TOKEN, Repository({("models.lock", SHA): "lockVersion: 9\n"}), Registry()).handle(
        AUTH, argocd_body()
    )

    assert (answer.status, answer.action) == (422, "unusable")


def test_lock_that_github_serves_as_non_utf8_bytes_is_unusable_and_named() -> None:
    with fake_github() as github:
        github.files[("models.lock", SHA)] = LOCK.encode() + b"# \xff\xfe\n"
        lock_reader = WebhookGitHub(GitHubApi(REPOSITORY, "ghp_not-a-real-token", api_url=github.url))
        registry = Registry()

        answer = DeploymentTagger(TOKEN, lock_reader, registry).handle(AUTH, argocd_body())

    assert (answer.status, answer.action) == (422, "unusable")
    assert answer.detail.startswith(f"models.lock at {SHA} in {REPOSITORY} is not UTF-8 text")
    assert registry.tags == {}


def test_github_failure_answers_502_so_argo_cd_retries() -> None:
    answer = DeploymentTagger(TOKEN, Repository(error=GitHubError("GitHub answered 500", 500)), Registry()).handle(
        AUTH, argocd_body()
    )

    assert (answer.status, answer.action) == (502, "failed")


def test_unreachable_registry_answers_503_so_argo_cd_retries() -> None:
    registry = Registry({"iris": RegistryUnavailable.simple("connection refused")})
    request = argocd_body(resources=[isvc("wine", "ml-prod", "Healthy"), isvc("iris", "ml-prod", "Healthy")])

    answer = DeploymentTagger(TOKEN, Repository(), registry).handle(AUTH, request)

    assert (answer.status, answer.action, answer.detail) == (503, "failed", "connection refused")
    assert answer.fields["tagged"] == "Wine Classifier/2"


def test_versions_gone_from_mlflow_and_services_not_in_the_lock_are_noted() -> None:
    registry = Registry({"iris": RegistryError.simple("'iris' version 1 does not exist")})
    request = argocd_body(
        resources=[
            isvc("wine", "ml-prod", "Healthy"),
            isvc("iris", "ml-prod", "Healthy"),
            isvc("other", "ml-prod", "Healthy"),
        ]
    )

    answer = DeploymentTagger(TOKEN, Repository(), registry).handle(AUTH, request)

    assert (answer.status, answer.action) == (200, "tagged")
    assert answer.detail == "not in models.lock: ml-prod/other; no such version in MLflow: iris/1"
    assert list(registry.tags) == [("Wine Classifier", "2")]


def test_malformed_body_is_400() -> None:
    answer = DeploymentTagger(TOKEN, Repository(), Registry()).handle(AUTH, b"{}")

    assert (answer.status, answer.action) == (400, "malformed")


def test_json_nested_too_deeply_to_parse_is_malformed() -> None:
    nested = b'{"event": "deployed", "resources": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    answer = DeploymentTagger(TOKEN, Repository(), Registry()).handle(AUTH, nested)

    assert (answer.status, answer.action) == (400, "malformed")
    assert "nests deeper than" in answer.detail
