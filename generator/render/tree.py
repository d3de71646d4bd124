"""Spec + lock → every generated file, as bytes by repository-relative path. No I/O."""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from types import MappingProxyType
from typing import Any

from generator.diagnostics import Diagnostic, json_path
from generator.errors import LockError, SpecError
from generator.generated import header
from generator.lock import LOCK_FILE
from generator.lock import io as lock_io
from generator.lock.model import Lock, LockEntry
from generator.lock.resolve import stale_entries
from generator.lock.verify import locations
from generator.platform.runtimes import PROTOCOLS
from generator.render.argocd import argocd_objects
from generator.render.cluster import cluster_objects
from generator.render.inferenceservice import inference_service
from generator.smoke.job import smoke_job
from generator.spec.model import Spec, Target
from generator.yamlio import Dump, dump_files

ENVIRONMENTS_DIR = "environments"
ARGOCD_DIR = "argocd"
CLUSTER_DIR = "cluster"
ROOT_KUSTOMIZATION = "kustomization.yaml"
HEADER_LINES = ("from models.yaml and models.lock; do not edit by hand.", "Regenerate: kserve-gitops render")
HEADER = header(*HEADER_LINES)


TargetKey = tuple[str, str]  # (model, environment)


def render(
    spec: Spec,
    lock: Lock,
    dump: Dump = dump_files,
    given: Mapping[TargetKey, Mapping[str, bytes]] = MappingProxyType({}),
) -> dict[str, bytes]:
    """Raises LockError when the lock does not cover the spec, or sends KServe outside the declared storage
    prefixes (render never asks the registry). `dump` writes every file's documents (yamlio.dump_files, or one
    that remembers the bytes of documents it wrote before). `given`: the files of targets whose inputs
    (`target_inputs`) an earlier render saw, by target, taken as they are instead of rendered again."""
    # a given target's inputs, its lock entry among them, were rendered before: these checks passed them then
    fresh = replace(spec, targets=tuple(t for t in spec.targets if t.key not in given)) if given else spec
    problems = stale_entries(fresh, lock) + locations(fresh, lock)
    if problems:
        raise LockError(problems)
    files: dict[str, tuple[list[Any], str]] = {}
    kept: dict[str, bytes] = {}
    resources: dict[str, list[str]] = {name: [] for name in spec.environments}
    _refuse_shared_files(spec)
    for target in spec.targets:
        entry = lock.get(target.model, target.env)
        assert entry is not None  # stale_entries guarantees it
        paths = target_files(spec, target)
        resources[target.env] += [path.rsplit("/", 1)[1] for path in paths]
        if (known := given.get(target.key)) is not None:
            kept.update((path, known[path]) for path in paths)
            continue
        for path, document in zip(paths, _target_objects(spec, target, entry), strict=True):
            files[path] = ([document], HEADER)
    for env, names in resources.items():
        files[f"{ENVIRONMENTS_DIR}/{env}/kustomization.yaml"] = _kustomization(sorted(names))
    cluster = cluster_objects(spec)
    files.update({f"{CLUSTER_DIR}/{name}": ([obj], HEADER) for name, obj in cluster.items()})
    if cluster:
        files[f"{CLUSTER_DIR}/kustomization.yaml"] = _kustomization(sorted(cluster))
    files[ROOT_KUSTOMIZATION] = _kustomization(
        [*([CLUSTER_DIR] if cluster else []), *(f"{ENVIRONMENTS_DIR}/{env}" for env in spec.environments)],
        comment="Aggregates cluster-wide objects and every environment; Argo CD syncs each directory on its own.",
    )
    if spec.argocd is not None:
        objects = argocd_objects(spec, spec.argocd, cluster_scoped=bool(cluster))
        files.update({f"{ARGOCD_DIR}/{name}": ([obj], HEADER) for name, obj in objects.items()})
        files[f"{ARGOCD_DIR}/kustomization.yaml"] = _kustomization(
            sorted(objects),
            comment="Apply once; the ApplicationSet then creates one Application per environment.",
        )
    return dict(sorted({**dump(files), **kept}.items()))


def _refuse_shared_files(spec: Spec) -> None:
    """Two targets that would render one file (a model named `wine-smoke-test` beside `wine`'s smoke test), or a
    target that would render its environment's kustomization.yaml (a model named `kustomization`): one would silently
    overwrite the other. Said at the model that comes second."""
    owner: dict[str, Target | None] = {
        f"{ENVIRONMENTS_DIR}/{env}/kustomization.yaml": None for env in spec.environments
    }
    problems = []
    for target in spec.targets:
        for path in target_files(spec, target):
            first = owner.setdefault(path, target)
            if first is target:
                continue
            if first is None:
                message = f"renders {path}, the file kustomize reads in the environment's directory"
                hint = f"rename model '{target.model}': kustomization.yaml belongs to the environment"
            else:
                message = f"renders {path}, which model '{first.model}' renders too in {target.env}"
                hint = f"rename model '{target.model}' (a file name ends in -smoke-test for a smoke test)"
            where = json_path(("models", target.model, "environments", target.env))
            problems.append(Diagnostic(file=spec.source, line=target.line, path=where, message=message, hint=hint))
    if problems:
        raise SpecError(problems)


def generated(
    spec: Spec,
    lock: Lock,
    dump: Dump = dump_files,
    given: Mapping[TargetKey, Mapping[str, bytes]] = MappingProxyType({}),
) -> dict[str, bytes]:
    """Everything `generate` writes for this lock: models.lock and the manifests (`render`), emitted by `dump`."""
    return {LOCK_FILE: lock_io.dumps(lock, dump), **render(spec, lock, dump, given)}


def target_files(spec: Spec, target: Target) -> tuple[str, ...]:
    """The paths of the files a target renders: its InferenceService, and with `argocd.smokeTest` its smoke test."""
    base = f"{ENVIRONMENTS_DIR}/{target.env}/{target.model}"
    smoke = spec.argocd is not None and spec.argocd.smoke_test is not None
    return (f"{base}.yaml", *((f"{base}-smoke-test.yaml",) if smoke else ()))


def target_inputs(spec: Spec, lock: Lock) -> dict[TargetKey, str]:
    """Everything a target's files are rendered from, as text, for each target the lock covers: the target as
    models.yaml settles it (its line aside), its lock entry (where it was read aside), and (by hash) every setting
    of the spec that is not a target. Reprs of frozen values: equal inputs give equal texts (dicts keep the order
    models.yaml gives them), one line per value. A value many targets share (an environment's `Serving` and gates,
    the MLmodel facts models.lock reads once for a thousand entries) is written once: their reprs were most of
    the cost."""
    shared = hashlib.sha256(repr(replace(spec, targets=())).encode()).hexdigest()
    texts: dict[int, str] = {}  # by id: every value is held by `spec` or `lock` while this runs

    def text(value: object) -> str:
        if (known := texts.get(id(value))) is None:
            known = texts[id(value)] = repr(value)
        return known

    inputs = {}
    for target in spec.targets:
        if (entry := lock.get(target.model, target.env)) is not None:
            inputs[target.key] = "\n".join(
                (
                    shared,
                    repr(_TARGET.words(target)),
                    *map(text, _TARGET.values(target)),
                    repr(_ENTRY.words(entry)),
                    *map(text, _ENTRY.values(entry)),
                )
            )
    return inputs


class _Fields:
    """A frozen dataclass's fields, but `left_out`, in two tuples: the plain words (text, flags, numbers), written
    as one repr, and the other values (other frozen dataclasses, None), written one by one."""

    def __init__(self, cls: type, left_out: tuple[str, ...]) -> None:
        kept = [f for f in fields(cls) if f.name not in left_out]
        self.words = _getter([f.name for f in kept if f.type in ("str", "bool", "int")])
        self.values = _getter([f.name for f in kept if f.type not in ("str", "bool", "int")])


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """operator.attrgetter that gives a tuple however many names there are."""
    if len(names) >= 2:
        return operator.attrgetter(*names)
    return lambda value: tuple(getattr(value, name) for name in names)


_TARGET = _Fields(Target, ("locate",))  # where a target is written is not what it renders
_ENTRY = _Fields(LockEntry, ("lines",))  # nor where its entry was read


def _target_objects(spec: Spec, target: Target, entry: LockEntry) -> list[dict[str, Any]]:
    """The objects of `target_files`, in order: the InferenceService, and its PostSync smoke-test Job."""
    environment = spec.environments[target.env]
    objects = [inference_service(target, environment, entry, spec.platform.kserve)]
    smoke = spec.argocd.smoke_test if spec.argocd else None
    if smoke is not None:
        # runtime: the Job reads the signature from the bucket as the predictor's service account;
        # registry and image: from MLflow, with the credentials in `smoke.secret`.
        runtime = target.serving.method == "runtime"
        objects.append(
            smoke_job(
                target.model,
                environment.namespace,
                target.env,
                smoke.image,
                source=entry.artifact_uri if runtime else f"models:/{entry.registered_model}/{entry.version}",
                protocol=PROTOCOLS[target.serving.method],
                service_account=target.serving.service_account if runtime else "",
                secret="" if runtime else smoke.secret,
            )
        )
    return objects


def _kustomization(resources: list[str], comment: str = "") -> tuple[list[Any], str]:
    document = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}
    return [document], header(*HEADER_LINES, *([comment] if comment else []))
