"""Read a model's MLmodel file and input example through MLflow's own artifact API. ⚡ edge module.

Only these two small files are downloaded, never the model weights. Any URI
MLflow can read works (`models:/NAME/VERSION`, `mlflow-artifacts:/…`, `s3://…`);
credentials come from the usual MLFLOW_* and AWS_* variables, which mlflow and
boto3 read themselves. mlflow is imported inside the function, so commands that
never fetch do not pay for importing it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from typing import Any

from generator.errors import RegistryUnavailable, SmokeFailed, UserError
from generator.excerpt import excerpt
from generator.redact import credentials_of, redact
from generator.registry import mlflow_http
from generator.registry.mlflow_http import Deadlines, Overdue
from generator.registry.uris import foreign_host, mlflow_cannot_read, scheme_of
from generator.smoke.mlmodel import MlModel, as_logged, parse_mlmodel
from generator.smoke.request import invocations_body
from generator.util.files import MAX_YAML_BYTES, TooLarge, read_regular
from generator.util.http_settings import HttpSettings

# Schemes mlflow resolves through the tracking server; without a configured URI it
# would silently fall back to a local sqlite:///mlflow.db in the current directory.
_NEEDS_SERVER = frozenset({"models", "runs", "mlflow-artifacts"})
_NOT_FOUND = re.compile(r"RESOURCE_DOES_NOT_EXIST|\b404\b|NoSuchKey")
_HINT = (
    "check MLFLOW_TRACKING_URI and its credentials (MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD), "
    "or the AWS_* settings for s3://; timeouts, retries and deadline: KSERVE_GITOPS_HTTP_*"
)
_CAUSE = re.compile(r"\[Errno -?\d+\] ([^'\")]+)|(Read timed out|Connection timed out)")


def fetch_example(source: str, tracking_uri: str) -> tuple[MlModel, dict[str, Any]]:
    """The model's signature and its input example as a scoring-server body."""
    if scheme_of(source) in _NEEDS_SERVER and not tracking_uri:  # lower-cased: MLflow reads `Models:/` as `models:/`
        raise RegistryUnavailable.simple(
            f"reading {source} needs an MLflow tracking server, and none is configured",
            hint="set MLFLOW_TRACKING_URI, or registry.trackingUri in models.yaml",
        )
    if (unreadable := mlflow_cannot_read(source) or foreign_host(source, tracking_uri)) is not None:
        raise UserError.simple(
            f"cannot read {redact(source)}: {unreadable}",
            hint="give --source as s3://..., mlflow-artifacts:/... or models:/NAME/VERSION",
        )
    with tempfile.TemporaryDirectory(prefix="kserve-gitops-smoke-") as scratch:
        with as_logged():
            model = parse_mlmodel(_download(source, "MLmodel", scratch, tracking_uri))
        text = _download(source, model.example_file, scratch, tracking_uri)
    try:
        example = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SmokeFailed.simple(f"the input example is not JSON: {exc}", file=model.example_file) from None
    with as_logged():
        return model, invocations_body(model.example_kind, example)


def _download(source: str, name: str, scratch: str, tracking_uri: str) -> str:
    import mlflow.artifacts  # noqa: PLC0415
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    uri = f"{source.rstrip('/')}/{name}"
    http = HttpSettings.from_env()
    deadlines = Deadlines(http.deadline)
    download = deadlines.bound(f"reading {redact(uri)}", mlflow.artifacts.download_artifacts)
    with mlflow_http.limited(http, {"MLFLOW_TRACKING_URI": tracking_uri} if tracking_uri else {}):
        own = tempfile.mkdtemp(dir=scratch)  # what this download writes, apart from the other file's
        try:
            path = deadlines.run(lambda: download(artifact_uri=uri, dst_path=own), lambda: _capped(own))
        except TooLarge:
            raise _too_large(name, uri) from None
        except MlflowException as exc:
            raise _error(uri, str(exc.message)) from None
        except Overdue as late:
            raise RegistryUnavailable.simple(str(late), hint=_HINT) from None
        except ImportError as exc:  # a store whose client library is not installed (gs://: google-cloud-storage)
            raise RegistryUnavailable.simple(
                f"cannot read {redact(uri)}: {exc}",
                hint="install the client library MLflow reads this store with, or give an s3://, http(s):// or "
                "mlflow-artifacts:/ location (--source)",
            ) from None
        except Exception as exc:  # each store fails its own way (botocore refuses a bucket name, urllib a URL)
            raise _error(uri, str(exc) or type(exc).__name__) from None
    try:
        return read_regular(path, MAX_YAML_BYTES).decode("utf-8")  # MLflow streamed it to disk: its size is not read
    except TooLarge:
        raise _too_large(name, uri) from None
    except OSError as exc:  # a directory where the example should be (serving_input_path names one), a FIFO
        raise SmokeFailed.simple(
            f"cannot read it: {exc.strerror or exc} (read from {redact(uri)})",
            file=name,
            hint="MLflow writes MLmodel and the input example as files; log the model again",
        ) from None
    except UnicodeDecodeError as exc:
        raise SmokeFailed.simple(
            f"not UTF-8 text: byte {exc.start} cannot be decoded (read from {redact(uri)})",
            file=name,
            hint="MLflow writes MLmodel and the input example as UTF-8 JSON/YAML; log the model again",
        ) from None


def _capped(directory: str) -> None:
    """TooLarge once a download has written more than MAX_YAML_BYTES to `directory`: a store that never ends the file
    (broken, or hostile) would otherwise fill the disk until the deadline."""
    if sum(_sizes(directory)) > MAX_YAML_BYTES:
        raise TooLarge(directory)


def _sizes(directory: str) -> Iterator[int]:
    """The size of every file below `directory`, which the download changes meanwhile: what vanishes counts nothing."""
    with contextlib.suppress(FileNotFoundError), os.scandir(directory) as entries:
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):
                if entry.is_dir(follow_symlinks=False):
                    yield from _sizes(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    yield entry.stat(follow_symlinks=False).st_size


def _too_large(name: str, uri: str) -> UserError:
    return SmokeFailed.simple(
        f"larger than {MAX_YAML_BYTES // 2**20} MiB, more than MLflow writes (read from {redact(uri)})",
        file=name,
        hint="MLflow writes MLmodel and the input example as small JSON/YAML files; log the model again",
    )


def _error(uri: str, message: str) -> Exception:
    if _NOT_FOUND.search(message):
        return SmokeFailed.simple(
            f"{redact(uri)} not found",
            hint="check the model name and version (or the "
            "--source URI); `kserve-gitops lock` records each version's source",
        )
    cause = _CAUSE.search(message)
    reason = next(g for g in cause.groups() if g) if cause else " ".join(message.split())
    return RegistryUnavailable.simple(
        f"cannot read {redact(uri)}: {excerpt(reason.strip(), 300, credentials_of(uri))}", hint=_HINT
    )
