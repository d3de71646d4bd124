"""Which CRD files a platform needs, where upstream publishes them, and the lock that pins their bytes.

Pure: no network and no disk, so every decision `schemas fetch` and `schemas verify`
take is tested with plain values; `fetch.py` does the I/O. Which files a release has, at
which paths, is a fact of that release (generator/platform/releases.py); here is where
upstream publishes them, so a fetch gets exactly what that release installs.

The lock is trust on first use: the first fetch records each file's sha256. A release
tag should never move, so a later download of the same version with other bytes is
refused instead of silently changing what every manifest is validated against.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import yaml

from generator import yamlio
from generator.crds import BASE_URL_ENV, CRD_LOCK_FILE, DEFAULT_BASE_URL
from generator.diagnostics import Diagnostic
from generator.errors import UserError
from generator.excerpt import quoted
from generator.generated import header
from generator.spec.model import Platform
from generator.util.files import MAX_YAML_BYTES
from generator.yamlio import dump

FETCH = "kserve-gitops schemas fetch"
CRD_API_VERSION = "apiextensions.k8s.io/v1"

_LOCK_HEADER = header(
    "schemas fetch: the sha256 of each CRD file, trusted on first use.",
    "A later download of the same version must have the same bytes. Check offline: kserve-gitops schemas verify",
)
_LOCK_KEYS = ("version", "url", "sha256")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Project:
    """One upstream project: its GitHub repository and API group."""

    name: str
    title: str
    repository: str
    group: str
    setting: str


KSERVE = Project(
    name="kserve",
    title="KServe",
    repository="kserve/kserve",
    group="serving.kserve.io",
    setting="platform.kserveVersion",
)
ARGOCD = Project(
    name="argocd",
    title="Argo CD",
    repository="argoproj/argo-cd",
    group="argoproj.io",
    setting="platform.argocdVersion",
)
WRITTEN = (CRD_LOCK_FILE, KSERVE.name, ARGOCD.name)  # what `schemas fetch` writes in its directory (`CrdFile.local`)
_LOCAL = re.compile(rf"(?:{KSERVE.name}|{ARGOCD.name})/[A-Za-z0-9_][A-Za-z0-9_.-]*\.yaml")  # a `CrdFile.local`


@dataclass(frozen=True)
class CrdFile:
    """One file to fetch: where from, where to (`local`, relative to the destination), what it must hold."""

    project: Project
    version: str
    path: str
    kind: str
    url: str

    @property
    def local(self) -> str:
        return f"{self.project.name}/{PurePosixPath(self.path).name}"

    @property
    def upstream(self) -> str:
        """Where the release publishes it. The lock records this, not `url`: a mirror is a way to get the
        bytes, not their identity, so fetching through a mirror leaves a committed lock unchanged."""
        return f"{DEFAULT_BASE_URL}/{self.project.repository}/{self.version}/{self.path}"


@dataclass(frozen=True)
class CrdLockEntry:
    version: str
    url: str
    sha256: str


def pinned(platform: Platform) -> tuple[tuple[Project, str], ...]:
    return (KSERVE, platform.kserve_version), (ARGOCD, platform.argocd_version)


def crd_files(platform: Platform, base_url: str = DEFAULT_BASE_URL) -> tuple[CrdFile, ...]:
    """Every file the pinned releases need, at `<base>/<owner>/<repo>/<tag>/<path>` (raw.githubusercontent's layout)."""
    base = _checked_base(base_url)
    files = {KSERVE: platform.kserve.crd_files, ARGOCD: platform.argocd.crd_files}
    return tuple(
        CrdFile(project, version, path, kind, f"{base}/{project.repository}/{version}/{path}")
        for project, version in pinned(platform)
        for path, kind in files[project]
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def crd_problem(file: CrdFile, data: bytes) -> str:
    """'' when `data` is the one CRD `file` must hold, else what came instead (an HTML page, another CRD). A body
    larger than any YAML file this tool reads is refused unparsed: parsing 60 MB of YAML takes minutes and gigabytes,
    and validate would refuse the file anyway."""
    if len(data) > MAX_YAML_BYTES:
        return f"is {len(data)} bytes, larger than {MAX_YAML_BYTES // 2**20} MiB, the limit for a YAML file"
    try:
        docs = yamlio.load_all(data)
    except yaml.YAMLError as exc:
        return f"is not YAML ({str(exc).splitlines()[0]})"
    wanted = f"{CRD_API_VERSION} CustomResourceDefinition of {file.project.group} {file.kind}"
    found = _describe(docs[0]) if len(docs) == 1 else f"{len(docs)} YAML documents"
    return "" if found == wanted else f"is not the {wanted}; it holds {found}"


def _describe(doc: object) -> str:
    if not isinstance(doc, dict):
        return "no Kubernetes object"
    what = f"{doc.get('apiVersion')} {doc.get('kind')}"
    if doc.get("kind") != "CustomResourceDefinition":
        return what
    spec = _mapping(doc.get("spec"))
    return f"{what} of {spec.get('group')} {_mapping(spec.get('names')).get('kind')}"


def _mapping(value: object) -> dict[object, object]:
    return value if isinstance(value, dict) else {}


def drift(
    files: Iterable[CrdFile], on_disk: Mapping[str, str | None], lock: Mapping[str, CrdLockEntry], where: str
) -> dict[CrdFile, Diagnostic]:
    """Why each file is not the locked copy of its pinned version; `on_disk` maps `local` to a sha256 or None."""
    found: dict[CrdFile, Diagnostic] = {}
    for file in files:
        why = _drift_of(file, on_disk.get(file.local), lock.get(file.local))
        if why is not None:
            found[file] = Diagnostic(file=f"{where}/{file.local}", message=why[0], hint=why[1])
    return found


def _drift_of(file: CrdFile, digest: str | None, entry: CrdLockEntry | None) -> tuple[str, str] | None:
    fetch = f"run `{FETCH}`"
    if entry is None:
        return f"not recorded in {CRD_LOCK_FILE}", f"{fetch} to download it and record its sha256"
    if entry.version != file.version:
        return (
            f"{CRD_LOCK_FILE} has {entry.version}, but {file.project.setting} pins {file.version}",
            f"{fetch} to download {file.project.title} {file.version}",
        )
    if digest is None:
        return "missing", f"{fetch} to download it again"
    if digest != entry.sha256:
        return (
            f"changed on disk: sha256 {digest}, {CRD_LOCK_FILE} has {entry.sha256}",
            f"CRDs are upstream data, not edited here; {fetch} to restore the {file.version} file",
        )
    return None


def untrusted(downloaded: Mapping[CrdFile, str], lock: Mapping[str, CrdLockEntry], where: str) -> list[Diagnostic]:
    """Downloads whose bytes changed although their version did not: a moved tag, a bad mirror, or tampering."""
    problems = []
    for file, digest in downloaded.items():
        entry = lock.get(file.local)
        if entry is not None and entry.version == file.version and entry.sha256 != digest:
            problems.append(
                Diagnostic(
                    file=f"{where}/{file.local}",
                    message=f"{file.url} served other bytes than {CRD_LOCK_FILE} recorded for {file.version}: "
                    f"sha256 {digest}, locked {entry.sha256}",
                    hint=f"nothing was written. A release tag should never change: check --base-url, proxies and "
                    f"mirrors first. Only if upstream really moved tag {file.version}, delete the entry "
                    f"'{file.local}' from {where}/{CRD_LOCK_FILE} and fetch again",
                )
            )
    return problems


def relock(
    files: Iterable[CrdFile], lock: Mapping[str, CrdLockEntry], downloaded: Mapping[CrdFile, str]
) -> dict[str, CrdLockEntry]:
    """The new lock: downloads are recorded afresh under their upstream URL, the other files keep their entries."""
    return {
        file.local: CrdLockEntry(file.version, file.upstream, downloaded[file])
        if file in downloaded
        else lock[file.local]
        for file in files
    }


def dumps_lock(lock: Mapping[str, CrdLockEntry]) -> bytes:
    """Sorted and free of timestamps: the same files give the same bytes, so an unchanged lock is never rewritten."""
    body = {path: {key: getattr(entry, key) for key in _LOCK_KEYS} for path, entry in sorted(lock.items())}
    return dump([body], _LOCK_HEADER)


def loads_lock(data: bytes, file: str) -> dict[str, CrdLockEntry]:
    """The lock's entries, each a path `schemas fetch` writes (`CrdFile.local`): a path elsewhere (`..`, absolute)
    would have validate read a file of the committer's choosing as a CRD."""
    if len(data) > MAX_YAML_BYTES:
        raise _bad_lock(file, [f"larger than {MAX_YAML_BYTES // 2**20} MiB, the limit for a YAML file"])
    try:
        doc = yamlio.load(data)
    except yaml.YAMLError as exc:
        raise _bad_lock(file, [f"not YAML: {str(exc).splitlines()[0]}"]) from None
    if not isinstance(doc, dict):
        raise _bad_lock(file, ["expected a mapping of file → version, url, sha256"])
    bad = [
        f"entry {quoted(str(path))} is not a file `{FETCH}` writes (<project>/<name>.yaml, the project one of "
        f"{', '.join(WRITTEN[1:])})"
        for path in doc
        if not isinstance(path, str) or not _LOCAL.fullmatch(path)
    ] + [
        f"entry {quoted(str(path))} needs exactly version, url and a 64-digit sha256"
        for path, entry in doc.items()
        if not _valid_entry(entry)
    ]
    if bad:
        raise _bad_lock(file, bad)
    return {str(path): CrdLockEntry(**entry) for path, entry in doc.items()}


def _valid_entry(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and sorted(entry) == sorted(_LOCK_KEYS)
        and all(isinstance(v, str) for v in entry.values())
        and bool(_SHA256.fullmatch(entry["sha256"]))
    )


def _bad_lock(file: str, messages: list[str]) -> UserError:
    hint = f"delete {file} and run `{FETCH}` to record the hashes again"
    return UserError(Diagnostic(file=file, message=message, hint=hint) for message in messages)


def _checked_base(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is no number, as the first request would
    except ValueError:  # `http://[::1` (an unclosed IPv6 host)
        parts, port = urlsplit(""), None
    if parts.scheme not in ("http", "https") or not parts.netloc or port == 0:
        raise UserError.simple(
            f"CRD base URL '{url}' is not an http(s) URL",
            hint=f"pass --base-url (or set {BASE_URL_ENV}) like {DEFAULT_BASE_URL}; "
            "files are read from <base>/<owner>/<repo>/<tag>/<path>",
        )
    return url.rstrip("/")
