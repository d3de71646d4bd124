"""Kubernetes resource quantities ("500m", "2Gi", "1e3") as exact decimals.

Follows `k8s.io/apimachinery/pkg/api/resource` `ParseQuantity`: a signed decimal
number, then at most one suffix — binary SI (Ki…Ei), decimal SI (n u m k M G T P E)
or an integer decimal exponent (e3, E-2). Exact `Decimal`s let callers compare a
request with a limit without float rounding ("0.1" + "0.2" CPUs).
"""

from __future__ import annotations

import functools
import re
from decimal import ROUND_UP, Decimal, localcontext

from generator.excerpt import quoted

_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)
_BINARY_POWERS = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL_EXPONENTS = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {power: suffix for suffix, power in _BINARY_POWERS.items()}
_DECIMAL_SUFFIXES = {exponent: suffix for suffix, exponent in _DECIMAL_EXPONENTS.items()}
_NANO = -9  # the finest scale Kubernetes keeps; ParseQuantity rounds finer values up to it
_INT64_DIGITS = 18  # apimachinery's maxInt64Factors: the digits its fast path parses
_EXAMPLES = "e.g. '500m', '1', '2Gi', '128974848', '129e6'"
# Kubernetes keeps quantities as int64 with a scale; anything beyond these is a typo or an attack.
MAX_QUANTITY_LENGTH = 64
MAX_EXPONENT = 64


@functools.lru_cache(maxsize=1024)  # a thousand models share a handful of quantities (Decimal values are immutable)
def parse_quantity(s: str) -> Decimal:
    """The value of `s` in base units (cores, bytes); ValueError says what is wrong.

    Decimal raises ArithmeticError, not ValueError, on exponents it cannot represent
    (`1e99999999999`); those are reported as out of range like any other bad quantity.
    """
    if len(s) > MAX_QUANTITY_LENGTH:
        raise ValueError(f"{quoted(s)} is not a Kubernetes quantity: longer than {MAX_QUANTITY_LENGTH} characters")
    match = _QUANTITY.fullmatch(s)
    if match is None:
        raise ValueError(f"{quoted(s)} is not a Kubernetes quantity{_did_you_mean(s)} ({_EXAMPLES})")
    number = Decimal(match["number"])
    suffix = match["suffix"] or ""
    named = suffix in _BINARY_POWERS or suffix in _DECIMAL_EXPONENTS
    exponent = _DECIMAL_EXPONENTS.get(suffix, 0) if named or not suffix else int(suffix[1:])
    if abs(exponent) > MAX_EXPONENT:
        raise ValueError(
            f"{quoted(s)} is out of range: the exponent must be between -{MAX_EXPONENT} and "
            f"{MAX_EXPONENT} ({_EXAMPLES})"
        )
    with localcontext() as exact:
        exact.prec = 100
        try:
            if suffix in _BINARY_POWERS:
                return number * Decimal(1024) ** _BINARY_POWERS[suffix]
            return number.scaleb(exponent)
        except ArithmeticError:
            raise ValueError(f"{quoted(s)} is out of range ({_EXAMPLES})") from None


def _did_you_mean(s: str) -> str:
    """Catch the usual slips: "2gi", "2GiB" or "2GB" where 2Gi was meant."""
    candidate = re.sub(r"([kmgtpe])i?b?$", lambda m: m[1].upper() + "i", s, flags=re.IGNORECASE)
    return f" (did you mean {candidate!r}?)" if _QUANTITY.fullmatch(candidate) else ""


def canonical_quantity(s: str) -> str:
    """`s` as Kubernetes writes it back after reading it into a `resource.Quantity`; ValueError as `parse_quantity`.

    Why: KServe's defaulting webhook decodes the InferenceService into Go types and answers with a patch from what it
    was sent to what it marshals again (controller-runtime's `defaulterForType.Handle`, which keeps every `replace`),
    so the stored object holds each quantity in this form: '0.5' becomes '500m', '1000m' '1', '2048Mi' '2Gi'.
    Source: k8s.io/apimachinery v0.34.5 (what kserve/kserve tag v0.20.0's go.mod replaces it with),
    pkg/api/resource/quantity.go: `ParseQuantity` keeps the string as written only on its fast path, when it is
    already canonical (`_kept_as_written`); `MarshalJSON` otherwise writes `CanonicalizeBytes`: a binary-suffixed
    whole number of at least 1024 as the largest power of 1024 that divides it, anything else as an integer times a
    power of 1000 (the SI suffix, or `e<exponent>` for a value written with one), after rounding up to nano units.
    """
    value = parse_quantity(s)
    match = _QUANTITY.fullmatch(s)
    assert match is not None  # parse_quantity accepted it
    suffix = match["suffix"] or ""
    whole, _, fraction = match["number"].lstrip("+-").partition(".")
    if _kept_as_written(whole, fraction, suffix):
        return s
    with localcontext() as exact:
        exact.prec = 200  # parse_quantity bounds the length and the exponent; this holds every digit
        amount = value.quantize(Decimal(1).scaleb(_NANO), rounding=ROUND_UP)
        if suffix in _BINARY_POWERS and abs(amount) >= 1024 and amount == amount.to_integral_value():
            number, power = int(amount), 0
            while power < max(_BINARY_SUFFIXES) and number % 1024 == 0:
                number, power = number // 1024, power + 1
            return f"{number}{_BINARY_SUFFIXES.get(power, '')}"
        mantissa, exponent = int(amount.scaleb(-_NANO)), _NANO
    if mantissa == 0:
        return "0"
    while mantissa % 1000 == 0:
        mantissa, exponent = mantissa // 1000, exponent + 3
    written_with_exponent = bool(suffix) and suffix[0] in "eE" and suffix not in _DECIMAL_EXPONENTS
    if exponent == 0:
        return str(mantissa)
    if not written_with_exponent and exponent in _DECIMAL_SUFFIXES:
        return f"{mantissa}{_DECIMAL_SUFFIXES[exponent]}"
    return f"{mantissa}e{exponent}"


def _kept_as_written(whole: str, fraction: str, suffix: str) -> bool:
    """`ParseQuantity`'s fast path keeps the string (sign and all) when its digits are already the canonical ones."""
    shifted = whole + fraction
    if not shifted:
        return False
    if suffix in _BINARY_POWERS:
        power = _BINARY_POWERS[suffix]
        fits = 15 - len(whole) - 3 * power - 1 >= 0  # apimachinery's precision estimate for 1024**power
        return fits and not fraction and int(whole) & 0x07 != 0
    exponent = _DECIMAL_EXPONENTS.get(suffix, 0) if not suffix or suffix in _DECIMAL_EXPONENTS else int(suffix[1:])
    scale = exponent - len(fraction)
    fits = _INT64_DIGITS - len(shifted) >= 0 and scale >= _NANO
    return fits and scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
