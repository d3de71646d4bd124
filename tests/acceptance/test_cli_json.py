"""One CLI contract: every command that reports prints, with `-o json`, one JSON document on stdout (docs/cli-json.md),
on success and on failure alike, nothing on stderr, and the same exit code as in text mode."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.acceptance.conftest import Result
from tests.support.git_remote import commit_all, git
from tests.support.paths import CRDS, REPO_ROOT

COMMON = {"command", "ok", "errors", "warnings", "findings"}
DIGEST = "sha256:" + "0" * 64

# (argv with {repo} for a fresh platform repository, the command a document names, exit code, its own keys)
SUCCEEDS = [
    (["validate", "--repo", "{repo}", "--crd-dir", str(CRDS)], "validate", 0, set()),
    (["lock", "--repo", "{repo}"], "lock", 0, {"changes", "written"}),
    (["render", "--repo", "{repo}", "--crd-dir", str(CRDS), "--check"], "render", 0, {"changes", "written"}),
    (["generate", "--repo", "{repo}", "--crd-dir", str(CRDS)], "generate", 0, {"changes", "written"}),
    (["init", "{repo}"], "init", 0, {"changes", "written"}),
    (["gate", "--repo", "{repo}"], "gate", 0, {"base"}),
    (["diff", "--repo", "{repo}", "--base", "HEAD"], "diff", 0, {"base", "changed", "directories"}),
    (["image", "pending", "--repo", "{repo}"], "image pending", 0, {"pending"}),
    (["schemas", "verify", "--repo", str(REPO_ROOT)], "schemas verify", 0, {"directory", "versions", "files"}),
    (
        ["schemas", "fetch", "--repo", str(REPO_ROOT)],
        "schemas fetch",
        0,
        {"directory", "versions", "changes", "written"},
    ),
]
FAILS = [
    (["validate", "--repo", "{empty}", "--crd-dir", str(CRDS)], "validate", 1),
    (["lock", "--repo", "{empty}"], "lock", 1),
    (["render", "--repo", "{empty}"], "render", 1),
    (["generate", "--repo", "{empty}"], "generate", 1),
    (["pin", "nope", "prod", "1", "--repo", "{repo}"], "pin", 1),
    (["unpin", "nope", "prod", "--repo", "{repo}"], "unpin", 1),
    (["init", "{repo}/models.yaml"], "init", 2),
    (["gate", "--repo", "{empty}"], "gate", 1),
    (["status", "--repo", "{empty}"], "status", 1),
    (["diff", "--repo", "{repo}", "--base", "no-such-ref"], "diff", 2),
    (["compat", "--repo", "{repo}"], "compat", 1),
    (["smoke-test", "nope", "--env", "prod", "--repo", "{repo}"], "smoke-test", 1),
    (["propose", "--repo", "{repo}"], "propose", 2),
    (["image", "pending", "--repo", "{empty}"], "image pending", 1),
    (
        ["image", "context", "nope", "--env", "prod", "--output", "{empty}/build", "--repo", "{repo}"],
        "image context",
        1,
    ),
    (["image", "record", "nope", "1", "not-a-digest", "--repo", "{repo}"], "image record", 1),
    (["schemas", "verify", "--repo", "{empty}"], "schemas verify", 1),
    (["schemas", "fetch", "--repo", "{empty}"], "schemas fetch", 1),
]


@pytest.fixture
def places(tmp_path: Path, cli: Callable[..., Result]) -> dict[str, str]:
    """A new platform repository (no model yet: nothing asks MLflow), committed, and an empty directory."""
    repo, empty = tmp_path / "platform", tmp_path / "empty"
    empty.mkdir()
    assert cli("init", str(repo)).code == 0
    git("init", "--quiet", "-b", "main", cwd=repo)
    commit_all(repo, "init")
    return {"repo": str(repo), "empty": str(empty)}


def _argv(template: list[str], places: dict[str, str]) -> list[str]:
    return [part.format(**places) for part in template]


@pytest.mark.parametrize("case", SUCCEEDS, ids=[" ".join(c[0][:2]) for c in SUCCEEDS])
def test_success_is_one_document_with_the_documented_keys(
    case: tuple[list[str], str, int, set[str]], places: dict[str, str], cli: Callable[..., Result]
) -> None:
    template, name, code, keys = case
    argv = _argv(template, places)
    text = cli(*argv)
    result = cli(*argv, "-o", "json")

    document = json.loads(result.out)
    assert (result.code, text.code) == (code, code)
    assert result.err == ""
    assert set(document) == COMMON | keys
    assert (document["command"], document["ok"]) == (name, True)
    assert document["errors"] == 0 and document["warnings"] == len(document["findings"])


@pytest.mark.parametrize(("template", "name", "code"), FAILS, ids=[" ".join(c[0][:2]) for c in FAILS])
def test_failure_is_the_same_document_with_ok_false_and_the_same_exit_code(
    template: list[str], name: str, code: int, places: dict[str, str], cli: Callable[..., Result]
) -> None:
    argv = _argv(template, places)
    text = cli(*argv)
    result = cli(*argv, "-o", "json")

    document = json.loads(result.out)
    assert (result.code, text.code) == (code, code), text.err
    assert result.err == ""
    assert text.err or name == "validate", "text mode says what failed on stderr (validate: its report, on stdout)"
    assert set(document) >= COMMON
    assert (document["command"], document["ok"]) == (name, False)
    assert document["errors"] >= 1
    assert all({"message", "severity"} <= set(f) for f in document["findings"])


def test_a_finding_reads_as_validate_prints_it(places: dict[str, str], cli: Callable[..., Result]) -> None:
    """One diagnostic shape: the error handler's findings are `validate -o json`'s."""
    failed = json.loads(cli("lock", "--repo", places["empty"], "-o", "json").out)
    validated = json.loads(cli("validate", "--repo", places["empty"], "--crd-dir", str(CRDS), "-o", "json").out)

    assert failed["findings"][0] in validated["findings"]


def test_drift_with_check_is_a_finding(places: dict[str, str], cli: Callable[..., Result]) -> None:
    (Path(places["repo"]) / "environments" / "dev" / "kustomization.yaml").unlink()

    result = cli("render", "--repo", places["repo"], "--crd-dir", str(CRDS), "--check", "-o", "json")

    document = json.loads(result.out)
    assert (result.code, document["ok"], document["written"]) == (1, False, False)
    assert document["changes"] == [{"action": "create", "path": "environments/dev/kustomization.yaml"}]
    assert document["findings"][-1]["hint"] == "run `kserve-gitops render`"


def _validate(repo: str, stderr: int) -> subprocess.CompletedProcess[bytes]:
    probe = "import sys; from generator.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", probe, "validate", "--repo", repo, "--crd-dir", str(CRDS)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        check=False,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "TERM": "xterm"},
    )


def test_progress_is_silent_when_stderr_is_not_a_terminal(places: dict[str, str]) -> None:
    result = _validate(places["repo"], subprocess.PIPE)

    assert (result.returncode, result.stdout, result.stderr) == (0, b"valid\n", b"")


def test_progress_shows_the_stage_on_a_terminal_and_leaves_stdout_alone(places: dict[str, str]) -> None:
    leader, follower = pty.openpty()
    try:
        result = _validate(places["repo"], follower)
        os.close(follower)
        shown = b""
        while chunk := _read(leader):
            shown += chunk
    finally:
        os.close(leader)

    assert (result.returncode, result.stdout) == (0, b"valid\n")
    assert b"validating" in shown and b"generated file(s)" in shown


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the terminal's other end is closed and everything was read
        return b""
