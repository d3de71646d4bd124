"""A fast yes/no check for strict structural schemas; jsonschema explains the no.

jsonschema spends ~20 µs per schema node visited, ~0.2 ms per InferenceService, which
makes a few thousand rendered objects take about a second. Almost all of them are valid,
so the schema is also compiled into plain closures that answer "valid?" ~10x faster, and
only objects that fail are walked again by jsonschema to word the errors. The closures
cover exactly the keywords structural CRD schemas use, with jsonschema's semantics
(booleans are not integers, `pattern` is `re.search`); any other keyword makes
`compile_check` return None and the caller keeps to jsonschema alone.

Each sub-schema is compiled when an object first reaches it: most of the InferenceService
schema (volumes, affinity, probes, …) is never reached by a rendered object, and compiling
all ~24k nodes up front cost a third of a second per process.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

_PLAIN_TYPES: dict[type, str] = {dict: "object", list: "array", str: "string", type(None): "null"}


_KEYWORDS = {
    "type",
    "properties",
    "additionalProperties",
    "patternProperties",
    "required",
    "items",
    "enum",
    "const",
    "anyOf",
    "allOf",
    "oneOf",
    "pattern",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
}


def compile_check(schema: Mapping[str, Any]) -> Check | None:
    return compile_supported(schema) if supported(schema) else None


def compile_supported(schema: Mapping[str, Any]) -> Check:
    """The check of a schema `supported` says yes to (a walk over a large schema its caller may remember)."""
    return _compile(schema)


def supported(schema: Mapping[str, Any]) -> bool:
    """Whether `_keyword` knows every keyword of `schema` and of the schemas inside it."""
    if any(key not in _KEYWORDS or (key == "items" and not isinstance(value, dict)) for key, value in schema.items()):
        return False
    inner = [
        *schema.get("properties", {}).values(),
        *schema.get("patternProperties", {}).values(),
        *[schema[key] for key in ("additionalProperties", "items") if isinstance(schema.get(key), dict)],
        *[sub for key in ("anyOf", "allOf", "oneOf") for sub in schema.get(key, ())],
    ]
    return all(supported(sub) for sub in inner)


def _deferred(schema: Mapping[str, Any]) -> Check:
    """`_compile(schema)`, done on the first call."""
    compiled: list[Check] = []

    def check(x: Any) -> bool:
        if not compiled:
            compiled.append(_compile(schema))
        return compiled[0](x)

    return check


def _compile(schema: Mapping[str, Any]) -> Check:
    checks = [_keyword(schema, key, value) for key, value in schema.items()]
    return checks[0] if len(checks) == 1 else _compiled_all(checks)


def _compiled_all(checks: list[Check]) -> Check:
    def all_of(x: Any) -> bool:  # loops, not all() over a generator, here and below: these run ~100 times an object
        for check in checks:  # noqa: SIM110
            if not check(x):
                return False
        return True

    return all_of


def _keyword(schema: Mapping[str, Any], key: str, value: Any) -> Check:  # noqa: PLR0911
    match key:
        case "type":
            return _type(value)
        case "properties" | "additionalProperties" | "patternProperties":
            return _object(schema) if key == "properties" or "properties" not in schema else _true
        case "required":
            required = frozenset(value)
            return lambda x: not isinstance(x, dict) or required <= x.keys()
        case "items" if isinstance(value, dict):
            return _items(_deferred(value))
        case "enum":
            return lambda x: any(_same(x, v) for v in value)
        case "const":
            return lambda x: _same(x, value)
        case "anyOf" | "allOf" | "oneOf":
            return _combine(key, [_deferred(s) for s in value])
        case "pattern":
            regex = re.compile(value)
            return lambda x: not isinstance(x, str) or regex.search(x) is not None
        case "minLength" | "maxLength" | "minItems" | "maxItems" | "minimum" | "maximum":
            return _bound(key, value)
    raise AssertionError(f"{key!r} passed _supported but has no check")


def _true(_: Any) -> bool:
    return True


def _items(item: Check) -> Check:
    def check(x: Any) -> bool:
        if isinstance(x, list):
            for i in x:
                if not item(i):
                    return False
        return True

    return check


def _type(expected: str | list[str]) -> Check:
    names = {expected} if isinstance(expected, str) else set(expected)
    plain = tuple(t for t, name in _PLAIN_TYPES.items() if name in names)
    boolean, integer, number = "boolean" in names, "integer" in names, "number" in names

    def check(x: Any) -> bool:
        if isinstance(x, bool):
            return boolean
        if isinstance(x, int):
            return integer or number
        if isinstance(x, float):
            return number or (integer and x.is_integer())
        return isinstance(x, plain)

    return check


def _object(schema: Mapping[str, Any]) -> Check:
    """properties, patternProperties and additionalProperties in one pass over the keys."""
    named = {k: _deferred(s) for k, s in schema.get("properties", {}).items()}
    patterns = [(re.compile(p), _deferred(s)) for p, s in schema.get("patternProperties", {}).items()]
    extra = schema.get("additionalProperties", True)
    other = _deferred(extra) if isinstance(extra, dict) else (lambda _: bool(extra))

    def value_ok(key: str, value: Any) -> bool:
        own = named.get(key)
        if not patterns:
            return own(value) if own is not None else other(value)
        hits = [c for p, c in patterns if p.search(key)] + ([own] if own is not None else [])
        return all(c(value) for c in hits) if hits else other(value)

    def check(x: Any) -> bool:
        if isinstance(x, dict):
            for key, value in x.items():
                if not value_ok(key, value):
                    return False
        return True

    return check


def _combine(key: str, checks: list[Check]) -> Check:
    if key == "anyOf":

        def any_of(x: Any) -> bool:
            for check in checks:  # noqa: SIM110 -- a loop, as in all_of
                if check(x):
                    return True
            return False

        return any_of
    if key == "allOf":
        return _compiled_all(checks)
    return lambda x: sum(c(x) for c in checks) == 1


def _bound(key: str, limit: float) -> Check:
    measure: dict[str, tuple[type | tuple[type, ...], Callable[[Any], float]]] = {
        "minLength": (str, len),
        "maxLength": (str, len),
        "minItems": (list, len),
        "maxItems": (list, len),
        "minimum": ((int, float), float),
        "maximum": ((int, float), float),
    }
    kind, size = measure[key]
    low = key.startswith("min")

    def check(x: Any) -> bool:
        if not isinstance(x, kind) or isinstance(x, bool):
            return True
        return size(x) >= limit if low else size(x) <= limit

    return check


def _same(a: Any, b: Any) -> bool:
    """Equality as in JSON: True is not 1."""
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)
