"""What a model version's MLmodel file says (flavors, serialization format, MLflow version), read through mlflow."""

from __future__ import annotations

import re
import tempfile

import mlflow.artifacts
from mlflow.exceptions import MlflowException

from generator.registry.base import ModelInfo
from generator.registry.uris import PROXY_SCHEME, foreign_host, scheme_of
from generator.util.files import MAX_YAML_BYTES, read_regular

# How mlflow words a request that got no answer (`mlflow/utils/rest_utils.py`, `http_request`): in its own message
# when listing the artifact, quoted per file in "The following failures occurred while downloading …" when reading it.
# Not an answer that was an error after the retries ("Caused by ResponseError('too many 500 error responses')"): a
# proxying server answers 500 for an MLmodel its store does not have.
_NO_ANSWER = re.compile(r"API request to \S+ failed with (timeout exception|exception (?!.*Caused by ResponseError))")
_MESSAGE_READ = 4000  # characters of the message worth looking at (it may quote a whole answer)


def fetch_mlmodel(download_uri: str, tracking_uri: str) -> ModelInfo | None:
    """None if the file cannot be fetched or parsed: not knowing the format only costs a warning later."""
    text = fetch_mlmodel_text(download_uri, tracking_uri)
    try:
        return ModelInfo.parse(text) if text is not None else None
    except Exception:
        return None


def fetch_mlmodel_text(download_uri: str, tracking_uri: str) -> str | None:
    """The MLmodel file of an artifact, or None if it cannot be fetched.

    Any exception counts, because each artifact store fails in its own way (mlflow,
    requests, botocore, a missing boto3) and none of them should stop a resolution,
    except the tracking server itself going away: an MLmodel read through it (proxied
    artifacts) that cannot connect or gets no answer re-raises mlflow's exception, so the
    command fails as for any other registry call (exit 2) instead of locking the version
    as if its MLmodel were unreadable for good.
    A file larger than any YAML file this tool reads is not read: MLflow streams it to
    disk, so the download holds little memory, but 1 GiB of it (a 1 MB gzip bomb) read
    and parsed took 4.4 GB.
    """
    with tempfile.TemporaryDirectory(prefix="kserve-gitops-") as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{download_uri.rstrip('/')}/MLmodel", dst_path=tmp, tracking_uri=tracking_uri
            )
            return read_regular(path, MAX_YAML_BYTES).decode("utf-8")
        except MlflowException as error:
            if _through_tracking_server(download_uri, tracking_uri) and _NO_ANSWER.search(
                str(error.message)[:_MESSAGE_READ]
            ):
                raise
            return None
        except Exception:
            return None


def _through_tracking_server(download_uri: str, tracking_uri: str) -> bool:
    """Whether reading the artifact asks the tracking server: `mlflow-artifacts:/…`, or its artifact API by URL."""
    scheme = scheme_of(download_uri)
    return scheme in ("http", "https", PROXY_SCHEME) and foreign_host(download_uri, tracking_uri) is None
