"""Resolve references against an MLflow model registry in a few batched requests.

The only module in `generator/` that imports mlflow; the CLI imports it lazily.
It talks through the official `MlflowClient`, which reads the tracking URI and
credentials (`MLFLOW_TRACKING_TOKEN`, `MLFLOW_TRACKING_USERNAME`/`PASSWORD`)
from the environment itself.

What one `resolve()` costs, whatever the number of queries (bench/README.md has the
figures for 1,000 models):

1. `search_registered_models("name IN (…)")` and `search_model_versions("name IN (…)")`,
   one request each per few hundred names: each model's aliases, and every live
   version with its status, stage and `source` (version results carry no aliases).
   That settles `version`, `alias`, `stage` and `latest` with no further request.
   Names the model search does not return cost one `get_registered_model` each (a
   check, so an unknown name is reported exactly as MLflow sees it).
2. Each chosen version's download URI, which is what
   `get_model_version_download_uri` answers: the registry stores it at registration
   (`storage_location or source`, in MLflow's SQL and file stores) as the source
   itself, unless the source is a `models:/` URI. For `models:/m-<id>` (MLflow 3
   logged models) it is the logged model's `artifact_location`, read for all of them
   at once: one `search_experiments`, then `search_logged_models("model_id IN (…)")`
   per few hundred IDs. Anything else (a `models:/name/version` source, a logged
   model the search does not show, a registry that is not an OSS store) costs the
   one `get_model_version_download_uri` per version it always did.
3. For each distinct download URI whose MLmodel facts the caller has not already
   recorded (`recorded`, from models.lock): its `MLmodel` file, through
   `mlflow.artifacts.download_artifacts`, so both a proxying server
   (`mlflow-artifacts:/`, a listing and a GET through it) and a direct store (S3 and
   others, with the client's own credentials) work. A file that cannot be read
   leaves `ModelVersion.info` None; it never fails the run.

`latest` is the highest version number in any stage, skipping versions whose
status is not READY. Results are stored by key, never by completion order.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.pool import ThreadPool
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

import requests
import urllib3.exceptions
from google.protobuf.json_format import ParseError
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.entities.model_registry import ModelVersion as MlflowVersion
from mlflow.entities.model_registry import RegisteredModel
from mlflow.environment_variables import (
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR,
    MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD,
)
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.utils.models import _parse_model_uri
from mlflow.store.entities.paged_list import PagedList

from generator.diagnostics import printable
from generator.errors import RegistryUnavailable
from generator.excerpt import quoted
from generator.redact import redact
from generator.registry import mlflow_http
from generator.registry.base import (
    ModelInfo,
    ModelVersion,
    NotFound,
    Query,
    Registered,
    Resolution,
    configured_tracking_uri,
)
from generator.registry.mlflow_http import Deadlines, Overdue
from generator.registry.mlmodel import fetch_mlmodel
from generator.registry.uris import scheme_of
from generator.util.http import causes, root_cause
from generator.util.http_settings import ENV_PREFIX, TOO_LARGE_HINT, HttpSettings, env_name

_VERSION = re.compile(r"[0-9]{1,18}")  # a version MLflow gives: an int64 in its store (`isdigit` takes "²" too)
A = TypeVar("A")
T = TypeVar("T")
P = ParamSpec("P")
Key = tuple[str, str]  # (registered model, version)

READY = "READY"
STAGES = ("None", "Staging", "Production", "Archived")
_PAGE = 1000  # the server's maximum for search_registered_models (the unknown-name hints)
_VERSIONS_PAGE = 10_000  # versions per search_model_versions page (the server's default; it admits 200,000)
_ID_CHUNK = 500  # logged model IDs, and experiment IDs, per search_logged_models request (SQL IN lists)
# Registries whose download URI is the stored `storage_location or source` (MLflow's REST server over its
# SQL or file store, or those stores directly); others (Databricks, plugins) are asked version by version.
_OSS_SCHEMES = {"http", "https", "sqlite", "postgresql", "mysql", "mssql", "file", ""}
_FILTER_BUDGET = 6000  # URL-encoded filter characters per GET: fits nginx's default 8 KB request line
_ABSENT = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}
_UNSUPPORTED = _ABSENT | {"ENDPOINT_NOT_FOUND", "NOT_IMPLEMENTED", "BAD_REQUEST"}  # e.g. MLflow 2: no logged models
# MLmodel is a few hundred bytes: no progress bar on stderr, and no presigned multipart
# download, which would make a client of a proxying server reach the bucket itself.
_DOWNLOAD_ENV = {
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name: "false",
    MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD.name: "false",
}
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
        self.tracking_uri = uri = configured_tracking_uri(tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", ""))
        with _unavailable(redact(uri)):  # MLflow refuses some at once (a file store, which is retired)
            self._client = MlflowClient(tracking_uri=uri)
        self._http = http or HttpSettings.from_env()
        self._workers = workers  # mlflow pools 10 connections per host

    def resolve(self, queries: Sequence[Query], recorded: Mapping[str, ModelInfo] | None = None) -> list[Resolution]:
        if not queries:
            return []
        where = redact(self.tracking_uri)
        deadlines = Deadlines(self._http.deadline)
        # Daemon workers: a call left behind at its deadline must not hold up the process's exit.
        pool = ThreadPool(self._workers)
        try:
            # The tracking URI in the environment too: MLflow resolves `runs:/` artifact URIs with the default
            # tracking URI whatever the client was given, and would create ./mlflow.db in the user's directory.
            tracking = {"MLFLOW_TRACKING_URI": self.tracking_uri}
            with mlflow_http.limited(self._http, _DOWNLOAD_ENV | tracking), _unavailable(where):
                batch = _Batch(self._client, pool, where, self.tracking_uri, deadlines)
                return deadlines.run(lambda: batch.resolve(queries, recorded or {}))
        finally:
            pool.terminate()

    def catalog(self) -> list[Registered]:
        """Every registered model with its aliases, sorted by name: one search request per 1,000 models."""
        deadlines = Deadlines(self._http.deadline)
        with mlflow_http.limited(self._http), _unavailable(redact(self.tracking_uri)):
            return deadlines.run(lambda: self._catalog(deadlines))

    def _catalog(self, deadlines: Deadlines) -> list[Registered]:
        with deadlines.call("listing registered models"):
            models = _all_pages(self._client.search_registered_models, max_results=_PAGE)
        return sorted(
            (Registered(rm.name, {str(a): str(v) for a, v in (rm.aliases or {}).items()}) for rm in models),
            key=lambda model: model.name,
        )


@dataclass(frozen=True)
class _Model:
    """A registered model as the searches show it: its live versions by number, and its aliases."""

    name: str
    versions: dict[str, MlflowVersion]
    aliases: dict[str, str]


class _Batch:
    """One `resolve` call: the registry state it fetched, and how queries map onto it."""

    def __init__(
        self, client: MlflowClient, pool: ThreadPool, where: str, tracking_uri: str, deadlines: Deadlines
    ) -> None:
        self._client = client
        self._pool = pool
        self._deadlines = deadlines
        self._where = where
        self._tracking_uri = tracking_uri

    def resolve(self, queries: Sequence[Query], recorded: Mapping[str, ModelInfo]) -> list[Resolution]:
        names = sorted({q.registered_model for q in queries})
        models = self._models(names)
        picks = [_pick(q, models.get(q.registered_model)) for q in queries]
        chosen = {_key(p): p for p in picks if isinstance(p, MlflowVersion)}
        uris = self._download_uris([chosen[k] for k in sorted(chosen)])
        hints = self._close_names(set(names) - models.keys())
        results = [
            _finish(q, pick, uris[_key(pick)]) if isinstance(pick, MlflowVersion) else _hinted(pick, hints)
            for q, pick in zip(queries, picks, strict=True)
        ]
        unread = sorted({r.download_uri for r in results if isinstance(r, ModelVersion)} - recorded.keys())
        infos = {**recorded, **self._model_infos(unread)}
        return [replace(r, info=infos[r.download_uri]) if isinstance(r, ModelVersion) else r for r in results]

    def _map(self, what: str, fn: Callable[[A], T], items: Iterable[A]) -> Iterator[T]:
        """Concurrent, in input order; every call is submitted before the first result is read, and each
        one is held to the deadline."""
        return self._pool.imap(self._deadlines.bound(what, fn), list(items))

    def _models(self, names: Sequence[str]) -> dict[str, _Model]:
        """Each named model with its aliases and every live version, from two searches per few hundred names.

        Version search results carry no aliases; registered model search results do.
        Names the model search does not return are checked one by one. The searches
        run one after the other, so a failing server fails the first and is not
        asked twice as often.
        """
        pages = self._map("searching registered models", self._search_models, _in_filters(names))
        found = {rm.name: rm for page in pages for rm in page}
        get = self._client.get_registered_model
        checked = self._map(
            "reading a registered model", lambda n: _or_none(get, n), [n for n in names if n not in found]
        )
        found |= {rm.name: rm for rm in checked if rm is not None}
        versions = self._map("searching model versions", self._search_versions, _in_filters(sorted(found)))
        by_model: dict[str, dict[str, MlflowVersion]] = {name: {} for name in found}
        for mv in (mv for page in versions for mv in page if mv.name in by_model):
            if not _VERSION.fullmatch(str(mv.version)):  # MLflow numbers versions; the choices below compare numbers
                raise RegistryUnavailable.simple(
                    f"the registry gives version {quoted(str(mv.version))} of {quoted(mv.name)}: MLflow numbers "
                    "versions 1, 2, 3",
                    hint="check that MLFLOW_TRACKING_URI (or registry.trackingUri) points at an MLflow tracking server",
                )
            by_model[mv.name][str(mv.version)] = mv
        return {
            name: _Model(name, by_model[name], {alias: str(v) for alias, v in rm.aliases.items()})
            for name, rm in found.items()
        }

    def _search_models(self, filter_string: str) -> list[RegisteredModel]:
        """Every page for one filter; [] if the server rejects it (each name is then checked)."""
        page = _or_none(
            _all_pages, self._client.search_registered_models, filter_string=filter_string, max_results=_PAGE
        )
        return page or []

    def _search_versions(self, filter_string: str) -> list[MlflowVersion]:
        """Every page for one `name IN (…)` filter, in a stable order, so pages neither skip nor repeat."""
        return _all_pages(
            self._client.search_model_versions,
            filter_string=filter_string,
            max_results=_VERSIONS_PAGE,
            order_by=["name ASC", "version_number ASC"],
        )

    def _download_uris(self, chosen: Sequence[MlflowVersion]) -> dict[Key, str | None]:
        """What `get_model_version_download_uri` answers for each version (None: it no longer exists)."""
        registry_uri = getattr(self._client, "_registry_uri", "") or ""
        derivable = scheme_of(registry_uri) in _OSS_SCHEMES
        uris: dict[Key, str | None] = {}
        by_logged_model: dict[str, list[Key]] = {}
        ask: list[Key] = []
        for mv in chosen:
            source = mv.source or ""
            if not derivable or not source:
                ask.append(_key(mv))
            elif scheme_of(source) != "models":
                uris[_key(mv)] = source
            elif model_id := _logged_model_id(source):
                by_logged_model.setdefault(model_id, []).append(_key(mv))
            else:
                ask.append(_key(mv))
        locations = self._logged_model_locations(sorted(by_logged_model))
        for model_id, keys in by_logged_model.items():
            if model_id in locations:
                uris.update(dict.fromkeys(keys, locations[model_id]))
            else:  # deleted, or in an experiment this client cannot see: ask, as one-by-one resolution would
                ask += keys
        # MlflowClient.get_model_version_download_uri first re-fetches the registered
        # model to rule out prompts (one more request per version); the search above
        # already excluded prompts, so ask the registry client underneath directly.
        registry = self._client._get_registry_client()  # type: ignore[no-untyped-call]
        asked = self._map(
            "reading a download URI", lambda k: _or_none(registry.get_model_version_download_uri, *k), ask
        )
        return uris | dict(zip(ask, asked, strict=True))

    def _logged_model_locations(self, model_ids: Sequence[str]) -> dict[str, str]:
        """Each logged model's artifact location, a few hundred per request; {} where the server has no such search.

        `search_logged_models` needs experiment IDs, so one `search_experiments` (deleted
        ones too) comes first. Deleted logged models are not found; their versions are
        asked one by one.
        """
        if not model_ids:
            return {}
        try:
            with self._deadlines.call("searching experiments"):
                experiments = [
                    e.experiment_id
                    for e in _all_pages(self._client.search_experiments, view_type=ViewType.ALL, max_results=_PAGE)
                ]
            searches = [(ids, exps) for ids in _chunks(model_ids) for exps in _chunks(experiments)]
            pages = self._map(
                "searching logged models",
                lambda s: _all_pages(
                    self._client.search_logged_models,
                    experiment_ids=s[1],
                    filter_string=f"model_id IN ({', '.join(map(_literal, s[0]))})",
                    max_results=len(s[0]),
                ),
                searches,
            )
            return {lm.model_id: lm.artifact_location for page in pages for lm in page}
        except MlflowException as error:
            if error.error_code in _UNSUPPORTED:
                return {}
            raise

    def _model_infos(self, download_uris: Sequence[str]) -> dict[str, ModelInfo | None]:
        """Each artifact's MLmodel, read once however many versions share it."""
        infos = self._map("reading an MLmodel file", lambda uri: fetch_mlmodel(uri, self._tracking_uri), download_uris)
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
                "did you mean " + " or ".join(quoted(lowered[c]) for c in close) + "?"
                if close
                else f"names are case-sensitive; check the registered models at {self._where}"
            )
        return hints


def _pick(query: Query, model: _Model | None) -> MlflowVersion | NotFound:
    """Which version a query means, from the searched versions alone (no request)."""
    if model is None:
        return NotFound(query, f"registered model '{query.registered_model}' not found")
    kind, value = query.ref.kind, query.ref.value
    if kind == "version":
        return _by_number(query, model, str(int(value)) if _VERSION.fullmatch(value) else value)
    if kind == "alias":
        return _by_alias(query, model)
    if kind == "stage":
        return _by_stage(query, model)
    return _by_latest(query, model)


def _hinted(missing: NotFound, hints: dict[str, str]) -> NotFound:
    hint = hints.get(missing.query.registered_model)
    return NotFound(missing.query, missing.message, hint) if hint and not missing.hint else missing


def _by_number(query: Query, model: _Model, version: str) -> MlflowVersion | NotFound:
    return model.versions[version] if version in model.versions else _gone(query, model.name, version)


def _gone(query: Query, name: str, version: str) -> NotFound:
    via = "" if query.ref.kind == "version" else f" ({query.ref} points to it)"
    return NotFound(
        query,
        f"version {version} not found on '{name}'{via}",
        hint="it may have been deleted; pick an existing version",
    )


def _by_latest(query: Query, model: _Model) -> MlflowVersion | NotFound:
    if not model.versions:
        return NotFound(query, f"'{model.name}' has no versions", hint="register a version first")
    ready = [mv for mv in model.versions.values() if mv.status == READY]
    if not ready:
        return NotFound(query, f"'{model.name}' has no READY version", hint="wait for registration, or pin a version")
    return max(ready, key=lambda mv: int(mv.version))


def _by_alias(query: Query, model: _Model) -> MlflowVersion | NotFound:
    if query.ref.value in model.aliases:
        return _by_number(query, model, model.aliases[query.ref.value])
    has = ", ".join(map(quoted, sorted(model.aliases))) or "none"  # the registry's words: escaped
    return NotFound(
        query,
        f"alias '{query.ref.value}' not found on '{model.name}' (has: {has})",
        hint="set it in MLflow, or reference a version",
    )


def _by_stage(query: Query, model: _Model) -> MlflowVersion | NotFound:
    """The highest version in the stage, whatever its status, as `get_latest_versions` answers."""
    stage = next((s for s in STAGES if s.lower() == query.ref.value.lower()), None)
    if stage is None:
        return NotFound(query, f"'{query.ref.value}' is not an MLflow stage", hint=f"use one of {STAGES}")
    staged = [mv for mv in model.versions.values() if mv.current_stage == stage]
    if not staged:
        return NotFound(
            query,
            f"no version of '{model.name}' is in stage '{stage}'",
            hint="stages are deprecated in MLflow 3; prefer an alias",
        )
    return max(staged, key=lambda mv: int(mv.version))


def _finish(query: Query, mv: MlflowVersion, download_uri: str | None) -> Resolution:
    name, version = _key(mv)
    if download_uri is None:  # deleted since the search
        return _gone(query, name, version)
    if mv.status != READY:
        return NotFound(query, f"version {version} of '{name}' is {mv.status}, not {READY}")
    return ModelVersion(name, version, download_uri, mv.run_id or "")


def _key(mv: MlflowVersion) -> Key:
    return (mv.name, str(mv.version))


def _logged_model_id(source: str) -> str | None:
    """The logged model a `models:/m-…` source names (what MLflow 3 registers), else None."""
    try:
        return _parse_model_uri(source).model_id
    except MlflowException:
        return None


def _all_pages(search: Callable[..., PagedList[T]], **kwargs: Any) -> list[T]:
    found: list[T] = []
    token: str | None = None
    while True:
        page = search(page_token=token, **kwargs)
        found.extend(page)
        token = page.token
        if not token:
            return found


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _ID_CHUNK] for i in range(0, len(items), _ID_CHUNK)]


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
    hint = (
        "check that the server is up and reachable, and that MLFLOW_TRACKING_TOKEN or "
        f"MLFLOW_TRACKING_USERNAME/PASSWORD are right; timeouts, retries and deadline: {ENV_PREFIX}*"
    )
    try:
        with answered_as_mlflow(f"cannot use the MLflow registry at {where}"):
            yield
    except MlflowException as error:
        if (large := mlflow_http.too_large(error)) is not None:
            raise RegistryUnavailable.simple(
                f"cannot use the MLflow registry at {where}: {large}", hint=TOO_LARGE_HINT
            ) from None
        raise RegistryUnavailable.simple(
            f"cannot use the MLflow registry at {where}: {_reason(error)}", hint=hint
        ) from error
    except Overdue as late:
        raise RegistryUnavailable.simple(f"cannot use the MLflow registry at {where}: {late}", hint=hint) from None


@contextmanager
def answered_as_mlflow(failing: str) -> Iterator[None]:
    """RegistryUnavailable saying `failing` ("cannot read deployment tags from …") when the server answered, but not
    as MLflow does: mlflow reads every answer into its protobuf messages, and one that does not fit them (a proxy's
    page, another server, a broken one) raises protobuf's ParseError, which no MlflowException handler catches."""
    try:
        yield
    except ParseError as error:
        raise RegistryUnavailable.simple(
            f"{failing}: it answered, but not as MLflow does ({redact(str(error)[:_MESSAGE_READ])[:300]})",
            hint="check that MLFLOW_TRACKING_URI (or registry.trackingUri) points at an MLflow tracking server",
        ) from None


def _reason(error: MlflowException) -> str:
    """The root cause of the failure, as the HTTP door words it (`http.root_cause`): mlflow raises its exception
    while handling the one requests raised, and writes that one's text into its message, where the cause comes
    after a URL and is cut off with it. Else the cause urllib3 buried in mlflow's message, else the message itself.

    mlflow may quote a whole answer in its message (megabytes of it from a broken server): only its start is read.
    """
    handled = error.__context__
    if handled is not None and isinstance(causes(handled)[-1], TimeoutError | urllib3.exceptions.TimeoutError):
        # mlflow's one timeout bounds connecting and each read (reads that timed out until the retries ran out: a
        # ConnectionError, its root the socket's timeout)
        return f"no answer in time ({env_name('connect_timeout')}, {env_name('read_timeout')})"
    if isinstance(handled, requests.RequestException | urllib3.exceptions.HTTPError | OSError):
        message = root_cause(handled)[:_MESSAGE_READ]
    else:  # a server's words: no line, no escape of its own
        message = printable(redact(str(error.message)[:_MESSAGE_READ]))
    for pattern in _CAUSES:
        if cause := re.search(pattern, message):
            return cause.group(1).strip()
    return message if len(message) <= 300 else message[:300] + "…"
