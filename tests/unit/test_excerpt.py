"""Values quoted in messages: bounded, redacted, and in YAML's words, which the user wrote and can write back."""

from __future__ import annotations

import datetime
import math

import pytest

from generator.excerpt import QUOTE_LIMIT, as_written


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (True, "true"),
        (None, "null"),
        (-math.inf, "-.inf"),
        (datetime.date(2024, 1, 1), "2024-01-01"),
        (datetime.datetime(2024, 1, 1, 10, 0), "2024-01-01 10:00:00"),
        ({"a": [1, None]}, "{a: [1, null]}"),
        ("text", "'text'"),
        (b"hi", "!!binary data (2 bytes)"),
        pytest.param(10**5000, "an integer of about 5,000 digits", id="an integer too long to print"),
    ],
)
def test_a_value_is_quoted_as_yaml_writes_it(value: object, words: str) -> None:
    assert as_written(value) == words


def test_a_quoted_value_is_bounded_and_redacted() -> None:
    words = as_written({"uri": "https://user:hunter2@example.com/x", "long": "x" * 10_000})
    assert "hunter2" not in words
    assert len(words) < QUOTE_LIMIT + 60
