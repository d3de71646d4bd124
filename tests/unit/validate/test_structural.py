from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft7Validator

from generator.validate.structural import compile_check

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 8},
        "count": {"type": "integer", "minimum": 0, "maximum": 10},
        "ratio": {"type": ["number", "null"]},
        "flag": {"type": "boolean"},
        "mode": {"enum": ["a", "b", 1]},
        "fixed": {"const": 0},
        "port": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        "either": {"oneOf": [{"type": "string"}, {"type": "string", "minLength": 3}]},
        "both": {"allOf": [{"type": "string"}, {"minLength": 1}]},
        "tags": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "env": {"type": "object", "patternProperties": {"^X_": {"type": "integer"}}, "additionalProperties": False},
    },
}

INSTANCES = [
    {"name": "ok"},
    {},
    {"name": "OK"},
    {"name": "o"},
    {"name": "toolongname"},
    {"name": "ok", "other": 1},
    {"name": "ok", "count": 3},
    {"name": "ok", "count": 3.0},
    {"name": "ok", "count": 3.5},
    {"name": "ok", "count": True},
    {"name": "ok", "count": 11},
    {"name": "ok", "count": -1},
    {"name": "ok", "ratio": None},
    {"name": "ok", "ratio": 0.5},
    {"name": "ok", "ratio": False},
    {"name": "ok", "flag": 1},
    {"name": "ok", "mode": "b"},
    {"name": "ok", "mode": 1},
    {"name": "ok", "mode": True},
    {"name": "ok", "mode": "c"},
    {"name": "ok", "fixed": 0},
    {"name": "ok", "fixed": False},
    {"name": "ok", "port": 8080},
    {"name": "ok", "port": "http"},
    {"name": "ok", "port": 1.5},
    {"name": "ok", "either": "ab"},
    {"name": "ok", "either": "abc"},
    {"name": "ok", "both": ""},
    {"name": "ok", "tags": []},
    {"name": "ok", "tags": ["a", "b", "c"]},
    {"name": "ok", "tags": ["a", 2]},
    {"name": "ok", "labels": {"a": "b"}},
    {"name": "ok", "labels": {"a": 1}},
    {"name": "ok", "env": {"X_A": 1}},
    {"name": "ok", "env": {"X_A": "1"}},
    {"name": "ok", "env": {"Y": 1}},
    [],
    "a string",
]


@pytest.mark.parametrize("instance", INSTANCES, ids=repr)
def test_quick_check_agrees_with_jsonschema(instance: Any) -> None:
    check = compile_check(SCHEMA)

    assert check is not None
    assert check(instance) == Draft7Validator(SCHEMA).is_valid(instance)


def test_unsupported_keyword_means_no_quick_check() -> None:
    assert compile_check({"type": "object", "properties": {"a": {"$ref": "#/definitions/a"}}}) is None
