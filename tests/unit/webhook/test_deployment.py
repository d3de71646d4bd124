from __future__ import annotations

from typing import Any

import pytest

from generator.errors import LockError
from generator.webhook.answer import Malformed
from generator.webhook.deployment import Notification, ServiceHealth, TagWrite, parse, tag_writes
from tests.unit.webhook.support import LOCK, SHA, application, argocd_body, isvc, render_notification


def test_shipped_deployed_template_renders_a_body_the_service_reads() -> None:
    resources = [
        isvc("wine", "ml-prod", "Healthy"),
        isvc("iris", "ml-prod", "Healthy"),
        {"group": "", "version": "v1", "kind": "ConfigMap", "namespace": "ml-prod", "name": "x", "status": "Synced"},
    ]

    notification = parse(
        render_notification("kserve-gitops-deployed", application("environments/prod", SHA, resources))
    )

    assert notification == Notification(
        "deployed",
        "kserve-gitops-prod",
        notification.path,
        SHA,
        (ServiceHealth("wine", "ml-prod", "Healthy"), ServiceHealth("iris", "ml-prod", "Healthy")),
    )
    assert (notification.env, notification.lock_path) == ("prod", "models.lock")


def test_shipped_degraded_template_renders_a_body_the_service_reads() -> None:
    app = application("environments/prod", SHA, [isvc("wine", "ml-prod", "Degraded")])

    notification = parse(render_notification("kserve-gitops-degraded", app))

    assert (notification.event, notification.services) == ("degraded", (ServiceHealth("wine", "ml-prod", "Degraded"),))


def test_every_inference_service_of_the_environment_gets_its_own_version_tagged() -> None:
    services = [isvc("wine", "ml-prod", "Healthy"), isvc("iris", "ml-prod", "Progressing")]
    notification = parse(argocd_body(resources=services))

    writes, unknown = tag_writes(notification, LOCK)

    assert writes == [
        TagWrite("wine", "Wine Classifier", "2", {"deployed.prod": SHA, "health.prod": "Healthy"}),
        TagWrite("iris", "iris", "1", {"deployed.prod": SHA, "health.prod": "Progressing"}),
    ]
    assert unknown == []


def test_degraded_sets_only_health_and_keeps_deployed() -> None:
    notification = parse(argocd_body(event="degraded", resources=[isvc("wine", "ml-prod", "Degraded")]))

    writes, _ = tag_writes(notification, LOCK)

    assert writes == [TagWrite("wine", "Wine Classifier", "2", {"health.prod": "Degraded"})]


def test_inference_services_not_in_the_lock_are_reported_not_tagged() -> None:
    services = [isvc("hand-made", "ml-prod", "Healthy"), isvc("wine", "ml-prod", "Healthy")]
    notification = parse(argocd_body(resources=services))

    writes, unknown = tag_writes(notification, LOCK)

    assert [w.service for w in writes] == ["wine"]
    assert unknown == ["ml-prod/hand-made"]


def test_without_health_only_the_revision_is_recorded() -> None:
    resource = isvc("wine", "ml-prod", "") | {"health": None}

    writes, _ = tag_writes(parse(argocd_body(resources=[resource])), LOCK)

    assert writes[0].tags == {"deployed.prod": SHA}


@pytest.mark.parametrize(
    ("path", "env", "lock_path"),
    [
        ("environments/staging", "staging", "models.lock"),
        ("./environments/staging/", "staging", "models.lock"),
        ("platform/ml/environments/prod", "prod", "platform/ml/models.lock"),
    ],
)
def test_models_lock_is_found_two_levels_above_the_synced_path(path: str, env: str, lock_path: str) -> None:
    notification = parse(argocd_body(path=path))

    assert (notification.env, notification.lock_path) == (env, lock_path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"path": "apps/prod"}, "is not <repo path>/environments/<env>"),
        ({"path": "../environments/prod"}, "is not <repo path>/environments/<env>"),
        ({"path": "/environments/prod"}, "is not <repo path>/environments/<env>"),
        ({"event": "synced"}, "event 'synced' is not one of deployed, degraded"),
        ({"revision": None}, "'revision' is missing"),
        ({"revision": " "}, "'revision' is missing"),
        ({"resources": None}, "'resources' is not a list"),
        ({"resources": [isvc("", "ml-prod", "Healthy")]}, "'name' is missing"),
    ],
)
def test_bodies_the_template_would_not_send_are_malformed(data: dict[str, Any], message: str) -> None:
    with pytest.raises(Malformed, match=message):
        parse(argocd_body(**data))


@pytest.mark.parametrize("raw", [b"{", b"[]"])
def test_non_objects_are_malformed(raw: bytes) -> None:
    with pytest.raises(Malformed):
        parse(raw)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lockVersion: 2\nmodels: {}\n", "not a models.lock with lockVersion 1"),
        ("[", "not valid YAML"),
        ("", "not a models.lock"),
    ],
)
def test_unreadable_lock_is_a_lock_error_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(LockError, match=message) as error:
        tag_writes(parse(argocd_body(path="ml/environments/prod")), text)

    assert error.value.diagnostics[0].file == "ml/models.lock"
