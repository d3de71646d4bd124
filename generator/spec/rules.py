"""Checks on one target that JSON Schema cannot express (they need merged settings)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from generator.diagnostics import Severity
from generator.generated import LINEAGE
from generator.platform.names import derived_name_problems
from generator.platform.releases import KServeRelease
from generator.platform.runtimes import IMAGE_REFERENCE
from generator.spec.model import Environment, Serving, Target
from generator.util.quantity import parse_quantity


@dataclass(frozen=True)
class Problem:
    """A finding relative to `models.<name>.environments.<env>`; `field` narrows it."""

    message: str
    hint: str
    field: tuple[str, ...] = ()
    severity: Severity = "error"
    rule: str = ""


class TargetChecks:
    """The checks on each target of one environment. What depends on a target's `Serving` alone is found once for
    every target that shares it (most targets of an environment share one), by its identity, which it holds."""

    def __init__(self, environment: Environment, kserve: KServeRelease, *, storage_initializer: bool = False) -> None:
        self._environment, self._kserve, self._storage_initializer = environment, kserve, storage_initializer
        self._known: dict[int, tuple[Serving, list[Problem], list[Problem], list[Problem]]] = {}

    def __call__(self, target: Target) -> list[Problem]:
        serving, environment = target.serving, self._environment
        if (known := self._known.get(id(serving))) is None:
            known = self._known[id(serving)] = (
                serving,
                [
                    *_method(serving, self._storage_initializer),
                    *_mode_features(serving, self._kserve),
                    *_own_annotations(serving, self._kserve),
                ],
                [*_replicas(serving), *_resources(serving)],
                _policies(serving, environment),
            )
        _, first, then, policies = known
        return [
            *first,
            *_stage(target),
            *then,
            *_derived_names(target, environment),
            *policies,
            *_allow_latest(target, environment),
        ]


def check_gates(raw: Mapping[str, Any]) -> list[Problem]:
    """Metric gates whose bounds mean nothing: not finite (YAML's `.nan`, `.inf`, which JSON Schema's `number`
    admits, and which compare false or always the same way), or `min` above `max`, which no value can meet.
    `field` is relative to the gates' parent."""
    metrics = sorted(raw.get("metrics", {}).items())
    unbounded = [
        Problem(
            f"gate bound '{bound}' of metric '{name}' is {_yaml_float(rule[bound])}, not a finite number",
            "write a finite number, or drop the bound",
            ("gates", "metrics", name, bound),
        )
        for name, rule in metrics
        for bound in _GATE_BOUNDS
        if isinstance(rule.get(bound), float) and not math.isfinite(rule[bound])
    ]
    crossed = [
        Problem(
            f"gate on '{name}': min {rule['min']} is above max {rule['max']}, so no version can pass",
            "swap them, or drop one bound",
            ("gates", "metrics", name, "min"),
        )
        for name, rule in metrics
        if "min" in rule and "max" in rule and math.isfinite(rule["min"]) and rule["min"] > rule["max"]
    ]
    return unbounded + crossed


_GATE_BOUNDS = ("min", "max", "maxDrop", "maxRise")


def _yaml_float(value: float) -> str:
    """How YAML writes a float that is not finite: what the user typed."""
    return ".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf"


def _method(serving: Serving, storage_initializer: bool) -> list[Problem]:
    method = serving.method
    if method == "image" and not serving.image_repository:
        return [
            Problem(
                "method 'image' needs imageRepository (where the model images are pushed)",
                "set imageRepository in the model or in defaults, e.g. an ECR repository",
                ("method",),
            )
        ]
    if method == "registry" and not storage_initializer:
        return [
            Problem(
                "method 'registry' needs registry.storageInitializer (the image that fetches models:/ URIs)",
                "build images/storage-initializer and set registry.storageInitializer.image",
                ("method",),
            )
        ]
    return []


def _own_annotations(serving: Serving, kserve: KServeRelease) -> list[Problem]:
    """An annotation kserve-gitops writes itself, set in `annotations`, would be replaced without a word: the
    deployment mode and ingress class have fields of their own, the lineage records what was deployed."""
    fields = {kserve.deployment_mode_annotation: "deploymentMode"}
    fields |= dict.fromkeys(kserve.ingress_class_annotations.values(), "ingressClass")
    return [
        Problem(
            f"annotation '{key}' is written by kserve-gitops",
            f"set `{fields[key]}:` instead" if key in fields else f"remove it: {LINEAGE}/ records what was deployed",
            ("annotations", key),
        )
        for key in sorted(serving.annotations)
        if key in fields or key.startswith(f"{LINEAGE}/")
    ]


def _mode_features(serving: Serving, kserve: KServeRelease) -> list[Problem]:
    """Canary rollouts and autoscaling metrics exist only in some deployment modes of the pinned release."""
    mode = serving.deployment_mode
    problems = []
    if serving.canary_percent is not None and mode != "Knative":
        problems.append(
            Problem(
                f"canaryTrafficPercent needs deploymentMode Knative; {mode} mode has no traffic split",
                "use deploymentMode: Knative for canary rollouts, or remove canaryTrafficPercent",
                ("canaryTrafficPercent",),
            )
        )
    if serving.ingress_class and mode == "Standard":
        problems.append(
            Problem(
                f"ingressClass in Standard mode becomes the annotation {kserve.ingress_class_annotations[mode]}, "
                "which KServe copies onto the Ingress it creates beside spec.ingressClassName from its "
                "inferenceservice-config (set by KServe's installs by default); Kubernetes refuses an Ingress "
                "with both",
                "set the class in KServe's inferenceservice-config instead and remove ingressClass, or keep it only "
                "if that config sets no ingressClassName (docs/model-compatibility.md#releases)",
                ("ingressClass",),
                severity="warning",
                rule="ingress-class",
            )
        )
    return problems + _autoscaling(serving, kserve)


def _autoscaling(serving: Serving, kserve: KServeRelease) -> list[Problem]:
    """The metrics of the autoscaler the service gets, and the target range where KServe's admission checks them: a
    Knative-mode service whose annotations pick Knative's HPA class is checked with the HPA's metrics, and so is a
    Standard-mode one that names the HPA class; such a check refuses a target above 100 whatever the metric."""
    if serving.autoscaling is None:
        return []
    mode, (metric, target) = serving.deployment_mode, (serving.autoscaling.metric, serving.autoscaling.target)
    class_key, hpa_class = kserve.knative_hpa_class if mode == "Knative" else kserve.standard_hpa_class
    checked_as_hpa = serving.annotations.get(class_key) == hpa_class
    where = f"{mode} mode with {class_key}: {hpa_class}" if checked_as_hpa else f"{mode} mode"
    allowed = kserve.autoscaling_metrics["Standard" if checked_as_hpa else mode]
    if metric not in allowed:
        return [
            Problem(
                f"autoscaling metric '{metric}' is not available in {where}",
                f"use one of: {', '.join(allowed)}",
                ("autoscaling",),
            )
        ]
    low, high = kserve.hpa_target_range
    if checked_as_hpa and not low <= target <= high:
        return [
            Problem(
                f"autoscaling target {target} is outside {low}-{high}, which KServe's admission refuses for any "
                f"metric in {where}",
                f"use a target from {low} to {high} (a utilisation in percent), or remove {class_key}",
                ("autoscaling", "target"),
            )
        ]
    return []


def _stage(target: Target) -> list[Problem]:
    if target.ref.kind != "stage":
        return []
    return [
        Problem(
            f"stage '{target.ref.value}' is deprecated in MLflow",
            "set an alias on the version in MLflow and use 'alias:' instead",
            ("stage",),
            severity="warning",
            rule="deprecated-stage",
        )
    ]


def _replicas(serving: Serving) -> list[Problem]:
    if serving.min_replicas <= serving.max_replicas:
        return []
    return [
        Problem(
            f"minReplicas {serving.min_replicas} is greater than maxReplicas {serving.max_replicas}",
            "raise maxReplicas or lower minReplicas",
            ("maxReplicas",),
        )
    ]


def _resources(serving: Serving) -> list[Problem]:
    problems: list[Problem] = []
    parsed: dict[str, dict[str, Decimal]] = {"requests": {}, "limits": {}}
    for part, values in (("requests", serving.resources.requests), ("limits", serving.resources.limits)):
        for name, text in values.items():
            try:
                parsed[part][name] = parse_quantity(text)
            except ValueError as exc:
                problems.append(
                    Problem(
                        f"{part}.{name}: {exc}",
                        "use a Kubernetes quantity such as 500m, 1 or 2Gi",
                        ("resources", part, name),
                    )
                )
    for name, request in parsed["requests"].items():
        limit = parsed["limits"].get(name)
        if limit is not None and request > limit:
            problems.append(
                Problem(
                    f"requests.{name} {serving.resources.requests[name]} exceeds "
                    f"limits.{name} {serving.resources.limits[name]}",
                    f"lower requests.{name} or raise limits.{name}",
                    ("resources", "requests", name),
                )
            )
    return problems


def _derived_names(target: Target, environment: Environment) -> list[Problem]:
    found = derived_name_problems(target.model, environment.namespace, target.serving.deployment_mode)
    return [Problem(message, hint, rule="kserve-name") for message, hint in found]


def _policies(serving: Serving, environment: Environment) -> list[Problem]:
    """The environment's policies on how a target is served; the rule names the policy so reviewers can find it in
    models.yaml."""
    policies, env = environment.policies, environment.name
    problems = []
    missing = [k for k in ("cpu", "memory") if k not in serving.resources.limits]
    if policies.require_limits and missing:
        problems.append(
            Problem(
                f"{env} requires resource limits; {' and '.join(missing)} limit not set",
                f"set resources.limits.{missing[0]}",
                ("resources",),
                rule="policy/requireLimits",
            )
        )
    if serving.min_replicas < policies.min_replicas:
        problems.append(
            Problem(
                f"{env} requires minReplicas >= {policies.min_replicas}, got {serving.min_replicas}",
                f"set minReplicas: {policies.min_replicas} or more",
                ("minReplicas",),
                rule="policy/minReplicas",
            )
        )
    return problems


def _allow_latest(target: Target, environment: Environment) -> list[Problem]:
    if environment.policies.allow_latest or target.ref.kind != "latest":
        return []
    return [
        Problem(
            f"{environment.name} does not allow 'latest: true'",
            "pin a version or follow an alias",
            ("latest",),
            rule="policy/allowLatest",
        )
    ]


# A web URL with anything before '@' (a token or a user and password), or any URL with a password: `ssh://git@host`
# and `git@host:org/repo.git` name a user, not a secret, and stay allowed.
_CREDENTIALS = re.compile(r"(?:https?://[^/?#]*@|[A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*:[^/?#]*@)", re.IGNORECASE)


def repo_url_problem(url: str) -> Problem | None:
    """`argocd.repoURL` is written into argocd/*.yaml and shown in every diff: it must carry no credentials (the
    message does not quote it)."""
    if not _CREDENTIALS.match(url):
        return None
    return Problem(
        "repoURL embeds a secret (a token, or a user's password), which would be written into argocd/ and shown in "
        "every diff and log",
        "write the URL without it (e.g. https://github.com/acme/ml-platform.git) and give Argo CD the credentials "
        "in a repository Secret (argocd.argoproj.io/secret-type: repository)",
    )


def template_problem(field: str, value: str) -> Problem | None:
    """`argocd.repoURL` and `targetRevision` are written as they are into the ApplicationSet's template, which Argo CD
    evaluates as a Go template (`goTemplate: true`): a `{{` there is an action, run once per environment, that the
    review shows as text (https://argo-cd.readthedocs.io/en/stable/operator-manual/applicationset/GoTemplate/)."""
    if "{{" not in value:
        return None
    return Problem(
        f"{field} holds '{{{{', which Argo CD's ApplicationSet evaluates as a Go template action",
        f"write the {field} Argo CD syncs from, as it is: a URL or branch never holds '{{{{'",
    )


def runtime_image_problem(runtime: str, image: str) -> Problem | None:
    """`platform.runtimeImage` values must be image references with a tag or digest: the load check and the
    runtime facts are looked up by exact reference, and a floating `latest` would make both meaningless."""
    if IMAGE_REFERENCE.fullmatch(image):
        return None
    return Problem(
        f"runtimeImage for '{runtime}' is {image!r}, which is not an image reference with a tag or digest",
        "write REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST, e.g. "
        "docker.io/seldonio/mlserver:1.7.1 (what `kubectl get clusterservingruntime "
        f"{runtime} -o jsonpath='{{.spec.containers[0].image}}'` prints)",
    )
