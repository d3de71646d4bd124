"""⚡ propose's only door to git (gitpython): read the base, build a commit without a checkout, push with a lease.

Commits are built from the base commit's tree in an index of their own, never the
user's: propose works in any checkout, dirty or not, and never moves HEAD. Pushes
carry `--force-with-lease=refs/heads/<branch>:<sha this run saw>` (empty: must not
exist yet), so a branch that moved underneath, by another run or a person, is
never overwritten.

Every command that reaches the remote (ls-remote, fetch, push) is held to the limits of
the HTTP door (`KSERVE_GITOPS_HTTP_*`, README "Deadlines and limits"): it is killed,
with the processes it started, after `DOWNLOAD_DEADLINE` seconds, whatever the transport; an
HTTP transfer that moves nothing for `READ_TIMEOUT` seconds is abandoned by git itself
(GIT_HTTP_LOW_SPEED_LIMIT/TIME, unless the environment sets them).
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")  # no git on PATH: said where git runs (exit 2), not at import

from git import Actor, Blob, Commit, IndexFile, Repo
from git.exc import GitCommandError, GitCommandNotFound, InvalidGitRepositoryError, NoSuchPathError
from git.index.typ import BaseIndexEntry, IndexEntry
from gitdb.base import IStream  # gitpython's object store

from generator.errors import ProposeDenied, UserError
from generator.propose.publish import NotText, Snapshot
from generator.redact import redact
from generator.util.http_settings import HttpSettings, env_name

_IDENTITY = re.compile(r"\s*(?P<name>[^<>]*?)\s*<(?P<email>[^<>\s]+)>\s*")
_FILE_MODE = 0o100644
# What git says when the lease is lost, and only then: the advertised ref differs ("stale info"), or the
# remote's compare-and-swap found the ref created or moved since. Any other "cannot lock ref" (a branch
# `<branch>/…` on the remote, a ref the server cannot write) is a push failure, reported in git's words.
_LEASE_LOST = re.compile(
    r"\(stale info\)|cannot lock ref '[^'\n]*': (?:reference already exists|is at [0-9a-f]+ but expected [0-9a-f]+)"
)


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
    def __init__(
        self,
        root: Path,
        *,
        identity: Identity,
        prefix: str,
        remote: str = "origin",
        settings: HttpSettings | None = None,
    ) -> None:
        """`settings`: the limits of commands that reach the remote; default: from `KSERVE_GITOPS_HTTP_*`."""
        try:
            self._repo = Repo(root)
            self._repo.git.version_info  # noqa: B018 -- runs `git version`: whether git can run at all
        except (InvalidGitRepositoryError, NoSuchPathError):
            raise ProposeDenied.simple(
                f"{root} is not a git repository", hint="run propose in a clone of the platform repository"
            ) from None
        except GitCommandNotFound:
            raise ProposeDenied.simple("git cannot be run: not on PATH, or not executable", hint=_NO_GIT) from None
        self._settings = settings or HttpSettings.from_env()
        stall = {  # git's curl gives up on a transfer below 1 byte/s for READ_TIMEOUT seconds
            "GIT_HTTP_LOW_SPEED_LIMIT": "1",
            "GIT_HTTP_LOW_SPEED_TIME": str(max(1, math.ceil(self._settings.read_timeout))),
        }
        self._repo.git.update_environment(
            GIT_TERMINAL_PROMPT="0",  # fail, never prompt, on missing credentials
            **{name: value for name, value in stall.items() if name not in os.environ},
        )
        self._identity = identity
        self._prefix = prefix
        self._remote = remote

    def default_branch(self) -> str:
        """The remote's HEAD, as the server reports it (a clone's own origin/HEAD may be missing or stale)."""
        out = self._remote_git("ls-remote", "--symref", self._remote, "HEAD")
        match = re.search(r"^ref: refs/heads/(\S+)\tHEAD$", out, re.MULTILINE)
        if match is None:
            raise ProposeDenied.simple(
                f"cannot tell the default branch of remote {self._remote!r}", hint="name it with --base"
            )
        return match[1]

    def fetch(self, base: str) -> Snapshot:
        tracking = f"refs/remotes/{self._remote}"
        self._remote_git(
            "fetch",
            "--prune",
            "--no-tags",
            self._remote,
            f"+refs/heads/{base}:{tracking}/{base}",
            f"+refs/heads/{self._prefix}*:{tracking}/{self._prefix}*",
        )
        listed = self._git("for-each-ref", "--format=%(refname) %(objectname)", f"{tracking}/{self._prefix}*")
        found = (line.removeprefix(f"{tracking}/").split(" ") for line in listed.splitlines())
        # `<prefix>*` also matches `kserve-gitops/promote-staging/notes`: a person's branch, never a bot branch
        branches = {name: sha for name, sha in found if "/" not in name.removeprefix(self._prefix)}
        return Snapshot(base=base, base_sha=self._repo.commit(f"{tracking}/{base}").hexsha, branches=branches)

    def read(self, rev: str, path: str) -> str | None:
        """A file's text at a commit; None when the commit has no such file; NotText when it is not UTF-8."""
        try:
            blob = self._repo.commit(rev).tree / path
        except KeyError:
            return None
        data = bytes(blob.data_stream.read())
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotText(f"byte {data[exc.start]:#04x} at offset {exc.start}") from None

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
        Any other refusal is a push failure (exit 2), in git's own words.
        """
        lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
        started = time.monotonic()
        try:
            self._repo.git.execute(
                ["git", "push", "--porcelain", lease, self._remote, f"{sha}:refs/heads/{branch}"],
                kill_after_timeout=self._settings.download_deadline,
            )
        except GitCommandError as exc:
            self._check_deadline(exc, started)
            if _LEASE_LOST.search(f"{exc.stdout}\n{exc.stderr}"):
                return False
            raise _failed(
                exc,
                hint=f"check that these credentials may push to {branch} on {self._where()} (branch protection, "
                f"server hooks) and that no branch named {branch}/… exists there (git cannot have both); {_LIMITS}",
            ) from None
        return True

    def holds(self, branch: str, sha: str) -> bool:
        """Whether the remote's `branch` is at `sha` now, as the remote itself says (ls-remote), not the last fetch."""
        out = self._remote_git("ls-remote", self._remote, f"refs/heads/{branch}")
        return any(line.split("\t") == [sha, f"refs/heads/{branch}"] for line in out.splitlines())

    def _git(self, *args: str) -> str:
        try:
            return str(self._repo.git.execute(["git", *args]))
        except GitCommandError as exc:
            raise _failed(exc) from None

    def _remote_git(self, *args: str) -> str:
        """A command that reaches the remote: killed after the deadline."""
        started = time.monotonic()
        try:
            return str(self._repo.git.execute(["git", *args], kill_after_timeout=self._settings.download_deadline))
        except GitCommandError as exc:
            self._check_deadline(exc, started)
            raise _failed(
                exc,
                hint=f"check that {self._where()} is reachable and that these credentials may push to it; {_LIMITS}",
            ) from None

    def _check_deadline(self, exc: GitCommandError, started: float) -> None:
        """A command killed at the deadline, as a message naming the remote and the setting that sets it."""
        if time.monotonic() - started < self._settings.download_deadline:
            return
        command = " ".join(str(part) for part in exc.command[:2])
        raise ProposeDenied.simple(
            redact(
                f"{command} to {self._where()} did not finish within {self._settings.download_deadline:g} s; stopped"
            ),
            hint=f"check that the remote is reachable; a slow but working remote needs a longer "
            f"{env_name('download_deadline')} (seconds)",
        ) from None

    def _where(self) -> str:
        """`remote NAME (URL)`, or the URL `--remote` gave; credentials are the caller's to redact."""
        url = self._url()
        return f"remote {self._remote} ({url})" if url != self._remote else url

    def _url(self) -> str:
        """The remote's URL as git would use it (`--remote` may name a remote or be a URL itself)."""
        try:
            return str(self._repo.git.execute(["git", "remote", "get-url", self._remote]))
        except GitCommandError:
            return self._remote


_NO_GIT = "install git, or put it on PATH"
_LIMITS = (
    f"limits: {env_name('download_deadline')} (seconds for the whole command), {env_name('read_timeout')} "
    "(seconds an HTTP transfer may stall)"
)


def _failed(
    exc: GitCommandError, hint: str = "check that the remote is reachable and that these credentials may push to it"
) -> UserError:
    """The command and git's own words, credentials removed; exit 2: the remote or its credentials are at fault."""
    command = " ".join(str(part) for part in exc.command)
    return ProposeDenied.simple(
        f"git failed (exit {exc.status}): {redact(command)}\n{redact(exc.stderr.strip())}", hint=redact(hint)
    )
