"""The benchmark's platform: N models x dev/staging/prod, as a models.yaml and as registry data.

Both benchmarks use the same declaration, so `bench.validate` checks exactly the
kind of tree `bench.generate` writes. Every third registered name has capitals,
a dot and a space, because real registries have such names and they must survive
`name IN (…)` filters, URL encoding and YAML quoting.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib.metadata import version as dist_version

from generator.lock.model import Lock, LockEntry
from generator.registry.base import ModelInfo
from generator.registry.uris import Unfetchable, storage_uri
from generator.spec.model import Ref, Spec
from generator.validate import crds

VERSIONS = 3
ALIASES = {"challenger": 3, "champion": 2}  # as the acceptance tests' wine model
DESTINATION = "s3://mlflow-artifacts/mlartifacts"  # devtools.stack's proxied --artifacts-destination
ENVIRONMENTS = {"dev": "{latest: true}", "staging": "{alias: challenger}", "prod": "{alias: champion}"}

_HEADER = """\
apiVersion: kserve-gitops/v1
registry: {{artifactsDestination: "{destination}"}}
defaults:
  serviceAccountName: kserve-sa
  resources: {{requests: {{cpu: 500m, memory: 2Gi}}, limits: {{cpu: "1", memory: 4Gi}}}}
environments:
  dev: {{namespace: ml-dev}}
  staging: {{namespace: ml-staging}}
  prod: {{namespace: ml-prod, minReplicas: 2, maxReplicas: 4}}
models:
"""


def model_key(index: int) -> str:
    """The InferenceService name: short enough for every derived DNS label in every namespace."""
    return f"bench-{index:04d}"


def registered_name(index: int) -> str:
    """MLflow names vary the way real ones do: one in three has capitals, a dot and a space."""
    if index % 3 == 0:
        return f"Bench.Model {index:04d}"
    return f"bench.model.{index:04d}" if index % 3 == 1 else f"bench-model-{index:04d}"


def registered_names(count: int) -> list[str]:
    return [registered_name(i) for i in range(count)]


def models_yaml(count: int, destination: str = DESTINATION, *, featured: bool = False) -> str:
    """`count` models, each served from `latest` in dev and from aliases in staging and prod. `featured`: with every
    feature that adds work per model (_FEATURES), one model in four served by `method: registry` and one in five held
    in prod."""
    header = _HEADER.format(destination=destination)
    for plain, added in _FEATURES.items() if featured else ():
        header = header.replace(plain, added, 1)
    lines = [header]
    for index in range(count):
        lines.append(f"  {model_key(index)}:\n    registeredModel: {json.dumps(registered_name(index))}\n")
        lines.append("    method: registry\n" if featured and index % 4 == 3 else "")
        lines.append("    environments:\n")
        held = featured and index % 5 == 4
        lines.extend(
            f"      {env}: {ref[:-1] + ', hold: true}' if held and env == 'prod' else ref}\n"
            for env, ref in ENVIRONMENTS.items()
        )
    return "".join(lines)


# Staging's gates, prod following staging, an Argo CD smoke-test Job beside each InferenceService, and the storage
# initializer that `method: registry` needs.
_FEATURES = {
    "  staging: {namespace: ml-staging}\n": "  staging:\n    namespace: ml-staging\n"
    "    gates: {metrics: {accuracy: {min: 0.5, maxDrop: 0.1}}}\n",
    "  prod: {namespace: ml-prod, ": "  prod: {namespace: ml-prod, follow: staging, ",
    "registry: {": 'registry: {storageInitializer: {image: "registry.example.com/initializer:1"}, ',
    "models:\n": "argocd: {repoURL: 'https://github.com/acme/platform.git', targetRevision: main, "
    "smokeTest: {image: 'curlimages/curl:8.10.1'}}\nmodels:\n",
}


def expected_version(ref: Ref) -> str:
    """What the seeded registry answers for a reference (latest is the highest of VERSIONS)."""
    return str(ALIASES[ref.value] if ref.kind == "alias" else VERSIONS)


# What the seeded wine model's MLmodel says (devtools.stack.log_wine_model: sklearn in cloudpickle, by this MLflow).
SEEDED_MODEL = ModelInfo(
    ("python_function", "sklearn"), "cloudpickle", dist_version("mlflow"), platform.python_version()
)


def synthetic_lock(spec: Spec) -> Lock:
    """The lock a run against the seeded registry would write, without asking any registry."""
    entries = {}
    for target in spec.targets:
        model_id = hashlib.sha256(target.registered_model.encode()).hexdigest()[:32]
        source = f"mlflow-artifacts:/1/models/m-{model_id}/artifacts"
        where = storage_uri(source, spec.artifacts_destination)
        assert not isinstance(where, Unfetchable), where.message
        entries[target.key] = LockEntry(
            model=target.model,
            env=target.env,
            registered_model=target.registered_model,
            reference=target.ref,
            version=expected_version(target.ref),
            source=source,
            artifact_uri=where,
            run_id=model_id,
            info=SEEDED_MODEL,
        )
    return Lock(entries)


def forget_crd_schemas() -> None:
    """Drop the per-process CRD cache, so each timed run parses the CRDs as a new `kserve-gitops` process does.

    Without this, every run after the first in this process would skip the
    ~39k-line InferenceService CRD and look faster than anything a user sees.
    """
    crds._load.cache_clear()
