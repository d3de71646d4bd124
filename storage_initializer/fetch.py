"""Download one registered model version so that its files sit directly in the destination.

The version's artifact location is asked of the registry and downloaded with
`mlflow.artifacts.download_artifacts`, which reads every setting from the environment:
`MLFLOW_TRACKING_URI` and its credentials, `MLFLOW_HTTP_REQUEST_*` for retries and timeouts,
and for an `s3://` location (a server run with `--no-serve-artifacts`) `MLFLOW_S3_ENDPOINT_URL`
and boto3's `AWS_*` chain. A proxying server hands out `mlflow-artifacts:/…`, which MLflow
fetches through the tracking server, so then no storage credentials are needed at all.

`download_artifacts` puts a directory URI in a subdirectory named after its last segment
(`<dst>/artifacts/MLmodel`), while kserve-mlserver loads `/mnt/models/MLmodel`. So the download
goes to a staging directory inside the destination (same filesystem: renames are free), is
checked for `MLmodel`, and its entries are then moved up. KServe's destination is an emptyDir
mount point: it can be filled but not replaced. An init container runs again after a failure
in the same pod, with the same emptyDir, so a rerun clears what an interrupted run left.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mlflow import MlflowClient, get_tracking_uri
from mlflow.artifacts import download_artifacts

from storage_initializer.uri import ModelVersionRef

STAGING_PREFIX = ".storage-initializer-"
MLMODEL = "MLmodel"
READY = "READY"
_DEFAULT_PORTS = {"http": 80, "https": 443}
# host[:port],… of artifact servers of your own, e.g. a separate `mlflow server --artifacts-only`
TRUSTED_HOSTS = "STORAGE_INITIALIZER_TRUSTED_HOSTS"


class FetchError(RuntimeError):
    """The version exists but is not something kserve-mlserver can serve."""


@dataclass(frozen=True)
class Fetched:
    source: str  # the artifact location the registry gave, e.g. mlflow-artifacts:/1/models/m-…/artifacts
    files: int
    bytes: int


def fetch(ref: ModelVersionRef, dest: Path) -> Fetched:
    """Download `ref` into `dest`; mlflow's exceptions (not found, unreachable) propagate."""
    client = MlflowClient()
    status = client.get_model_version(ref.name, ref.version).status
    if status != READY:
        raise FetchError(f"{ref.uri} is {status}, not {READY}: the registry has not finished registering it")
    source: str = client.get_model_version_download_uri(ref.name, ref.version)
    _refuse_foreign_host(ref, source, get_tracking_uri())

    dest.mkdir(parents=True, exist_ok=True)
    for stale in dest.glob(STAGING_PREFIX + "*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=dest))
    try:
        model_dir = Path(download_artifacts(artifact_uri=source, dst_path=str(staging)))
        if not (model_dir / MLMODEL).is_file():
            raise FetchError(f"{ref.uri} ({source}) has no {MLMODEL} file: it is not an MLflow model")
        files = [p for p in model_dir.rglob("*") if p.is_file()]
        fetched = Fetched(source, len(files), sum(p.stat().st_size for p in files))
        for entry in model_dir.iterdir():
            _replace(entry, dest / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return fetched


def _refuse_foreign_host(ref: ModelVersionRef, source: str, tracking_uri: str) -> None:
    """Refuse a location on another host than the tracking server: mlflow would send it the credentials.

    MLflow reads `MLFLOW_TRACKING_TOKEN` (or username and password) for any `http(s)://` artifact
    location and for `mlflow-artifacts://<host>/…`, whatever the host. A version's source is set by
    whoever registered it, so without this check it could collect the pod's token.
    """
    location, tracking = urlsplit(source), urlsplit(tracking_uri)
    if location.scheme == "mlflow-artifacts" and location.netloc:
        scheme = tracking.scheme  # mlflow reaches mlflow-artifacts://host/… with the tracking URI's scheme
    elif location.scheme in _DEFAULT_PORTS:
        scheme = location.scheme
    else:  # mlflow-artifacts:/… (the tracking server itself), s3://… (AWS_* credentials), …
        return
    if _origin(scheme, location.hostname, location.port) != _origin(tracking.scheme, tracking.hostname, tracking.port):
        host = f"{location.hostname}" + (f":{location.port}" if location.port else "")
        if host.lower() in {h.strip().lower() for h in os.environ.get(TRUSTED_HOSTS, "").split(",")}:
            return
        raise FetchError(
            f"{ref.uri} is stored at {source.split(':', 1)[0]}://{host}, not on the tracking server: "
            f"refusing to send the registry's credentials to another host (if it is yours: {TRUSTED_HOSTS}={host})"
        )


def _origin(scheme: str, host: str | None, port: int | None) -> tuple[str, str, int | None]:
    return scheme, (host or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def _replace(src: Path, target: Path) -> None:
    """Move `src` to `target`, removing what an earlier attempt left there."""
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    src.rename(target)
