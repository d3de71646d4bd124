"""The installed command (`kserve-gitops`, and `python -m generator`) is `main` in a process of its own: it exits
with main's code, what is still alive then is frozen out of the cyclic collector (the interpreter's last
collections have nothing to walk), and work abandoned at a deadline does not keep the process alive. Each case runs
in a process of its own: `entry` ends the process it runs in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _entry(code: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """`code`, then `entry()` with `argv`, in a fresh interpreter; its exit code is entry's."""
    script = f"import sys\n{code}\nsys.argv = ['kserve-gitops', *sys.argv[1:]]\nfrom generator.cli import entry\n"
    script += "code = entry()\nimport gc\nprint('frozen' if gc.get_freeze_count() else 'not frozen')\nsys.exit(code)"
    return subprocess.run(
        [sys.executable, "-c", script, *argv], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_installed_command_is_the_entry_point() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"kserve-gitops": "generator.cli:entry"}
    assert "entry()" in (ROOT / "generator" / "__main__.py").read_text()


@pytest.mark.parametrize(("argv", "code"), [(["--version"], 0), (["no-such-command"], 2)])
def test_the_entry_point_exits_with_mains_code_and_freezes_what_is_left(argv: list[str], code: int) -> None:
    ran = _entry("", *argv)
    assert (ran.returncode, ran.stdout.splitlines()[-1]) == (code, "frozen"), ran


def test_exit_handlers_registered_before_the_command_still_run() -> None:
    """Such as coverage's, which saves what it measured: the process then ends as Python ends it."""
    ran = _entry("import atexit\natexit.register(print, 'handler ran')", "no-such-command")
    assert ran.returncode == 2, ran
    assert ran.stdout.splitlines()[-1] == "handler ran", ran


@pytest.mark.parametrize(
    "still_at_work",
    [
        "threading.Thread(target=time.sleep, args=(50,)).start()",
        # as mlflow's download pool is: created from a daemon thread (ours, for the deadline), so a daemon itself,
        # yet joined at exit by concurrent.futures
        "t = threading.Thread(target=lambda: ThreadPoolExecutor(1).submit(time.sleep, 50), daemon=True)\n"
        "t.start()\nt.join()",
    ],
    ids=["a thread", "a pool's worker started by a daemon thread"],
)
def test_a_thread_still_at_work_does_not_keep_the_finished_command_alive(still_at_work: str) -> None:
    """A call abandoned at its deadline may go on in a thread the interpreter would wait for at exit (mlflow's
    own download pool, fed by a server that trickles): the command's answer is out, so the process ends."""
    setup = "import threading, time\nfrom concurrent.futures import ThreadPoolExecutor\n" + still_at_work
    began = time.monotonic()
    ran = _entry(setup, "--version")
    assert ran.returncode == 0, ran
    assert ran.stdout.startswith("kserve-gitops "), ran
    assert time.monotonic() - began < 30


@pytest.mark.parametrize("output", ["text", "json"])
def test_output_in_an_encoding_without_a_quoted_character_escapes_it(tmp_path: Path, output: str) -> None:
    """An ASCII or Latin-1 locale (here PYTHONIOENCODING) cannot encode the `ï` a finding quotes from models.yaml:
    standard output says it as `\\u00ef`, which `-o json` reads back as the character, and the command ends with its
    own code, not a UnicodeEncodeError (exit 3)."""
    models = "apiVersion: kserve-gitops/v1\nenvironments: {dev: {namespace: ml-dev}}\nmodels:\n  wïne:\n"
    (tmp_path / "models.yaml").write_text(models + "    registeredModel: wine\n    environments: {dev: {version: 1}}\n")
    environment = {**os.environ, "PYTHONIOENCODING": "ascii"}
    ran = subprocess.run(
        [sys.executable, "-m", "generator", "validate", "--repo", str(tmp_path), "-o", output],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 1, ran
    assert b"unexpected error" not in ran.stderr, ran
    assert b"invalid name 'w\\u00efne'" in ran.stdout, ran
    if output == "json":
        messages = [d["message"] for d in json.loads(ran.stdout)["findings"]]
        assert any("invalid name 'w\u00efne'" in m for m in messages), messages


def test_a_command_started_with_standard_output_closed_ends_without_a_traceback() -> None:
    """`kserve-gitops validate >&-`: Python then has no sys.stdout; what would be printed goes nowhere, and the
    process ends with the command's code, not with Python's "Exception ignored ... AttributeError"."""
    ran = _entry("sys.stdout = None", "--version")
    assert ran.returncode == 0, ran
    assert ran.stderr == "", ran


def _invalid_models(root: Path, count: int) -> Path:
    """A models.yaml whose `count` model names are all invalid: validate's report on it is ~250 bytes a model."""
    models = "".join(
        f"  BAD_{i}:\n    registeredModel: wine\n    environments: {{dev: {{version: 1}}}}\n" for i in range(count)
    )
    (root / "models.yaml").write_text(
        f"apiVersion: kserve-gitops/v1\nenvironments: {{dev: {{namespace: ml-dev}}}}\nmodels:\n{models}"
    )
    return root


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "PYTHONUNBUFFERED"])
@pytest.mark.parametrize(
    "argv",
    [["--version"], ["validate", "-o", "text"], ["validate", "-o", "json"], ["validate", "-o", "github"]],
    ids=["a line", "a text report", "a JSON document", "annotations"],
)
@pytest.mark.parametrize(
    "failure",
    [
        ("/dev/full", 2, "error: cannot write standard output: No space left on device\n"),
        ("a closed pipe", 141, ""),
    ],
    ids=["a full device", "a closed pipe"],
)
def test_output_that_cannot_be_written_ends_the_command_without_a_traceback(
    tmp_path: Path, argv: list[str], buffered: bool, failure: tuple[str, int, str]
) -> None:
    """`kserve-gitops validate > /dev/full` (a full disk, an I/O error) is this machine's problem: one line on
    standard error, exit 2. `kserve-gitops validate | head -c 10` is a reader that had enough: the command ends
    quietly, with the code a shell gives a command SIGPIPE ended (141), as other Unix tools end. Never "unexpected
    error" (exit 3), Python's "Exception ignored", or exit 120; whether the output was written at once or at the
    end, a few bytes or ~100 KB."""
    into, code, said = failure
    if argv[0] == "validate":
        argv = [*argv, "--repo", str(_invalid_models(tmp_path, 400))]
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        environment["PYTHONUNBUFFERED"] = "1"
    if into == "/dev/full":
        stdout = os.open("/dev/full", os.O_WRONLY)
    else:
        reader, stdout = os.pipe()
        os.close(reader)
    try:
        ran = subprocess.run(
            [sys.executable, "-m", "generator", *argv],
            cwd=ROOT,
            env=environment,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(stdout)
    assert (ran.returncode, ran.stderr) == (code, said)
