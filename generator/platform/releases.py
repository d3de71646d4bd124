"""The KServe and Argo CD releases kserve-gitops knows, as data: one record per release line, each fact with its source.

`platform.kserveVersion` and `platform.argocdVersion` in models.yaml pin a release; `release()` finds its record
(a pin `v0.20.N` gets the `v0.20` record: patch releases of one line share these facts) and refuses a release
nobody read, naming the known ones. Adding a release is adding a record here; nothing else in the product holds
these facts (a test walks the imports), so render, validate, lock, smoke, spec and `schemas fetch` follow it.

Each fact has a `Source`: repository, ref and path. A source read at the release tag is *confirmed*. For a release
whose tag could not be read here, a fact read on the project's default branch before the tag is recorded with that
branch's commit and date and `confirmed=False`; commands that use it say so (spec/load.py warns once per release),
and nothing no source shows is listed. A wrong CRD path fails loudly: `schemas fetch` refuses a file that is not
the expected CRD, and its lock is trust on first use (generator/crds/sources.py).

What the runtimes of each release run (images, MLflow inside them) is in `runtimes.py`, keyed by the same lines.
What the renderer writes in place of KServe's admission webhook (the custom container's name and default resources,
docs/kserve-webhook-defaults.md) and the ingress-class annotation it sets per deployment mode are facts of the KServe
record; the Argo CD features the rendered ApplicationSet relies on are minimums every Argo CD record must meet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

DeploymentMode = Literal["Standard", "Knative"]

KSERVE_DEFAULT_PIN = "v0.20.0"  # what models.yaml pins when it says nothing, and what `init` writes
ARGOCD_DEFAULT_PIN = "v3.5.1"
_VERSION = re.compile(r"v(\d+)\.(\d+)\.(\d+)")

# Where the releases were read (git snapshots of the upstream repositories; `git show <ref>:<path>`).
_KSERVE_TAG = "kserve/kserve tag v0.20.0 (1fb781055dd1567164358233e1125142ca6ef1fe, 2026-08-05)"
_KSERVE_MAIN = "kserve/kserve master@aaac4e294dae2c7b1aa1886447793f3aa1c30912 (2026-08-21, describe v0.20.0-rc0-104)"
_ARGOCD_TAG = "argoproj/argo-cd tag v3.5.1 (109ca7ca71139e514114499d294a492e7910a965, 2026-08-12)"
_ARGOCD_MAIN = "argoproj/argo-cd master@37ee0097cf851bc2dd7665fc081bbce61a7e836e (2026-08-22, VERSION 3.6.0)"


@dataclass(frozen=True)
class Source:
    """Where one fact was read: `at` a repository and ref (tag or branch@commit), in `path`.
    `confirmed`: read in the release tag's own files; otherwise on the default branch before the tag."""

    at: str
    path: str
    confirmed: bool = True

    def __str__(self) -> str:
        where = f"{self.at}, {self.path}"
        return where if self.confirmed else f"read from {where}, before the tag; unconfirmed at the tag"


@dataclass(frozen=True)
class Release:
    """One release line of an upstream project. `tag` is the release the facts describe (`v0.21.0`)."""

    project: str
    setting: str  # the models.yaml key that pins it
    tag: str
    crd_files: tuple[tuple[str, str], ...]  # (path at the tag, kind of the one CRD it holds)
    sources: Mapping[str, Source]  # fact (a field name) → where it was read

    @property
    def line(self) -> str:
        return release_line(self.tag)

    @property
    def pin(self) -> str:
        """What a pin of this release looks like, for messages: `v0.20.x`."""
        return f"{self.line}.x"

    @property
    def confirmed(self) -> bool:
        return all(source.confirmed for source in self.sources.values())

    def unconfirmed(self) -> dict[str, Source]:
        return {fact: source for fact, source in self.sources.items() if not source.confirmed}


@dataclass(frozen=True)
class KServeRelease(Release):
    """What manifests for one KServe release must respect (validate/kserve_rules.py, spec/rules.py, render/)."""

    deployment_mode_annotation: str
    autoscaling_metrics: Mapping[DeploymentMode, tuple[str, ...]]  # the modes, each with the metrics it scales on
    legacy_deployment_modes: Mapping[str, DeploymentMode]  # old name → the mode it became
    storage_uri_prefixes: tuple[str, ...]  # what the controller's ValidateStorageURI accepts
    inference_service_container: str  # the name the webhook gives a predictor's one custom container
    container_resource_defaults: Mapping[str, Mapping[str, str]]  # requests/limits the webhook fills into it
    ingress_class_annotations: Mapping[DeploymentMode, str]  # the annotation `serving.ingressClass` is written to
    model_format_annotation: str  # the annotation the webhook sets to `predictor.model.modelFormat.name`
    knative_hpa_class: tuple[str, str]  # (annotation, value) making a Knative-mode service scale with the HPA
    standard_hpa_class: tuple[str, str]  # (annotation, value) with which KServe checks a Standard service's HPA
    hpa_target_range: tuple[int, int]  # the scaleTarget KServe's admission takes where it checks HPA settings

    @property
    def deployment_modes(self) -> tuple[DeploymentMode, ...]:
        return tuple(self.autoscaling_metrics)


@dataclass(frozen=True)
class ArgoCdRelease(Release):
    """What the Argo CD manifests need of one Argo CD release."""

    inference_service_health: str  # the built-in health check of InferenceService (a path at the tag)


R = TypeVar("R", bound=Release)

# Plain words for each fact, for messages and the docs' table.
FACTS = {
    "crd_files": "CRD file paths",
    "deployment_mode_annotation": "deployment-mode annotation",
    "autoscaling_metrics": "deployment modes and their autoscaling metrics",
    "legacy_deployment_modes": "legacy deployment-mode names",
    "storage_uri_prefixes": "storage URI prefixes",
    "inference_service_health": "built-in InferenceService health check",
    "inference_service_container": "custom container name the webhook sets",
    "container_resource_defaults": "resources the webhook sets on a custom container",
    "ingress_class_annotations": "ingress-class annotation per deployment mode",
    "model_format_annotation": "model-format annotation the webhook sets",
    "knative_hpa_class": "Knative autoscaler-class annotation that selects the HPA",
    "standard_hpa_class": "autoscaler-class annotation with which KServe checks HPA settings",
    "hpa_target_range": "scale target range KServe's HPA check allows",
}

_KSERVE_CRDS = (
    ("config/crd/full/serving.kserve.io_inferenceservices.yaml", "InferenceService"),
    ("config/crd/full/serving.kserve.io_servingruntimes.yaml", "ServingRuntime"),
    ("config/crd/full/serving.kserve.io_clusterservingruntimes.yaml", "ClusterServingRuntime"),
    (
        "config/crd/full/clusterstoragecontainer/serving.kserve.io_clusterstoragecontainers.yaml",
        "ClusterStorageContainer",
    ),
    ("config/crd/full/serving.kserve.io_inferencegraphs.yaml", "InferenceGraph"),
)
_ARGOCD_CRDS = (
    ("manifests/crds/application-crd.yaml", "Application"),
    ("manifests/crds/applicationset-crd.yaml", "ApplicationSet"),
    ("manifests/crds/appproject-crd.yaml", "AppProject"),
)
# `validateAutoScalingCompExtension` (pkg/apis/serving/v1beta1/inference_service_validation.go): Standard mode
# scales with the HPA (metrics cpu, memory), every other mode with Knative's KPA (concurrency, rps).
_MODES: Mapping[DeploymentMode, tuple[str, ...]] = {"Standard": ("cpu", "memory"), "Knative": ("concurrency", "rps")}
_LEGACY: Mapping[str, DeploymentMode] = {"RawDeployment": "Standard", "Serverless": "Knative"}
_PREFIXES_V0_20 = (
    "gs://",
    "s3://",
    "pvc://",
    "file://",
    "https://",
    "http://",
    "hdfs://",
    "webhdfs://",
    "oci://",
    "oci+native://",
    "hf://",
)
# `inferenceService.resource` of the inferenceservice-config ConfigMap, which `setResourceRequirementDefaults` puts
# into a custom container lacking them (`predictor.model` never gets them).
_RESOURCES: Mapping[str, Mapping[str, str]] = {
    "requests": {"cpu": "1", "memory": "2Gi"},
    "limits": {"cpu": "1", "memory": "2Gi"},
}
# Neither key is a KServe constant: KServe passes the InferenceService's annotations on, and what reads them is the
# ingress controller (Standard) or Knative (see the sources, and docs/model-compatibility.md for what they imply).
_INGRESS_CLASS: Mapping[DeploymentMode, str] = {
    "Standard": "kubernetes.io/ingress.class",
    "Knative": "networking.knative.dev/ingress-class",
}


def _kserve_sources(at: str, confirmed: bool) -> dict[str, Source]:
    return {
        "crd_files": Source(at, "config/crd/full/ (the five files listed)", confirmed),
        "deployment_mode_annotation": Source(
            at, 'pkg/constants/constants.go `DeploymentMode = KServeAPIGroupName + "/deploymentMode"`', confirmed
        ),
        "autoscaling_metrics": Source(
            at,
            "pkg/constants/constants.go `DeploymentModeType` (Standard, Knative) and "
            "pkg/apis/serving/v1beta1/inference_service_validation.go `validateAutoScalingCompExtension`",
            confirmed,
        ),
        "legacy_deployment_modes": Source(
            at,
            "pkg/constants/constants.go `LegacyRawDeployment`, `LegacyServerless`, `ParseDeploymentMode`",
            confirmed,
        ),
        "storage_uri_prefixes": Source(
            at, "pkg/controller/v1beta1/inferenceservice/utils/utils.go `SupportedStorageURIPrefixList`", confirmed
        ),
        "inference_service_container": Source(
            at,
            'pkg/constants/constants.go `InferenceServiceContainerName = "kserve-container"`, set by '
            "`CustomPredictor.Default` in pkg/apis/serving/v1beta1/predictor_custom.go",
            confirmed,
        ),
        "container_resource_defaults": Source(
            at,
            "config/configmap/inferenceservice.yaml `inferenceService.resource` (cpuRequest/cpuLimit 1, "
            "memoryRequest/memoryLimit 2Gi; the Helm chart's charts/kserve-resources/values.yaml "
            "`kserve.inferenceservice.resources` has the same), applied by `setResourceRequirementDefaults` in "
            "pkg/apis/serving/v1beta1/inference_service_defaults.go",
            confirmed,
        ),
        "ingress_class_annotations": Source(
            at,
            "no KServe constant names either key. Standard: `createRawIngress` in "
            "pkg/controller/v1beta1/inferenceservice/reconcilers/ingress/kube_ingress_reconciler.go copies every "
            "InferenceService annotation onto the Ingress (`Annotations: isvc.Annotations`) and sets "
            '`IngressClassName` from inferenceservice-config `ingress.ingressClassName` ("istio" in '
            "config/configmap/inferenceservice.yaml); the key is Kubernetes' deprecated Ingress annotation. "
            "Knative: pkg/controller/v1beta1/inferenceservice/reconcilers/knative/ksvc_reconciler.go puts the "
            "annotations on the Knative Service's revision template, and only `managedKsvcAnnotations` on the "
            "Knative Service; the key is Knative's `IngressClassAnnotationAltKey` (knative/networking "
            "b96cbdcc21bf229b3b0f3e6a9f90621cf36038e4, pkg/apis/networking/register.go: meant for Knative "
            "Services or Routes)",
            confirmed,
        ),
        "model_format_annotation": Source(
            at,
            'pkg/constants/constants.go `ModelFormatAnnotationKey = "modelFormat"`, which `setPredictorModelDefaults` '
            "in pkg/apis/serving/v1beta1/inference_service_defaults.go sets to `predictor.model.modelFormat.name` "
            "when the annotation is absent (kserve/kserve#4953, first in tag v0.17.0)",
            confirmed,
        ),
        "knative_hpa_class": Source(
            at,
            "pkg/apis/serving/v1beta1/inference_service_validation.go `validateAutoScalingCompExtension`: outside "
            "Standard mode, `autoscaling.ClassAnnotationKey` set to `autoscaling.HPA` (knative.dev/serving "
            'pkg/apis/autoscaling/register.go: "autoscaling.knative.dev/class", "hpa.autoscaling.knative.dev") '
            "selects `validateScalingHPACompExtension`, whose metrics are pkg/constants/constants.go "
            "`AutoscalerAllowedHPAMetricsList` (cpu, memory), the Standard ones",
            confirmed,
        ),
        "standard_hpa_class": Source(
            at,
            "pkg/apis/serving/v1beta1/inference_service_validation.go `validateAutoScalingCompExtension`: in Standard "
            'mode only pkg/constants/constants.go `AutoscalerClass` ("serving.kserve.io/autoscalerClass") set to '
            '`AutoscalerClassHPA` ("hpa") selects `validateScalingHPACompExtension`; without it nothing is checked',
            confirmed,
        ),
        "hpa_target_range": Source(
            at,
            "pkg/apis/serving/v1beta1/inference_service_validation.go `validateScalingHPACompExtension`: "
            "`metric == MetricCPU && target < 1 || target > 100` refuses a target above 100 for every metric "
            "(memory too: && binds first), and below 1 for cpu; models.yaml's schema already asks for at least 1",
            confirmed,
        ),
    }


def _argocd_sources(at: str, confirmed: bool) -> dict[str, Source]:
    return {
        "crd_files": Source(at, "manifests/crds/ (kustomization.yaml lists the three files)", confirmed),
        "inference_service_health": Source(
            at,
            "resource_customizations/serving.kserve.io/InferenceService/health.lua (healthy with "
            "Stopped=False, argoproj/argo-cd#25312)",
            confirmed,
        ),
    }


_KSERVE_V0_20 = KServeRelease(
    project="KServe",
    setting="platform.kserveVersion",
    tag="v0.20.0",
    crd_files=_KSERVE_CRDS,
    deployment_mode_annotation="serving.kserve.io/deploymentMode",
    autoscaling_metrics=_MODES,
    legacy_deployment_modes=_LEGACY,
    storage_uri_prefixes=_PREFIXES_V0_20,
    inference_service_container="kserve-container",
    container_resource_defaults=_RESOURCES,
    ingress_class_annotations=_INGRESS_CLASS,
    model_format_annotation="modelFormat",
    knative_hpa_class=("autoscaling.knative.dev/class", "hpa.autoscaling.knative.dev"),
    standard_hpa_class=("serving.kserve.io/autoscalerClass", "hpa"),
    hpa_target_range=(1, 100),
    sources=_kserve_sources(_KSERVE_TAG, confirmed=True),
)
KSERVE_RELEASES: tuple[KServeRelease, ...] = (
    _KSERVE_V0_20,
    # v0.21.0 was released in September 2026, after the newest snapshot readable here (master, 2026-08-21). Every
    # fact was read on that master commit and equals v0.20.0's, except the storage prefixes: master adds
    # "oci+fetch://". (Between v0.20.0 and that commit, `git diff` shows no change to inference_service_defaults.go,
    # predictor_custom.go, config/configmap/inferenceservice.yaml or the chart's `inferenceservice.resources`; the
    # ingress reconcilers still copy the annotations as above, and master's `managedKsvcAnnotations` adds only
    # `serving.knative.openshift.io/enablePassthrough`.)
    replace(
        _KSERVE_V0_20,
        tag="v0.21.0",
        storage_uri_prefixes=(*_PREFIXES_V0_20[:-1], "oci+fetch://", "hf://"),  # master's order
        sources=_kserve_sources(_KSERVE_MAIN, confirmed=False),
    ),
)

_HEALTH = "resource_customizations/serving.kserve.io/InferenceService/health.lua"
_ARGOCD_V3_5 = ArgoCdRelease(
    project="Argo CD",
    setting="platform.argocdVersion",
    tag="v3.5.1",
    crd_files=_ARGOCD_CRDS,
    inference_service_health=_HEALTH,
    sources=_argocd_sources(_ARGOCD_TAG, confirmed=True),
)
ARGOCD_RELEASES: tuple[ArgoCdRelease, ...] = (
    _ARGOCD_V3_5,
    # v3.6.3 was released on 2026-11-24 (https://github.com/argoproj/argo-cd/releases/tag/v3.6.3); the snapshot
    # readable here ends with master at VERSION 3.6.0 before any v3.6 tag, so the facts were read there and equal
    # v3.5.1's.
    replace(_ARGOCD_V3_5, tag="v3.6.0", sources=_argocd_sources(_ARGOCD_MAIN, confirmed=False)),
)

# Why no older release is listed: before these, Argo CD's built-in InferenceService health check hangs at
# Progressing on a KServe that reports the `Stopped` condition. Every release above must meet them (tested).
HEALTH_CHECK_MINIMUMS = {
    "Argo CD": (
        "v3.3.0",
        Source(
            "argoproj/argo-cd#25312 (ed6fe769e6aa626f20379d0c2ccd3cbac2d8ae0c, 2025-11-17)",
            f"{_HEALTH}: first in tag v3.3.0-rc1 (`git tag --contains`), back-ported to v3.0.21, v3.1.10, v3.2.1",
        ),
    ),
    "KServe": (
        "v0.15.1",
        Source(
            "kserve/kserve tag v0.15.1",
            "pkg/apis/serving/v1beta1/inference_service_status.go: `Stopped apis.ConditionType`, absent at v0.15.0",
        ),
    ),
}

# What the rendered Argo CD objects rely on (render/argocd.py), with the first release that has it: every Argo CD
# release above must meet each (tested). Found by `git log -S` on the file named, then `git tag --contains` (the
# first tag listed is the version's -rc1), and checked absent at the last patch release of the line before.
ARGOCD_FEATURE_MINIMUMS: Mapping[str, tuple[str, Source]] = {
    "ApplicationSet": (
        "v2.3.0",
        Source(
            "argoproj/argo-cd tag v2.3.0 (fe427802293b090f43f91f5839393174df6c3b3a, 2022-03-06)",
            'CHANGELOG.md "Argo CD ApplicationSet and Notifications are now part of Argo CD" '
            "(feat: Bundle applicationset-controller with argocd, #8148)",
        ),
    ),
    "notifications.argoproj.io/subscribe": (
        "v2.3.0",
        Source(
            "argoproj/argo-cd tag v2.3.0 (fe427802293b090f43f91f5839393174df6c3b3a, 2022-03-06)",
            'CHANGELOG.md "Argo CD ApplicationSet and Notifications are now part of Argo CD": the default '
            "installation bundles argocd-notifications",
        ),
    ),
    "goTemplate": (
        "v2.5.0",
        Source(
            "argoproj/argo-cd#10026 (97471f4a5a953291174553187bda059e473f20f0, 2022-08-08)",
            "manifests/crds/applicationset-crd.yaml `goTemplate`: first in tag v2.5.0-rc1, absent at v2.4.28",
        ),
    ),
    "goTemplateOptions": (
        "v2.8.0",
        Source(
            "argoproj/argo-cd#13731 (944eaddd8d4acc839ac9c2dae2754706f62c1823, 2023-05-30)",
            "manifests/crds/applicationset-crd.yaml `goTemplateOptions` (missingkey=error): first in tag "
            "v2.8.0-rc1, absent at v2.7.18",
        ),
    ),
    "templatePatch": (
        "v2.10.0",
        Source(
            "argoproj/argo-cd#14893 (a08c573d32c77145754b09bfc6fd63944512f123, 2023-12-01)",
            "manifests/crds/applicationset-crd.yaml `templatePatch`: first in tag v2.10.0-rc1, absent at v2.9.22",
        ),
    ),
    "ServerSideApply=true": (
        "v2.5.0",
        Source(
            "argoproj/argo-cd#9711 (22a3b02a2d0485c3f4c0209c01959bbf5bf4418b, 2022-08-05)",
            "docs/user-guide/sync-options.md `ServerSideApply=true` (feat: Introduces Server-Side Apply as sync "
            "option): first in tag v2.5.0-rc1, absent at v2.4.28",
        ),
    ),
    "PruneLast=true": (
        "v2.0.0",
        Source(
            "argoproj/argo-cd#5199 (f5b97042673e246ce98bb5ce530b3a21b6e2977e, 2021-01-06)",
            'feat: prune last: first in tag v2.0.0-rc1; CHANGELOG.md v2.0.0 "The new sync option `PruneLast=true`"',
        ),
    ),
}


class UnknownRelease(ValueError):
    """A pin no record matches; the message lists the known releases."""

    def __init__(self, setting: str, version: str, known: tuple[Release, ...]) -> None:
        self.known = tuple(r.pin for r in known)
        super().__init__(f"{setting} {version} is not a release kserve-gitops knows (known: {', '.join(self.known)})")


def release_line(version: str) -> str:
    """`v0.20` of `v0.20.0`: patch releases of one line share their facts unless a record says otherwise."""
    return ".".join(version.split(".")[:2])


def release(known: tuple[R, ...], version: str) -> R:
    """The record a pin `vX.Y.Z` falls in; `UnknownRelease` for any other pin."""
    if _VERSION.fullmatch(version):
        for record in known:
            if record.line == release_line(version):
                return record
    raise UnknownRelease(known[0].setting, version, known)
