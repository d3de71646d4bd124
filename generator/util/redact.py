"""Credentials never reach the terminal, a log or a file we write."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s'\"]+@")


def redact(text: str) -> str:
    """Replace `user:password@` in every URL inside `text` with `***@`."""
    return _USERINFO.sub(r"\g<scheme>***@", text)
