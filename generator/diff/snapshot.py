"""`diff`'s only door to git (gitpython): which commit is the base, and its files in a temporary directory.

The base is read from git's object store and written to a directory of its own, never checked out: the
user's checkout, index and HEAD stay exactly as they are, dirty or not.

Default base: the merge-base of `origin/HEAD` and `HEAD` (what `git diff origin/HEAD...` compares with), so a
branch that is behind its upstream shows only its own changes, which is what Argo CD applies once it merges;
`HEAD` when there is no `origin/HEAD` (a clone without a remote).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from git import Blob, Commit, Repo, Tree
from git.exc import InvalidGitRepositoryError, NoSuchPathError
from gitdb.exc import BadName, BadObject

from generator.errors import EnvironmentProblem

UPSTREAM = "origin/HEAD"


@dataclass(frozen=True)
class Base:
    ref: str  # as the user named it, or how the default was chosen
    commit: str
    root: Path  # the platform repository's directory inside the exported tree


@contextmanager
def exported(root: Path, ref: str | None) -> Iterator[Base]:
    """The base commit's files under a temporary directory, removed on exit."""
    with _open(root) as repo, tempfile.TemporaryDirectory(prefix="kserve-gitops-base-") as tmp:
        commit, label = _resolve(repo, ref)
        _export(commit.tree, Path(tmp))
        prefix = root.resolve().relative_to(Path(str(repo.working_tree_dir)).resolve())
        yield Base(label, commit.hexsha, Path(tmp) / prefix)


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


def _resolve(repo: Repo, ref: str | None) -> tuple[Commit, str]:
    if ref is not None and ref.startswith("-"):  # `--base --output=x`: the option was taken for the ref
        raise EnvironmentProblem.simple(
            f"--base {ref}: an option where a commit, branch or tag goes",
            hint="give --base its ref first, e.g. `kserve-gitops diff --base origin/main --output=FILE`",
        )
    if ref is not None:
        return _commit(
            repo,
            ref,
            f"--base {ref}: no such commit, branch or tag in {repo.working_tree_dir}",
            hint="name an existing ref (`git branch -a`, `git log --oneline`), or fetch it first: "
            f"`git fetch origin {ref}`",
        ), ref
    head = _commit(
        repo,
        "HEAD",
        f"{repo.working_tree_dir} has no commit yet: there is no base to compare with",
        hint="commit once, or name a base with --base REF",
    )
    try:
        upstream = repo.commit(UPSTREAM)
    except (BadName, BadObject, ValueError):
        return head, "HEAD"
    common = repo.merge_base(upstream, head)
    if common and isinstance(common[0], Commit):
        return common[0], f"merge-base of {UPSTREAM} and HEAD"
    return upstream, UPSTREAM  # no common history: the upstream as it is


def _commit(repo: Repo, ref: str, message: str, *, hint: str) -> Commit:
    try:
        return repo.commit(ref)
    except (BadName, BadObject, ValueError):
        raise EnvironmentProblem.simple(message, hint=hint) from None


def _export(tree: Tree, dest: Path) -> None:
    """Every file of the tree, as a checkout would write it; submodules stay empty, as in a plain clone."""
    for item in tree.traverse():
        if not isinstance(item, Blob):
            continue
        target = dest / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        data = item.data_stream.read()
        if item.mode == Blob.link_mode:
            target.symlink_to(data.decode("utf-8"))
        else:
            target.write_bytes(data)
