"""KServe rules that the InferenceService CRD schema cannot express, for the pinned KServe release.

Pure functions over a rendered InferenceService (a dict, as kustomize prints it), each
returning Diagnostics at JSON paths. The facts they check against (deployment modes, storage
URI prefixes, the runtime's model formats) are the pinned release's, from generator/platform/;
each rule names the kserve/kserve source it mirrors;
the admission webhook rejects some of these, the controller fails on the others only
after the object is stored, which in GitOps means after the pull request is merged.

- kserve-name: `IsvcNameFmt` in pkg/apis/serving/v1beta1/inference_service_validation.go;
  derived names from pkg/constants/constants.go (`PredictorServiceName` = name + "-predictor")
  and the host from `GenerateDomainName` (pkg/controller/v1beta1/inferenceservice/reconcilers/
  ingress) with the default domainTemplate "{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}"
  of config/configmap/inferenceservice.yaml; kserve/kserve#4807 shows the failure.
- kserve-deployment-mode: `GetDeploymentMode` (controller utils/utils.go), `validateDeploymentMode`
  and `validateAutoScalingCompExtension` (inference_service_validation.go).
- kserve-runtime-protocol: config/runtimes/kserve-mlserver.yaml (mlflow "1" and "2", protocol
  v2 only), `ModelSpec.GetProtocol` (predictor_model.go: unset means v1 when selecting a runtime).
- kserve-storage-uri: `ValidateStorageURI` and `SupportedStorageURIPrefixList` (controller
  utils/utils.go); ClusterStorageContainer prefixes are checked first there, too.
- k8s-quantity, resources-requests-le-limits, k8s-extended-resource: what the API server enforces on the pods
  (kubernetes/kubernetes pkg/apis/core/validation/validation.go: ValidateContainerResourceRequirements,
  ValidateResourceQuantityValue; pkg/apis/core/helper/helpers.go: IsOvercommitAllowed, IsExtendedResourceName).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from generator.diagnostics import Diagnostic, Severity, json_path
from generator.platform.names import derived_name_problems
from generator.platform.releases import KServeRelease
from generator.platform.runtimes import MLSERVER, runtime_release
from generator.spec.model import Platform
from generator.util.quantity import parse_quantity
from generator.validate.schema_errors import LineOf, did_you_mean, locate

ISVC_NAME_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
COMPONENTS = ("predictor", "transformer", "explainer")
PINNED_BY_DEFAULT = Platform().kserve  # the release models.yaml pins when it names none
_AZURE_BLOB_HOST = "blob.core.windows.net"
_AZURE_BLOB_URI = re.compile(r"https://(.+?).blob.core.windows.net/(.+)")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(//)?")


def check_inference_service(
    isvc: Mapping[str, Any],
    *,
    kserve: KServeRelease = PINNED_BY_DEFAULT,
    extra_storage_prefixes: Collection[str] = (),
    mlflow_runtimes: Collection[str] = (MLSERVER,),
    file: str = "",
    line_of: LineOf | None = None,
) -> list[Diagnostic]:
    """Every rule below, for `kserve`; `extra_storage_prefixes` are those of the cluster's ClusterStorageContainers."""
    found = [
        *check_name(isvc, kserve),
        *check_deployment_mode(isvc, kserve),
        *check_runtime_protocol(isvc, kserve, mlflow_runtimes=mlflow_runtimes),
        *check_storage_uri(isvc, kserve, extra_prefixes=extra_storage_prefixes),
        *check_quantities(isvc),
        *check_requests_le_limits(isvc),
        *check_extended_resources(isvc),
    ]
    return sorted(locate(d, file=file, line_of=line_of) for d in found)


def check_name(isvc: Mapping[str, Any], kserve: KServeRelease = PINNED_BY_DEFAULT) -> list[Diagnostic]:
    """The name regex, then the DNS labels KServe derives from the name (each at most 63)."""
    name, namespace = _get(isvc, "metadata", "name"), _get(isvc, "metadata", "namespace")
    if not isinstance(name, str) or not name:
        return [_error("kserve-name", ["metadata", "name"], "metadata.name is missing")]
    if not re.fullmatch(ISVC_NAME_FMT, name):
        return [
            _error(
                "kserve-name",
                ["metadata", "name"],
                f"InferenceService name {name!r} must consist of lower case alphanumeric characters or '-', "
                f"start with a letter and end with a letter or digit (regex {ISVC_NAME_FMT!r})",
                hint="e.g. 'fraud-detector'",
            )
        ]
    return [
        d for component in _components(isvc) for d in _derived_name_problems(isvc, name, namespace, component, kserve)
    ]


def _derived_name_problems(
    isvc: Mapping[str, Any], name: str, namespace: object, component: str, kserve: KServeRelease
) -> Iterator[Diagnostic]:
    known_namespace = namespace if isinstance(namespace, str) else None
    for message, hint in derived_name_problems(name, known_namespace, _deployment_mode(isvc, kserve), component):
        yield _error("kserve-name", ["metadata", "name"], message, hint=hint)


def check_deployment_mode(isvc: Mapping[str, Any], kserve: KServeRelease = PINNED_BY_DEFAULT) -> list[Diagnostic]:
    """Only the release's current mode names (not their legacy aliases) behave as written."""
    key = kserve.deployment_mode_annotation
    value = _get(isvc, "metadata", "annotations", key)
    if value in kserve.deployment_modes:
        return []
    severity, message = _deployment_mode_problem(value, kserve)
    new = kserve.legacy_deployment_modes.get(str(value))
    hint = f"write {new!r}" if new else f"write {' or '.join(repr(m) for m in kserve.deployment_modes)}"
    return [_diagnostic(severity, "kserve-deployment-mode", ["metadata", "annotations", key], message, hint=hint)]


def _deployment_mode_problem(value: object, kserve: KServeRelease) -> tuple[Severity, str]:
    if value is None:
        return "warning", (
            "no deploymentMode annotation: the mode then comes from the cluster's inferenceservice-config "
            "(deploy.defaultDeploymentMode), which the repository does not show"
        )
    if value in kserve.legacy_deployment_modes:
        new = kserve.legacy_deployment_modes[str(value)]
        return "error", (
            f"deploymentMode {value!r} is the old name of {new!r}: KServe {kserve.line} records {new!r} in "
            f'status.deploymentMode, then rejects every update whose annotation differs ("update rejected: '
            f'deploymentMode cannot be changed from {new!r} to {value!r}"), and its autoscaling checks '
            f"treat {value!r} as Knative"
        )
    if value == "ModelMesh":
        return "error", "deploymentMode 'ModelMesh' hands the predictor to modelmesh-serving, which is not deployed"
    return "error", (
        f"deploymentMode {value!r} is not a mode KServe {kserve.line} knows"
        f"{did_you_mean(str(value), kserve.deployment_modes)}: "
        "it would silently use the cluster default"
    )


def check_runtime_protocol(
    isvc: Mapping[str, Any],
    kserve: KServeRelease = PINNED_BY_DEFAULT,
    *,
    mlflow_runtimes: Collection[str] = (MLSERVER,),
) -> list[Diagnostic]:
    """modelFormat mlflow is served by kserve-mlserver, over protocol v2, for the MLflow model formats it lists."""
    model = _get(isvc, "spec", "predictor", "model")
    if not isinstance(model, dict) or _get(model, "modelFormat", "name") != "mlflow":
        return []
    base = ["spec", "predictor", "model"]
    runtime = model.get("runtime")
    found = []
    if runtime is None:
        found.append(
            _diagnostic(
                "warning",
                "kserve-runtime-protocol",
                [*base, "runtime"],
                "runtime is not set: KServe picks one of the runtimes installed in the cluster",
                hint=f"set runtime: {MLSERVER}",
            )
        )
    elif runtime not in mlflow_runtimes:
        found.append(
            _error(
                "kserve-runtime-protocol",
                [*base, "runtime"],
                f"runtime {runtime!r} does not serve modelFormat 'mlflow'"
                f"{did_you_mean(str(runtime), mlflow_runtimes)}: KServe {kserve.line} ships only {MLSERVER!r} for it",
                hint=f"use runtime: {MLSERVER}, or declare your own ServingRuntime for mlflow",
            )
        )
    if runtime in (None, MLSERVER):
        found += _mlserver_problems(model, base, kserve)
    return found


def _mlserver_problems(model: Mapping[str, Any], base: Sequence[str | int], kserve: KServeRelease) -> list[Diagnostic]:
    found = []
    protocol = model.get("protocolVersion")
    if protocol != "v2":
        why = (
            "is not set: KServe fills it in only in memory, and assumes 'v1' when it selects a runtime"
            if protocol is None
            else f"{protocol!r} is not served"
        )
        found.append(
            _error(
                "kserve-runtime-protocol",
                [*base, "protocolVersion"],
                f"protocolVersion {why}; {MLSERVER} serves only 'v2'",
                hint="set protocolVersion: v2",
            )
        )
    version = _get(model, "modelFormat", "version")
    shipped = runtime_release(MLSERVER, kserve.tag)
    versions = shipped.model_formats.get("mlflow", ()) if shipped else ()
    if version is not None and shipped and str(version) not in versions:
        found.append(
            _error(
                "kserve-runtime-protocol",
                [*base, "modelFormat", "version"],
                f"modelFormat version {version!r} is not one {MLSERVER} lists for mlflow "
                f"{versions}: KServe reports 'Specified runtime does not support "
                "specified framework/version'",
                hint=f"leave modelFormat.version out, or use {' or '.join(repr(v) for v in versions)}",
            )
        )
    return found


def check_storage_uri(
    isvc: Mapping[str, Any], kserve: KServeRelease = PINNED_BY_DEFAULT, *, extra_prefixes: Collection[str] = ()
) -> list[Diagnostic]:
    """Storage URIs the release's storage initializer, or a ClusterStorageContainer, can download."""
    return [
        _error(
            "kserve-storage-uri",
            path,
            problem,
            hint="use gs://, s3://, https://, pvc://, hf://, oci://…, or declare the prefix of the "
            "ClusterStorageContainer that serves it",
        )
        for path, uri in _storage_uris(isvc, kserve)
        if (problem := _storage_problem(uri, extra_prefixes, kserve))
    ]


def _storage_problem(uri: object, extra_prefixes: Collection[str], kserve: KServeRelease) -> str | None:
    if not isinstance(uri, str) or not uri:
        return f"storage URI must be a non-empty string, got {uri!r}"
    if uri.startswith(tuple(extra_prefixes)):
        return None
    if _AZURE_BLOB_HOST in uri:
        return None if _AZURE_BLOB_URI.search(uri) else f"{uri!r} is not https://<account>.{_AZURE_BLOB_HOST}/<path>"
    scheme = _SCHEME.match(uri)
    if scheme is None:
        return None if uri.startswith("/") else f"{uri!r} is neither a URI nor an absolute path"
    if not scheme[2]:
        return (
            f"{uri!r} is an MLflow-style URI ('{scheme[1]}:'): KServe takes it for a local path "
            "and the storage initializer cannot download it; use the artifact location it resolves to"
        )
    return _scheme_problem(uri, scheme[1], kserve)


def _scheme_problem(uri: str, scheme: str, kserve: KServeRelease) -> str | None:
    if not uri.startswith(kserve.storage_uri_prefixes):
        supported = did_you_mean(f"{scheme}://", kserve.storage_uri_prefixes)
        return f"scheme '{scheme}://' is not supported by the KServe {kserve.line} storage initializer{supported}"
    return None if uri.partition("://")[2].strip("/") else f"{uri!r} names no bucket, host or path"


def check_quantities(isvc: Mapping[str, Any]) -> list[Diagnostic]:
    """Every requests/limits value parses as a non-negative Kubernetes quantity."""
    found = []
    for path, section, name, raw in _resource_values(isvc):
        where = [*path, section, name]
        try:
            if parse_quantity(str(raw)) < 0:
                found.append(_error("k8s-quantity", where, f"{section}.{name} {raw!r} must not be negative"))
        except ValueError as e:
            found.append(_error("k8s-quantity", where, f"{section}.{name}: {e}"))
    return found


def check_requests_le_limits(isvc: Mapping[str, Any]) -> list[Diagnostic]:
    """A request above its limit makes the API server reject the pods, not the InferenceService. (A resource pods
    may not overcommit has its own rule: `check_extended_resources`.)"""
    found = []
    for path, resources in _resource_blocks(isvc):
        requests, limits = _parsed(resources.get("requests")), _parsed(resources.get("limits"))
        for name in sorted(n for n in requests.keys() & limits.keys() if _overcommit_allowed(n)):
            (request, raw_request), (limit, raw_limit) = requests[name], limits[name]
            if request > limit:
                found.append(
                    _error(
                        "resources-requests-le-limits",
                        [*path, "requests", name],
                        f"request {raw_request!r} for {name} is above its limit {raw_limit!r}",
                        hint="raise the limit or lower the request",
                    )
                )
    return found


def check_extended_resources(isvc: Mapping[str, Any]) -> list[Diagnostic]:
    """What pods may not overcommit (extended resources such as nvidia.com/gpu, and hugepages-*) needs a limit, and
    a request equal to it (a limit alone is enough: the request defaults to it); an extended resource is counted in
    whole units."""
    found = []
    for path, resources in _resource_blocks(isvc):
        sections = {section: _parsed(resources.get(section)) for section in ("requests", "limits")}
        for section, values in sections.items():
            for name, (value, raw) in sorted(values.items()):
                if _extended(name) and value != value.to_integral_value():
                    found.append(
                        _error(
                            "k8s-extended-resource",
                            [*path, section, name],
                            f"{section}.{name} {raw!r} is not a whole number, and {name} is counted in whole units",
                            hint="write a whole number (a GPU is shared by MIG or time slicing, not by fractions)",
                        )
                    )
        requests, limits = sections["requests"], sections["limits"]
        for name in sorted(n for n in requests if not _overcommit_allowed(n)):
            if name not in limits:
                problem = f"a request for {name} needs a limit: pods may not overcommit it"
            elif requests[name][0] != limits[name][0]:
                problem = f"request {requests[name][1]!r} for {name} differs from its limit {limits[name][1]!r}"
            else:
                continue
            hint = f"set only limits.{name}: the request defaults to the limit"
            found.append(_error("k8s-extended-resource", [*path, "requests", name], problem, hint=hint))
    return found


def _overcommit_allowed(name: str) -> bool:
    """cpu, memory and other names of the kubernetes.io/ namespace (IsOvercommitAllowed), hugepages-* excepted."""
    return ("/" not in name or "kubernetes.io/" in name) and not name.startswith("hugepages-")


def _extended(name: str) -> bool:
    """A name outside the kubernetes.io/ namespace (IsExtendedResourceName): nvidia.com/gpu, amd.com/gpu."""
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


def _parsed(section: object) -> dict[str, tuple[Decimal, object]]:
    if not isinstance(section, dict):
        return {}
    out = {}
    for name, raw in section.items():
        try:
            out[str(name)] = (parse_quantity(str(raw)), raw)
        except ValueError:
            continue  # reported by check_quantities
    return out


def _resource_blocks(isvc: Mapping[str, Any]) -> Iterator[tuple[list[str | int], Mapping[str, Any]]]:
    for path, container in _containers(isvc):
        resources = container.get("resources")
        if isinstance(resources, dict):
            yield [*path, "resources"], resources


def _resource_values(isvc: Mapping[str, Any]) -> Iterator[tuple[list[str | int], str, str, object]]:
    for path, resources in _resource_blocks(isvc):
        for section in ("requests", "limits"):
            values = resources.get(section)
            if isinstance(values, dict):
                for name, raw in values.items():
                    yield path, section, str(name), raw


def _containers(isvc: Mapping[str, Any]) -> Iterator[tuple[list[str | int], Mapping[str, Any]]]:
    """predictor.model (an inline container) and every component's containers[]."""
    model = _get(isvc, "spec", "predictor", "model")
    if isinstance(model, dict):
        yield ["spec", "predictor", "model"], model
    for component in _components(isvc):
        containers = _get(isvc, "spec", component, "containers")
        for i, container in enumerate(containers if isinstance(containers, list) else []):
            if isinstance(container, dict):
                yield ["spec", component, "containers", i], container


def _storage_uris(isvc: Mapping[str, Any], kserve: KServeRelease) -> Iterator[tuple[list[str | int], object]]:
    """predictor.model.storageUri, and STORAGE_URI of a custom kserve-container (CustomPredictor.GetStorageUri)."""
    model = _get(isvc, "spec", "predictor", "model")
    if isinstance(model, dict) and "storageUri" in model:
        yield ["spec", "predictor", "model", "storageUri"], model["storageUri"]
    for path, container in _containers(isvc):
        if container.get("name") == kserve.inference_service_container:
            for i, env in enumerate(container.get("env") or []):
                if isinstance(env, dict) and env.get("name") == "STORAGE_URI" and "value" in env:
                    yield [*path, "env", i, "value"], env["value"]


def _components(isvc: Mapping[str, Any]) -> list[str]:
    spec = isvc.get("spec")
    return [c for c in COMPONENTS if isinstance(spec, dict) and isinstance(spec.get(c), dict)]


def _deployment_mode(isvc: Mapping[str, Any], kserve: KServeRelease) -> str | None:
    value = _get(isvc, "metadata", "annotations", kserve.deployment_mode_annotation)
    return kserve.legacy_deployment_modes.get(str(value), value if isinstance(value, str) else None)


def _get(obj: object, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _error(rule: str, parts: Sequence[str | int], message: str, *, hint: str = "") -> Diagnostic:
    return _diagnostic("error", rule, parts, message, hint=hint)


def _diagnostic(
    severity: Severity, rule: str, parts: Sequence[str | int], message: str, *, hint: str = ""
) -> Diagnostic:
    return Diagnostic(path=json_path(parts), message=message, hint=hint, severity=severity, rule=rule)
