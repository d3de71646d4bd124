"""The HTTP surface, as a Starlette ASGI app: POST /mlflow, POST /argocd, GET /healthz.

The handlers are plain synchronous functions of (headers, body) → Answer, run in
worker threads: they block on GitHub and MLflow, and stay testable without a
server. Each route has its own allowance of threads (`THREADS_PER_ROUTE`), not
Starlette's one shared pool: /argocd requests waiting on a slow GitHub or MLflow
must never hold up an /mlflow delivery, which MLflow gives 30 s. An endpoint whose
secret is not configured is not routed (404).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import Protocol

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from generator.webhook.answer import Answer
from generator.webhook.log import LOGGER, log_answer

Handler = Callable[[Mapping[str, str], bytes], Answer]
MAX_BODY = 1 << 20  # an Argo CD resource list for a few hundred objects fits; anything larger is not ours
THREADS_PER_ROUTE = 40  # requests of one route handled at once (Starlette's default for its whole pool)


class Background(Protocol):
    """Work that runs beside the requests for the app's lifetime (the dispatcher)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def create_app(*, mlflow: Handler | None, argocd: Handler | None, background: Background | None = None) -> Starlette:
    routes = [Route("/healthz", _healthz, methods=["GET"])]
    routes += [
        Route(f"/{name}", _endpoint(name, handle), methods=["POST"])
        for name, handle in (("mlflow", mlflow), ("argocd", argocd))
        if handle is not None
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if background is not None:
            background.start()
        try:
            yield
        finally:
            if background is not None:
                background.stop()

    return Starlette(routes=routes, lifespan=lifespan)


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _endpoint(route: str, handle: Handler) -> Callable[[Request], object]:
    threads = anyio.CapacityLimiter(THREADS_PER_ROUTE)  # this route's own: others' slow requests cannot use it up

    async def endpoint(request: Request) -> Response:
        try:
            body = await _read(request)
        except ClientDisconnect:
            # Gone before its body was whole: it closed the connection, or --request-deadline cut it off. Nobody is
            # left to answer, and anyone can do this, so one line, no traceback.
            LOGGER.info(
                f"{route} incomplete",
                extra={
                    "fields": {
                        "route": route,
                        "action": "incomplete",
                        "detail": "the connection closed before the whole body arrived (the client left, or took"
                        " longer than --request-deadline); nothing was done",
                    }
                },
            )
            return Response(status_code=400)
        if body is None:
            answer = Answer(413, "rejected", f"body larger than {MAX_BODY} bytes")
        else:
            work = partial(_guarded, route, handle, request.headers, body)
            answer = await anyio.to_thread.run_sync(work, limiter=threads)
        log_answer(route, answer)
        return JSONResponse(answer.body(), status_code=answer.status)

    return endpoint


def _guarded(route: str, handle: Handler, headers: Mapping[str, str], body: bytes) -> Answer:
    """A bug answers 500 (MLflow and Argo CD retry it) and logs its traceback, not the request."""
    try:
        return handle(headers, body)
    except Exception:
        LOGGER.exception(f"{route} failed unexpectedly")
        return Answer(500, "error", "unexpected error; see the service log")


async def _read(request: Request) -> bytes | None:
    """The body, or None as soon as it exceeds MAX_BODY (never buffering more than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return bytes(body)
