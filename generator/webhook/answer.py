"""What the service answers to one request: the status the sender sees and the one log line it writes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Answer:
    """`action` is one word a dashboard can count (dispatched, ignored, tagged, rejected, …).

    `fields` say which delivery, event, model or application it was about; they are
    logged, never secrets, and the sender gets `action` and `detail` back.
    """

    status: int
    action: str
    detail: str = ""
    fields: Mapping[str, str | None] = field(default_factory=dict)

    def body(self) -> dict[str, str]:
        return {"action": self.action, **({"detail": self.detail} if self.detail else {})}


class Malformed(ValueError):
    """The request is authentic but not shaped as the sender documents it; answered 400, never retried."""


def json_body(body: bytes) -> Any:
    """The request body as JSON; Malformed when it is not, or nests deeper than json.loads can follow (it recurses
    once per level: a body of 100,000 "[" exhausts the stack), which no sender's body does."""
    try:
        return json.loads(body)
    except ValueError as e:
        raise Malformed(f"body is not JSON: {e}") from None
    except RecursionError:
        raise Malformed("body nests deeper than Python's JSON parser can follow") from None
