from __future__ import annotations

import sys
from pathlib import Path

import pytest

from generator.util.proc import CommandError, run_cmd


def test_returns_stdout(tmp_path: Path) -> None:
    assert run_cmd([sys.executable, "-c", "import os; print(os.getcwd())"], cwd=tmp_path) == f"{tmp_path}\n"


def test_failure_shows_command_exit_code_and_both_streams() -> None:
    script = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"

    with pytest.raises(CommandError) as failure:
        run_cmd([sys.executable, "-c", script])

    error = failure.value
    assert (error.rc, error.stdout, error.stderr) == (3, "out\n", "err\n")
    text = str(error)
    assert text.startswith(f"command failed with exit code 3: {sys.executable} -c ")
    assert "stdout:\n    out" in text
    assert "stderr:\n    err" in text


def test_missing_program_is_a_command_error_with_exit_code_127(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as failure:
        run_cmd([str(tmp_path / "no-such-tool"), "--version"])

    assert failure.value.rc == 127
    assert "no-such-tool" in str(failure.value)


def test_a_program_is_found_on_the_path_given_and_a_relative_one_from_the_childs_cwd(tmp_path: Path) -> None:
    tool = tmp_path / "tool"
    tool.write_text('#!/bin/sh\necho "$1 from $(pwd)"\n')
    tool.chmod(0o755)
    assert run_cmd(["tool", "on-path"], env={"PATH": str(tmp_path)}) == f"on-path from {Path.cwd()}\n"
    assert run_cmd(["./tool", "relative"], cwd=tmp_path) == f"relative from {tmp_path}\n"
    with pytest.raises(CommandError) as failure:
        run_cmd(["no-such-tool-anywhere"], env={"PATH": str(tmp_path)})
    assert failure.value.rc == 127


def test_a_session_past_its_timeout_is_stopped_with_what_it_started(tmp_path: Path) -> None:
    """`subprocess.run` kills the command only: a download it started would go on. A session goes as a whole."""
    started = tmp_path / "started.pid"
    script = f"sleep 300 & echo $! > {started}; wait"
    with pytest.raises(CommandError) as caught:
        run_cmd(["sh", "-c", script], timeout=1, session=True)
    assert caught.value.rc == 124
    assert "timed out after 1 s" in caught.value.stderr
    assert _state(int(started.read_text())) in ("gone", "Z"), "a zombie has ended; only nobody reaped it yet"


def _state(pid: int) -> str:
    """The process's state letter (`/proc/PID/stat`), or "gone"."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def test_a_session_that_fails_is_a_command_error_with_both_streams() -> None:
    with pytest.raises(CommandError) as caught:
        run_cmd(["sh", "-c", "echo out; echo err >&2; exit 3"], session=True)
    assert (caught.value.rc, caught.value.stdout, caught.value.stderr) == (3, "out\n", "err\n")
