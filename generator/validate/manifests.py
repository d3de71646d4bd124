"""Every check on generated manifests, before they are written and when `validate` reads them back.

Each object is checked as a file (so findings carry file:line) and again as
kustomize builds it (so what overlays change is checked too): strict CRD
schemas for custom kinds, kubernetes-validate schemas for built-in kinds, and
KServe's own rules for InferenceServices.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from generator import yamlio
from generator.crds.sources import CRD_LOCK_FILE
from generator.diagnostics import Diagnostic
from generator.errors import UserError
from generator.lock import LOCK_FILE
from generator.platform.releases import KServeRelease
from generator.spec.model import Platform
from generator.spec.yaml_lines import load as load_yaml
from generator.validate.core_kinds import load_core_schemas
from generator.validate.crds import CrdSchemas, load_crd_schemas
from generator.validate.kserve_rules import PINNED_BY_DEFAULT, check_inference_service
from generator.validate.kustomize import kustomize_build
from generator.validate.schema_errors import LineOf

CRD_RULE = "crd-schema"


def checks(crd_dir: Path) -> Callable[[Mapping[str, bytes], Platform], list[Diagnostic]]:
    """Checks on files about to be written. Without CRDs the strict schema check is skipped with a warning."""

    def validate(files: Mapping[str, bytes], platform: Platform) -> list[Diagnostic]:
        crds, found = _crds(crd_dir, required=False)
        with tempfile.TemporaryDirectory(prefix="kserve-gitops-build-") as scratch:
            for path, content in files.items():
                (Path(scratch) / path).parent.mkdir(parents=True, exist_ok=True)
                (Path(scratch) / path).write_bytes(content)
            found += check_tree(Path(scratch), sorted(files), crds, platform.kubernetes_version, platform.kserve)
        return sorted(set(found))

    return validate


def tree_checks(crd_dir: Path) -> Callable[[Path, list[str], Platform], list[Diagnostic]]:
    """Checks on files already on disk (`kserve-gitops validate`): here missing CRDs are an error."""

    def validate(root: Path, paths: list[str], platform: Platform) -> list[Diagnostic]:
        crds, found = _crds(crd_dir, required=True)
        return sorted(set(found + check_tree(root, paths, crds, platform.kubernetes_version, platform.kserve)))

    return validate


@dataclass(frozen=True)
class CheckContext:
    """What every object is checked against: the CRDs, the cluster's Kubernetes version, the
    storage prefixes that ClusterStorageContainers in the same output make downloadable, and the KServe release."""

    crds: CrdSchemas | None
    k8s_version: str
    storage_prefixes: tuple[str, ...] = ()
    kserve: KServeRelease = PINNED_BY_DEFAULT


def check_tree(
    root: Path,
    paths: Iterable[str],
    crds: CrdSchemas | None,
    k8s_version: str,
    kserve: KServeRelease = PINNED_BY_DEFAULT,
) -> list[Diagnostic]:
    """Build each kustomization under `root`; check every object once, located in its source file.

    A kustomization that only aggregates directories built here (the root one) is not built again: building
    it would repeat every object (for 3,000 objects, 17 s of kustomize), and the one way it can fail where its
    parts build, the same object twice, is checked directly.
    """
    ordered = sorted(paths)
    sources, found = _sources(root, ordered)
    context = CheckContext(crds, k8s_version, _storage_prefixes(s.obj for s in sources.values()), kserve)
    builds = [str(Path(p).parent) for p in ordered if p.endswith("kustomization.yaml")]
    aggregates = {b: dirs for b in builds if (dirs := _aggregated(root, b, builds)) is not None}
    built: dict[str, list[tuple[str, str, str, str]]] = {}
    seen: set[str] = set()
    for build, objects, problems in _build_all(root, [b for b in builds if b not in aggregates]):
        if problems:
            found += [replace(d, file=(Path(build) / "kustomization.yaml").as_posix()) for d in problems]
            continue
        built[build] = [_identity(obj) for obj in objects]
        for obj in objects:
            source = sources.pop(_identity(obj), None) or _Source(f"{build}/ (kustomize build)", obj, None)
            key = json.dumps(obj, sort_keys=True)
            if key not in seen:
                seen.add(key)
                found += check_object(obj, context, file=source.file, line_of=source.line_of)
    for build, dirs in aggregates.items():
        found += _duplicates(build, {d: built.get(d, []) for d in dirs})
    for source in sources.values():
        found.append(
            Diagnostic(
                file=source.file,
                message="not included by any kustomization.yaml",
                rule="kustomize",
                hint="list it under `resources:` of its directory's kustomization.yaml",
            )
        )
        found += check_object(source.obj, context, file=source.file, line_of=source.line_of)
    return found


def _build_all(root: Path, builds: list[str]) -> list[tuple[str, list[dict[str, Any]], list[Diagnostic]]]:
    """Every kustomize build at once (each is a process of its own), results in the order asked."""

    def one(build: str) -> tuple[str, list[dict[str, Any]], list[Diagnostic]]:
        try:
            return build, kustomize_build(root / build), []
        except UserError as exc:
            return build, [], list(exc.diagnostics)

    with ThreadPoolExecutor(max_workers=max(1, min(len(builds), 4))) as pool:
        return list(pool.map(one, builds))


def _aggregated(root: Path, build: str, builds: list[str]) -> list[str] | None:
    """The directories a kustomization lists, if it lists nothing else and each is built here; else None."""
    try:
        kustomization = yamlio.load(yamlio.read_text(root / build / "kustomization.yaml")) or {}
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return None  # kustomize itself says what is wrong with it
    resources = kustomization.get("resources", []) if isinstance(kustomization, dict) else []
    if not resources or set(kustomization) - {"apiVersion", "kind", "resources"}:
        return None
    dirs = [(Path(build) / str(r)).as_posix().removeprefix("./") for r in resources]
    return dirs if all(d in builds for d in dirs) else None


def _duplicates(build: str, parts: dict[str, list[tuple[str, str, str, str]]]) -> list[Diagnostic]:
    owners: dict[tuple[str, str, str, str], list[str]] = {}
    for part, identities in parts.items():
        for identity in identities:
            owners.setdefault(identity, []).append(part)
    return [
        Diagnostic(
            file=(Path(build) / "kustomization.yaml").as_posix(),
            rule="kustomize",
            message=f"{kind} {namespace}/{name} comes from both {' and '.join(dirs)}: kustomize cannot build "
            "this kustomization",
            hint="give the environments different namespaces",
        )
        for (_, kind, namespace, name), dirs in owners.items()
        if len(dirs) > 1
    ]


@dataclass(frozen=True)
class _Source:
    file: str
    obj: Mapping[str, Any]
    line_of: LineOf | None


def _sources(root: Path, paths: Iterable[str]) -> tuple[dict[tuple[str, str, str, str], _Source], list[Diagnostic]]:
    """Every manifest file parsed, keyed by the object's identity, so built objects map back to file:line."""
    sources: dict[tuple[str, str, str, str], _Source] = {}
    problems: list[Diagnostic] = []
    for path in paths:
        if path.endswith(".yaml") and not path.endswith("kustomization.yaml") and path != LOCK_FILE:
            try:
                text = yamlio.read_text(root / path)
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(
                    Diagnostic(
                        file=path,
                        message=f"cannot read: {exc}",
                        rule="manifest",
                        hint="render it again with `kserve-gitops generate`",
                    )
                )
                continue
            obj, found = _parse(text, path)
            problems += found
            if obj is not None:
                sources[_identity(obj)] = _Source(path, obj, _Lines(text, path))
    return sources, problems


def check_object(
    obj: Mapping[str, Any], context: CheckContext, *, file: str = "", line_of: LineOf | None = None
) -> list[Diagnostic]:
    """Strict schema (CRD for custom groups, kubernetes-validate for built-in ones) plus KServe's rules."""
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    if _is_custom(api_version):
        crds = context.crds
        found = crds.validate(obj, file=file, line_of=line_of) if crds is not None else []
    else:
        found = load_core_schemas(context.k8s_version).validate(obj, file=file, line_of=line_of)
    if kind == "InferenceService":
        found += check_inference_service(
            obj, kserve=context.kserve, extra_storage_prefixes=context.storage_prefixes, file=file, line_of=line_of
        )
    return found


def _storage_prefixes(objects: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """URI prefixes that ClusterStorageContainers among `objects` claim (KServe checks these first)."""
    prefixes = {
        str(uri_format["prefix"])
        for obj in objects
        if obj.get("kind") == "ClusterStorageContainer"
        for uri_format in obj.get("spec", {}).get("supportedUriFormats", [])
        if isinstance(uri_format, Mapping) and "prefix" in uri_format
    }
    return tuple(sorted(prefixes))


def _is_custom(api_version: str) -> bool:
    """Built-in groups have no dot (apps/v1, v1) or end in .k8s.io; everything else comes from a CRD."""
    group = api_version.split("/", maxsplit=1)[0] if "/" in api_version else ""
    return "." in group and not group.endswith(".k8s.io")


def _identity(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(metadata, Mapping)
    return (
        str(obj.get("apiVersion")),
        str(obj.get("kind")),
        str(metadata.get("namespace", "")),
        str(metadata.get("name", "")),
    )


class _Plain(yaml.CSafeLoader):
    """libyaml for the common case: one plain document, no duplicate keys, no aliases (we never write any).

    Anything else raises `_Unusual`, and the file goes through `yaml_lines.load`, which words the problem.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects:  # a second visit of one node: an alias
            raise _Unusual
        return super().construct_object(node, deep)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if len({str(key.value) for key, _ in node.value}) != len(node.value):
            raise _Unusual
        return super().construct_mapping(node, deep)


class _Unusual(Exception):
    pass


def _parse(text: str, path: str) -> tuple[Mapping[str, Any] | None, list[Diagnostic]]:
    try:
        data = yaml.load(text, Loader=_Plain)
    except (_Unusual, yaml.YAMLError):
        data, _, problems = load_yaml(text, path)
        if problems:
            return None, problems
    if not isinstance(data, dict) or "kind" not in data:
        return None, [
            Diagnostic(
                file=path,
                message="expected one Kubernetes object with a kind",
                hint="one object per file",
                rule="manifest",
            )
        ]
    return data, []


class _Lines:
    """file:line for a finding, computed on the first one: most files have none, and positions cost a
    pure-Python pass over every node."""

    def __init__(self, text: str, path: str) -> None:
        self._text, self._path = text, path
        self._line_of: LineOf | None = None

    def __call__(self, json_path: str) -> int:
        if self._line_of is None:
            self._line_of = load_yaml(self._text, self._path)[1].line_of_json_path
        return self._line_of(json_path)


def _crds(crd_dir: Path, required: bool) -> tuple[CrdSchemas | None, list[Diagnostic]]:
    # a directory holding only the lock was never fetched
    if crd_dir.is_dir() and any(p.name != CRD_LOCK_FILE for p in crd_dir.rglob("*.yaml")):
        return load_crd_schemas(crd_dir), []
    missing = Diagnostic(
        message=f"no CRDs in {crd_dir}: manifests were not checked against the KServe and Argo CD CRD schemas",
        hint="run `kserve-gitops schemas fetch`, or pass --crd-dir DIR with the KServe and Argo CD CRDs",
        severity="error" if required else "warning",
        rule=CRD_RULE,
    )
    return None, [missing]
