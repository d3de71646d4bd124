"""JSON Schema validators that apply `pattern` as editors do, and quote what they reject briefly.

JSON Schema patterns are ECMA-262 regular expressions, found anywhere in the string
(`re.search`), so schemas anchor them with `^…$`. In ECMA-262 `$` matches only at the
very end; in Python's `re` it also matches before a final newline, so with jsonschema's
own `pattern` a namespace `"mlflow-dev\n"` passes and reaches a manifest. Here `$`
means end of string, as in the editors that check the same schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from generator.excerpt import as_written, quoted

if TYPE_CHECKING:  # jsonschema only words errors: a run whose inputs are valid never imports it
    import jsonschema
    from jsonschema.exceptions import ValidationError


@cache
def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """`pattern` compiled with each `$` outside a character class meaning end of string (`\\Z`)."""
    out, in_class, escaped = [], False, False
    for char in pattern:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif char == "[":
            in_class = True
            out.append(char)
        elif char == "]":
            in_class = False
            out.append(char)
        else:
            out.append(r"\Z" if char == "$" and not in_class else char)
    return re.compile("".join(out))


def _pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    from jsonschema.exceptions import ValidationError  # noqa: PLC0415 -- only where errors are worded

    if validator.is_type(instance, "string") and not ecma_pattern(pattern).search(instance):
        yield ValidationError(f"{quoted(instance)} does not match {pattern!r}")


def validator(schema: Mapping[str, Any]) -> jsonschema.protocols.Validator:
    """A validator for `schema` (its declared draft) whose `pattern` keyword has ECMA-262 anchors."""
    import jsonschema  # noqa: PLC0415 -- only where errors are worded

    base = jsonschema.validators.validator_for(schema)
    strict = jsonschema.validators.extend(base, validators={"pattern": _pattern})  # type: ignore[no-untyped-call]
    return strict(schema)  # type: ignore[no-any-return]


def quickly_valid(quick: jsonschema_rs.Validator, instance: Any) -> bool:
    """The compiled (Rust) validator's yes, ~50x faster than jsonschema's; False also when it cannot take a
    value JSON has no type for (a YAML date, bytes, a number as a key), so that jsonschema words the error.
    Its `pattern` is ECMA-262 already: `$` is the end of the string."""
    try:
        return bool(quick.is_valid(instance))
    except ValueError:
        return False


def message(error: ValidationError) -> str:
    """jsonschema's message, with the rejected value as YAML writes it (`true`, not Python's `True`) and at most
    QUOTE_LIMIT characters long."""
    return error.message.replace(repr(error.instance), as_written(error.instance))
