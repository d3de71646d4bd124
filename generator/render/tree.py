"""Spec + lock → every generated file, as bytes by repository-relative path. No I/O."""

from __future__ import annotations

from generator.errors import LockError
from generator.lock.model import Lock
from generator.lock.resolve import stale_entries
from generator.render.argocd import argocd_objects
from generator.render.cluster import cluster_objects
from generator.render.inferenceservice import inference_service
from generator.spec.model import Spec
from generator.yamlio import dump, header

ENVIRONMENTS_DIR = "environments"
ARGOCD_DIR = "argocd"
CLUSTER_DIR = "cluster"
ROOT_KUSTOMIZATION = "kustomization.yaml"
HEADER_LINES = ("from models.yaml and models.lock; do not edit by hand.", "Regenerate: kserve-gitops render")
HEADER = header(*HEADER_LINES)


def render(spec: Spec, lock: Lock) -> dict[str, bytes]:
    """Raises LockError when the lock does not cover the spec (render never asks the registry)."""
    problems = stale_entries(spec, lock)
    if problems:
        raise LockError(problems)
    files: dict[str, bytes] = {}
    resources: dict[str, list[str]] = {name: [] for name in spec.environments}
    for target in spec.targets:
        entry = lock.get(target.model, target.env)
        assert entry is not None  # stale_entries guarantees it
        name = f"{target.model}.yaml"
        resources[target.env].append(name)
        document = inference_service(target, spec.environments[target.env], entry)
        files[f"{ENVIRONMENTS_DIR}/{target.env}/{name}"] = dump([document], HEADER)
    for env, names in resources.items():
        files[f"{ENVIRONMENTS_DIR}/{env}/kustomization.yaml"] = _kustomization(sorted(names))
    cluster = cluster_objects(spec)
    files.update({f"{CLUSTER_DIR}/{name}": dump([obj], HEADER) for name, obj in cluster.items()})
    if cluster:
        files[f"{CLUSTER_DIR}/kustomization.yaml"] = _kustomization(sorted(cluster))
    files[ROOT_KUSTOMIZATION] = _kustomization(
        [*([CLUSTER_DIR] if cluster else []), *(f"{ENVIRONMENTS_DIR}/{env}" for env in spec.environments)],
        comment="Aggregates cluster-wide objects and every environment; Argo CD syncs each directory on its own.",
    )
    if spec.argocd is not None:
        objects = argocd_objects(spec, spec.argocd, cluster_scoped=bool(cluster))
        files.update({f"{ARGOCD_DIR}/{name}": dump([obj], HEADER) for name, obj in objects.items()})
        files[f"{ARGOCD_DIR}/kustomization.yaml"] = _kustomization(
            sorted(objects), comment="Apply once; the ApplicationSet then creates one Application per environment.")
    return dict(sorted(files.items()))


def _kustomization(resources: list[str], comment: str = "") -> bytes:
    document = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}
    return dump([document], header(*HEADER_LINES, *([comment] if comment else [])))
