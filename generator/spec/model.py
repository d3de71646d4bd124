"""The meaning of models.yaml after loading: plain, frozen values.

The loader merges defaults → environment → model → modelxenvironment, so each
`Target` carries the effective settings and later stages never merge again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from generator.platform.releases import (
    ARGOCD_DEFAULT_PIN,
    ARGOCD_RELEASES,
    KSERVE_DEFAULT_PIN,
    KSERVE_RELEASES,
    ArgoCdRelease,
    DeploymentMode,
    KServeRelease,
    release,
)
from generator.platform.runtimes import DEFAULT_INSTALL, InstallMethod, default_image
from generator.spec import SPEC_FILE

RefKind = Literal["version", "alias", "stage", "latest"]
Method = Literal["runtime", "image", "registry"]

REF_KINDS: tuple[RefKind, ...] = ("version", "alias", "stage", "latest")


@dataclass(frozen=True, order=True)
class Ref:
    """Which version of a registered model to serve, as written by the user."""

    kind: RefKind
    value: str = ""

    @property
    def floating(self) -> bool:
        """Floating references may point elsewhere tomorrow; numeric versions never move."""
        return self.kind != "version"

    def as_dict(self) -> dict[str, str | bool]:
        return {"latest": True} if self.kind == "latest" else {self.kind: self.value}

    def __str__(self) -> str:
        return "latest" if self.kind == "latest" else f"{self.kind} {self.value}"


@dataclass(frozen=True)
class Resources:
    requests: dict[str, str] = field(default_factory=dict)
    limits: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Autoscaling:
    metric: Literal["cpu", "memory", "concurrency", "rps"]
    target: int


@dataclass(frozen=True)
class Serving:
    """Effective serving settings of one model in one environment."""

    method: Method
    runtime: str
    deployment_mode: DeploymentMode
    service_account: str
    automount_token: bool | None
    resources: Resources
    min_replicas: int
    max_replicas: int
    env: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    autoscaling: Autoscaling | None = None
    canary_percent: int | None = None
    ingress_class: str = ""
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, str | int], ...] = ()
    image_repository: str = ""


@dataclass(frozen=True)
class Policies:
    """What an environment demands of every model in it; violations name the policy."""

    require_limits: bool = False
    min_replicas: int = 0
    allow_latest: bool = True
    allow_unverified_models: bool = True  # a version whether the runtime loads is unknown (lock/compat.py)


PRODUCTION_POLICIES = Policies(require_limits=True, min_replicas=1, allow_latest=False, allow_unverified_models=False)
PRODUCTION_NAMES = ("prod", "production")


Promotion = Literal["auto", "approval"]
IN_CLUSTER = "https://kubernetes.default.svc"


@dataclass(frozen=True)
class Sync:
    """Argo CD sync policy; production environments sync by hand unless told otherwise."""

    automated: bool = True
    prune: bool = True
    self_heal: bool = True


MANUAL_SYNC = Sync(automated=False, prune=False, self_heal=False)


@dataclass(frozen=True)
class MetricGate:
    """What one run metric of a candidate version must satisfy (docs/gates.md).

    `min`/`max` are absolute bounds; `max_drop`/`max_rise` bound the change against the
    version locked now in the environment. A metric the candidate lacks fails unless `optional`.
    """

    metric: str
    min: float | None = None
    max: float | None = None
    max_drop: float | None = None
    max_rise: float | None = None
    optional: bool = False


@dataclass(frozen=True)
class Gates:
    """Quality gates a version must pass to be locked in an environment.

    `override` is a reviewer-visible reason that lets a failing version through for one model
    and environment; it never makes the gates disappear from the pull request.
    """

    metrics: tuple[MetricGate, ...] = ()
    require_signature: bool = False
    override: str = ""

    @property
    def active(self) -> bool:
        return bool(self.metrics) or self.require_signature


@dataclass(frozen=True)
class Environment:
    name: str
    namespace: str
    clusters: tuple[str, ...] = (IN_CLUSTER,)
    policies: Policies = Policies()
    promotion: Promotion = "auto"
    follow: str = ""
    sync: Sync = Sync()
    gates: Gates = Gates()


@dataclass(frozen=True)
class StorageInitializer:
    """The image KServe runs for models:/ URIs, and where it finds MLflow's address and credentials."""

    image: str
    config_map: str = "mlflow-tracking"
    secret: str = "mlflow-credentials"


@dataclass(frozen=True)
class SmokeTest:
    image: str
    secret: str = "mlflow-credentials"


@dataclass(frozen=True)
class ArgoCD:
    repo_url: str
    target_revision: str = "main"
    namespace: str = "argocd"
    project: str = "kserve-gitops"
    smoke_test: SmokeTest | None = None


@dataclass(frozen=True)
class Platform:
    """The platform the manifests target. `runtime_images` overrides, per ServingRuntime name, the image
    that KServe release's `kserve_install` method deploys (generator/platform/runtimes.py)."""

    kubernetes_version: str = "1.37"
    kserve_version: str = KSERVE_DEFAULT_PIN
    argocd_version: str = ARGOCD_DEFAULT_PIN
    kserve_install: InstallMethod = DEFAULT_INSTALL
    runtime_images: dict[str, str] = field(default_factory=dict)

    def runtime_image(self, runtime: str) -> str:
        """The image `runtime` runs on these clusters; "" when neither models.yaml nor the facts say."""
        return self.runtime_images.get(runtime) or default_image(runtime, self.kserve_version, self.kserve_install)

    @property
    def kserve(self) -> KServeRelease:
        """The pinned KServe release's facts (the loader has refused a release without them)."""
        return release(KSERVE_RELEASES, self.kserve_version)

    @property
    def argocd(self) -> ArgoCdRelease:
        return release(ARGOCD_RELEASES, self.argocd_version)


@dataclass(frozen=True)
class Target:
    """One model in one environment: what to resolve and how to serve it."""

    model: str
    env: str
    registered_model: str
    ref: Ref
    hold: bool
    serving: Serving
    pinned: str = ""
    gates: Gates = Gates()
    locate: Callable[[], int] = field(default=lambda: 0, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.model, self.env)

    @property
    def line(self) -> int:
        """The line of models.yaml that holds this target, found when a finding names it: models.yaml is then
        parsed again for positions, which most runs never need (0: not from a file)."""
        return self.locate()

    @property
    def wanted(self) -> Ref:
        """What to resolve: the pinned version while a `hold: N` is in place, else the reference as written."""
        return Ref("version", self.pinned) if self.pinned else self.ref


@dataclass(frozen=True)
class Spec:
    """models.yaml, validated. Targets are ordered by model name, then environment order."""

    environments: dict[str, Environment]
    targets: tuple[Target, ...]
    artifacts_destination: str = ""
    allowed_storage_prefixes: tuple[str, ...] = ()
    tracking_uri: str = ""
    platform: Platform = Platform()
    argocd: ArgoCD | None = None
    storage_initializer: StorageInitializer | None = None
    source: str = SPEC_FILE

    @property
    def storage_prefixes(self) -> tuple[str, ...]:
        """Where a locked artifact location may point: the artifacts destination, then the declared extras."""
        return tuple(p for p in (self.artifacts_destination, *self.allowed_storage_prefixes) if p)

    def target(self, model: str, env: str) -> Target | None:
        return self._by_key.get((model, env))

    @functools.cached_property
    def _by_key(self) -> dict[tuple[str, str], Target]:
        """Each target by (model, env), built once: the gates and `status` ask for the environment each target
        follows, and searching a thousand targets for each made them quadratic (a second of `status` for 1,000
        models)."""
        return {t.key: t for t in self.targets}
