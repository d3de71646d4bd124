"""The PostSync hook Job: valid for Kubernetes, hooked into Argo CD, locked down, and runnable without a checkout."""

from __future__ import annotations

from typing import Any

from generator.smoke.job import smoke_job
from generator.validate.manifests import CheckContext, check_object

SOURCE = "s3://mlflow-artifacts/mlartifacts/1/models/m-1/artifacts"


def _job(**options: str) -> dict[str, Any]:
    return smoke_job(
        "wine-classifier", "ml-prod", "prod", "ghcr.io/example/kserve-gitops:0.1.0", source=SOURCE, **options
    )


def test_job_passes_the_strict_kubernetes_schema() -> None:
    assert check_object(_job(), CheckContext(crds=None, k8s_version="1.33")) == []
    assert (
        check_object(
            _job(service_account="kserve-sa", secret="mlflow-credentials"), CheckContext(crds=None, k8s_version="1.33")
        )
        == []
    )


def test_job_is_an_argo_cd_post_sync_hook_replaced_on_each_sync() -> None:
    assert _job()["metadata"]["annotations"] == {
        "argocd.argoproj.io/hook": "PostSync",
        "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation,HookSucceeded",
    }


def test_job_asks_the_predictor_service_with_the_locked_source_and_needs_no_repository() -> None:
    (container,) = _job()["spec"]["template"]["spec"]["containers"]
    assert container["command"] == [
        "kserve-gitops",
        "smoke-test",
        "wine-classifier",
        "--env",
        "prod",
        "--url",
        "http://wine-classifier-predictor.ml-prod.svc.cluster.local",
        "--source",
        SOURCE,
        "--protocol",
        "v2",
    ]


def test_job_runs_as_non_root_with_a_read_only_root_and_bounded_resources() -> None:
    pod = _job()["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert set(container["resources"]) == {"requests", "limits"}
    assert _job()["spec"]["backoffLimit"] == 1


def test_credentials_come_from_a_secret_or_the_service_account_only_when_given() -> None:
    plain = _job()["spec"]["template"]["spec"]
    assert "serviceAccountName" not in plain and "envFrom" not in plain["containers"][0]
    given = _job(service_account="kserve-sa", secret="mlflow-credentials")["spec"]["template"]["spec"]
    assert given["serviceAccountName"] == "kserve-sa"
    assert given["containers"][0]["envFrom"] == [{"secretRef": {"name": "mlflow-credentials"}}]


def test_job_name_fits_the_job_name_label_for_the_longest_inferenceservice_name() -> None:
    longest = "m" * 53  # models.yaml allows ≤ 53 characters
    job = smoke_job(longest, "ns", "dev", "img", source=SOURCE)
    assert len(job["metadata"]["name"]) <= 63
    assert check_object(job, CheckContext(crds=None, k8s_version="1.33")) == []
