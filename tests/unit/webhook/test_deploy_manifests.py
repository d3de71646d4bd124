"""deploy/webhook builds with the real kustomize and every object passes the strict Kubernetes 1.33 schemas.

Also checks what schemas cannot: the Deployment reads the variables the service reads, from a Secret
the user creates (none is shipped), runs locked down, and probes /healthz; and Argo CD sends the header
/argocd checks.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
import yaml

from generator.validate.kustomize import kustomize_build
from generator.validate.manifests import CheckContext, check_object
from generator.webhook.server import ARGOCD_TOKEN_ENV, GITHUB_TOKEN_ENV, MLFLOW_SECRET_ENV
from tests.support.paths import REPO_ROOT
from tests.unit.webhook.support import NOTIFICATIONS_CM

DEPLOY = REPO_ROOT / "deploy" / "webhook"
CONTEXT = CheckContext(crds=None, k8s_version="1.33")


@functools.cache
def built(directory: str) -> list[dict[str, Any]]:
    return kustomize_build(DEPLOY / directory)


@pytest.mark.parametrize("directory", [".", "argocd-notifications"])
def test_kustomize_output_passes_strict_schemas(directory: str) -> None:
    objects = built(directory)

    assert objects
    assert [str(d) for obj in objects for d in check_object(obj, CONTEXT)] == []


def test_service_objects_and_no_secret_values_are_shipped() -> None:
    kinds = sorted((obj["kind"], obj["metadata"]["name"]) for obj in built("."))

    assert kinds == [
        ("Deployment", "kserve-gitops-webhook"),
        ("Namespace", "kserve-gitops"),
        ("Service", "kserve-gitops-webhook"),
        ("ServiceAccount", "kserve-gitops-webhook"),
    ]


def container() -> dict[str, Any]:
    (deployment,) = [obj for obj in built(".") if obj["kind"] == "Deployment"]
    (found,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(found)


def test_secrets_come_from_the_users_secret_under_the_names_the_service_reads() -> None:
    refs = {env["name"]: env["valueFrom"]["secretKeyRef"] for env in container()["env"] if "valueFrom" in env}

    assert {GITHUB_TOKEN_ENV, MLFLOW_SECRET_ENV, ARGOCD_TOKEN_ENV} <= refs.keys()
    assert {ref["name"] for ref in refs.values()} == {"kserve-gitops-webhook"}
    assert not refs[GITHUB_TOKEN_ENV].get("optional")  # both endpoints need GitHub


def test_container_runs_as_non_root_with_a_read_only_root_and_probes_healthz() -> None:
    (deployment,) = [obj for obj in built(".") if obj["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    spec = container()

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert spec["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert {"requests", "limits"} <= spec["resources"].keys()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert spec[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert spec["command"][:3] == ["kserve-gitops", "webhook", "serve"]


def test_argo_cd_sends_the_bearer_token_to_the_service() -> None:
    data = yaml.safe_load(NOTIFICATIONS_CM.read_text())["data"]
    service = yaml.safe_load(data["service.webhook.kserve-gitops"])

    assert service["url"] == "http://kserve-gitops-webhook.kserve-gitops.svc.cluster.local:8080"
    assert {"name": "Authorization", "value": "Bearer $kserve-gitops-webhook-token"} in service["headers"]
    for trigger, template in (
        ("kserve-gitops-on-deployed", "kserve-gitops-deployed"),
        ("kserve-gitops-on-health-degraded", "kserve-gitops-degraded"),
    ):
        (condition,) = yaml.safe_load(data[f"trigger.{trigger}"])
        assert condition["send"] == [template]
        assert yaml.safe_load(data[f"template.{template}"])["webhook"]["kserve-gitops"]["path"] == "/argocd"
