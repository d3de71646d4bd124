"""`python -m storage_initializer <models:/name/version> <destination>`: the container's entrypoint.

KServe's pod webhook gives the init container exactly these two arguments (the storageUri and
`/mnt/models`) and the environment the ClusterStorageContainer declares, which fills the
`MLFLOW_*` variables from a ConfigMap and a Secret. The exit code is the only thing Kubernetes
acts on and the log the only thing a person reads, so each failure prints one line and exits:

    0  the model is in the destination
    1  refused or not found: bad URI (alias, stage, latest), unknown model or version, not an
       MLflow model, missing or rejected credentials (MLflow or S3), no MLFLOW_TRACKING_URI;
       asking again gives the same answer
    2  the registry or artifact store could not be reached, even after mlflow's own retries
       (MLFLOW_HTTP_REQUEST_MAX_RETRIES / _BACKOFF_FACTOR / _TIMEOUT), or the run passed its
       deadline (STORAGE_INITIALIZER_DEADLINE_SECONDS, default an hour)
    3  a bug: the traceback follows

Whatever the code, the kubelet runs a failed init container again, with back-off.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path

from storage_initializer.uri import BadUri, ModelVersionRef, parse_models_uri

EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_BUG = 0, 1, 2, 3
USAGE = "usage: python -m storage_initializer models:/<name>/<version> <destination directory>"
# Container logs are plain text: mlflow's progress bars would fill them with carriage returns.
_QUIET = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
# Up to the authority's last `@`, as urllib3 reads it: a password may hold an unencoded `@`.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s'\"]*@")
# What the Secret may hold; a malformed value (a carriage return in the token) ends up quoted in errors.
_SECRETS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# MLFLOW_HTTP_REQUEST_TIMEOUT bounds each read, not a download: a server that trickles a byte a
# minute would hold the predictor back forever, with nothing in the log. So the whole run has one.
DEADLINE = "STORAGE_INITIALIZER_DEADLINE_SECONDS"
DEFAULT_DEADLINE = 3600
_TRANSIENT = r"too many \d+ error responses|Connection broken|Connection aborted|IncompleteRead|timed out"
_CAUSES = (  # the root cause urllib3 buries in mlflow's message
    r"\[Errno -?\d+\] ([^'\")]+)",
    r"ResponseError\('([^']+)'\)",
    r"(Read timed out|Connection timed out|timed out)",
)


class Failure(Exception):
    """Ends the run with `code`; `str()` is the one line the log shows."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int:
    try:
        _run(list(sys.argv[1:] if argv is None else argv))
    except Failure as failure:
        _log(f"error: {failure}")
        return failure.code
    return EXIT_OK


def _run(args: list[str]) -> None:
    if len(args) != 2:
        raise Failure(EXIT_REFUSED, f"expected 2 arguments, got {len(args)}; {USAGE}")
    uri, dest = args
    try:
        ref = parse_models_uri(uri)
    except BadUri as error:
        raise Failure(EXIT_REFUSED, str(error)) from None
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not tracking_uri:
        raise Failure(
            EXIT_REFUSED,
            "MLFLOW_TRACKING_URI is not set: the ClusterStorageContainer takes it from "
            "the ConfigMap named in models.yaml (registry.storageInitializer.configMap)",
        )
    deadline = _deadline()
    for key, value in _QUIET.items():
        os.environ.setdefault(key, value)
    # mlflow takes seconds to import: only once the arguments are known to be worth it.
    from storage_initializer.fetch import FetchError, fetch  # noqa: PLC0415

    _log(f"fetching {ref.uri} from {_redact(tracking_uri)} into {dest}")
    began = time.monotonic()
    if deadline:
        _exit_after(deadline, ref)
    try:
        fetched = fetch(ref, Path(dest))
    except FetchError as error:
        raise Failure(EXIT_REFUSED, str(error)) from error
    except Exception as error:
        raise _classify(error, ref) from error
    _log(
        f"fetched {ref.uri}: {fetched.files} files, {fetched.bytes} bytes from {_redact(fetched.source)} "
        f"in {time.monotonic() - began:.1f}s"
    )


def _deadline() -> float:
    raw = os.environ.get(DEADLINE, "") or str(DEFAULT_DEADLINE)
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1
    if not seconds >= 0:  # also NaN
        raise Failure(EXIT_REFUSED, f"{DEADLINE}={raw!r} is not a number of seconds (0: no deadline)")
    return seconds


def _exit_after(seconds: float, ref: ModelVersionRef) -> None:
    """Exit 2 once `seconds` have passed. mlflow downloads in worker threads that an exception in
    this one would not stop, so the process ends at once; the next run clears the staging directory."""

    def expire() -> None:
        _log(
            f"error: cannot reach the registry or artifact store for {ref.uri}: no complete answer within "
            f"{seconds:g}s ({DEADLINE})"
        )
        os._exit(EXIT_UNREACHABLE)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def _classify(error: Exception, ref: ModelVersionRef) -> Failure:
    unreachable, refused = _error_kinds()
    chain = list(_chain(error))
    if any(isinstance(e, unreachable) for e in chain) or _lost_in_download(error):
        return Failure(EXIT_UNREACHABLE, f"cannot reach the registry or artifact store for {ref.uri}: {_reason(error)}")
    if any(isinstance(e, refused) for e in chain):  # asking again gives the same answer
        hint = "" if _is_mlflow(error) else "; S3 access comes from AWS_* in the Secret or the pod's IAM role"
        return Failure(EXIT_REFUSED, f"{ref.uri}: {_reason(error)}{hint}")
    print(_redact("".join(traceback.format_exception(error))), end="", file=sys.stderr, flush=True)
    return Failure(EXIT_BUG, f"unexpected error while fetching {ref.uri}; this is a bug")


def _lost_in_download(error: BaseException) -> bool:
    """mlflow reports failed file downloads as one MlflowException whose text alone keeps the cause."""
    return _is_mlflow(error) and re.search(_TRANSIENT, str(error)) is not None


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it was raised from or during (mlflow re-raises without `from`)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _error_kinds() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(unreachable, refused): exceptions of requests (under MLflow's client) and botocore (S3).

    Unreachable: no connection, a timeout, or retries used up on 429/5xx. Refused: MLflow said no
    (not found, invalid name, 401/403), or S3 did (no or rejected credentials, no such bucket or key).
    """
    import requests  # noqa: PLC0415  (mlflow-skinny's HTTP client; only needed on failure)
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    unreachable: list[type[BaseException]] = [
        requests.ConnectionError,
        requests.Timeout,
        requests.exceptions.RetryError,
        ConnectionError,
        TimeoutError,
    ]
    refused: list[type[BaseException]] = [MlflowException]
    try:
        from botocore import exceptions as boto  # noqa: PLC0415
    except ImportError:  # installed without boto3: artifacts only ever come through the tracking server
        pass
    else:
        unreachable += [boto.ConnectionError, boto.HTTPClientError]
        refused += [boto.BotoCoreError, boto.ClientError]
    return tuple(unreachable), tuple(refused)


def _is_mlflow(error: BaseException) -> bool:
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    return isinstance(error, MlflowException)


def _reason(error: BaseException) -> str:
    message = " ".join(_redact(str(error)).split())  # one line, whatever mlflow put in it
    for pattern in _CAUSES:
        if cause := re.search(pattern, message):
            return cause.group(1).strip()
    return message if len(message) <= 300 else message[:300] + "…"


def _redact(text: str) -> str:
    """Replace `user:password@` in every URL with `***@`, and any secret the environment holds with `***`.

    Tokens travel in headers, but requests quotes a header it refuses ('Bearer <token>') in its error.
    """
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    for secret in _secret_spellings():
        text = text.replace(secret, "***")
    return text


def _secret_spellings() -> list[str]:
    """Each secret as it may appear in a message: verbatim, escaped as repr() shows it, line by line."""
    spellings: set[str] = set()
    for name in _SECRETS:
        value = os.environ.get(name, "")
        escaped = repr(value)[1:-1]
        spellings.update({value, value.strip(), escaped}, value.splitlines(), escaped.split("\\"))
    return sorted((s for s in spellings if len(s.strip()) >= 4), key=len, reverse=True)  # longest first


def _log(message: str) -> None:
    """One line, whatever a model name holds: a newline in it must not forge a line of its own."""
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in _redact(message))
    print(f"storage-initializer: {line}", file=sys.stderr, flush=True)
