"""POST one JSON request to a model server. ⚡ edge module.

Connection errors are retried briefly (a pod that just turned Ready may still
be binding its port); nothing else is: a wrong answer must not be hidden by a
second try, and POST is not idempotent in general.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from generator.errors import EndpointUnreachable, SmokeFailed, UserError
from generator.smoke.endpoint import Endpoint
from generator.util.redact import redact

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
_SHOWN = 500  # characters of an error body worth printing
_CAUSE = re.compile(r"\[Errno -?\d+\] ([^'\")]+)|(connect timeout|timed out)")


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    seconds: float  # from sending the request to having read the whole answer


def post_json(endpoint: Endpoint, body: Mapping[str, Any], *, retries: int = 3) -> Reply:
    headers = {"Content-Type": "application/json"} | ({"Host": endpoint.host} if endpoint.host else {})
    with requests.Session() as session:
        retry = Retry(total=retries, connect=retries, read=0, status=0, other=0, redirect=0, backoff_factor=0.5)
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        began = time.monotonic()
        try:
            response = session.post(endpoint.url, data=json.dumps(body), headers=headers,
                                    timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        except requests.ReadTimeout:
            raise _unreachable(endpoint, f"no answer within {READ_TIMEOUT:.0f} s") from None
        except requests.ConnectionError as exc:
            raise _unreachable(endpoint, _cause(str(exc))) from None
        seconds = time.monotonic() - began
    return Reply(response.status_code, _json(endpoint, response), seconds)


def _json(endpoint: Endpoint, response: requests.Response) -> Any:
    where = f"POST {redact(endpoint.url)}"
    if not response.ok:
        raise SmokeFailed.simple(f"{where} answered {response.status_code} {response.reason}: "
                                 f"{_excerpt(response.text)}")
    try:
        return response.json()
    except ValueError:
        raise SmokeFailed.simple(f"{where} answered {response.status_code} with a body that is not JSON: "
                                 f"{_excerpt(response.text)}") from None


def _unreachable(endpoint: Endpoint, reason: str) -> UserError:
    via = f" (Host: {endpoint.host})" if endpoint.host else ""
    return EndpointUnreachable.simple(
        f"cannot reach {redact(endpoint.url)}{via}: {reason}",
        hint="from outside the cluster, pass the ingress as --url with --host <isvc>.<namespace>.<domain>, or "
             "`kubectl port-forward -n <namespace> svc/<isvc>-predictor 8080:80` and --url http://localhost:8080",
    )


def _cause(message: str) -> str:
    found = _CAUSE.search(message)
    return next(g for g in found.groups() if g).strip() if found else message.splitlines()[0][:200]


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
