"""One JSON object per line on stdout, for the cluster's log pipeline.

Every string is passed through `redact`, so a URL with credentials in it (a tracking
URI, an error message quoting one) never reaches the log; tokens and secrets are
never handed to a logger in the first place.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

from generator.redact import redact
from generator.report import json_text
from generator.webhook.answer import Answer

LOGGER = logging.getLogger("kserve_gitops.webhook")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", {})
        line |= {key: str(value) for key, value in fields.items() if value is not None}
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json_text({key: redact(value) for key, value in line.items()})


def configure(level: int = logging.INFO) -> None:
    """Route every logger (ours, uvicorn's, mlflow's when it propagates) through the JSON formatter."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def log_answer(route: str, answer: Answer) -> None:
    """The one line a request produces: what came in (delivery, event, model or app) and what was done."""
    level = logging.INFO if answer.status < 400 else logging.WARNING if answer.status < 500 else logging.ERROR
    fields = {"route": route, "status": answer.status, "action": answer.action, "detail": answer.detail or None}
    LOGGER.log(level, f"{route} {answer.action}", extra={"fields": fields | dict(answer.fields)})
