"""Resolve references against an MLflow model registry in a few batched requests.

The only module in `generator/` that imports mlflow; the CLI imports it lazily.
It talks through the official `MlflowClient`, which reads the tracking URI and
credentials (`MLFLOW_TRACKING_TOKEN`, `MLFLOW_TRACKING_USERNAME`/`PASSWORD`)
from the environment itself.

What one `resolve()` costs, whatever the number of queries:

1. `search_registered_models("name IN (…)")`, one request per few hundred names. Each
   answer carries the model's aliases and its latest version per stage, which
   settles `alias`, `stage` and `latest` without listing versions. Names the
   search does not return cost one `get_registered_model` each (a check, so an
   unknown name is reported exactly as MLflow sees it).
2. For each distinct (model, version) chosen: `get_model_version_download_uri`
   (the REST API does not expose a version's storage location), plus
   `get_model_version` for versions not among the per-stage latest ones
   (pinned numbers, aliases on older versions). These run concurrently.
3. For each distinct download URI found: its `MLmodel` file (what the version
   needs to load), through `mlflow.artifacts.download_artifacts`, so both a
   proxying server (`mlflow-artifacts:/`, a listing and a GET through it) and a
   direct store (S3 and others, with the client's own credentials) work. A file
   that cannot be read leaves `ModelVersion.info` None; it never fails the run.

`latest` is the highest version number in any stage, skipping versions whose
status is not READY. Results are stored by key, never by completion order.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from multiprocessing.pool import ThreadPool
from typing import ParamSpec, TypeVar
from urllib.parse import quote

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion as MlflowVersion
from mlflow.entities.model_registry import RegisteredModel
from mlflow.environment_variables import (
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR,
    MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD,
)
from mlflow.exceptions import MlflowException

from generator.errors import RegistryUnavailable
from generator.registry import mlflow_http
from generator.registry.base import ModelInfo, ModelVersion, NotFound, Query, Registered, Resolution
from generator.registry.mlflow_http import Deadlines, Overdue
from generator.registry.mlmodel import read_mlmodel
from generator.util.environ import scoped_environ
from generator.util.http import ENV_PREFIX, HttpSettings
from generator.util.redact import redact

A = TypeVar("A")
T = TypeVar("T")
P = ParamSpec("P")
Key = tuple[str, str]  # (registered model, version)
_Found = dict[Key, tuple[MlflowVersion, str] | None]  # version and download URI, if both exist

READY = "READY"
STAGES = ("None", "Staging", "Production", "Archived")
_PAGE = 1000  # the server's maximum for search_registered_models
_FILTER_BUDGET = 6000  # URL-encoded filter characters per GET: fits nginx's default 8 KB request line
_ABSENT = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}
# MLmodel is a few hundred bytes: no progress bar on stderr, and no presigned multipart
# download, which would make a client of a proxying server reach the bucket itself.
_DOWNLOAD_ENV = {MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name: "false",
                 MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD.name: "false"}
_MESSAGE_READ = 4000  # characters of an mlflow error message worth looking at
_CAUSES = (  # e.g. "[Errno 111] Connection refused", "too many 503 error responses"
    r"\[Errno -?\d+\] ([^'\")]+)",
    r"ResponseError\('([^']+)'\)",
    r"(Read timed out|Connection timed out|timed out)",
    r"(Connection reset by peer|Remote end closed connection without response)",
)


class MlflowRegistry:
    """`Registry` backed by an MLflow tracking server (or any MLflow registry URI)."""

    def __init__(
        self,
        tracking_uri: str | None = None,
        *,
        http: HttpSettings | None = None,
        workers: int = 8,
    ) -> None:
        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", "")
        if not uri:
            raise RegistryUnavailable.simple(
                "no MLflow tracking URI is configured",
                hint="set MLFLOW_TRACKING_URI, or tracking_uri in models.yaml",
            )
        self.tracking_uri = uri
        self._client = MlflowClient(tracking_uri=uri)
        self._http = http or HttpSettings.from_env()
        self._workers = workers  # mlflow pools 10 connections per host

    def resolve(self, queries: Sequence[Query]) -> list[Resolution]:
        if not queries:
            return []
        where = redact(self.tracking_uri)
        deadlines = Deadlines(self._http.deadline)
        # Daemon workers: a call left behind at its deadline must not hold up the process's exit.
        pool = ThreadPool(self._workers)
        try:
            with scoped_environ(mlflow_http.environ(self._http) | _DOWNLOAD_ENV), _unavailable(where):
                batch = _Batch(self._client, pool, where, self.tracking_uri, deadlines)
                return deadlines.run(lambda: batch.resolve(queries))
        finally:
            pool.terminate()

    def catalog(self) -> list[Registered]:
        """Every registered model with its aliases, sorted by name: one search request per 1,000 models."""
        deadlines = Deadlines(self._http.deadline)
        with scoped_environ(mlflow_http.environ(self._http)), _unavailable(redact(self.tracking_uri)):
            return deadlines.run(lambda: self._catalog(deadlines))

    def _catalog(self, deadlines: Deadlines) -> list[Registered]:
        models: list[Registered] = []
        token: str | None = None
        while True:
            with deadlines.call("listing registered models"):
                page = self._client.search_registered_models(max_results=_PAGE, page_token=token)
            models.extend(Registered(rm.name, {str(a): str(v) for a, v in (rm.aliases or {}).items()}) for rm in page)
            token = page.token
            if not token:
                return sorted(models, key=lambda model: model.name)


class _Batch:
    """One `resolve` call: the registry state it fetched, and how queries map onto it."""

    def __init__(self, client: MlflowClient, pool: ThreadPool, where: str, tracking_uri: str,
                 deadlines: Deadlines) -> None:
        self._client = client
        self._pool = pool
        self._deadlines = deadlines
        self._where = where
        self._tracking_uri = tracking_uri

    def resolve(self, queries: Sequence[Query]) -> list[Resolution]:
        models = self._registered_models(sorted({q.registered_model for q in queries}))
        ready = self._ready_latest(models, queries)
        picks = [_pick(q, models.get(q.registered_model), ready) for q in queries]
        found = self._versions(
            sorted({p for p in picks if isinstance(p, tuple)}),
            {_key(mv): mv for rm in models.values() for mv in rm.latest_versions},
        )
        hints = self._close_names({q.registered_model for q in queries} - models.keys())
        results = [
            _finish(q, pick, found) if isinstance(pick, tuple) else _hinted(pick, hints)
            for q, pick in zip(queries, picks, strict=True)
        ]
        infos = self._model_infos(sorted({r.download_uri for r in results if isinstance(r, ModelVersion)}))
        return [replace(r, info=infos[r.download_uri]) if isinstance(r, ModelVersion) else r for r in results]

    def _map(self, what: str, fn: Callable[[A], T], items: Iterable[A]) -> Iterator[T]:
        """Concurrent, in input order; every call is submitted before the first result is read, and each
        one is held to the deadline."""
        return self._pool.imap(self._deadlines.bound(what, fn), list(items))

    def _registered_models(self, names: Sequence[str]) -> dict[str, RegisteredModel]:
        pages = self._map("searching registered models", self._search, _in_filters(names))
        found = {rm.name: rm for page in pages for rm in page}
        get = self._client.get_registered_model
        checked = self._map("reading a registered model", lambda n: _or_none(get, n),
                            [n for n in names if n not in found])
        return found | {rm.name: rm for rm in checked if rm is not None}

    def _search(self, filter_string: str) -> list[RegisteredModel]:
        """Every page for one filter; [] if the server rejects it (each name is then checked)."""
        models: list[RegisteredModel] = []
        token: str | None = None
        while True:
            page = _or_none(
                self._client.search_registered_models,
                filter_string=filter_string,
                max_results=_PAGE,
                page_token=token,
            )
            if page is None:
                return []
            models.extend(page)
            token = page.token
            if not token:
                return models

    def _ready_latest(
        self, models: dict[str, RegisteredModel], queries: Iterable[Query]
    ) -> dict[str, MlflowVersion | None]:
        """The highest READY version, for the rare model whose highest version is not READY."""
        wanted = {q.registered_model for q in queries if q.ref.kind == "latest"}
        names = sorted(n for n in wanted if (top := _highest(models.get(n))) and top.status != READY)
        return dict(zip(names, self._map("searching model versions", self._scan_ready, names), strict=True))

    def _scan_ready(self, name: str) -> MlflowVersion | None:
        token: str | None = None
        while True:
            page = self._client.search_model_versions(
                filter_string=f"name IN ({_literal(name)})",
                max_results=100,
                order_by=["version_number DESC"],
                page_token=token,
            )
            if ready := next((mv for mv in page if mv.status == READY), None):
                return ready
            token = page.token
            if not token:
                return None

    def _versions(self, keys: Sequence[Key], known: dict[Key, MlflowVersion]) -> _Found:
        """Each chosen version with its download URI; None where either does not exist."""
        # MlflowClient.get_model_version_download_uri first re-fetches the registered
        # model to rule out prompts (one more request per version); the search above
        # already excluded prompts, so ask the registry client underneath directly.
        registry = self._client._get_registry_client()  # type: ignore[no-untyped-call]
        download_uri = registry.get_model_version_download_uri
        uris = self._map("reading a download URI", lambda k: _or_none(download_uri, *k), keys)
        unknown = [k for k in keys if k not in known]
        fetched = self._map("reading a model version", lambda k: _or_none(self._client.get_model_version, *k),
                             unknown)
        versions: dict[Key, MlflowVersion | None] = dict(known)
        versions.update(zip(unknown, fetched, strict=True))
        return {
            key: (mv, uri) if (mv := versions[key]) is not None and uri is not None else None
            for key, uri in zip(keys, uris, strict=True)
        }

    def _model_infos(self, download_uris: Sequence[str]) -> dict[str, ModelInfo | None]:
        """Each artifact's MLmodel, read once however many versions share it."""
        infos = self._map("reading an MLmodel file", lambda uri: read_mlmodel(uri, self._tracking_uri),
                          download_uris)
        return dict(zip(download_uris, infos, strict=True))

    def _close_names(self, unknown: set[str]) -> dict[str, str]:
        """A hint per unknown model; one listing request, and only on this error path."""
        if not unknown:
            return {}
        with self._deadlines.call("listing registered models"):
            listing = self._client.search_registered_models(max_results=_PAGE)
        lowered = {rm.name.lower(): rm.name for rm in listing}
        hints = {}
        for name in unknown:
            close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
            hints[name] = (
                "did you mean " + " or ".join(f"'{lowered[c]}'" for c in close) + "?"
                if close
                else f"names are case-sensitive; check the registered models at {self._where}"
            )
        return hints


def _pick(query: Query, rm: RegisteredModel | None, ready: dict[str, MlflowVersion | None]) -> Key | NotFound:
    """Which version a query means, from the registered model alone (no request)."""
    if rm is None:
        return NotFound(query, f"registered model '{query.registered_model}' not found")
    kind, value = query.ref.kind, query.ref.value
    if kind == "version":
        return (rm.name, value)
    if kind == "alias":
        return _by_alias(query, rm)
    if kind == "stage":
        return _by_stage(query, rm)
    return _by_latest(query, rm, ready.get(rm.name))


def _hinted(missing: NotFound, hints: dict[str, str]) -> NotFound:
    hint = hints.get(missing.query.registered_model)
    return NotFound(missing.query, missing.message, hint) if hint and not missing.hint else missing


def _by_latest(query: Query, rm: RegisteredModel, ready: MlflowVersion | None) -> Key | NotFound:
    top = _highest(rm)
    if top is None:
        return NotFound(query, f"'{rm.name}' has no versions", hint="register a version first")
    if top.status == READY:
        return _key(top)
    if ready is None:
        return NotFound(query, f"'{rm.name}' has no READY version", hint="wait for registration, or pin a version")
    return _key(ready)


def _by_alias(query: Query, rm: RegisteredModel) -> Key | NotFound:
    aliases: dict[str, str] = rm.aliases
    if query.ref.value in aliases:
        return (rm.name, str(aliases[query.ref.value]))
    has = ", ".join(sorted(aliases)) or "none"
    return NotFound(
        query,
        f"alias '{query.ref.value}' not found on '{rm.name}' (has: {has})",
        hint="set it in MLflow, or reference a version",
    )


def _by_stage(query: Query, rm: RegisteredModel) -> Key | NotFound:
    stage = next((s for s in STAGES if s.lower() == query.ref.value.lower()), None)
    if stage is None:
        return NotFound(query, f"'{query.ref.value}' is not an MLflow stage", hint=f"use one of {STAGES}")
    mv = next((mv for mv in rm.latest_versions if mv.current_stage == stage), None)
    if mv is None:
        return NotFound(
            query,
            f"no version of '{rm.name}' is in stage '{stage}'",
            hint="stages are deprecated in MLflow 3; prefer an alias",
        )
    return _key(mv)


def _finish(query: Query, key: Key, found: _Found) -> Resolution:
    name, version = key
    entry = found[key]
    if entry is None:
        via = "" if query.ref.kind == "version" else f" ({query.ref} points to it)"
        return NotFound(
            query,
            f"version {version} not found on '{name}'{via}",
            hint="it may have been deleted; pick an existing version",
        )
    mv, download_uri = entry
    if mv.status != READY:
        return NotFound(query, f"version {version} of '{name}' is {mv.status}, not {READY}")
    return ModelVersion(name, str(mv.version), download_uri, mv.run_id or "")


def _highest(rm: RegisteredModel | None) -> MlflowVersion | None:
    """The highest version: each version is in exactly one stage, so it is a per-stage latest."""
    return max(rm.latest_versions, key=lambda mv: int(mv.version), default=None) if rm else None


def _key(mv: MlflowVersion) -> Key:
    return (mv.name, str(mv.version))


def _literal(name: str) -> str:
    """A name as a filter literal: MLflow parses `IN (…)` lists with `ast.literal_eval`."""
    return repr(name)


def _in_filters(names: Iterable[str]) -> list[str]:
    """`name IN (…)` filters, each short enough for a GET URL.

    The budget admits at most ~660 names, so each filter matches less than one page.
    """
    chunks: list[list[str]] = []
    size = 0
    for literal in map(_literal, names):
        cost = len(quote(f"{literal}, "))
        if not chunks or size + cost > _FILTER_BUDGET:
            chunks.append([])
            size = 0
        chunks[-1].append(literal)
        size += cost
    return [f"name IN ({', '.join(chunk)})" for chunk in chunks]


def _or_none(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
    """None when MLflow says the thing does not exist, or that the name is invalid."""
    try:
        return call(*args, **kwargs)
    except MlflowException as error:
        if error.error_code in _ABSENT:
            return None
        raise


@contextmanager
def _unavailable(where: str) -> Iterator[None]:
    """Anything else mlflow raises means we could not ask the registry."""
    hint = ("check that the server is up and reachable, and that MLFLOW_TRACKING_TOKEN or "
            f"MLFLOW_TRACKING_USERNAME/PASSWORD are right; timeouts, retries and deadline: {ENV_PREFIX}*")
    try:
        yield
    except MlflowException as error:
        raise RegistryUnavailable.simple(f"cannot use the MLflow registry at {where}: {_reason(error)}",
                                         hint=hint) from error
    except Overdue as late:
        raise RegistryUnavailable.simple(f"cannot use the MLflow registry at {where}: {late}", hint=hint) from None


def _reason(error: MlflowException) -> str:
    """The root cause urllib3 buried in mlflow's message, else the message itself.

    mlflow may quote a whole answer in its message (megabytes of it from a broken server): only its start is read.
    """
    message = redact(str(error.message)[:_MESSAGE_READ])
    for pattern in _CAUSES:
        if cause := re.search(pattern, message):
            return cause.group(1).strip()
    return message if len(message) <= 300 else message[:300] + "…"
