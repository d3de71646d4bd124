"""Kubernetes resource quantities ("500m", "2Gi", "1e3") as exact decimals.

Follows `k8s.io/apimachinery/pkg/api/resource` `ParseQuantity`: a signed decimal
number, then at most one suffix — binary SI (Ki…Ei), decimal SI (n u m k M G T P E)
or an integer decimal exponent (e3, E-2). Exact `Decimal`s let callers compare a
request with a limit without float rounding ("0.1" + "0.2" CPUs).
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal, localcontext

from generator.excerpt import quoted

_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)
_BINARY_POWERS = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL_EXPONENTS = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_EXAMPLES = "e.g. '500m', '1', '2Gi', '128974848', '129e6'"
# Kubernetes keeps quantities as int64 with a scale; anything beyond these is a typo or an attack.
MAX_QUANTITY_LENGTH = 64
MAX_EXPONENT = 64


@functools.lru_cache(maxsize=1024)  # a thousand models repeat a handful of quantities; Decimals are immutable
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
