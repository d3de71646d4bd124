"""Argo CD objects for the rendered tree: one AppProject and one ApplicationSet. Pure.

The ApplicationSet's list generator has one element per environment and destination
cluster, so the same overlay fans out to every cluster an environment names; what
differs per element (destination kind, sync policy) goes through `templatePatch`.
The first Argo CD release with each field and sync option used here is `ARGOCD_FEATURE_MINIMUMS`
(generator/platform/releases.py); every known release is tested to meet them (templatePatch needs v2.10.0).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from generator.diagnostics import Diagnostic, json_path
from generator.errors import SpecError
from generator.spec.model import IN_CLUSTER, ArgoCD, Environment, Spec

API_VERSION = "argoproj.io/v1alpha1"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kserve-gitops"}
# What the tree contains; the project allows nothing else.
NAMESPACED_KINDS = ({"group": "serving.kserve.io", "kind": "InferenceService"},)
HOOK_KINDS = ({"group": "batch", "kind": "Job"},)  # the PostSync smoke tests
CLUSTER_KINDS = ({"group": "serving.kserve.io", "kind": "ClusterStorageContainer"},)
# Server-side apply: KServe's webhook and controller own some fields, and InferenceServices grow
# past the client-side last-applied annotation limit. PruneLast: new versions first, removals last.
# Deployment state goes back to MLflow through the webhook service (deploy/webhook/argocd-notifications).
NOTIFICATIONS = tuple(
    f"notifications.argoproj.io/subscribe.kserve-gitops-on-{trigger}.kserve-gitops"
    for trigger in ("deployed", "health-degraded")
)
SYNC_OPTIONS = ("ServerSideApply=true", "PruneLast=true")
# The patch is YAML text made by a Go template, so a value is written through sprig's `toJson`: a JSON string is a
# YAML scalar whatever it holds, where a cluster named `o'brien` inside '…' would end the quote and break the patch
# (Argo CD's advice: argoproj/argo-cd tag v3.5.1, docs/operator-manual/applicationset/Template.md, templatePatch;
# applicationset/utils/utils.go gives templates sprig.GenericFuncMap(), which has toJson).
TEMPLATE_PATCH = """\
spec:
  destination:
{{- if .server }}
    server: {{ .server | toJson }}
{{- else }}
    name: {{ .clusterName | toJson }}
{{- end }}
{{- if .automated }}
  syncPolicy:
    automated:
      prune: {{ .prune }}
      selfHeal: {{ .selfHeal }}
{{- end }}
"""


def argocd_objects(spec: Spec, argocd: ArgoCD, *, cluster_scoped: bool = False) -> dict[str, dict[str, Any]]:
    """File name → object, for argocd/. `cluster_scoped`: cluster/ holds objects to sync to every cluster."""
    return {
        "appproject.yaml": _project(spec, argocd, cluster_scoped),
        "applicationset.yaml": _application_set(spec, argocd, cluster_scoped),
    }


# What the template names each Application: the `name` of its list element.
_NAME_TEMPLATE = "{{ .name }}"


def generated_applications(objects: Iterable[Any]) -> dict[str, str]:
    """The Applications the ApplicationSets among `objects` (a build of argocd/) generate, by name, each with the
    directory it syncs; only sets that name them after list elements, as `argocd_objects` renders them.

    What `diff` tells a reviewer goes with an element: Argo CD gives each Application an ApplicationSet generates
    the resources finalizer (the set has no `syncPolicy.preserveResourcesOnDeletion`), and deletes the Application
    of an element that is gone (policy `sync`, the default), so every resource it deployed is deleted with it,
    whatever its own sync policy (argoproj/argo-cd tag v3.5.1, docs/operator-manual/applicationset/
    Application-Deletion.md and Controlling-Resource-Modification.md: only a controller started with `--policy
    create-only` or `create-update` keeps it)."""
    found: dict[str, str] = {}
    for obj in objects:
        spec = obj.get("spec") if isinstance(obj, dict) and obj.get("kind") == "ApplicationSet" else None
        template = spec.get("template") if isinstance(spec, dict) else None
        metadata = template.get("metadata") if isinstance(template, dict) else None
        if not isinstance(metadata, dict) or metadata.get("name") != _NAME_TEMPLATE:
            continue
        generators = spec.get("generators") if isinstance(spec, dict) else None
        for generator in generators if isinstance(generators, list) else []:
            listed = generator.get("list") if isinstance(generator, dict) else None
            elements = listed.get("elements") if isinstance(listed, dict) else None
            for element in elements if isinstance(elements, list) else []:
                if isinstance(element, dict) and isinstance(name := element.get("name"), str):
                    found[name] = str(element.get("path", ""))
    return found


def _project(spec: Spec, argocd: ArgoCD, cluster_scoped: bool) -> dict[str, Any]:
    destinations = [
        {**_destination(cluster), "namespace": env.namespace}
        for env in spec.environments.values()
        for cluster in env.clusters
    ]
    if cluster_scoped:
        destinations += [{**_destination(cluster), "namespace": ""} for cluster in _clusters(spec)]
    return {
        "apiVersion": API_VERSION,
        "kind": "AppProject",
        "metadata": {"name": argocd.project, "namespace": argocd.namespace, "labels": MANAGED_BY},
        "spec": {
            "description": "MLflow models served by KServe, rendered by kserve-gitops",
            "sourceRepos": [argocd.repo_url],
            "destinations": destinations,
            "clusterResourceWhitelist": list(CLUSTER_KINDS) if cluster_scoped else [],
            "namespaceResourceWhitelist": [*NAMESPACED_KINDS, *(HOOK_KINDS if argocd.smoke_test else ())],
        },
    }


def _application_set(spec: Spec, argocd: ArgoCD, cluster_scoped: bool) -> dict[str, Any]:
    elements = [_element(env, cluster, argocd) for env in spec.environments.values() for cluster in env.clusters]
    if cluster_scoped:
        elements += [_cluster_element(cluster, argocd, several=len(_clusters(spec)) > 1) for cluster in _clusters(spec)]
    _refuse_shared_names(spec, elements)
    return {
        "apiVersion": API_VERSION,
        "kind": "ApplicationSet",
        "metadata": {"name": argocd.project, "namespace": argocd.namespace, "labels": MANAGED_BY},
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"list": {"elements": elements}}],
            "template": {
                "metadata": {
                    "name": _NAME_TEMPLATE,
                    "labels": {**MANAGED_BY, "kserve-gitops.io/environment": "{{ .env }}"},
                    "annotations": dict.fromkeys(NOTIFICATIONS, ""),
                },
                "spec": {
                    "project": argocd.project,
                    "source": {
                        "repoURL": argocd.repo_url,
                        "targetRevision": argocd.target_revision,
                        "path": "{{ .path }}",
                    },
                    "destination": {"namespace": "{{ .namespace }}"},
                    "syncPolicy": {"syncOptions": list(SYNC_OPTIONS)},
                },
            },
            "templatePatch": TEMPLATE_PATCH,
        },
    }


def _element(env: Environment, cluster: str, argocd: ArgoCD) -> dict[str, Any]:
    suffix = f"-{_slug(cluster)}" if len(env.clusters) > 1 else ""
    destination = _destination(cluster)
    return {
        "name": f"{argocd.project}-{env.name}{suffix}",
        "env": env.name,
        "path": f"environments/{env.name}",
        "namespace": env.namespace,
        "server": destination.get("server", ""),
        "clusterName": destination.get("name", ""),
        "automated": env.sync.automated,
        "prune": env.sync.prune,
        "selfHeal": env.sync.self_heal,
    }


def _cluster_element(cluster: str, argocd: ArgoCD, *, several: bool) -> dict[str, Any]:
    """cluster/ to one destination cluster: automated, but never pruned (other namespaces depend on it)."""
    destination = _destination(cluster)
    return {
        "name": f"{argocd.project}-cluster" + (f"-{_slug(cluster)}" if several else ""),
        "env": "cluster",
        "path": "cluster",
        "namespace": "",
        "server": destination.get("server", ""),
        "clusterName": destination.get("name", ""),
        "automated": True,
        "prune": False,
        "selfHeal": True,
    }


def _refuse_shared_names(spec: Spec, elements: list[dict[str, Any]]) -> None:
    """Two elements that name one Application (clusters whose slugs agree, `https://a.example.com` and
    `https://a.example.com:6443`; environment `prod-eu` beside `prod` on cluster `eu`; an environment named `cluster`
    beside cluster/): Argo CD's ApplicationSet controller records the name as invalid ("contains applications
    with duplicate name", validateGeneratedApplications) under the Application's qualified name, which both share,
    and then creates or updates neither (Reconcile keeps only apps without a validation error; argoproj/argo-cd
    tag v3.5.1, applicationset/controllers/applicationset_controller.go). Said at the element that comes second."""
    first: dict[str, dict[str, Any]] = {}
    problems = []
    for element in elements:
        other = first.setdefault(element["name"], element)
        if other is element:
            continue
        where = ("environments", element["env"], "clusters") if element["path"] != "cluster" else ("environments",)
        problems.append(
            Diagnostic(
                file=spec.source,
                path=json_path(where),
                message=(
                    f"{_owner(element)} would be the Argo CD Application '{element['name']}', as {_owner(other)} "
                    "is: Argo CD's ApplicationSet then creates or updates neither"
                ),
                hint="rename the environment, or the clusters: an Application name keeps only the first 30 characters "
                "of a cluster's host, lower-cased, each run of other characters a dash (scheme, port and path dropped)",
            )
        )
    if problems:
        raise SpecError(problems)


def _cluster_of(element: dict[str, Any]) -> str:
    return str(element["server"] or element["clusterName"])


def _owner(element: dict[str, Any]) -> str:
    what = "cluster/" if element["path"] == "cluster" else f"environment '{element['env']}'"
    return f"{what} on cluster '{_cluster_of(element)}'"


def _clusters(spec: Spec) -> list[str]:
    return sorted({cluster for env in spec.environments.values() for cluster in env.clusters})


def _destination(cluster: str) -> dict[str, str]:
    return {"server": cluster} if cluster.startswith("https://") else {"name": cluster}


def _slug(cluster: str) -> str:
    """A DNS-label piece from a cluster name or URL, for Application names ('in-cluster' as Argo CD says)."""
    if cluster == IN_CLUSTER:
        return "in-cluster"
    host = re.sub(r"^https://", "", cluster).split("/")[0].split(":")[0]
    return re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")[:30].strip("-")
