"""Hostile input through the CLI: clear errors, exit 1, nothing written, no secret and no foreign file shown."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from generator.generated import GENERATED_MARK
from generator.util.files import MAX_YAML_BYTES
from tests.acceptance.conftest import Result
from tests.support.git_remote import commit_all, git
from tests.support.paths import CRDS, copy_example
from tests.support.unprivileged import unprivileged
from tests.unit.smoke.conftest import serving

SPEC = """\
apiVersion: kserve-gitops/v1
{registry}environments:
  dev: {{namespace: {namespace}}}
models:
  wine:
    registeredModel: wine
    environments: {{dev: {{version: 1}}}}
"""
LOCK = """\
lockVersion: 1
models:
  wine:
    dev:
      registeredModel: wine
      reference: {version: '1'}
      version: '1'
      runId: r1
      source: s3://bucket/1/model
      artifactUri: s3://bucket/1/model
"""


DESTINATION = "artifactsDestination: s3://bucket"


def _repo(root: Path, *, namespace: str = "ml-dev", registry: str = f"registry: {{{DESTINATION}}}\n") -> Path:
    root.mkdir()
    (root / "models.yaml").write_text(SPEC.format(namespace=namespace, registry=registry))
    (root / "models.lock").write_text(LOCK)
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_valid_repository_renders(tmp_path: Path, cli: Callable[..., Result]) -> None:
    """The baseline the other cases break: the same files do render."""
    repo = _repo(tmp_path / "repo")
    result = cli("render", "--repo", str(repo))
    assert result.code == 0, result.err
    assert "namespace: ml-dev" in (repo / "environments" / "dev" / "wine.yaml").read_text()


def test_a_lock_symlinked_to_another_file_is_named_and_its_content_never_shown(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    repo = _repo(tmp_path / "repo")
    foreign = tmp_path / "passwd"
    foreign.write_text("root:x:0:0:root:/root:/bin/bash\noperator:x:11:0:s3cr3t-gecos:/root:/sbin/nologin\n")
    (repo / "models.lock").unlink()
    (repo / "models.lock").symlink_to(foreign)
    before = _files(repo)
    for command in ("validate", "render"):
        result = cli(command, "--repo", str(repo))
        assert result.code == 1
        said = result.out + result.err
        assert "models.lock" in said and "cannot read: a symbolic link" in said
        assert "s3cr3t-gecos" not in result.out + result.err and "/bin/bash" not in result.out + result.err
    assert _files(repo) == before


def test_a_spec_that_is_a_device_is_refused_unread(tmp_path: Path, cli: Callable[..., Result]) -> None:
    repo = _repo(tmp_path / "repo")
    (repo / "models.yaml").unlink()
    (repo / "models.yaml").symlink_to("/dev/zero")
    result = cli("render", "--repo", str(repo))
    assert result.code == 1
    assert "models.yaml: cannot read: a symbolic link" in result.err  # what it points to is not even opened


def test_an_alias_bomb_is_refused_at_its_line_and_nothing_is_written(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    repo = _repo(tmp_path / "repo")
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    (repo / "models.yaml").write_text(bomb + (repo / "models.yaml").read_text())
    before = _files(repo)
    result = cli("render", "--repo", str(repo))
    assert result.code == 1
    assert "models.yaml:5:" in result.err and "alias bomb" in result.err
    assert _files(repo) == before


def test_validate_does_not_walk_an_environments_directory_linked_outside_the_repository(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """The link is refused; what it points to (here a tree with an unrelated YAML file, in life `/` or a home
    directory, which would take for ever) is neither listed nor read as generated files."""
    repo = _repo(tmp_path / "repo")
    assert cli("render", "--repo", str(repo)).code == 0
    outside = tmp_path / "outside"
    (outside / "unrelated" / "deep").mkdir(parents=True)
    (outside / "unrelated" / "deep" / "notes.yaml").write_text("kind: [\n")
    shutil.rmtree(repo / "environments")
    (repo / "environments").symlink_to(outside, target_is_directory=True)
    result = cli("validate", "--repo", str(repo))
    assert result.code == 1
    assert "environments\n  is a symbolic link" in result.out
    assert "notes.yaml" not in result.out + result.err


def test_a_base_lock_larger_than_the_yaml_limit_is_refused_unread(tmp_path: Path, cli: Callable[..., Result]) -> None:
    """The limit models.lock on disk is held to holds for the lock committed at --base too."""
    repo = _repo(tmp_path / "repo")
    git("init", "--quiet", "-b", "main", cwd=repo)
    (repo / "models.lock").write_text(LOCK + "#" * MAX_YAML_BYTES + "\n")
    commit_all(repo, "A lock grown past the limit")
    (repo / "models.lock").write_text(LOCK)
    result = cli("gate", "--repo", str(repo), "--base", "HEAD")
    assert result.code == 1, result.err
    assert "HEAD:models.lock: larger than 16 MiB, the limit for a YAML file" in result.err


@pytest.mark.parametrize("namespace", ['"ml-dev\\n"', '"ml-dev\\n\\n"', "ml_dev"])
def test_a_namespace_with_a_trailing_newline_is_refused(
    namespace: str, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    repo = _repo(tmp_path / "repo", namespace=namespace)
    before = _files(repo)
    result = cli("render", "--repo", str(repo))
    assert result.code == 1
    assert "$.environments.dev.namespace" in result.err
    assert _files(repo) == before


def test_debug_output_never_shows_a_password_even_one_containing_an_at_sign(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    repo = _repo(
        tmp_path / "repo",
        registry=f'registry: {{trackingUri: "http://alice:pa@ss-w0rd@mlflow.example", {DESTINATION}}}\n',
    )
    result = cli("--debug", "render", "--repo", str(repo))
    assert result.code == 1
    assert "Traceback" in result.err
    assert "trackingUri must be an http:// or https:// URL with no user, password or token in it" in result.err
    assert "pa@ss" not in result.err + result.out and "ss-w0rd" not in result.err + result.out


@contextlib.contextmanager
def _special(path: Path, kind: str) -> Iterator[None]:
    """A FIFO or a (bound, listening) Unix socket at `path` while the context lasts."""
    if kind == "fifo":
        os.mkfifo(path)
        yield
        return
    with socket.socket(socket.AF_UNIX) as listening, contextlib.chdir(path.parent):
        listening.bind(path.name)  # a socket's path is limited to ~100 bytes: bound by a relative one
        listening.listen()
        yield


@pytest.mark.parametrize("kind", ["fifo", "socket"])
@pytest.mark.parametrize("where", ["environments/dev/wine.yaml", "models.yaml"])
def test_a_fifo_or_socket_in_the_repository_is_refused_without_waiting_on_it(
    where: str, kind: str, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """A FIFO blocks whoever opens it until a writer comes, which never happens, and a socket cannot be opened at
    all: in place of an output, or of models.yaml, every command answers at once, names it, and leaves it where it
    is. kustomize is never asked to build a kustomization beside it (it would wait for ever on a FIFO)."""
    repo = _repo(tmp_path / "repo")
    assert cli("render", "--repo", str(repo)).code == 0
    special = repo / where
    special.unlink()
    with _special(special, kind):
        commands = [["render"], ["generate"], ["validate"]]
        if where == "models.yaml":
            commands.append(["pin", "wine", "dev", "1"])  # reads models.yaml to edit it
        for command in commands:
            result = cli(*command, "--repo", str(repo))
            assert result.code == 1, command
            assert where in result.out + result.err, command
        assert not stat.S_ISREG(special.lstat().st_mode)
        if where != "models.yaml":
            result = cli("validate", "--repo", str(repo))
            assert f"{where} is not a regular file (a FIFO, device or socket)" in result.out
            assert "refusing to overwrite it" in result.out


def test_a_huge_file_in_place_of_an_output_is_never_read_whole(tmp_path: Path, cli: Callable[..., Result]) -> None:
    """A sparse file of 20 GiB takes no room on disk and would take 20 GiB of memory to read (kustomize too reads
    the files it builds whole). It starts as a generated file does, yet no run wrote it: it is refused, kept, and
    kustomize is not given the directory it is in."""
    repo = _repo(tmp_path / "repo")
    assert cli("render", "--repo", str(repo)).code == 0
    huge = repo / "environments/dev/wine.yaml"
    with huge.open("r+b") as handle:
        handle.truncate(20 * 2**30)
    for command in ("render", "generate", "validate"):
        result = cli(command, "--repo", str(repo))
        assert result.code == 1, command
        assert "environments/dev/wine.yaml" in result.out + result.err, command
    validated = cli("validate", "--repo", str(repo)).out
    assert "environments/dev/wine.yaml is larger than 16 MiB: kustomize would read it whole" in validated
    assert "remove it (`rm environments/dev/wine.yaml`), then run `kserve-gitops render`" in validated
    assert huge.stat().st_size == 20 * 2**30


def test_a_write_journal_planted_in_the_repository_steers_nothing_outside_it(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """A pull request can commit `.kserve-gitops/journal` (`git add -f`). A recovery it steered would rename and
    delete files wherever CI's checkout can write, from a read-only `validate` too: it is refused, not acted on."""
    repo, victim = _repo(tmp_path / "repo"), tmp_path / "victim"
    victim.mkdir()
    (victim / "data.txt").write_text("precious\n")
    assert cli("render", "--repo", str(repo)).code == 0
    before = _files(repo)
    (repo / ".kserve-gitops").mkdir()
    journal = {"run": "../../victim", "files": [], "existed": [], "dirs": [], "committed": False}
    (repo / ".kserve-gitops/journal").write_text(json.dumps(journal))
    for command in ("validate", "render", "status"):
        result = cli(command, "--repo", str(repo))
        assert result.code == 2, command
        assert "a write journal was left here, but it is not a journal this tool writes" in result.err, command
        assert "Traceback" not in result.err and "unexpected error" not in result.err
    assert (victim / "data.txt").read_text() == "precious\n"
    assert {p: c for p, c in _files(repo).items() if not p.startswith(".kserve-gitops/")} == before


def _plant(repo: Path, files: list[list[object]], dirs: Sequence[str] = ()) -> None:
    """A journal as a killed run leaves it, each file's kept copy saying `planted`: put there by a pull request."""
    (repo / ".kserve-gitops/run-abc/old").mkdir(parents=True)
    (repo / ".kserve-gitops/run-abc/new").mkdir()
    for index in range(len(files)):
        (repo / f".kserve-gitops/run-abc/old/{index}").write_text("planted\n")
    journal = {"run": "run-abc", "files": files, "existed": [True] * len(files), "dirs": list(dirs), "committed": False}
    (repo / ".kserve-gitops/journal").write_text(json.dumps(journal))


@pytest.mark.parametrize(
    ("files", "dirs", "said"),
    [
        ([["Makefile", None]], [], "it names Makefile, which no kserve-gitops command writes"),
        ([["environments.d/x.yaml", None]], [], "it names environments.d/x.yaml, which no kserve-gitops command"),
        ([], ["src"], "it names the directory src, which no kserve-gitops command makes"),
    ],
    ids=["a file of the tree", "a look-alike of an output directory", "a directory"],
)
def test_a_journal_outside_a_git_checkout_may_name_only_what_commands_write(
    tmp_path: Path, cli: Callable[..., Result], files: list[list[object]], dirs: list[str], said: str
) -> None:
    """Where git cannot say whether a journal came with a commit (a tree that is no git checkout), only the paths
    commands write could ever be put back: a journal naming any other file of the tree is refused."""
    repo = _repo(tmp_path / "repo")
    assert cli("render", "--repo", str(repo)).code == 0
    (repo / "Makefile").write_text("test:\n\tpytest\n")
    (repo / "src").mkdir()
    before = _files(repo)
    _plant(repo, files, dirs)
    result = cli("validate", "--repo", str(repo))
    assert result.code == 2, result.err
    assert f"error: .kserve-gitops/journal: a write journal was left here, but {said}" in result.err
    assert "delete .kserve-gitops/" in result.err
    assert {p: c for p, c in _files(repo).items() if not p.startswith(".kserve-gitops/")} == before


@pytest.mark.parametrize("checkout", ["broken", "owned by another user"])
def test_a_journal_in_a_checkout_git_cannot_answer_for_is_refused(
    tmp_path: Path, cli: Callable[..., Result], checkout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside a git checkout, a git that cannot say whether it tracks the journal (a `.git` it cannot read, or its
    refusal of a checkout another user owns, as in CI containers) is no answer: the journal is refused, not obeyed."""
    repo = _repo(tmp_path / "repo")
    assert cli("render", "--repo", str(repo)).code == 0
    output = "environments/dev/wine.yaml"
    _plant(repo, [[output, hashlib.sha256((repo / output).read_bytes()).hexdigest()]])
    if checkout == "broken":
        (repo / ".git").write_text(f"gitdir: {tmp_path / 'gone'}\n")
    else:
        if os.geteuid() != 0:
            pytest.skip("needs root, to give the checkout to another user")
        monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)  # no safe.directory of this machine's
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        os.chown(repo, 65534, 65534)
    before = _files(repo)
    result = cli("validate", "--repo", str(repo))
    assert result.code == 2, result.err
    assert "but git cannot say whether it tracks .kserve-gitops/ (git: fatal: " in result.err
    assert "safe.directory" in result.err
    assert _files(repo) == before


@pytest.mark.parametrize("where", ["models.yaml", "models.lock", "environments/dev/wine.yaml"])
def test_a_control_character_is_located_invalid_yaml_not_an_unexpected_error(
    where: str, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """YAML allows no control characters; libyaml reports one by byte offset, which is turned into a line."""
    repo = _repo(tmp_path / "repo")
    assert cli("render", "--repo", str(repo)).code == 0
    with (repo / where).open("ab") as handle:
        handle.write(b"# \x01\n")
    lines = (repo / where).read_text().count("\n")
    for command in ("validate", "render"):
        result = cli(command, "--repo", str(repo))
        said = result.out + result.err
        assert "unexpected error" not in said and "Traceback" not in said, command
        if command == "validate" or where != "environments/dev/wine.yaml":  # render writes the output back
            assert result.code == 1, command
            assert f"{lines}:3: invalid YAML: character U+0001 is not allowed" in said, command


@pytest.mark.parametrize(
    ("name", "mark", "hint"),
    [
        ("extra.yaml", b"", "save it as UTF-8 (kserve-gitops did not write it"),
        ("wine.yaml", GENERATED_MARK.encode(), "render it again with `kserve-gitops render`"),
    ],
)
def test_a_file_that_is_not_utf8_is_told_the_fix_that_works_for_it(
    tmp_path: Path, cli: Callable[..., Result], name: str, mark: bytes, hint: str
) -> None:
    """render puts a generated file right, and leaves one it did not write to its owner."""
    repo = _repo(tmp_path / "repo")
    assert cli("render", "--repo", str(repo)).code == 0
    (repo / "environments/dev" / name).write_bytes(mark + b"\nkind: Caf\xe9\n")
    result = cli("validate", "--repo", str(repo))
    assert result.code == 1
    assert f"environments/dev/{name}" in result.out and hint in result.out, result.out


@pytest.mark.parametrize("unreadable", ["environments/dev/wine.yaml", "environments/dev"])
def test_an_output_this_user_cannot_read_is_named_not_an_unexpected_error(unreadable: str, tmp_path: Path) -> None:
    """A generated file (or its directory) this user may not read cannot be compared, so it is not written over:
    the command names it and says how to fix it, and writes nothing."""
    repo = _repo(tmp_path / "repo")
    environ = {**os.environ, "KSERVE_GITOPS_CACHE_DIR": "off"}
    command = [sys.executable, "-m", "generator"]
    subprocess.run([*command, "render", "--repo", str(repo)], env=environ, capture_output=True, check=True)
    before = _files(repo)
    (repo / unreadable).chmod(0)
    try:
        for name, code in (("render", 2), ("validate", 1)):
            result = subprocess.run(
                [*unprivileged(), *command, name, "--repo", str(repo)],
                env=environ,
                capture_output=True,
                text=True,
                check=False,
            )
            said = result.stdout + result.stderr
            assert result.returncode == code, said
            assert "cannot read: Permission denied" in said and "make it readable for this user" in said, said
            assert "unexpected error" not in said and "Traceback" not in said
    finally:
        (repo / unreadable).chmod(0o755 if unreadable == "environments/dev" else 0o644)
    assert _files(repo) == before


def _as_this_user(name: str, repo: Path) -> subprocess.CompletedProcess[str]:
    """`kserve-gitops NAME --repo REPO` as a user whom file permissions stop (tests.support.unprivileged)."""
    return subprocess.run(
        [*unprivileged(), sys.executable, "-m", "generator", name, "--repo", str(repo)],
        env={**os.environ, "KSERVE_GITOPS_CACHE_DIR": "off"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("closed", "journal"),
    [(".kserve-gitops", True), (".kserve-gitops/run-abc", True), (".kserve-gitops/run-abc", False)],
    ids=["its state directory", "a killed run's staging area", "a staging area without a journal"],
)
def test_what_a_run_as_another_user_left_in_the_state_directory_is_named_not_an_unexpected_error(
    tmp_path: Path, closed: str, journal: bool
) -> None:
    """A run as root, killed while writing, leaves a staging area (mode 0700) only root may read: every later command
    by another user says which path it cannot read and what to do (exit 2), and changes nothing."""
    repo = _repo(tmp_path / "repo")
    _plant(repo, [["environments/dev/wine.yaml", None]])
    if not journal:
        (repo / ".kserve-gitops/journal").unlink()
    before = _files(repo)
    (repo / closed).chmod(0)
    try:
        result = _as_this_user("validate", repo)
    finally:
        (repo / closed).chmod(0o700)
    said = result.stdout + result.stderr
    assert result.returncode == 2, said
    assert f"error: {closed}" in said and "Permission denied" in said, said
    assert "check their owner and permissions" in said, said
    assert "unexpected error" not in said and "Traceback" not in said
    assert _files(repo) == before


def test_a_state_directory_this_user_cannot_write_is_named_not_an_unexpected_error(tmp_path: Path) -> None:
    """Left by a run as root (it holds only its `.gitignore`): a write by another user fails naming it (exit 2)."""
    repo = _repo(tmp_path / "repo")
    (repo / ".kserve-gitops").mkdir()
    (repo / ".kserve-gitops/.gitignore").write_text("*\n")
    before = _files(repo)
    (repo / ".kserve-gitops").chmod(0o555)
    try:
        result = _as_this_user("render", repo)
    finally:
        (repo / ".kserve-gitops").chmod(0o755)
    said = result.stdout + result.stderr
    assert result.returncode == 2, said
    assert "error: .kserve-gitops: cannot write: Permission denied" in said, said
    assert "check its owner and permissions" in said, said
    assert "unexpected error" not in said and "Traceback" not in said
    assert _files(repo) == before


SHADOW = "root:$6$abcdefgh$Zq1FAKEHASH:19000:0:99999:7:::\n"


@pytest.mark.parametrize("link", ["models.yaml", "models.lock", "environments/dev/extra.yaml"])
def test_a_file_of_the_repository_linked_to_one_outside_is_not_read(
    link: str, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """A pull request can commit `models.lock -> /etc/shadow`; CI's `validate` would quote what it read in its
    findings, into a public log. The repository's own files are read only as regular files in it."""
    repo, secret = _repo(tmp_path / "repo"), tmp_path / "shadow"
    secret.write_text(SHADOW)
    assert cli("render", "--repo", str(repo)).code == 0
    (repo / link).unlink(missing_ok=True)
    (repo / link).symlink_to(secret)
    for command in ("validate", "render", "status"):
        result = cli(command, "--repo", str(repo))
        said = result.out + result.err
        assert "FAKEHASH" not in said and "abcdefgh" not in said, command
        assert "unexpected error" not in said, command
        if command != "status":  # status names what it could not read, and goes on
            assert result.code != 0, command
            assert f"{link}" in said and "symbolic link" in said, command


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("init", "{loop}"), "cannot open the repository {loop}: Too many levels of symbolic links"),
        (("init", "{loop}/sub"), "cannot open the repository {loop}/sub: Too many levels of symbolic links"),
        (("status", "--repo", "{loop}"), "cannot follow {loop}: a loop of symbolic links"),
        (("diff", "--repo", "{loop}"), "cannot follow {loop}: a loop of symbolic links"),
        (("validate", "--crd-dir", "{loop}"), "cannot follow {loop}: a loop of symbolic links"),
    ],
)
def test_a_loop_of_symbolic_links_as_a_directory_is_exit_2_naming_it(
    tmp_path: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], said: str
) -> None:
    loop = tmp_path / "loop1"
    loop.symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(loop)
    monkeypatch.chdir(tmp_path)
    result = cli(*(arg.format(loop=loop) for arg in args))
    assert (result.code, result.err.splitlines()[0]) == (2, f"error: {said.format(loop=loop)}")


@pytest.mark.parametrize(
    ("spec", "line"),
    [
        (SPEC.replace("environments: {{dev: {{version: 1}}}}", "environments:\n      dev:\n\tversion: 1"), 10),
        (SPEC + "---\nmodels: {{}}\n", 9),
        (SPEC.replace("environments: {{dev: {{version: 1}}}}", "environments:\n      dev:"), 9),
    ],
    ids=["tab", "two documents", "no mapping"],
)
@pytest.mark.parametrize("command", [["pin", "wine", "dev", "1"], ["unpin", "wine", "dev"]])
def test_pin_and_unpin_of_a_spec_they_cannot_edit_say_where_and_write_nothing(
    spec: str, line: int, command: list[str], tmp_path: Path, cli: Callable[..., Result]
) -> None:
    repo = _repo(tmp_path / "repo")
    (repo / "models.yaml").write_text(spec.format(namespace="ml-dev", registry=f"registry: {{{DESTINATION}}}\n"))
    before = _files(repo)
    result = cli(*command, "--repo", str(repo))
    assert (result.code, "unexpected error" in result.err) == (1, False), result.err
    assert f"models.yaml:{line}:" in result.err
    assert _files(repo) == before


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("status",), (0, "warning: cannot use the MLflow registry at http://***@[::1: Invalid IPv6 URL, so gates")),
        (("lock", "--update"), (2, "error: cannot use the MLflow registry at http://***@[::1: Invalid IPv6 URL")),
    ],
)
def test_a_tracking_uri_that_is_not_a_url_is_named_by_every_command_that_asks_mlflow(
    tmp_path: Path,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    command: tuple[str, ...],
    expected: tuple[int, str],
) -> None:
    """mlflow's client raises ValueError when it is made for one: `status` read gates with a client of its own, and
    ended in an unexpected error (exit 3). It now says so, as the registry being down is said."""
    repo = _repo(tmp_path / "repo")
    gated = "dev: {namespace: ml-dev, gates: {metrics: {accuracy: {min: 0.9}}}}"
    (repo / "models.yaml").write_text((repo / "models.yaml").read_text().replace("dev: {namespace: ml-dev}", gated))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://u:secret@[::1")
    done = cli(*command, "--repo", str(repo))
    code, said = expected
    assert done.code == code and said in done.err
    assert "secret" not in done.out + done.err


class _NotMlflow(BaseHTTPRequestHandler):
    """Answers every call 200 with JSON that does not fit MLflow's messages: a version that is an object."""

    def _answer(self) -> None:
        body = b'{"model_version": {"name": "wine", "version": {"no": 1}}, "model_versions": [{"version": {"no": 1}}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_a_server_that_answers_but_not_as_mlflow_does_is_said_by_status_not_an_unexpected_error(
    tmp_path: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """mlflow reads each answer into its protobuf messages and raises protobuf's ParseError when one does not fit:
    the gate facts and the deployment tags `status` reads ended in an unexpected error (exit 3)."""
    repo = _repo(tmp_path / "repo")
    gated = "dev: {namespace: ml-dev, gates: {metrics: {accuracy: {min: 0.9}}}}"
    (repo / "models.yaml").write_text((repo / "models.yaml").read_text().replace("dev: {namespace: ml-dev}", gated))
    monkeypatch.setenv("KSERVE_GITOPS_HTTP_RETRIES", "0")
    with serving(_NotMlflow) as url:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        done = cli("status", "--repo", str(repo))
    assert done.code == 0, done.err
    assert f"warning: cannot evaluate the gates of 1 model version(s): MLflow at {url}: it answered, but not as " in (
        done.err
    )
    assert "not as MLflow does (Failed to parse" in done.err
    assert "unexpected error" not in done.err


@pytest.mark.parametrize(
    ("closed", "said"),
    [
        ("kserve", "cannot read this CRD file: Permission denied"),
        ("crds.lock.yaml", "cannot read this CRD file: Permission denied"),
        (".", "schemas/crds: cannot read: Permission denied"),
    ],
    ids=["a directory of CRDs", "their lock", "the CRD directory itself, which is not a missing one"],
)
def test_crds_this_user_may_not_read_are_named_not_an_unexpected_error(tmp_path: Path, closed: str, said: str) -> None:
    """A CRD directory or crds.lock.yaml left by another user (root's `schemas fetch`): the checks cannot run on
    them, which is this machine's problem (exit 2), said with its fix; nothing is written."""
    repo = copy_example(tmp_path / "repo")
    shutil.copytree(CRDS, repo / "schemas" / "crds")
    before = _files(repo)
    closing = repo / "schemas" / "crds" / closed
    mode = closing.stat().st_mode
    closing.chmod(0)
    try:
        for name in ("render", "validate"):
            result = _as_this_user(name, repo)
            output = result.stdout + result.stderr
            assert result.returncode == 2, output
            assert said in output, output
            assert "make it readable for this user" in output, output
            assert "unexpected error" not in output and "Traceback" not in output, output
    finally:
        closing.chmod(mode)
    assert _files(repo) == before


@pytest.mark.parametrize("closed", ["models.yaml", "models.lock"])
def test_an_input_this_user_may_not_read_is_the_machines_problem_with_its_fix(tmp_path: Path, closed: str) -> None:
    """models.yaml or models.lock left by another user (root's run, a checkout as root): exit 2 with the fix, and no
    Python error text (`[Errno 13]`, the absolute path) in place of a message."""
    repo = _repo(tmp_path / "repo")
    (repo / closed).chmod(0)
    try:
        for name in ("render", "status"):
            result = _as_this_user(name, repo)
            assert result.returncode == 2, result.stderr
            assert result.stderr == (
                f"error: {closed}: cannot read: Permission denied\n"
                "  fix: make it readable for this user, and the directories above it searchable (`ls -la`)\n"
            )
    finally:
        (repo / closed).chmod(0o644)
