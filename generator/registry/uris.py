"""Where KServe can fetch a model from, given what MLflow reports, and where a lock may send it.

A proxying MLflow server answers `mlflow-artifacts:/<path>`; KServe's storage
initializer cannot fetch that, so it is mapped onto the server's real
`--artifacts-destination`, which no MLflow API reveals and models.yaml declares.

models.lock is a file anyone with write access to the repository can edit, and its
`artifactUri` becomes the InferenceService's `storageUri`: the storage initializer downloads
whatever it names, with the predictor's credentials. So a location is only accepted when it
uses an object-store scheme both KServe and MLflow's artifact stores speak and lies under a
prefix models.yaml declares (`registry.artifactsDestination`, `registry.allowedStoragePrefixes`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from generator.diagnostics import UNSEEN
from generator.excerpt import quoted

# This product's policy: schemes KServe's storage initializer downloads in every known release (the fact,
# `storage_uri_prefixes` in generator/platform/releases.py; a test holds this list to it) and an MLflow
# artifact store can hold a model in. Not file:// (a path on the registry's disk, or the node's),
# not plain http:// (no integrity, and the road to instance metadata endpoints), not pvc://,
# oci:// or hf:// (no MLflow artifact store answers them).
STORAGE_SCHEMES = ("s3", "gs", "https", "hdfs", "webhdfs")
BUCKET_SCHEMES = ("s3", "gs")  # their "host" is a bucket name, never an address
PROXY_SCHEME = "mlflow-artifacts"
# whitespace, control characters (C0 and C1), and what changes how a location reads in review (UNSEEN)
_UNSAFE = re.compile(f"[\x00-\x20\x7f-\x9f{UNSEEN}]")
# a separator a server may turn into '/' ('\\', or percent-encoded), which a '..' then climbs over
_HIDDEN_SEPARATOR = re.compile(r"\\|%2f|%5c", re.IGNORECASE)


# MLflow's artifact client reads an http(s):// location only at an MLflow server's artifact API: it splits the
# location at this path, and fails with a bare ValueError on any other (mlflow v3.17.2,
# mlflow/store/artifact/http_artifact_repo.py, HttpArtifactRepository.list_artifacts).
MLFLOW_ARTIFACTS_API = "/mlflow-artifacts/artifacts"


def mlflow_cannot_read(uri: str) -> str | None:
    """Why MLflow's artifact client cannot read `uri`, which MLflow would say only as a Python error, or None. Read
    without parsing: a location too malformed to parse is the store's to refuse, in its own words."""
    scheme, separator, _ = uri.partition("://")
    if separator and scheme.lower() in ("http", "https") and MLFLOW_ARTIFACTS_API not in uri:
        return (
            "MLflow reads an http(s):// location only at an MLflow server's artifact API "
            f"(.../api/2.0{MLFLOW_ARTIFACTS_API}/...)"
        )
    return None


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")  # RFC 3986's, as urlsplit reads it


def scheme_of(uri: str) -> str:
    """A location's scheme, lower-cased as urlsplit gives it, or "" for none. Read without parsing the rest, which
    may be too malformed for urlsplit (`https://[::1/x` raises ValueError): a registry's answer or a hand-edited
    models.lock is then refused in words, never with a traceback."""
    match = _SCHEME.match(uri)
    return match[1].lower() if match else ""


def foreign_host(uri: str, tracking_uri: str) -> str | None:
    """Why MLflow's artifact client must not read `uri`: it names a host other than the tracking server's, or None.

    That client sends the tracking server's credentials (MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME and
    PASSWORD) to the host of every http(s):// location it reads, and an `mlflow-artifacts://HOST/…` location is
    read at HOST, not at the tracking server (mlflow v3.17.2, mlflow/utils/credentials.py `get_default_host_creds`,
    mlflow/store/artifact/mlflow_artifacts_repo.py `resolve_uri`). Such a location comes from models.lock, which a
    pull request can edit (`mlflow-artifacts://` keeps the path that `registry.artifactsDestination` maps, so its
    artifactUri still checks out): reading it would hand the credentials to whoever runs that host. A location too
    malformed to parse is left to the store to refuse, in its own words."""
    scheme = scheme_of(uri)
    if scheme not in ("http", "https", PROXY_SCHEME):
        return None
    try:
        host = _host(uri, urlsplit(tracking_uri).scheme if scheme == PROXY_SCHEME else scheme)
        server = _host(tracking_uri, urlsplit(tracking_uri).scheme) if tracking_uri else ""
    except ValueError:
        return None
    if not host or host == server:  # `mlflow-artifacts:/…` names no host: the tracking server's
        return None
    return (
        f"it is read at {host}, which is not the tracking server ({server or 'none configured'}), and MLflow's client "
        "would send the tracking server's credentials there"
    )


def _host(uri: str, scheme: str) -> str:
    """`host:port` of `uri`, lowercase, the scheme's default port filled in (ValueError when it does not parse)."""
    parts = urlsplit(uri)
    host = (parts.hostname or "").lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme.lower())
    return f"{host}:{port}" if host and port else host


@dataclass(frozen=True)
class Unfetchable:
    message: str
    hint: str


def storage_uri(download_uri: str, artifacts_destination: str) -> str | Unfetchable:
    scheme = scheme_of(download_uri)
    if (path := _proxied_path(download_uri, scheme)) is not None:
        if not artifacts_destination:
            return Unfetchable(
                f"the registry returned {quoted(download_uri)}, a proxied artifact location KServe cannot fetch",
                "set registry.artifactsDestination in models.yaml to the tracking server's "
                "--artifacts-destination (e.g. s3://bucket/mlartifacts)",
            )
        return f"{artifacts_destination.rstrip('/')}/{path}"
    if scheme in STORAGE_SCHEMES:
        return download_uri
    return Unfetchable(
        f"artifact location {quoted(download_uri)} uses '{scheme or 'a local path'}', which KServe cannot fetch",
        "store MLflow artifacts in an object store (s3://, gs://) or behind a proxying server "
        "with registry.artifactsDestination set",
    )


def _proxied_path(uri: str, scheme: str) -> str | None:
    """The path under the tracking server's --artifacts-destination of a location only that server answers, or None:
    `mlflow-artifacts:/<path>` (or `mlflow-artifacts://<server>/<path>`), and its artifact API
    `http(s)://<server>/api/2.0/mlflow-artifacts/artifacts/<path>`, which MLflow's client turns the first into and an
    experiment's artifact location may name directly (mlflow v3.17.2, mlflow/store/artifact/mlflow_artifacts_repo.py).
    KServe fetches a single file or archive from an http(s) location (kserve/kserve v0.20.0,
    python/storage/kserve_storage/kserve_storage.py `_download_from_uri`), never a model's directory."""
    if scheme == PROXY_SCHEME:
        rest = uri[len(PROXY_SCHEME) + 1 :]
        return (rest[2:].partition("/")[2] if rest.startswith("//") else rest).lstrip("/")
    if scheme in ("http", "https") and MLFLOW_ARTIFACTS_API in uri:
        return uri.partition(MLFLOW_ARTIFACTS_API)[2].lstrip("/")
    return None


def location_problem(uri: str, prefixes: Sequence[str]) -> str | None:
    """Why KServe must not be sent to `uri`, or None when it is an allowed storage location."""
    try:
        parts = urlsplit(uri)
    except ValueError as exc:  # `https://[::1/x`: "Invalid IPv6 URL"
        return f"is not a well-formed location ({exc})"
    if parts.scheme not in STORAGE_SCHEMES:
        used = f"'{parts.scheme}://'" if parts.scheme else "no scheme"
        return f"uses {used}; a storage location must use one of {', '.join(s + '://' for s in STORAGE_SCHEMES)}"
    problems = (
        (
            bool(_UNSAFE.search(uri)) or bool(parts.query or parts.fragment) or "@" in parts.netloc,
            "holds whitespace, control characters, a query, a fragment or credentials",
        ),
        (
            bool({".", ".."} & {unquote(segment) for segment in parts.path.split("/")}),
            "has '.' or '..' path segments (percent-encoded ones too)",
        ),
        (bool(_HIDDEN_SEPARATOR.search(parts.path)), "has a '\\' or a percent-encoded '/' or '\\' in its path"),
        (
            parts.scheme not in BUCKET_SCHEMES and _private_address(parts.hostname or ""),
            "points at a loopback, private or link-local address",
        ),
        (not prefixes, "cannot be checked: models.yaml declares no storage prefix"),
        (not any(under(uri, prefix) for prefix in prefixes), "is not under an allowed storage prefix"),
    )
    return next((message for failed, message in problems if failed), None)


def under(uri: str, prefix: str) -> bool:
    """`uri` is `prefix` or lies below it, by whole path segments."""
    base = prefix.rstrip("/")
    return uri == base or uri.startswith(base + "/")


def _private_address(host: str) -> bool:
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_global
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")
