"""What the error handler prints: redacted, bounded, with the right exit code."""

from __future__ import annotations

import pytest

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
