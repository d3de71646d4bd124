from __future__ import annotations

from decimal import Decimal

import pytest

from generator.util.quantity import canonical_quantity, parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Decimal(1)),
        ("500m", Decimal("0.5")),
        ("0.1", Decimal("0.1")),
        (".5", Decimal("0.5")),
        ("+2", Decimal(2)),
        ("-1", Decimal(-1)),
        ("100n", Decimal("1E-7")),
        ("250u", Decimal("0.00025")),
        ("1k", Decimal(1000)),
        ("1M", Decimal(10**6)),
        ("1G", Decimal(10**9)),
        ("1T", Decimal(10**12)),
        ("1P", Decimal(10**15)),
        ("1E", Decimal(10**18)),
        ("1Ki", Decimal(1024)),
        ("1.5Ki", Decimal(1536)),
        ("2Mi", Decimal(2 * 1024**2)),
        ("2Gi", Decimal(2 * 1024**3)),
        ("1Ti", Decimal(1024**4)),
        ("1Pi", Decimal(1024**5)),
        ("1Ei", Decimal(1024**6)),
        ("1e3", Decimal(1000)),
        ("129e6", Decimal(129_000_000)),
        ("1E-2", Decimal("0.01")),
        ("128974848", Decimal(128974848)),
    ],
)
def test_parses_every_suffix_exactly(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


def test_binary_and_decimal_forms_compare_exactly() -> None:
    assert parse_quantity("1Gi") == parse_quantity("1073741824")
    assert parse_quantity("1000m") == parse_quantity("1")


@pytest.mark.parametrize("text", ["", "Gi", "1.2.3", "1 ", " 1", "1mi", "1e1.5", "1KiB", "one", "1_000"])
def test_rejects_what_kubernetes_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        parse_quantity(text)


@pytest.mark.parametrize(("text", "suggestion"), [("2gi", "2Gi"), ("2GiB", "2Gi"), ("512mi", "512Mi"), ("4GB", "4Gi")])
def test_suggests_the_binary_suffix_for_common_slips(text: str, suggestion: str) -> None:
    with pytest.raises(ValueError, match=f"did you mean '{suggestion}'"):
        parse_quantity(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1e99999999999", "out of range"),
        ("1E-99999999999", "out of range"),
        ("5e65", "out of range"),
        ("inf", "not a Kubernetes quantity"),
        ("nan", "not a Kubernetes quantity"),
        ("-inf", "not a Kubernetes quantity"),
        ("9" * 10_000, "longer than 64 characters"),
    ],
)
def test_absurd_quantities_are_clear_errors_quoted_briefly(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        parse_quantity(text)
    assert len(str(caught.value)) < 400


def test_the_largest_allowed_exponent_still_parses() -> None:
    assert parse_quantity("1e64") == Decimal(10) ** 64


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        # k8s.io/apimachinery v0.34.5, pkg/api/resource/quantity.go: what MarshalJSON writes after ParseQuantity
        ("0.5", "500m"),
        (".5", "500m"),
        ("1.5", "1500m"),
        ("1000m", "1"),
        ("1.0", "1"),
        ("2000", "2k"),
        ("1500", "1500"),
        ("12e1", "120"),
        ("2048Mi", "2Gi"),
        ("1024Ki", "1Mi"),
        ("0.5Gi", "512Mi"),
        ("1.5Gi", "1536Mi"),
        ("1.1Gi", "1181116006400m"),
        ("0Mi", "0"),
        ("0.1n", "1n"),
        # already canonical: ParseQuantity's fast path keeps the string as written, sign and capital E included
        ("500m", "500m"),
        ("1", "1"),
        ("1Gi", "1Gi"),
        ("100Mi", "100Mi"),
        ("1536Mi", "1536Mi"),
        ("1e3", "1e3"),
        ("1E3", "1E3"),
        ("+1", "+1"),
    ],
)
def test_canonical_quantity_is_what_kubernetes_writes_back(text: str, stored: str) -> None:
    assert canonical_quantity(text) == stored
