from __future__ import annotations

import pytest

from generator.util.schema_check import ecma_pattern, message, validator

LABEL = {"type": "string", "pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$"}


@pytest.mark.parametrize("value", ["mlflow-dev\n", "mlflow-dev\n\n", "\nmlflow-dev", "mlflow dev", ""])
def test_pattern_anchors_at_the_very_end_like_ecma_262(value: str) -> None:
    assert not validator(LABEL).is_valid(value)


def test_a_valid_value_still_matches() -> None:
    assert validator(LABEL).is_valid("mlflow-dev")


@pytest.mark.parametrize(
    ("pattern", "python"),
    [("^a$", r"^a\Z"), ("^[$]x$", r"^[$]x\Z"), (r"^a\$$", r"^a\$\Z"), ("^(a|b$)", r"^(a|b\Z)")],
)
def test_only_unescaped_dollars_outside_classes_become_end_of_string(pattern: str, python: str) -> None:
    assert ecma_pattern(pattern).pattern == python


def test_property_names_use_the_same_rule() -> None:
    schema = {"type": "object", "propertyNames": LABEL}
    assert not validator(schema).is_valid({"team\n": "x"})


def test_a_rejected_value_is_quoted_briefly() -> None:
    (error,) = validator(LABEL).iter_errors("x" * 60_000 + "\n")
    assert "characters left out" in message(error)
    assert len(message(error)) < 400
