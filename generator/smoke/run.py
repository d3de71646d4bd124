"""One smoke test: find the target, fetch its example, send it, check the answer.

models.yaml and models.lock say what is deployed where (namespace, method,
locked version and its source). When both `--url` and `--source` are given the
repository is not read at all, so an in-cluster Job needs no checkout. The edges
(MLflow, HTTP) are passed in, as the pipeline's registry is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.diagnostics import printable
from generator.errors import LockError, UserError
from generator.lock import LOCK_FILE
from generator.lock import io as lock_io
from generator.platform.runtimes import PROTOCOLS
from generator.redact import redact
from generator.smoke.client import InferenceResponse
from generator.smoke.endpoint import Endpoint, in_cluster_url, invocations, v2_infer
from generator.smoke.mlmodel import MlModel, as_logged
from generator.smoke.request import (
    Output,
    Request,
    check_predictions,
    check_v2_response,
    invocations_request,
    v2_request,
)
from generator.spec import SPEC_FILE
from generator.spec.load import load_spec

MODEL_NAME_ENV = "MLSERVER_MODEL_NAME"
V2 = PROTOCOLS["runtime"]
INVOCATIONS = PROTOCOLS["image"]  # MLflow's scoring server (`/invocations`)

Fetch = Callable[[str, str], tuple[MlModel, dict[str, Any]]]
Send = Callable[[Endpoint, Mapping[str, Any]], InferenceResponse]


@dataclass(frozen=True)
class Ask:
    """What the user asked for; empty strings mean 'take it from the repository'."""

    model: str
    env: str
    url: str = ""
    host: str = ""
    source: str = ""
    protocol: str = ""


@dataclass(frozen=True)
class SmokeTarget:
    protocol: str
    endpoint: Endpoint
    source: str  # where the MLmodel file and the example are read
    tracking_uri: str


@dataclass(frozen=True)
class SmokeReport:
    target: SmokeTarget
    request: Request
    reply: InferenceResponse
    outputs: list[Output]


def smoke_test(repo: Path, ask: Ask, *, fetch: Fetch, send: Send) -> SmokeReport:
    target = locate(repo, ask)
    model, example = fetch(target.source, target.tracking_uri)
    with as_logged():
        if target.protocol == INVOCATIONS:
            request, check = invocations_request(model.signature, example), check_predictions
        else:
            request, check = v2_request(model.signature, example), check_v2_response
    reply = send(target.endpoint, request.body)
    return SmokeReport(target, request, reply, check(reply.body, request.rows))


def locate(repo: Path, ask: Ask) -> SmokeTarget:
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if ask.url and ask.source:
        protocol = ask.protocol or V2
        return SmokeTarget(protocol, _endpoint(protocol, ask.url, ask.model, ask.host), ask.source, tracking_uri)
    return _from_repo(repo, ask, tracking_uri)


def _from_repo(repo: Path, ask: Ask, tracking_uri: str) -> SmokeTarget:
    spec, _ = load_spec(repo / SPEC_FILE, SPEC_FILE)
    target = spec.target(ask.model, ask.env)
    if target is None:
        raise UserError.simple(
            f"no model '{ask.model}' in environment '{ask.env}'",
            file=SPEC_FILE,
            hint=f"one of: {', '.join(sorted(f'{t.model} --env {t.env}' for t in spec.targets))}",
        )
    entry = lock_io.read(repo / LOCK_FILE).get(ask.model, ask.env)
    if entry is None:
        raise LockError.simple(
            f"no entry for {ask.model} in {ask.env}",
            file=LOCK_FILE,
            hint="run `kserve-gitops lock` (or generate) first",
        )
    protocol = ask.protocol or PROTOCOLS[target.serving.method]
    name = target.serving.env.get(MODEL_NAME_ENV, target.model)
    url = ask.url or in_cluster_url(target.model, spec.environments[ask.env].namespace)
    return SmokeTarget(
        protocol,
        _endpoint(protocol, url, name, ask.host),
        ask.source or entry.source,
        tracking_uri or spec.tracking_uri,
    )


def _endpoint(protocol: str, url: str, model_name: str, host: str) -> Endpoint:
    try:
        return invocations(url, host) if protocol == INVOCATIONS else v2_infer(url, model_name, host)
    except ValueError as exc:  # urlsplit's own: an IPv6 host left open (`http://[::1`)
        raise UserError.simple(
            f"--url {printable(redact(url))} is not a URL: {exc}",
            hint="give the base URL of the model server or ingress, such as http://localhost:8080",
        ) from None


def summary(report: SmokeReport) -> list[str]:
    """What was sent and what came back, one fact per line, credentials redacted."""
    target, request, reply, outputs = report.target, report.request, report.reply, report.outputs
    host = f"  (Host: {target.endpoint.host})" if target.endpoint.host else ""
    lines = [
        f"source      {redact(target.source)}",
        f"endpoint    POST {redact(target.endpoint.url)}{host}",
        f"request     {request.rows} row(s), {_layout(target.protocol, request.body)}",
        f"answer      {reply.status} in {reply.seconds * 1000:.0f} ms: "
        + ", ".join(" ".join(filter(None, (printable(o.name), o.datatype, str(list(o.shape))))) for o in outputs),
    ]
    lines += [f"prediction  {printable(o.name)} = {json.dumps(o.data)}" for o in outputs]  # the server's names
    return [*lines, "ok"]


def fields(report: SmokeReport) -> dict[str, Any]:
    """The same facts as `summary`, for `-o json` (docs/cli-json.md)."""
    target, request, reply = report.target, report.request, report.reply
    return {
        "source": redact(target.source),
        "endpoint": {"url": redact(target.endpoint.url), "host": target.endpoint.host, "protocol": target.protocol},
        "rows": request.rows,
        "status": reply.status,
        "seconds": reply.seconds,
        "outputs": [
            {"name": o.name, "datatype": o.datatype, "shape": list(o.shape), "data": o.data} for o in report.outputs
        ],
    }


def _layout(protocol: str, body: Mapping[str, Any]) -> str:
    if protocol == INVOCATIONS:
        return f"MLflow scoring format ({', '.join(k for k in body if k != 'params')})"
    types = ", ".join(sorted({i["datatype"] for i in body["inputs"]}))
    return f"{len(body['inputs'])} input(s) {types}, content type {body['parameters']['content_type']}"
