"""What the error handler prints: redacted, bounded, with the right exit code."""

from __future__ import annotations

import json
import re

import pytest

from generator.diagnostics import Diagnostic
from generator.error_handler import Invocation, run
from generator.errors import EXIT_BUG, UserError

SECRET_URL = "http://alice:pa@ss@mlflow.example/api?token=t0ken"


class _Boom(Exception):
    def __init__(self, url: str, headers: dict[str, str]) -> None:
        super().__init__(url, headers)


def _bug() -> int:
    try:
        raise ConnectionError(f"cannot reach {SECRET_URL}")
    except ConnectionError as cause:
        raise _Boom(SECRET_URL, {"Authorization": "Bearer abc.def"}) from cause


@pytest.mark.parametrize("debug", [False, True])
def test_a_bug_is_reported_redacted_with_or_without_the_traceback(
    debug: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(_bug, Invocation(debug=debug)) == EXIT_BUG
    err = capsys.readouterr().err
    assert "unexpected error: _Boom" in err
    assert ("Traceback" in err) is debug
    if debug:
        assert "The above exception was the direct cause" in err
    for secret in ("pa@ss", "t0ken", "abc.def"):
        assert secret not in err


def test_a_huge_exception_message_is_cut(capsys: pytest.CaptureFixture[str]) -> None:
    def job() -> int:
        raise ValueError("<html>" + "x" * 1_000_000)

    assert run(job, Invocation(debug=True)) == EXIT_BUG
    err = capsys.readouterr().err
    assert len(err) < 10_000
    assert "characters left out" in err


def test_a_user_error_traceback_under_debug_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    def job() -> int:
        raise UserError.simple(f"registry at {SECRET_URL} refused")

    assert run(job, Invocation(debug=True)) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "http://***@mlflow.example" in err
    assert "pa@ss" not in err and "t0ken" not in err


def test_a_traceback_under_debug_cannot_drive_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """--debug is for a server that misbehaves; its error message (an escape sequence, a carriage return, a
    bidirectional override) is in the traceback, and is shown as its escapes there as in the error line."""

    def job() -> int:
        raise ValueError("MLflow said: bad \x1b[2J\x1b]8;;http://evil\x07link\rfine\u202eZ")

    assert run(job, Invocation(debug=True)) == EXIT_BUG
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert not re.search("[\x1b\x07\r\u202e]", err), err
    assert "bad \\x1b[2J\\x1b]8;;http://evil\\x07link\\rfine\\u202eZ" in err


RECOVERED = Diagnostic(file=".kserve-gitops/journal", severity="warning", message="an earlier run was killed")


def _invalid() -> int:
    raise UserError.simple("models.yaml is invalid")


def test_a_failure_in_json_still_reports_what_the_session_recovered_first(capsys: pytest.CaptureFixture[str]) -> None:
    """The session's warnings are kept for the report outside text; a command that then fails reports them too."""
    assert run(_invalid, Invocation(output="json", recovered=[RECOVERED])) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert (report["errors"], report["warnings"], captured.err) == (1, 1, "")
    assert RECOVERED.as_dict() in report["findings"]


def test_a_failure_with_github_output_says_what_the_session_recovered_before_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(_invalid, Invocation(output="github", recovered=[RECOVERED])) == 1
    assert capsys.readouterr().err == f"{RECOVERED}\nerror: models.yaml is invalid\n"
