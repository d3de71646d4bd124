"""jsonschema errors → Diagnostics that say what to change, at a JSON path.

Raw jsonschema messages ("Additional properties are not allowed ('storageURI' was
unexpected)") name neither the field's path nor the fix; users need
`$.spec.predictor.model.storageURI: unknown field 'storageURI' (did you mean 'storageUri'?)`.
Shared by the CRD and the built-in-kind validators so both read the same.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from generator.diagnostics import Diagnostic, json_path

if TYPE_CHECKING:
    from jsonschema import ValidationError

LineOf = Callable[[str], int]

_JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest choice, case slips first, or ""."""
    options = list(choices)
    same_case = [c for c in options if c.lower() == word.lower()]
    close = same_case or difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def diagnostics_for(
    errors: Iterable[ValidationError], *, rule: str, file: str = "", line_of: LineOf | None = None
) -> list[Diagnostic]:
    """Every error, one Diagnostic per problem, sorted by path and free of duplicates."""
    found = {
        Diagnostic(path=json_path(parts), message=message, rule=rule)
        for error in errors
        for parts, message in _explain(error)
    }
    return sorted(locate(d, file=file, line_of=line_of) for d in found)


def locate(diagnostic: Diagnostic, *, file: str, line_of: LineOf | None) -> Diagnostic:
    line = line_of(diagnostic.path) if line_of and diagnostic.path else 0
    return replace(diagnostic, file=file, line=line)


def _explain(error: ValidationError) -> Iterator[tuple[Sequence[str | int], str]]:
    parts = list(error.absolute_path)
    instance, expected = error.instance, cast(Any, error.validator_value)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = list(schema.get("properties", {}))
        for key in sorted(set(instance) - set(known)):
            if not any(re.search(p, key) for p in schema.get("patternProperties", {})):
                yield [*parts, key], f"unknown field {key!r}{did_you_mean(key, known)}"
    elif error.validator == "required" and isinstance(instance, dict):
        for key in expected:
            if key not in instance:
                yield parts, f"missing required field {key!r}"
    elif error.validator == "type":
        yield parts, f"expected {_or(expected)}, got {_describe(instance)}"
    elif error.validator == "const":
        yield parts, f"must be {expected!r}, got {_describe(instance)}"
    elif error.validator == "enum":
        words = [str(v) for v in expected]
        yield parts, f"{instance!r} is not one of {words}{did_you_mean(str(instance), words)}"
    elif error.validator in ("anyOf", "oneOf") and error.context:
        yield from _explain_alternatives(error)
    else:
        yield parts, error.message


def _explain_alternatives(error: ValidationError) -> Iterator[tuple[Sequence[str | int], str]]:
    """int-or-string and friends read as one "expected integer or string", not a tree."""
    types = [e.validator_value for e in error.context or () if e.validator == "type"]
    if len(types) == len(error.context or ()):
        yield list(error.absolute_path), f"expected {_or(types)}, got {_describe(error.instance)}"
    else:
        from jsonschema.exceptions import best_match  # noqa: PLC0415 -- jsonschema only words errors

        yield from _explain(best_match(error.context or ()))


def _or(types: Any) -> str:
    names = [types] if isinstance(types, str) else [str(t) for t in _flatten(types)]
    return " or ".join(dict.fromkeys(names))


def _flatten(items: Iterable[Any]) -> Iterator[Any]:
    for item in items:
        yield from (item if isinstance(item, list) else [item])


def _describe(value: Any) -> str:
    kind = _JSON_TYPES.get(type(value), type(value).__name__)
    if isinstance(value, dict | list):
        return kind
    shown = repr(value)
    return f"{kind} {shown if len(shown) <= 60 else shown[:57] + '...'}"
