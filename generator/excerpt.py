"""How much of the user's input a message may show: a bounded, redacted excerpt.

A message that quotes its input whole is unreadable when the input is a 60,000-character
header, and a leak when it is a file that should never have been read (a models.lock
symlinked to /etc/passwd). Messages quote input through `quoted`/`excerpt`, and every
diagnostic is cut to `MESSAGE_LIMIT` as a last resort.
"""

from __future__ import annotations

from generator.redact import redact

QUOTE_LIMIT = 200
MESSAGE_LIMIT = 1_000


def shorten(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its head and tail around a count of what was left out."""
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 3
    return f"{text[:head]}…[{len(text) - head - tail:,} characters left out]…{text[len(text) - tail :]}"


def excerpt(text: str, limit: int = QUOTE_LIMIT) -> str:
    """At most about `limit` characters of `text`, redacted.

    Redacting a generous cut first keeps the work bounded on huge inputs, and cutting only after
    redaction means a credential is never split in a way that hides it from the patterns.
    """
    return shorten(redact(shorten(text, 8 * limit)), limit)


def quoted(value: object, limit: int = QUOTE_LIMIT) -> str:
    """`repr(value)` for a message, bounded and redacted: `'abc…[59,800 characters left out]…xyz'`."""
    return repr(excerpt(value, limit)) if isinstance(value, str) else excerpt(repr(value), limit)
