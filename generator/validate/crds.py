"""Strict validators for custom resources, built at run time from the real CRDs.

The API server prunes unknown fields from custom resources silently, so a typo such as
`storageURI` is accepted and then ignored. To catch it before it ships, each served
version's `openAPIV3Schema` is made strict the way openapi2jsonschema and
`kubeconform -strict` do: objects with `properties` reject other keys unless they
preserve unknown fields, `nullable` admits null, int-or-string admits both.
CEL rules (`x-kubernetes-validations`) are not evaluated.

CRDs are read from a directory given at run time (never vendored in the repository),
once per directory per process, and each file only when a kind it may serve is asked for:
the InferenceService CRD alone is ~39k lines of YAML, the ApplicationSet CRD 1.4 MB that a
run without ApplicationSets never needs. What a file serves is remembered as JSON by the run
cache's store (generator.cache.remembered_parse, keyed by the file's bytes): a later process
reads that ~10x faster than the YAML. A missed entry only means parsing the YAML again.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from generator import yamlio
from generator.cache import parse_missing, remembered_parse
from generator.diagnostics import Diagnostic, Severity
from generator.errors import UNREADABLE_HINT, EnvironmentProblem, UserError
from generator.excerpt import quoted
from generator.validate.schema_errors import LineOf, diagnostics_for, did_you_mean, locate
from generator.validate.structural import Check, compile_supported, supported

if TYPE_CHECKING:  # jsonschema only words errors (and judges kinds the structural check cannot)
    from jsonschema import Draft7Validator, ValidationError

    from generator.crds.sources import CrdFile, CrdLockEntry, Project
    from generator.spec.model import Platform

RULE = "crd-schema"
GroupVersionKind = tuple[str, str]  # (apiVersion "group/version", kind)

_FETCH_HINT = (
    "fix apiVersion/kind, or if the kind is right, set platform.kserveVersion / argocdVersion in models.yaml "
    "to the release you deploy and run `kserve-gitops schemas fetch` (CRDs read from {dir})"
)

# Keywords that only document or default, and `format` (int32, int64, …), which the API server and
# kubeconform leave to the type check; jsonschema would look each one up for nothing.
_NOT_VALIDATING = {"description", "default", "example", "externalDocs", "title", "format"}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_STRING = {"type": "string"}
# metadata is a bare `type: object` in every CRD; the API server checks it as ObjectMeta.
# These are ObjectMeta's fields (k8s.io/apimachinery/pkg/apis/meta/v1 types.go).
_OBJECT_META: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": _STRING,
        "generateName": _STRING,
        "namespace": _STRING,
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
        "finalizers": {"type": "array", "items": _STRING},
        "ownerReferences": {"type": "array", "items": {"type": "object"}},
        "managedFields": {"type": "array", "items": {"type": "object"}},
        "uid": _STRING,
        "resourceVersion": _STRING,
        "selfLink": _STRING,
        "generation": {"type": "integer"},
        "creationTimestamp": {"type": ["string", "null"]},
        "deletionTimestamp": {"type": ["string", "null"]},
        "deletionGracePeriodSeconds": {"type": "integer"},
    },
}


@dataclass(frozen=True)
class KindSchema:
    """jsonschema words the errors; the structural check, when it applies, is the fast yes.

    Both are built on first use, so kinds a run never meets cost nothing. `structural`: whether the structural
    check covers every keyword of the schema (structural.supported), remembered with the schema.
    """

    schema: Mapping[str, Any]
    structural: bool

    @functools.cached_property
    def validator(self) -> Draft7Validator:
        from jsonschema import Draft7Validator  # noqa: PLC0415

        return Draft7Validator(self.schema)

    @functools.cached_property
    def quick_check(self) -> Check | None:
        return compile_supported(self.schema) if self.structural else None

    def errors(self, obj: Mapping[str, Any]) -> Iterator[ValidationError]:
        if self.quick_check is None or not self.quick_check(obj):
            yield from self.validator.iter_errors(obj)


@dataclass(frozen=True)
class CrdSchemas:
    """One strict schema per (apiVersion, kind) served by the CRDs of one directory."""

    directory: Path
    schemas: Mapping[GroupVersionKind, KindSchema]

    def validate(self, obj: Mapping[str, Any], *, file: str = "", line_of: LineOf | None = None) -> list[Diagnostic]:
        """All schema problems of `obj`; a kind without a schema is an error, never a pass."""
        schema = self.schemas.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
        if schema is None:
            return [locate(self._no_schema(obj), file=file, line_of=line_of)]
        return diagnostics_for(schema.errors(obj), rule=RULE, file=file, line_of=line_of)

    def _no_schema(self, obj: Mapping[str, Any]) -> Diagnostic:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        known = [k for v, k in self.schemas if v == api_version]
        why = (
            f"this API version serves {', '.join(sorted(known))}"
            if known
            else f"no CRD in {self.directory} serves {api_version}"
        )
        return Diagnostic(
            path="$.kind",
            message=f"no schema for {api_version} {kind}{did_you_mean(str(kind), known)}: {why}",
            hint=_FETCH_HINT.format(dir=self.directory),
            rule=RULE,
        )


def load_crd_schemas(crd_dir: Path) -> CrdSchemas:
    """Validators for every CRD under `crd_dir` (recursively); cached per directory, each file parsed on first need."""
    return _load(crd_dir.resolve())


@functools.cache
def _load(directory: Path) -> CrdSchemas:
    return CrdSchemas(directory, _Catalogue(directory, _files(directory)))


@functools.cache
def _files(directory: Path) -> list[_CrdFile]:
    if not directory.is_dir():
        raise EnvironmentProblem.simple(
            f"CRD directory {directory} does not exist", hint=_FETCH_HINT.format(dir=directory)
        )
    files = [_CrdFile(path) for path in crd_paths(directory)]
    if not any(file.may_name(_CRD_KIND) for file in files):
        raise _no_crds(directory)
    return files


def crd_paths(directory: Path) -> list[Path]:
    """The CRD files of `directory`: those its crds.lock.yaml lists (what `schemas fetch` wrote and `schemas verify`
    checks), so that a file added beside them cannot serve a kind in their place and loosen its checks; every
    YAML file below it when it has no lock (a directory of CRDs given with --crd-dir)."""
    from generator.crds import yaml_files  # noqa: PLC0415 -- a small module

    listed = _crd_lock(directory)
    if listed is None:
        return yaml_files(directory)
    try:
        return [directory / local for local in sorted(listed) if (directory / local).is_file()]
    except OSError as exc:  # a directory of it this user may not search: none of its files may go unchecked
        raise _unreadable(Path(exc.filename or directory), exc) from None


def _crd_lock(directory: Path) -> dict[str, CrdLockEntry] | None:
    """What the crds.lock.yaml of `directory` lists; None when it has none. One this user may not read is said so."""
    from generator.crds import CRD_LOCK_FILE  # noqa: PLC0415 -- a small module; sources only with a lock
    from generator.crds.sources import loads_lock  # noqa: PLC0415

    lock = directory / CRD_LOCK_FILE
    try:
        return loads_lock(lock.read_bytes(), str(lock)) if lock.is_file() else None
    except OSError as exc:
        raise _unreadable(lock, exc) from None


def unpinned(directory: Path, platform: Platform, severity: Severity) -> list[Diagnostic]:
    """The releases whose CRDs `schemas fetch` left in `directory` for another version than `platform` pins (a pin
    changed without a fetch since): the files would be checked against schemas the cluster does not serve. Reads
    only crds.lock.yaml; that each file still holds its locked bytes is `schemas verify`'s check. Nothing for a
    directory without that lock (CRDs given with --crd-dir: their release is not known here). `severity`: as that of
    missing CRDs (an error where the CRDs are required)."""
    from generator.crds import CRD_LOCK_FILE  # noqa: PLC0415 -- a small module; sources only with a lock
    from generator.crds.sources import FETCH, crd_files  # noqa: PLC0415

    listed = _crd_lock(directory)
    if listed is None:
        return []
    by_project: dict[Project, list[CrdFile]] = {}
    for file in crd_files(platform):
        by_project.setdefault(file.project, []).append(file)
    found = []
    for project, files in by_project.items():
        version = files[0].version
        other = sorted({listed[f.local].version for f in files if f.local in listed} - {version})
        unlisted = [f.local for f in files if f.local not in listed]
        if other:
            problem = f"are {', '.join(other)}, but {project.setting} pins {version}"
        elif unlisted:
            problem = f"lack {', '.join(unlisted)} (not in {CRD_LOCK_FILE}), which {version} has"
        else:
            continue
        found.append(
            Diagnostic(
                message=f"the {project.title} CRDs in {directory} {problem}: the manifests would be checked "
                "against other schemas than the pinned release's",
                hint=f"run `{FETCH}` to download {project.title} {version}'s CRDs",
                severity=severity,
                rule=RULE,
            )
        )
    if extra := sorted(set(listed) - {file.local for file in crd_files(platform)}):
        found.append(
            Diagnostic(
                message=f"{CRD_LOCK_FILE} in {directory} lists {', '.join(map(quoted, extra))}, which the pinned "
                "releases do not have: every file it lists is read as a CRD, and such a file could serve a kind with "
                "a looser schema than the pinned one",
                hint=f"run `{FETCH}`: it writes the lock for the pinned files alone",
                severity=severity,
                rule=RULE,
            )
        )
    return found


def unparsed(crd_dir: Path, kinds: Iterable[str]) -> list[Path]:
    """The files under `crd_dir` that may serve one of `kinds` and whose schemas the run cache does not have yet."""
    return [file.path for file in _naming(crd_dir, kinds) if parse_missing(file.text, file.parse)]


def parse_schemas(crd_dir: Path, kinds: Iterable[str]) -> None:
    """Parse the files that may serve `kinds`, leaving what they serve in the run cache."""
    for file in _naming(crd_dir, kinds):
        file.served  # noqa: B018 -- parsed and remembered (remembered_parse)


def _naming(crd_dir: Path, kinds: Iterable[str]) -> list[_CrdFile]:
    names = list(kinds)
    return [file for file in _files(crd_dir.resolve()) if any(file.may_name(name) for name in names)]


_CRD_KIND = "CustomResourceDefinition"
# Escapes in double-quoted YAML that can spell a letter or a digit (\x41, \u0041, \U00000041), or join
# two lines into one word (a backslash before the line break). Without them, a name is written out.
_SPELLING_ESCAPE = re.compile(r"\\(?:[xuU]|\r?\n)")


class _CrdFile:
    """One YAML file of a CRD directory: read at once (an unreadable file stops the run as before),
    its served schemas parsed, or recalled from the cache, on first need."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.text = yamlio.read_text(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise _unreadable(path, exc) from None

    def may_name(self, name: str) -> bool:
        """False only when no document in the file can have `name` as a value: a name of letters and
        digits is spelt out in the text, unless an escape could hide it; any other name is looked for."""
        if not (name.isascii() and name.isalnum()):
            return True
        return name in self.text or _SPELLING_ESCAPE.search(self.text) is not None

    @functools.cached_property
    def served(self) -> dict[GroupVersionKind, KindSchema]:
        return {
            (api_version, kind): KindSchema(schema, structural)
            for api_version, kind, schema, structural in remembered_parse(self.text, self.parse)
        }

    def parse(self, text: str) -> list[list[Any]]:
        """[apiVersion, kind, strict schema, structural.supported] of each served version: what the run cache
        remembers for a large CRD file, so that a later run neither parses nor walks its schemas again."""
        found = []
        for crd in _crds_in(self.path, text):
            try:
                for api_version, kind, schema in _served_schemas(crd):
                    try:
                        strict = _strict_root(schema, api_version, kind)
                    except MisshapenKeyword as exc:
                        exc.version = api_version
                        raise
                    found.append([api_version, kind, strict, supported(strict)])
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                # A file edited by hand or truncated can say `kind: CustomResourceDefinition` without the shape
                # Kubernetes gives one (no spec, names that are not a mapping): the same refusal as unparsable YAML.
                raise _misshapen(self.path, crd, exc) from None
        return found


class _Catalogue(Mapping[GroupVersionKind, KindSchema]):
    """(apiVersion, kind) → schema over the files of one directory; a later file serving the same kind wins.

    A lookup parses only the files that may name the kind; listing every kind parses them all.
    """

    def __init__(self, directory: Path, files: list[_CrdFile]) -> None:
        self._directory, self._files = directory, files
        self._found: dict[GroupVersionKind, KindSchema | None] = {}

    def __getitem__(self, key: GroupVersionKind) -> KindSchema:
        if key not in self._found:
            hits = [file.served[key] for file in self._files if file.may_name(key[1]) and key in file.served]
            self._found[key] = hits[-1] if hits else None
        found = self._found[key]
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[GroupVersionKind]:
        return iter(self._every)

    def __len__(self) -> int:
        return len(self._every)

    @functools.cached_property
    def _every(self) -> dict[GroupVersionKind, KindSchema]:
        every = {key: schema for file in self._files for key, schema in file.served.items()}
        if not every:
            raise _no_crds(self._directory)
        return every


def _no_crds(directory: Path) -> UserError:
    return EnvironmentProblem.simple(
        f"no CustomResourceDefinition found under {directory}", hint=_FETCH_HINT.format(dir=directory)
    )


def _unreadable(path: Path, exc: Exception) -> UserError:
    if isinstance(exc, PermissionError):
        return EnvironmentProblem.simple(
            f"cannot read this CRD file: {exc.strerror}",
            file=str(path),
            hint=UNREADABLE_HINT,
        )
    problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return EnvironmentProblem.simple(
        f"cannot read this CRD file: {problem}", file=str(path), hint=_FETCH_HINT.format(dir=path.parent)
    )


def _misshapen(path: Path, crd: Mapping[str, Any], exc: Exception) -> UserError:
    name = crd.get("metadata", {}).get("name") if isinstance(crd.get("metadata"), dict) else None
    what = f"the CustomResourceDefinition {quoted(str(name))}" if name else "a CustomResourceDefinition"
    problem = f"lacks {exc}" if isinstance(exc, KeyError) else f"is not shaped as Kubernetes defines one ({exc})"
    return EnvironmentProblem.simple(
        f"cannot read this CRD file: {what} {problem}",
        file=str(path),
        hint="the file is not what `kserve-gitops schemas fetch` wrote (`kserve-gitops schemas verify` says which "
        "differ): run `kserve-gitops schemas fetch --refresh` to download the pinned CRDs again",
    )


def _crds_in(path: Path, text: str) -> Iterator[Mapping[str, Any]]:
    """CRD documents of one file; kustomization.yaml and the like are skipped."""
    try:
        docs = yamlio.load_all(text)
    except yaml.YAMLError as exc:
        raise _unreadable(path, exc) from None
    yield from (doc for doc in docs if isinstance(doc, dict) and doc.get("kind") == _CRD_KIND)


def _served_schemas(crd: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    spec = crd["spec"]
    for version in spec.get("versions", []):
        schema = version.get("schema", {}).get("openAPIV3Schema")
        if version.get("served") and schema:
            yield f"{spec['group']}/{version['name']}", spec["names"]["kind"], schema


def _strict_root(schema: Mapping[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    root = _strict(schema)
    root["properties"] = {
        **root.get("properties", {}),
        "apiVersion": {"const": api_version},
        "kind": {"const": kind},
        "metadata": _OBJECT_META,
    }
    root["required"] = sorted({*root.get("required", []), "apiVersion", "kind", "metadata"})
    return root


def _strict(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of one structural schema node, strict, walking only keys that hold schemas.

    Each keyword's value is checked to have the shape the checks read (_KEYWORD_SHAPES) on the way: the walk visits
    every node anyway, so this costs a lookup a key, where jsonschema's full check_schema cost seconds. A CRD file
    edited by hand (`maxLength: x`) is refused here, naming the keyword, not crashed on by the first object that
    reaches it."""
    if not isinstance(schema, dict):
        raise MisshapenKeyword(f"{quoted(str(schema))} is not a schema", node=schema)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        try:
            if (shape := _KEYWORD_SHAPES.get(key)) is not None and not shape[0](value):
                raise MisshapenKeyword(f"{quoted(str(value))} is not {shape[1]}")
            if key == "properties":
                out[key] = {name: _strict(sub) for name, sub in value.items()}
            elif key == "patternProperties":
                out[key] = {_regex(name): _strict(sub) for name, sub in value.items()}
            elif key in ("allOf", "anyOf", "oneOf") or (key == "items" and isinstance(value, list)):
                out[key] = [_strict(sub) for sub in value]
            elif (key == "items" or key in _SCHEMA_VALUED) and isinstance(value, dict):
                out[key] = _strict(value)
            elif key == "dependencies":  # a schema, or the names of fields the key's field needs
                out[key] = {name: _strict(sub) if isinstance(sub, dict) else sub for name, sub in value.items()}
            elif key == "type":  # what the checks branch on: anything else than JSON Schema's names would crash one
                out[key] = _json_type(value)
            elif key == "pattern":  # compiled here, so that a pattern Python cannot read refuses the file, not a check
                out[key] = _regex(value)
            elif key not in _NOT_VALIDATING and not key.startswith("x-kubernetes-"):
                out[key] = value
        except MisshapenKeyword as exc:
            raise exc.inside(schema, key, value) from None
    return _apply_kubernetes_extensions(schema, out)


_NO_NODE = object()


class MisshapenKeyword(ValueError):
    """A schema keyword whose value the checks cannot read. The path to it is added as the walk unwinds
    (`inside`), so a well-formed schema pays nothing for knowing where a bad keyword sits."""

    def __init__(self, problem: str, *, node: object = _NO_NODE) -> None:
        super().__init__(problem)
        self.problem, self.where, self.version = problem, list[str](), ""
        self.node = node  # where the path so far starts: a schema node (or what stands for one), once there is one

    def inside(self, schema: Mapping[str, Any], key: str, value: Any) -> MisshapenKeyword:
        """The path from `schema`, whose `key` holds `value`: through the name or index of the sub-schema the path
        started at, found by identity on this slow path, so that the walk itself keeps no path."""
        subs: Iterable[tuple[object, object]] = ()
        if key in ("properties", "patternProperties", "dependencies") and isinstance(value, dict):
            subs = value.items()
        elif key in ("allOf", "anyOf", "oneOf", "items") and isinstance(value, list):
            subs = enumerate(value)
        self.where[:0] = [key, *[str(name) for name, sub in subs if sub is self.node][:1]]
        self.node = schema
        return self

    def __str__(self) -> str:
        return f"{self.version} openAPIV3Schema.{'.'.join(self.where)}: {self.problem}".lstrip()


# Keywords that hold one schema (or true/false), walked as `properties` are: jsonschema reads what is inside them.
_SCHEMA_VALUED = ("additionalProperties", "additionalItems", "not", "contains", "propertyNames", "if", "then", "else")


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _is_schema(value: object) -> bool:
    return isinstance(value, dict | bool)


def _is_schemas(value: object) -> bool:  # each one is checked by the walk (_strict), on its own
    return isinstance(value, list)


def _is_schema_map(value: object) -> bool:  # as _is_schemas
    return isinstance(value, dict)


def _is_names(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(name, str) for name in value)


# What the checks (structural's closures, jsonschema's validators, the extensions read above) need each keyword to
# hold, in the words of the refusal; keywords not listed are dropped or not read.
_KEYWORD_SHAPES: dict[str, tuple[Callable[[object], bool], str]] = {
    **dict.fromkeys(
        ("maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties"),
        (_is_count, "a whole number of 0 or more"),
    ),
    **dict.fromkeys(("minimum", "maximum"), (_is_number, "a number")),
    "multipleOf": (_is_positive, "a number greater than 0"),
    **dict.fromkeys(
        (
            "exclusiveMinimum",
            "exclusiveMaximum",
            "uniqueItems",
            "nullable",
            "x-kubernetes-preserve-unknown-fields",
            "x-kubernetes-embedded-resource",
            "x-kubernetes-int-or-string",
        ),
        (lambda value: isinstance(value, bool), "true or false"),
    ),
    "pattern": (lambda value: isinstance(value, str), "a regular expression (a string)"),
    "enum": (lambda value: isinstance(value, list), "a list of values"),
    "required": (_is_names, "a list of field names"),
    **dict.fromkeys(
        ("properties", "patternProperties", "definitions"), (_is_schema_map, "a mapping of names to schemas")
    ),
    **dict.fromkeys(("allOf", "anyOf", "oneOf"), (_is_schemas, "a list of schemas")),
    "items": (lambda value: _is_schema(value) or _is_schemas(value), "a schema or a list of schemas"),
    **dict.fromkeys(_SCHEMA_VALUED, (_is_schema, "a schema or true/false")),
    "$ref": (lambda _: False, "allowed: Kubernetes refuses $ref in a CRD schema, and jsonschema would look it up"),
    "dependencies": (
        lambda value: isinstance(value, dict) and all(_is_schema(v) or _is_names(v) for v in value.values()),
        "a mapping of field names to schemas or lists of field names",
    ),
}


_JSON_TYPES = frozenset(("array", "boolean", "integer", "null", "number", "object", "string"))


def _json_type(value: object) -> object:
    names = value if isinstance(value, list) else [value]
    if not all(isinstance(name, str) and name in _JSON_TYPES for name in names):
        raise MisshapenKeyword(f"{quoted(str(value))} is not one of {', '.join(sorted(_JSON_TYPES))}")
    return value


def _regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise MisshapenKeyword(f"{quoted(pattern)} is no regular expression Python can compile ({exc})") from None
    return pattern


def _apply_kubernetes_extensions(schema: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    if schema.get("nullable"):
        out.pop("nullable")
        _admit_null(out)
    if schema.get("x-kubernetes-int-or-string") and "type" not in out and "anyOf" not in out:
        out["type"] = ["integer", "string"]
    if schema.get("x-kubernetes-embedded-resource"):
        out["properties"] = {
            "apiVersion": _STRING,
            "kind": _STRING,
            "metadata": _OBJECT_META,
            **out.get("properties", {}),
        }
        out["required"] = sorted({*out.get("required", []), "apiVersion", "kind"})
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _admit_null(out: dict[str, Any]) -> None:
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
