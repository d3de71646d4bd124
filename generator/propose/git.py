"""⚡ propose's only door to git (gitpython): read the base, build a commit without a checkout, push with a lease.

Commits are built from the base commit's tree in an index of their own, never the
user's: propose works in any checkout, dirty or not, and never moves HEAD. Pushes
carry `--force-with-lease=refs/heads/<branch>:<sha this run saw>` (empty: must not
exist yet), so a branch that moved underneath, by another run or a person, is
never overwritten.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from git import Actor, Blob, Commit, IndexFile, Repo
from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError
from git.index.typ import BaseIndexEntry, IndexEntry
from gitdb.base import IStream  # gitpython's object store

from generator.errors import ProposeDenied, UserError
from generator.propose.publish import Snapshot
from generator.redact import redact

_IDENTITY = re.compile(r"\s*(?P<name>[^<>]*?)\s*<(?P<email>[^<>\s]+)>\s*")
_FILE_MODE = 0o100644
_LEASE_LOST = ("stale info", "cannot lock ref")


@dataclass(frozen=True)
class Identity:
    """Who the bot commits as. A commit is the bot's when its author and its committer both match,
    by name or by email: amending or rebasing a bot commit by hand makes it someone else's."""

    name: str
    email: str

    @classmethod
    def parse(cls, text: str) -> Identity:
        match = _IDENTITY.fullmatch(text)
        if match is None or not match["name"]:
            raise ProposeDenied.simple(f"not a git identity: {text!r}", hint="write it as 'NAME <EMAIL>'")
        return cls(match["name"], match["email"])

    def made(self, commit: Commit) -> bool:
        return all(self._is(person) for person in (commit.author, commit.committer))

    def _is(self, person: Actor) -> bool:
        return person.name == self.name or (person.email or "").lower() == self.email.lower()

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class GitRepo:
    def __init__(self, root: Path, *, identity: Identity, prefix: str, remote: str = "origin") -> None:
        try:
            self._repo = Repo(root)
        except (InvalidGitRepositoryError, NoSuchPathError):
            raise ProposeDenied.simple(
                f"{root} is not a git repository", hint="run propose in a clone of the platform repository"
            ) from None
        self._repo.git.update_environment(GIT_TERMINAL_PROMPT="0")  # fail, never prompt, on missing credentials
        self._identity = identity
        self._prefix = prefix
        self._remote = remote

    def default_branch(self) -> str:
        """The remote's HEAD, as the server reports it (a clone's own origin/HEAD may be missing or stale)."""
        out = self._git("ls-remote", "--symref", self._remote, "HEAD")
        match = re.search(r"^ref: refs/heads/(\S+)\tHEAD$", out, re.MULTILINE)
        if match is None:
            raise ProposeDenied.simple(
                f"cannot tell the default branch of remote {self._remote!r}", hint="name it with --base"
            )
        return match[1]

    def fetch(self, base: str) -> Snapshot:
        tracking = f"refs/remotes/{self._remote}"
        self._git(
            "fetch",
            "--prune",
            "--no-tags",
            self._remote,
            f"+refs/heads/{base}:{tracking}/{base}",
            f"+refs/heads/{self._prefix}*:{tracking}/{self._prefix}*",
        )
        listed = self._git("for-each-ref", "--format=%(refname) %(objectname)", f"{tracking}/{self._prefix}*")
        branches = dict(line.removeprefix(f"{tracking}/").split(" ") for line in listed.splitlines())
        return Snapshot(base=base, base_sha=self._repo.commit(f"{tracking}/{base}").hexsha, branches=branches)

    def read(self, rev: str, path: str) -> str | None:
        """A file's text at a commit; None when the commit has no such file."""
        try:
            blob = self._repo.commit(rev).tree / path
        except KeyError:
            return None
        return bytes(blob.data_stream.read()).decode("utf-8")

    def foreign_commits(self, base_sha: str, tip: str) -> list[str]:
        """Commits on the branch, not on the base, that the bot did not make."""
        return [c.hexsha for c in self._repo.iter_commits(f"{base_sha}..{tip}") if not self._identity.made(c)]

    def build(self, base_sha: str, writes: Mapping[str, bytes], deletes: Sequence[str]) -> str:
        """The tree of the base commit with `writes` and `deletes` applied; its sha."""
        index = IndexFile.from_tree(self._repo, base_sha)
        for path, content in writes.items():
            blob = self._repo.odb.store(IStream(Blob.type, len(content), BytesIO(content)))
            index.entries[(path, 0)] = IndexEntry.from_base(BaseIndexEntry((_FILE_MODE, blob.binsha, 0, path)))
        for path in deletes:
            index.entries.pop((path, 0), None)
        return index.write_tree().hexsha

    def is_built_on(self, tip: str, base_sha: str, tree: str) -> bool:
        """Whether the branch already is one commit of exactly `tree` on top of the base."""
        commit = self._repo.commit(tip)
        return [p.hexsha for p in commit.parents] == [base_sha] and commit.tree.hexsha == tree

    def commit(self, tree: str, parent: str, message: str) -> str:
        who = Actor(self._identity.name, self._identity.email)
        made = Commit.create_from_tree(
            self._repo,
            self._repo.tree(tree),
            message,
            parent_commits=[self._repo.commit(parent)],
            author=who,
            committer=who,
        )
        return made.hexsha

    def push(self, branch: str, sha: str, expected: str | None) -> bool:
        """False when the lease is lost: the branch is no longer at `expected` (None: absent).

        Git checks the lease twice: against the refs the remote advertised ("stale info"), and
        in the remote's own compare-and-swap of the ref, which catches a push that lands in
        between ("cannot lock ref …: reference already exists" or "… is at X but expected Y").
        """
        lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
        try:
            self._repo.git.push("--porcelain", lease, self._remote, f"{sha}:refs/heads/{branch}")
        except GitCommandError as exc:
            if any(said in f"{exc.stdout}{exc.stderr}" for said in _LEASE_LOST):
                return False
            raise _failed(exc) from None
        return True

    def _git(self, *args: str) -> str:
        try:
            return str(self._repo.git.execute(["git", *args]))
        except GitCommandError as exc:
            raise _failed(exc) from None


def _failed(exc: GitCommandError) -> UserError:
    """The command and git's own words, credentials removed; exit 2: the remote or its credentials are at fault."""
    command = " ".join(str(part) for part in exc.command)
    return ProposeDenied.simple(
        f"git failed (exit {exc.status}): {redact(command)}\n{redact(exc.stderr.strip())}",
        hint="check that the remote is reachable and that these credentials may push to it",
    )
