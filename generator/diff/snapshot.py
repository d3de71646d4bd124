"""`diff`'s only door to git: which commit is the base, and its files in a temporary directory.

The base is read from git's object store and written to a directory of its own, never checked out: the
user's checkout, index and HEAD stay exactly as they are, dirty or not.

Default base: the merge-base of `origin/HEAD` and `HEAD` (what `git diff origin/HEAD...` compares with), so a
branch that is behind its upstream shows only its own changes, which is what Argo CD applies once it merges;
`HEAD` when there is no `origin/HEAD` (a clone without a remote).

The base may be anyone's commit (a pull request from a fork, in CI), so its tree is written as untrusted
input: every entry is created inside the directory of the tree it belongs to, opened without following a
link, so nothing is ever written outside the export, and a tree no checkout would write (an entry twice, `..`)
is refused. A symbolic link is kept only when what it leads to is inside the export: kustomize follows links,
and one that leads out would have it read the host's files into the diff.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")  # no git on PATH: said where git runs (exit 2), not at import

from git import Repo
from git.exc import InvalidGitRepositoryError, NoSuchPathError
from gitdb.exc import BadName, BadObject

from generator.diagnostics import printable
from generator.errors import EnvironmentProblem
from generator.util.proc import CommandError, run_git

UPSTREAM = "origin/HEAD"
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Base:
    ref: str  # as the user named it, or how the default was chosen
    commit: str
    root: Path  # the platform repository's directory inside the exported tree


@contextmanager
def exported(root: Path, ref: str | None) -> Iterator[Base]:
    """The base commit's files under a temporary directory, removed on exit."""
    with _open(root) as repo, tempfile.TemporaryDirectory(prefix="kserve-gitops-base-") as tmp:
        top = Path(str(repo.working_tree_dir))
        sha, label = _resolve(top, ref)
        try:
            _export(repo, repo.commit(sha).tree.binsha, Path(tmp))
        except _Hostile as e:
            raise EnvironmentProblem.simple(
                f"base {label} (commit {sha[:12]}): its tree is malformed or hostile, no checkout would write it: "
                f"{printable(e.path)}: {e.why}",
                hint="compare with another commit (--base REF); `git fsck` names what is wrong with this one",
            ) from None
        prefix = root.resolve().relative_to(top.resolve())
        yield Base(label, sha, Path(tmp) / prefix)


def _open(root: Path) -> Repo:
    try:
        repo = Repo(root, search_parent_directories=True)
    except (InvalidGitRepositoryError, NoSuchPathError):
        raise EnvironmentProblem.simple(
            f"{root} is not inside a git repository: diff compares a git commit with the working tree",
            hint="run it in a clone of the platform repository, or point --repo at one",
        ) from None
    if repo.working_tree_dir is None:
        raise EnvironmentProblem.simple(
            f"{root} is a bare git repository: it has no working tree to compare",
            hint="run diff in a clone with a checkout",
        )
    return repo


def _resolve(top: Path, ref: str | None) -> tuple[str, str]:
    """The base's commit id and how to name it. git itself reads the ref, so every form `git log` takes works
    (`HEAD~2`, `@{-1}`, `main@{yesterday}`, a tag, an abbreviated id)."""
    if ref is not None and ref.startswith("-"):  # `--base --output=x`: the option was taken for the ref
        raise EnvironmentProblem.simple(
            f"--base {ref}: an option where a commit, branch or tag goes",
            hint="give --base its ref first, e.g. `kserve-gitops diff --base origin/main -o markdown`",
        )
    if ref is not None:
        sha = _commit(top, ref)
        if sha is None:
            raise EnvironmentProblem.simple(
                f"--base {ref}: no such commit, branch or tag in {top}", hint=_unknown(top, ref)
            )
        return sha, ref
    head = _commit(top, "HEAD")
    if head is None:
        raise EnvironmentProblem.simple(
            f"{top} has no commit yet: there is no base to compare with",
            hint="commit once, or name a base with --base REF",
        )
    upstream = _commit(top, UPSTREAM)
    if upstream is None:
        return head, "HEAD"
    try:
        common = run_git(top, "merge-base", upstream, head).strip()
    except CommandError as e:
        if e.rc != 1:  # 1: no common history
            raise EnvironmentProblem.simple(
                f"git could not find where HEAD left {UPSTREAM} in {top}: {printable(e.stderr.strip())}",
                hint="name a base with --base REF, or check the repository with `git fsck`",
            ) from None
        common = ""
    if common:
        return common, f"merge-base of {UPSTREAM} and HEAD"
    if _shallow(top):
        raise EnvironmentProblem.simple(
            f"{top} is a shallow clone: git cannot find where HEAD left {UPSTREAM}, and {UPSTREAM} as it is now would "
            "show the branch undoing what was merged there since",
            hint="fetch the history (`git fetch --unshallow`; actions/checkout with `fetch-depth: 0`), or name a "
            "base with --base REF",
        )
    return upstream, UPSTREAM  # no common history: the upstream as it is


def _unknown(top: Path, ref: str) -> str:
    """What to do about a --base git does not know. A shallow clone (actions/checkout's default) may simply not reach
    it, as with `HEAD^1` at depth 1: fetching more history is the fix there, not `git fetch origin HEAD^1`."""
    if "@{" in ref:
        return "`git reflog` lists what this clone's HEAD and branches were"
    if _shallow(top):
        return (
            "this clone is shallow and its history may not reach it: fetch more (`git fetch --deepen=N`, "
            "`git fetch --unshallow`; actions/checkout with `fetch-depth: 2` reaches HEAD^1, `0` everything)"
        )
    return f"name an existing ref (`git branch -a`, `git log --oneline`), or fetch it first: `git fetch origin {ref}`"


def _shallow(top: Path) -> bool:
    return run_git(top, "rev-parse", "--is-shallow-repository").strip() == "true"


def _commit(top: Path, ref: str) -> str | None:
    """The commit `ref` names, or None when git knows no such commit (or no commit yet, for HEAD). A git that will not
    read the repository at all (exit 128: "dubious ownership", a broken .git) says so in its own words."""
    try:
        return run_git(top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}").strip()
    except CommandError as e:
        if e.rc != 1:  # 128 for a reflog entry past the log's end as well as for a repository git refuses
            _readable(top)
        return None


def _readable(top: Path) -> None:
    """Refuse, in git's words, a repository git will not read at all."""
    try:
        run_git(top, "rev-parse", "--git-dir")
    except CommandError as e:
        raise EnvironmentProblem.simple(
            f"git cannot read the repository {top}: {printable((e.stderr.strip().splitlines() or [''])[0])}",
            hint="do what git says (a checkout another user owns needs `git config --global --add safe.directory "
            "DIR`), then run diff again",
        ) from None


class _Hostile(Exception):
    """An entry of the base's tree that no checkout would write, and why."""

    def __init__(self, at: tuple[bytes, ...], why: str) -> None:
        super().__init__(at, why)
        self.path = os.fsdecode(b"/".join(at)) or "the root tree"
        self.why = why


@dataclass(frozen=True)
class _Entry:
    kind: int  # the mode's type bits, shifted: _TREE, _FILE, _LINK or _GITLINK
    mode: int
    name: bytes
    binsha: bytes


_TREE, _FILE, _LINK, _GITLINK = 0o04, 0o10, 0o12, 0o16
_NOT_A_NAME = (b"", b".", b"..")


def _export(repo: Repo, tree: bytes, dest: Path) -> None:
    """Every file of the tree, as a checkout would write it; submodules stay empty, as in a plain clone.

    The tree is read entry by entry from git's object store (not through a library that may or may not check
    names), and each entry is created relative to its directory's open descriptor, exclusively and without
    following links: a link the tree holds cannot redirect a later entry. Then links leading out of `dest` are
    replaced."""
    links: list[tuple[tuple[bytes, ...], bytes]] = []
    fd = os.open(dest, _DIR)
    try:
        _write_tree(repo, tree, fd, (), links)
    finally:
        os.close(fd)
    _contain(dest, links)


def _write_tree(
    repo: Repo, binsha: bytes, dir_fd: int, at: tuple[bytes, ...], links: list[tuple[tuple[bytes, ...], bytes]]
) -> None:
    for entry in _entries(_read(repo, binsha, b"tree", at), at):
        parts = (*at, entry.name)
        try:
            if entry.kind == _TREE:
                os.mkdir(entry.name, 0o755, dir_fd=dir_fd)
                fd = os.open(entry.name, _DIR, dir_fd=dir_fd)
                try:
                    _write_tree(repo, entry.binsha, fd, parts, links)
                finally:
                    os.close(fd)
            elif entry.kind == _GITLINK:
                os.mkdir(entry.name, 0o755, dir_fd=dir_fd)
            elif entry.kind == _LINK:
                target = _read(repo, entry.binsha, b"blob", parts)
                if not target or b"\0" in target:
                    raise _Hostile(parts, "a symbolic link without a valid target")
                os.symlink(target, entry.name, dir_fd=dir_fd)
                links.append((parts, target))
            else:
                mode = 0o755 if entry.mode & 0o100 else 0o644
                _write_file(dir_fd, entry.name, _read(repo, entry.binsha, b"blob", parts), mode)
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ELOOP, errno.ENOTDIR):
                raise
            raise _Hostile(parts, "it would be written over another entry or through a link") from None


def _read(repo: Repo, binsha: bytes, kind: bytes, at: tuple[bytes, ...]) -> bytes:
    """The object's content, which the tree says is a `kind`."""
    try:
        stream = repo.odb.stream(binsha)
    except (BadName, BadObject, ValueError):
        raise _Hostile(at, f"its {kind.decode()} {binsha.hex()} is not in the repository") from None
    if stream.type != kind:
        raise _Hostile(at, f"the tree says {binsha.hex()} is a {kind.decode()}, git has a {stream.type.decode()}")
    return bytes(stream.read())


def _entries(data: bytes, at: tuple[bytes, ...]) -> list[_Entry]:
    """A tree object's entries (`<octal mode> <name>NUL<20-byte id>` each), each one a name a checkout writes
    (git's verify_path: no `.`, `..`, `.git`, empty name or `/`) and none twice (git fsck: duplicateEntries)."""
    entries: list[_Entry] = []
    seen: set[bytes] = set()
    offset = 0
    while offset < len(data):
        space = data.find(b" ", offset)
        nul = data.find(b"\0", space + 1) if space >= 0 else -1
        digits = data[offset:space] if space >= 0 else b""
        if nul < 0 or nul + 21 > len(data) or not digits or digits.strip(b"01234567"):
            raise _Hostile(at, "a truncated or garbled tree object")
        mode, name = int(digits, 8), data[space + 1 : nul]
        offset = nul + 21
        if name in _NOT_A_NAME or b"/" in name or name.lower() == b".git":
            raise _Hostile((*at, name), "not a name git checks out (`.`, `..`, `.git`, empty, or with a `/`)")
        if name in seen:
            raise _Hostile((*at, name), "two entries of this name in one tree (git fsck: duplicateEntries)")
        if mode >> 12 not in (_TREE, _FILE, _LINK, _GITLINK):
            raise _Hostile((*at, name), f"an entry of unknown mode {mode:o}")
        seen.add(name)
        entries.append(_Entry(mode >> 12, mode, name, data[nul + 1 : offset]))
    return entries


def _write_file(dir_fd: int, name: bytes, data: bytes, mode: int) -> None:
    fd = os.open(name, _NEW_FILE, mode, dir_fd=dir_fd)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _contain(dest: Path, links: list[tuple[tuple[bytes, ...], bytes]]) -> None:
    """Links whose target, followed through every other link, is outside `dest` become plain files holding the
    target (what git writes with core.symlinks=false). Judged with all links in place: turning one into a file
    can only break a path through it, never lead one out."""
    top = os.path.realpath(os.fsencode(dest))
    outside = [(parts, target) for parts, target in links if not _inside(os.path.join(top, *parts), top)]
    for parts, target in outside:
        fd = _open_dir(dest, parts[:-1])
        try:
            os.unlink(parts[-1], dir_fd=fd)
            _write_file(fd, parts[-1], target, 0o644)
        finally:
            os.close(fd)


def _inside(link: bytes, top: bytes) -> bool:
    return os.path.commonpath([os.path.realpath(link), top]) == top


def _open_dir(dest: Path, parts: tuple[bytes, ...]) -> int:
    """A directory of the export, reached without following a link."""
    fd = os.open(dest, _DIR)
    for name in parts:
        try:
            child = os.open(name, _DIR, dir_fd=fd)
        finally:
            os.close(fd)
        fd = child
    return fd
