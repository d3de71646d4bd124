"""The smoke test as an Argo CD PostSync hook: one Job per InferenceService. Pure.

Argo CD runs PostSync hooks once every synced resource is healthy, and its
built-in health check for InferenceServices waits for Ready, so the Job asks a
predictor that has loaded its model; a failing Job marks the sync failed.
`BeforeHookCreation,HookSucceeded` deletes a passed Job at once and keeps a
failed one (with its logs) until the next sync replaces it.

The Job is given both `--url` and `--source`, so it needs no checkout of the
repository: only an image with kserve-gitops, and read access to `source`
(the predictor's own service account for `s3://…`, or MLflow credentials in a
Secret for `models:/…`).
"""

from __future__ import annotations

from typing import Any

from generator.smoke.endpoint import in_cluster_url

HOOK = {
    "argocd.argoproj.io/hook": "PostSync",
    "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation,HookSucceeded",
}
RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
NON_ROOT = 65532
DEADLINE_SECONDS = 300


def smoke_job(
    isvc_name: str,
    namespace: str,
    env: str,
    image: str,
    *,
    source: str,
    protocol: str = "v2",
    service_account: str = "",
    secret: str = "",
) -> dict[str, Any]:
    """A batch/v1 Job running `kserve-gitops smoke-test` against the predictor's in-cluster Service.

    `source` is what the lock recorded for this version (`artifactUri` if the Job
    runs as the predictor's service account, else `source` with MLflow access);
    `protocol` is the InferenceService's (`kserve-gitops.io/protocol`: v2 or mlflow-invocations);
    `secret` names a Secret whose keys become environment variables (MLFLOW_*, AWS_*).
    """
    labels = {
        "app.kubernetes.io/name": isvc_name,
        "app.kubernetes.io/component": "smoke-test",
        "app.kubernetes.io/managed-by": "kserve-gitops",
        "kserve-gitops.io/environment": env,
    }
    command = [
        "kserve-gitops",
        "smoke-test",
        isvc_name,
        "--env",
        env,
        "--url",
        in_cluster_url(isvc_name, namespace),
        "--source",
        source,
        "--protocol",
        protocol,
    ]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"{isvc_name}-smoke", "namespace": namespace, "labels": labels, "annotations": HOOK},
        "spec": {
            "backoffLimit": 1,
            "activeDeadlineSeconds": DEADLINE_SECONDS,
            "template": {
                "metadata": {"labels": labels},
                "spec": _pod(_container(command, image, secret), service_account),
            },
        },
    }


def _container(command: list[str], image: str, secret: str) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "smoke-test",
        "image": image,
        "command": command,
        "env": [{"name": "HOME", "value": "/tmp"}],  # the root filesystem is read-only; mlflow may cache under ~
        "resources": RESOURCES,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if secret:
        container["envFrom"] = [{"secretRef": {"name": secret}}]
    return container


def _pod(container: dict[str, Any], account: str) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,  # it never talks to the Kubernetes API
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": NON_ROOT,
            "runAsGroup": NON_ROOT,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
    }
    if account:
        pod["serviceAccountName"] = account
    return pod
