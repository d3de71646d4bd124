"""POST one JSON request to a model server, through the HTTP door. ⚡ edge module.

Connection failures that surely never reached the server are retried briefly (a pod
that just turned Ready may still be binding its port); nothing else is: a wrong
answer must not be hidden by a second try, and POST is not idempotent in general.
The whole call, retries and a slow or dripping answer included, ends within
`KSERVE_GITOPS_HTTP_DEADLINE` (30 s by default) plus one read timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from generator.errors import EndpointUnreachable, SmokeFailed, UserError
from generator.redact import credentials_of, redact
from generator.smoke.endpoint import Endpoint
from generator.util.http import Http, HttpFailure, HttpSettings, Reply

_SHOWN = 500  # characters of an error body worth printing


@dataclass(frozen=True)
class InferenceResponse:
    """What the model server answered to an inference request: its status, decoded JSON body and latency."""

    status: int
    body: Any
    seconds: float  # from sending the request to having read the whole answer


def post_json(
    endpoint: Endpoint, body: Mapping[str, Any], *, settings: HttpSettings | None = None
) -> InferenceResponse:
    headers = {"Content-Type": "application/json"} | ({"Host": endpoint.host} if endpoint.host else {})
    with Http(settings or HttpSettings.from_env()) as http:
        began = time.monotonic()
        try:
            response = http.request(
                "POST", endpoint.url, retry="connect", data=json.dumps(body).encode(), headers=headers
            )
        except HttpFailure as exc:
            raise _unreachable(endpoint, exc.reason) from None
        seconds = time.monotonic() - began
    return InferenceResponse(response.status, _json(endpoint, response), seconds)


def _json(endpoint: Endpoint, response: Reply) -> Any:
    where = f"POST {redact(endpoint.url)}"
    said = redact(_excerpt(response.text), credentials_of(endpoint.url))  # a server may echo what it was sent
    if not response.ok:
        raise SmokeFailed.simple(f"{where} answered {response.status} {response.reason}: {said}")
    try:
        return response.json()
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python's stack
        raise SmokeFailed.simple(f"{where} answered {response.status} with a body that is not JSON: {said}") from None


def _unreachable(endpoint: Endpoint, reason: str) -> UserError:
    via = f" (Host: {endpoint.host})" if endpoint.host else ""
    return EndpointUnreachable.simple(
        f"cannot reach {redact(endpoint.url)}{via}: {reason}",
        hint="from outside the cluster, pass the ingress as --url with --host <isvc>.<namespace>.<domain>, or "
        "`kubectl port-forward -n <namespace> svc/<isvc>-predictor 8080:80` and --url http://localhost:8080",
    )


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
