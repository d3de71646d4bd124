"""Built-in Kubernetes kinds (Namespace, ServiceAccount, Deployment, …) against kubernetes-validate.

The schemas are kubernetes-validate's "local-strict" set, looked up the way its
`validate(data, desired_version, strict=True)` does. That function re-reads the 1.8 MB
`_definitions.json` and rebuilds its validator on every call and stops at the first
error, so the same files and the same `Draft202012Validator` are used here, built once
per (Kubernetes version, apiVersion, kind) and asked for every error.

Each object is first asked of the same schema compiled (jsonschema_rs, ~3 µs an object where jsonschema takes
~1 ms: 3,000 smoke-test Jobs took 3 s): its yes is the answer, and only an object it refuses goes to jsonschema,
which words the errors (and has the last word: where it finds none, there are none).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jsonschema_rs
import kubernetes_validate
from kubernetes_validate.utils import all_versions, schema_contents

from generator.diagnostics import Diagnostic
from generator.errors import EnvironmentProblem
from generator.util import schema_check
from generator.validate.schema_errors import LineOf, diagnostics_for, locate

if TYPE_CHECKING:  # jsonschema only words errors: a run whose objects are valid never imports it
    from jsonschema import Draft202012Validator

RULE = "k8s-schema"
# The newest minor that kubernetes-validate 1.37 ships schemas for and that Kubernetes has
# released (v1.37, August 2026). Pass another one to match the target cluster.
DEFAULT_K8S_VERSION = "1.37"


@dataclass(frozen=True)
class CoreSchemas:
    """Validators for the built-in kinds of one Kubernetes minor version."""

    k8s_version: str
    schema_dir: str

    def validate(self, obj: Mapping[str, Any], *, file: str = "", line_of: LineOf | None = None) -> list[Diagnostic]:
        """All schema problems of `obj`; a kind without a schema is an error, never a pass."""
        api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
        quick = _quick_validator(self.schema_dir, api_version, kind)
        if quick is None:
            missing = Diagnostic(
                path="$.kind",
                message=f"no schema for {api_version} {kind} in Kubernetes {self.k8s_version}",
                hint="check apiVersion and kind; custom resources are checked against their CRDs",
                rule=RULE,
            )
            return [locate(missing, file=file, line_of=line_of)]
        if schema_check.quickly_valid(quick, obj):
            return []
        errors = _validator(self.schema_dir, api_version, kind).iter_errors(obj)
        return diagnostics_for(errors, rule=RULE, file=file, line_of=line_of)


@functools.cache
def load_core_schemas(k8s_version: str = DEFAULT_K8S_VERSION) -> CoreSchemas:
    """Schemas of the newest shipped release not newer than `k8s_version` ("1.33", "v1.33.2"). Kept: every
    built-in object asks, and listing the shipped releases costs ~0.4 ms."""
    wanted = _minor(k8s_version)
    shipped = sorted({_minor(v) for v in all_versions()})
    usable = [v for v in shipped if v <= wanted]
    if wanted > shipped[-1] or not usable:
        raise EnvironmentProblem.simple(
            f"kubernetes-validate {kubernetes_validate.__version__} has no schemas for Kubernetes "
            f"{k8s_version} (it ships {_show(shipped[0])} to {_show(shipped[-1])})",
            hint="upgrade kubernetes-validate, or validate against a release it ships",
        )
    return CoreSchemas(k8s_version, f"v{_show(usable[-1])}.0-local-strict")


def _minor(version: str) -> tuple[int, int]:
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", version)
    if match is None:
        raise EnvironmentProblem.simple(f"{version!r} is not a Kubernetes version such as '1.33'")
    return int(match[1]), int(match[2])


def _show(minor: tuple[int, int]) -> str:
    return f"{minor[0]}.{minor[1]}"


@functools.cache
def _schema(schema_dir: str, api_version: str, kind: str) -> dict[str, Any] | None:
    """The kind's schema, or None when kubernetes-validate has none."""
    if not re.fullmatch(r"[A-Za-z0-9]+", kind):
        return None
    # kubernetes-validate's file naming: rbac.authorization.k8s.io/v1 Role -> role-rbac-v1.json
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        found: dict[str, Any] = schema_contents(
            f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group_version}.json", schema_dir
        )
    except FileNotFoundError:
        return None
    return found


@functools.cache
def _quick_validator(schema_dir: str, api_version: str, kind: str) -> jsonschema_rs.Validator | None:
    schema = _schema(schema_dir, api_version, kind)
    if schema is None:
        return None
    definitions = _definitions(schema_dir)
    return jsonschema_rs.validator_for(schema, registry=jsonschema_rs.Registry([(definitions["$id"], definitions)]))


@functools.cache
def _validator(schema_dir: str, api_version: str, kind: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # noqa: PLC0415 -- only where errors are worded
    from referencing import Registry, Resource  # noqa: PLC0415

    schema = _schema(schema_dir, api_version, kind)
    assert schema is not None  # asked only of a kind _quick_validator found
    return Draft202012Validator(schema, registry=Resource.from_contents(_definitions(schema_dir)) @ Registry())


@functools.cache
def _definitions(schema_dir: str) -> dict[str, Any]:
    """What every kind's schema refers to (`$ref: /api/_definitions.json#…`), by its `$id`."""
    found: dict[str, Any] = schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", schema_dir)
    return found
