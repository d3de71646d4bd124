from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from generator.errors import EnvironmentProblem
from generator.util.proc import CommandError, run_cmd, run_git


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


def test_a_failing_command_s_message_that_is_not_utf8_is_shown_not_a_crash() -> None:
    """git's messages in a Latin-1 locale: people read them with replacement characters."""
    script = (
        "import sys; sys.stdout.buffer.write(b'\\xfc'); sys.stderr.buffer.write(b'Fehler: \\xfcberpr\\xfcfung'); "
        "sys.exit(1)"
    )

    with pytest.raises(CommandError) as failure:
        run_cmd([sys.executable, "-c", script])

    assert (failure.value.stdout, failure.value.stderr) == ("\ufffd", "Fehler: \ufffdberpr\ufffdfung")


def test_a_successful_command_s_output_that_is_not_utf8_is_refused_with_its_bytes() -> None:
    """Output is data (a file `git show` printed): never altered, but left to the caller to say where it breaks."""
    script = "import sys; sys.stdout.buffer.write(b'a: 1\\n# \\xff\\n')"

    with pytest.raises(UnicodeDecodeError) as failure:
        run_cmd([sys.executable, "-c", script])

    assert (failure.value.object, failure.value.start) == (b"a: 1\n# \xff\n", 7)


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


def test_a_git_that_does_not_answer_in_time_is_the_machines_problem_naming_the_command(tmp_path: Path) -> None:
    """The git commands `gate`, `status` and `diff` run go through run_git: a git that hangs ends at the timeout
    with what to do, not as a run that never ends."""
    fake = tmp_path / "bin" / "git"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexec sleep 300\n")
    fake.chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
        with pytest.raises(EnvironmentProblem) as caught:
            run_git(tmp_path, "rev-list", "HEAD", timeout=0.5)
    (problem,) = caught.value.diagnostics
    assert problem.message == f"`git rev-list HEAD` did not answer within 0.5 s in {tmp_path}"
    assert "git fsck" in problem.hint


def test_no_git_at_all_is_the_machines_problem(tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", str(tmp_path))
        with pytest.raises(EnvironmentProblem) as caught:
            run_git(tmp_path, "status")
    assert caught.value.diagnostics[0].message.startswith("git cannot be run")


def test_a_git_that_fails_is_left_to_the_caller_to_word(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as caught:
        run_git(tmp_path, "rev-parse", "--verify", "--quiet", "no-such-revision^{commit}")
    assert caught.value.rc not in (124, 127)
