"""Download the CRDs a platform pins and hold them to the lock: the generator's only network I/O.

It downloads only what it must: files whose bytes on disk already match
crds.lock.yaml for the pinned version are not fetched again unless `refresh` asks.
Every download must be the expected CRD and, for an unchanged version, have the
locked sha256, before anything is planned; the caller applies the returned plan
with `generator.write.apply`, which writes every file or none. Failures are
`UserError`s (exit 1: bad version, wrong or changed content) or
`EnvironmentProblem`s (exit 2: network, server errors), never tracebacks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from generator.crds import BASE_URL_ENV, CRD_LOCK_FILE, yaml_files
from generator.crds.sources import (
    FETCH,
    CrdFile,
    CrdLockEntry,
    crd_problem,
    drift,
    dumps_lock,
    loads_lock,
    relock,
    sha256,
    untrusted,
)
from generator.diagnostics import Diagnostic
from generator.errors import DriftFound, EnvironmentProblem, UserError
from generator.excerpt import quoted
from generator.redact import redact
from generator.util.files import read_regular
from generator.util.http import DEFAULT_HINT, Http, HttpFailure, HttpSettings
from generator.write import Plan

_MIRROR_HINT = f"point --base-url (or {BASE_URL_ENV}) at a mirror with the layout <base>/<owner>/<repo>/<tag>/<path>"


def fetch(dest: Path, files: Sequence[CrdFile], *, where: str, refresh: bool = False) -> Plan:
    """The writes that make `dest` hold `files` and their lock; an empty plan when nothing would change.

    `where` is how messages name `dest` (e.g. `schemas/crds`).
    """
    current = {path: _read(dest / path) for path in (CRD_LOCK_FILE, *(f.local for f in files))}
    lock = _parse_lock(current[CRD_LOCK_FILE], where)
    on_disk = {path: None if data is None else sha256(data) for path, data in current.items()}
    stale = drift(files, on_disk, lock, where)
    wanted = list(files) if refresh else [f for f in files if f in stale]
    if not wanted and not _extra(files, lock, where):  # an entry for another file goes: validate would read it
        return Plan()
    downloaded = download(wanted)
    digests = {file: sha256(data) for file, data in downloaded.items()}
    refused = untrusted(digests, lock, where)
    if refused:
        raise UserError(refused)
    desired = {file.local: data for file, data in downloaded.items()}
    desired[CRD_LOCK_FILE] = dumps_lock(relock(files, lock, digests))
    writes = {path: data for path, data in desired.items() if current[path] != data}
    return Plan(writes=writes, before={path: old for path in writes if (old := current[path]) is not None})


def verify(dest: Path, files: Sequence[CrdFile], *, where: str) -> None:
    """Offline: raise DriftFound unless every file on disk is the locked copy of its pinned version."""
    data = _read(dest / CRD_LOCK_FILE)
    if data is None:
        raise DriftFound.simple("not found", file=f"{where}/{CRD_LOCK_FILE}", hint=f"run `{FETCH}` first")
    on_disk = {f.local: _digest(dest / f.local) for f in files}
    listed = _parse_lock(data, where)
    problems = [
        *drift(files, on_disk, listed, where).values(),
        *_extra(files, listed, where),
        *_unlisted(dest, listed, where),
    ]
    if problems:
        raise DriftFound(problems)


def _extra(files: Sequence[CrdFile], listed: Mapping[str, CrdLockEntry], where: str) -> list[Diagnostic]:
    """Lock entries for files the pinned releases do not have: validate reads every file the lock lists, so such an
    entry (added by hand, with its file) could serve a kind in a pinned file's place with a looser schema."""
    needed = {file.local for file in files}
    return [
        Diagnostic(
            file=f"{where}/{CRD_LOCK_FILE}",
            message=f"lists {quoted(path)}, which the pinned releases do not have: validate would read it as a CRD",
            hint=f"run `{FETCH}`: it writes the lock for the pinned files alone",
        )
        for path in sorted(listed)
        if path not in needed
    ]


def _unlisted(dest: Path, listed: Mapping[str, CrdLockEntry], where: str) -> list[Diagnostic]:
    """YAML files beside the locked ones: validate reads only what the lock lists, so such a file is either
    forgotten or put there to serve a kind in a locked file's place (a looser schema): either way, say so."""
    extra = [p.relative_to(dest).as_posix() for p in yaml_files(dest) if p.name != CRD_LOCK_FILE]
    return [
        Diagnostic(
            file=f"{where}/{path}",
            message=f"not in {CRD_LOCK_FILE}: no fetch wrote it, and validate does not read it",
            hint=f"remove it; `{FETCH}` writes the files the pinned releases need",
        )
        for path in extra
        if path not in listed
    ]


def download(files: Sequence[CrdFile], settings: HttpSettings | None = None) -> dict[CrdFile, bytes]:
    """Each file, checked to be its CRD. Content problems are reported together; a network failure stops at once.

    Each file is one call through the HTTP door: connection errors, 429 and 5xx are retried within its deadline.
    """
    with Http(settings or HttpSettings.from_env()) as http:
        results = {file: _get(http, file) for file in files}
    problems = [result for result in results.values() if isinstance(result, Diagnostic)]
    if problems:
        raise UserError(problems)
    return {file: result for file, result in results.items() if isinstance(result, bytes)}


def _get(http: Http, file: CrdFile) -> bytes | Diagnostic:
    try:
        response = http.request("GET", file.url)
    except HttpFailure as exc:
        raise _unreachable(file.url, exc) from None
    if response.status in (404, 410):
        return Diagnostic(
            file=file.url,
            message=f"HTTP {response.status}: no {file.path} at {file.project.title} {file.version}",
            hint=f"{file.project.title} {file.version} probably does not exist: check {file.project.setting} in "
            f"models.yaml against https://github.com/{file.project.repository}/tags (with --base-url, "
            "check that the mirror has that tag)",
        )
    if not response.ok:
        raise EnvironmentProblem.simple(
            f"cannot download {redact(file.url)}: HTTP {response.status} {response.reason}",
            hint="a mirror may need credentials (a user and token before the host in --base-url, or ~/.netrc), or "
            + _MIRROR_HINT,
        )
    problem = crd_problem(file, response.content)
    if problem:
        return Diagnostic(
            file=file.url, message=problem, hint="the server does not serve raw release files; " + _MIRROR_HINT
        )
    return response.content


def _unreachable(url: str, exc: HttpFailure) -> EnvironmentProblem:
    """The HTTP door's failure in this command's words; advice of its own (an answer too large) is kept."""
    own = exc.diagnostics[0].hint
    check = (
        "try again later"
        if exc.status is not None
        else "check the network and proxy settings (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE)"
    )
    return EnvironmentProblem(
        Diagnostic(
            message=f"cannot download {redact(url)}: {exc.reason}",
            hint=own if own != DEFAULT_HINT else f"{check}, or {_MIRROR_HINT}; limits: KSERVE_GITOPS_HTTP_*",
        )
    )


def _parse_lock(data: bytes | None, where: str) -> Mapping[str, CrdLockEntry]:
    return {} if data is None else loads_lock(data, f"{where}/{CRD_LOCK_FILE}")


def _digest(path: Path) -> str | None:
    data = _read(path)
    return None if data is None else sha256(data)


def _read(path: Path) -> bytes | None:
    try:
        return read_regular(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise EnvironmentProblem.simple(
            f"cannot read {path}: {exc.strerror or exc}", hint="check the permissions of the CRD directory"
        ) from None
