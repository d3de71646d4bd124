"""Credentials never reach the terminal, a log or a file we write.

`redact` runs on every diagnostic, log line and traceback, and those may quote
hostile input (a 60,000-character header, a 300 MB error page), so it must stay
linear in the length of its input: every pattern starts at a literal or a word
boundary and only ever scans forward through a bounded or delimiter-ended run,
so no two match attempts re-read the same long stretch of text.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when something logs (install_log_redaction)
    import logging
    from importlib.machinery import ModuleSpec

MASK = "***"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")  # RFC 3986's

# `scheme://user:pass@host`: everything up to the last '@' of the authority, so a
# password containing '@' is hidden whole. The authority ends at '/', '?', '#',
# whitespace or a quote, which also bounds each attempt's scan.
_USERINFO = re.compile(r"://[^/?#\s'\"<>]*@")
# A password left unencoded may hold '/', '?' or '#', where the authority above ends: in a run of text that holds
# a URL, everything between '://' and the run's last '@' is hidden when a ':' says a password is in it (a URL with
# a port and an '@' in its path is hidden too; too much hidden is safe). The runs split the text once: linear.
_RUN = re.compile(r"[^\s'\"<>]+")
# A password left unencoded may also hold spaces (`https://bob:my secret@host`, a mistyped MLFLOW_TRACKING_URI), which
# end the runs above: after '://', a user name free of spaces followed by ':', then up to the last '@' within 256
# characters of the same line that hold no '/', '?', '#', quote or angle bracket (a URL with a port followed on the
# line by a mail address is hidden too; too much hidden is safe). Each attempt starts at a '://' and reads at most
# 256 characters, which the next '://' (its '/') ends: linear.
_SPACED = re.compile(r"://(?=[^/?#\s'\"<>@]*:)[^/?#\r\n'\"<>]{0,256}@")
# Secrets carried in query strings: presigned S3/GCS/Azure URLs, OAuth tokens, API keys, a gateway's key: a name
# that ends in a word for a credential (`access_token`, `accessToken`, `X-Amz-Security-Token`, `subscription-key`,
# `auth`; `monkey` too, which is safe). Each attempt starts at a '?', '&' or ';' and reads at most 64 characters of
# name: linear.
_QUERY = re.compile(
    r"(?P<name>[?&;][\w.-]{0,64}?(?:token|secret|password|passwd|key|auth|code|sig|signature|credential)=)"
    r"[^&#\s'\"<>]*",
    re.IGNORECASE,
)
# `Authorization: Bearer x`, `"X-Api-Key": "x"`, `MLFLOW_TRACKING_PASSWORD=x`, `'client_secret': 'x'`:
# a key that names a credential (alone or as the last part of a longer name), a separator, then the value.
_KEYED = re.compile(
    r"(?<![\w-])(?P<key>(?:[\w-]{0,64}[_-])?(?:authorization|password|passwd|secret|token|api[_-]?key"
    r"|access[_-]?key|private[_-]?key|credentials?|cookie))(?![\w-])"
    r"(?P<sep>['\"]?[ \t]{0,3}[:=][ \t]{0,3}['\"]?)(?P<scheme>(?:bearer|basic|token|digest)[ \t]+)?"
    r"(?!\*\*\*)[^\s'\"&,;}\]]+",
    re.IGNORECASE,
)
_KEYED_NAMES = ("authorization", "passw", "secret", "token", "key", "credential", "cookie")
# Credentials that identify themselves wherever they appear. A bearer token runs to the next space or quote, not only
# over the characters a well-formed one holds: a malformed one is quoted as Python writes it (`requests` refuses
# `'Bearer abc\ndef'`, a token with a line break, and shows it so), and its tail is as secret as its head.
_BEARER = re.compile(r"(?<![\w-])(?P<scheme>bearer[ \t]+)[^\s'\"<>]+", re.IGNORECASE)
_GITHUB_TOKEN = re.compile(r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})")
# Variables whose whole value is a secret, which a server may quote back where no pattern knows it (an MLflow server's
# "token … expired", a GitHub 401's body, S3's "The provided token … has expired"). Read by MLflow, boto3, `propose`
# and `webhook serve` (generator/webhook/server.py). A value shorter than _SHORTEST is masked only where a pattern
# finds it: alone, it would hide ordinary words wherever they stand (a test's "x", moto's "testing").
_SECRET_VARIABLES = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "KSERVE_GITOPS_MLFLOW_WEBHOOK_SECRET",
    "KSERVE_GITOPS_ARGOCD_TOKEN",
)
_SHORTEST = 8
# Variables holding a URL whose credentials (`credentials_of`) may be typed where no pattern recognises them.
_URL_VARIABLES = (
    "MLFLOW_TRACKING_URI",
    "KSERVE_GITOPS_CRD_BASE_URL",
    "GITHUB_API_URL",
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_ENDPOINT_URL",
)
_given: set[str] = set()  # credentials of URLs given on the command line (`mask_credentials_of`)


def redact(text: str, known: Iterable[str] = ()) -> str:
    """`text` with every credential it carries replaced by `***`, in time linear in its length. `known`: secrets the
    caller knows of that no pattern may recognise where they appear (`credentials_of`), masked wherever they stand
    apart from letters and digits (a password "p" leaves "unpack" alone). The secrets of the environment and the
    command line are always known (`_configured`): any message may quote a server that echoes them, and a URI typed
    without `//` (`alice:pw@host`, `http:/alice:pw@…`) is one no pattern recognises."""
    for secret in sorted(filter(None, (*known, *_configured())), key=len, reverse=True):  # a longer may hold a shorter
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", MASK, text)
    # Each pass runs only when the text holds what its pattern needs: substring tests are cheap C loops.
    if "://" in text and "@" in text:
        text = _RUN.sub(_password_in_run, _USERINFO.sub(f"://{MASK}@", _SPACED.sub(f"://{MASK}@", text)))
    if "=" in text:
        text = _QUERY.sub(rf"\g<name>{MASK}", text)
    lower = text.lower()
    if (":" in text or "=" in text) and any(name in lower for name in _KEYED_NAMES):
        text = _KEYED.sub(rf"\g<key>\g<sep>\g<scheme>{MASK}", text)
    if "bearer" in lower:
        text = _BEARER.sub(rf"\g<scheme>{MASK}", text)
    return _GITHUB_TOKEN.sub(MASK, text) if "gh" in text or "github_pat_" in text else text


def mask_credentials_of(uri: str) -> None:
    """Have every later `redact` mask the credentials of `uri`, given on the command line (an option whose value may
    also come from one of _URL_VARIABLES, whose credentials are masked anyway)."""
    _given.update(credentials_of(uri))


def _configured() -> list[str]:
    """The secrets this process was given: each of _SECRET_VARIABLES (as sent in a header, and for MLflow's user and
    password also as HTTP Basic sends them, base64), the credentials of each of _URL_VARIABLES and of URLs given on
    the command line."""
    environ = os.environ
    found = [value for name in _SECRET_VARIABLES if len(value := environ.get(name, "")) >= _SHORTEST]
    if password := environ.get("MLFLOW_TRACKING_PASSWORD", ""):
        pair = f"{environ.get('MLFLOW_TRACKING_USERNAME', '')}:{password}".encode()
        found.append(base64.b64encode(pair).decode("ascii"))
    for name in _URL_VARIABLES:
        found += credentials_of(environ.get(name, ""))
    return [*found, *_given]


def credentials_of(uri: str) -> tuple[str, ...]:
    """The credentials a URI carries in its authority (`user:password@`): the pair and the password alone, which an
    error about the URI may repeat without its `scheme://`, where `redact` cannot tell them (botocore calls
    `s3://user:password@bucket/key` an invalid bucket name "user:password@bucket"). A user name alone is none. As
    `redact` takes them: up to the last '@' (a password left unencoded may hold '/' or '@'; a URL with a port and an
    '@' in its path gives too much, which is safe)."""
    userinfo = _authority(uri).rpartition("@")[0]
    password = userinfo.partition(":")[2]
    return (userinfo, password) if password else ()


def _authority(uri: str) -> str:
    """What follows `scheme://`, also in a URI typed without it: `alice:pw@host`, `//alice:pw@host`, and `http:/…` or
    `http:…` (a scheme, when what follows it still holds `user:password@`)."""
    if "://" in uri:
        return uri.partition("://")[2]
    rest = uri.lstrip("/")
    scheme, colon, after = rest.partition(":")
    after = after.lstrip("/")
    if colon and _SCHEME.fullmatch(scheme) and ":" in after.rpartition("@")[0]:
        return after
    return rest


class _RedactingRecordFactory:
    """Wraps the log record factory so every record's message (with its arguments) is redacted once, at
    creation: whichever handler prints it, ours, uvicorn's or a library's own, never sees a credential."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        try:
            record.msg, record.args = redact(record.getMessage()), ()
        except (TypeError, ValueError):  # arguments that do not fit the format: logging reports it when emitting
            return record
        if record.exc_info:
            record.exc_text = redact(sys.modules["logging"].Formatter().formatException(record.exc_info))
        return record


def install_log_redaction() -> None:
    """Make every log record redacted from now on; calling it again changes nothing.

    Importing logging costs a command ~7 ms, and most never log: until something imports it, the redaction is
    installed by the import itself, the moment the module has run and before any record can exist (`_OnImport`).
    """
    if (logging := sys.modules.get("logging")) is not None:
        _install(logging)
    elif not any(isinstance(finder, _OnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _OnImport())


def _install(logging: ModuleType) -> None:
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _RedactingRecordFactory):
        logging.setLogRecordFactory(_RedactingRecordFactory(factory))


class _OnImport:
    """A finder that finds nothing of its own: for `logging` it asks the other finders and gives their answer with a
    loader that installs the redaction once the module has run; then it steps aside."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if name != "logging":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _Installing(spec.loader)  # type: ignore[assignment]
        return spec


class _Installing:
    """The module's own loader (reading its source for tracebacks, too), which installs the redaction after it ran."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._inner.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        _install(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _password_in_run(match: re.Match[str]) -> str:
    run = match.group()
    start, end = run.find("://") + 3, run.rfind("@")
    if start < 3 or end < start or ":" not in run[start:end] or run[start:end] == MASK:
        return run
    return f"{run[:start]}{MASK}{run[end:]}"
