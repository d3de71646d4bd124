"""The limits of every outbound call, apart from the client that applies them (`generator.util.http`).

Apart so that what only reads the settings (MLflow's client is configured from them,
`generator.registry.mlflow_http`) does not import requests: `validate` and `--help`
must start without it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from generator.diagnostics import Diagnostic
from generator.errors import EnvironmentProblem

ENV_PREFIX = "KSERVE_GITOPS_HTTP_"


@dataclass(frozen=True)
class HttpSettings:
    """The limits of every outbound call; each field is `KSERVE_GITOPS_HTTP_<FIELD>` in the environment.

    The defaults make any single call fail within 40 s of its cause: 30 s of deadline
    plus one read of at most 10 s, leaving room for a command's start-up within a minute.
    """

    connect_timeout: float = 5.0  # seconds to open a connection
    read_timeout: float = 10.0  # seconds of silence while waiting for an answer or the next piece of it
    deadline: float = 30.0  # seconds for one call, every attempt, pause and piece of the body included
    retries: int = 3  # further attempts after a momentary failure (connection, timeout, 429, rate-limited 403, 5xx)
    backoff: float = 0.5  # seconds before the first retry, doubling for each next one
    backoff_max: float = 8.0  # the longest pause between two attempts
    retry_after_max: float = 20.0  # the longest Retry-After waited for; longer ones fail at once and say when
    max_body: int = 64 * 1024 * 1024  # bytes of one answer; the largest CRD file is a few MiB
    # seconds to download a whole model's files (`compat`), or for one git command against a remote (`propose`)
    download_deadline: float = 600.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HttpSettings:
        """The defaults, overridden by `KSERVE_GITOPS_HTTP_*`. EnvironmentProblem lists every bad value at once."""
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems = []
        for item in fields(cls):
            name = env_name(item.name)
            raw = source.get(name, "").strip()
            if not raw:
                continue
            kind = int if item.type in (int, "int") else float
            try:
                value = kind(raw)
            except ValueError:
                value = -1
            if (
                not math.isfinite(value)
                or value < 0
                or (
                    value == 0
                    and item.name in ("connect_timeout", "read_timeout", "deadline", "max_body", "download_deadline")
                )
            ):
                problems.append(
                    Diagnostic(
                        message=f"{name}={raw!r} is not a {_KIND[kind]}",
                        hint=f"unset it for the default, {getattr(cls, item.name)}",
                    )
                )
            values[item.name] = value
        if problems:
            raise EnvironmentProblem(problems)
        return replace(cls(), **values)

    def timeouts(self, remaining: float) -> tuple[float, float]:
        """requests' (connect, read) timeouts for an attempt that must end within `remaining` seconds."""
        remaining = max(remaining, 0.001)
        return min(self.connect_timeout, remaining), min(self.read_timeout, remaining)

    def pause(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1, 2, …)."""
        return min(self.backoff * 2.0 ** (attempt - 1), self.backoff_max)


_KIND = {int: "non-negative whole number", float: "finite non-negative number of seconds"}


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


# What an answer over `max_body` is called, by every client that caps one (the HTTP door, MLflow's client).
TOO_LARGE_HINT = (
    f"check that the URL is the service's API and not a download or a web page; if the answer is meant to be that "
    f"large, raise {env_name('max_body')}"
)


def declared_too_large(declared: int, max_body: int) -> str:
    return f"answer of {declared} bytes (its Content-Length), more than the {max_body} allowed ({env_name('max_body')})"


def read_too_large(read: int, max_body: int) -> str:
    return f"answer larger than {max_body} bytes ({read} read before giving up; {env_name('max_body')})"
