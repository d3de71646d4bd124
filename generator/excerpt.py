"""How much of the user's input a message may show: a bounded, redacted excerpt.

A message that quotes its input whole is unreadable when the input is a 60,000-character
header, and a leak when it is a file that should never have been read (a models.lock
symlinked to /etc/passwd). Messages quote input through `quoted`/`excerpt`, and every
diagnostic is cut to `MESSAGE_LIMIT` as a last resort.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from generator.redact import redact

QUOTE_LIMIT = 200
MESSAGE_LIMIT = 1_000
_PRINTABLE_INT_BITS = 14_000  # Python prints integers of up to 4,300 digits (sys.get_int_max_str_digits)


def shorten(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its head and tail around a count of what was left out."""
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 3
    return f"{text[:head]}…[{len(text) - head - tail:,} characters left out]…{text[len(text) - tail :]}"


def excerpt(text: str, limit: int = QUOTE_LIMIT, known: Iterable[str] = ()) -> str:
    """At most about `limit` characters of `text`, redacted (`known`: secrets to mask, as `redact` takes them).

    Redacting a generous cut first keeps the work bounded on huge inputs, and cutting only after
    redaction means a credential is never split in a way that hides it from the patterns.
    """
    return shorten(redact(shorten(text, 8 * limit), known), limit)


def quoted(value: object, limit: int = QUOTE_LIMIT) -> str:
    """`repr(value)` for a message, bounded and redacted: `'abc…[59,800 characters left out]…xyz'`."""
    return repr(excerpt(value, limit)) if isinstance(value, str) else excerpt(repr(value), limit)


def as_written(value: object, limit: int = QUOTE_LIMIT) -> str:
    """A value read from YAML, for a message, as YAML writes it: true, null, .inf, 2024-01-01, {a: 1}, and text as
    `quoted` gives it. Python's words (True, None, inf, datetime.date(2024, 1, 1), b'hi') are not what
    the user wrote, nor what they can write to fix it."""
    if isinstance(value, str):
        return quoted(value, limit)
    if isinstance(value, bytes):
        return f"!!binary data ({len(value)} bytes)"
    if isinstance(value, int) and value.bit_length() > _PRINTABLE_INT_BITS:
        return f"an integer of about {value.bit_length() * math.log10(2):,.0f} digits"
    import yaml  # noqa: PLC0415 -- a value read from YAML is worded only where YAML was read

    try:
        written = yaml.safe_dump(value, default_flow_style=True, width=2**31, allow_unicode=True)
    except yaml.YAMLError:  # a type YAML has no words for
        return quoted(value, limit)
    return excerpt(written.removesuffix("\n").removesuffix("\n...").strip(), limit)
