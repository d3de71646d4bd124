"""The git side of propose, on real repositories: commits built without a checkout, leases, edited branches."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.errors import ProposeDenied
from generator.propose.git import GitRepo, Identity
from tests.support.git_remote import Remote, commit_all, git, publish

BOT = Identity("kserve-gitops[bot]", "bot@example.invalid")
PREFIX = "kserve-gitops/promote-"
BRANCH = f"{PREFIX}staging"


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    root = tmp_path / "platform"
    (root / "environments" / "staging").mkdir(parents=True)
    (root / "models.lock").write_text("lock: 1\n")
    (root / "environments" / "staging" / "wine.yaml").write_text("version: 1\n")
    (root / "environments" / "staging" / "old.yaml").write_text("gone soon\n")
    return publish(root, tmp_path / "remote.git")


def _repo(remote: Remote, tmp_path: Path, name: str = "checkout", identity: Identity = BOT) -> GitRepo:
    return GitRepo(remote.clone(tmp_path / name), identity=identity, prefix=PREFIX)


def _commit(repo: GitRepo, base: str, content: str) -> str:
    return repo.commit(repo.build(base, {"models.lock": content.encode()}, ()), base, f"lock {content}")


def test_commit_is_built_on_base_without_touching_the_checkout(remote: Remote, tmp_path: Path) -> None:
    repo = _repo(remote, tmp_path)
    base = repo.fetch("main").base_sha
    writes = {"models.lock": b"lock: 2\n", "environments/staging/new.yaml": b"new\n"}
    tree = repo.build(base, writes, ["environments/staging/old.yaml"])
    assert repo.push(BRANCH, repo.commit(tree, base, "Promote"), expected=None)
    assert remote.changed("main", BRANCH) == [
        "environments/staging/new.yaml",
        "environments/staging/old.yaml",
        "models.lock",
    ]
    assert remote.show(BRANCH, "models.lock") == "lock: 2\n"
    checkout = tmp_path / "checkout"
    assert git("status", "--porcelain", cwd=checkout) == ""
    assert git("rev-parse", "HEAD", cwd=checkout).strip() == base


def test_lease_refuses_a_branch_that_moved_or_appeared(remote: Remote, tmp_path: Path) -> None:
    ours, theirs = _repo(remote, tmp_path, "ours"), _repo(remote, tmp_path, "theirs")
    base = ours.fetch("main").base_sha
    first = _commit(theirs, base, "first")
    assert theirs.push(BRANCH, first, expected=None)
    mine = _commit(ours, base, "mine")
    assert not ours.push(BRANCH, mine, expected=None), "the branch exists now"
    moved = _commit(theirs, base, "moved")
    assert theirs.push(BRANCH, moved, expected=first)
    assert not ours.push(BRANCH, mine, expected=first), "the branch moved underneath"
    assert remote.sha(BRANCH) == moved
    assert ours.push(BRANCH, mine, expected=moved)
    assert remote.sha(BRANCH) == mine


def test_lease_lost_in_the_remote_compare_and_swap_is_a_rejection_too(remote: Remote, tmp_path: Path) -> None:
    """A rival's push landing between the remote's ref advertisement and its ref update (a pre-receive hook
    plays the rival) is caught by the remote itself, not by "stale info"."""
    repo = _repo(remote, tmp_path)
    base = repo.fetch("main").base_sha
    theirs = _commit(repo, base, "theirs")
    assert repo.push(f"{PREFIX}rival", theirs, expected=None)
    hook = remote.bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\nenv -u GIT_QUARANTINE_PATH git update-ref refs/heads/{BRANCH} {theirs}\n")
    hook.chmod(0o755)
    assert not repo.push(BRANCH, _commit(repo, base, "mine"), expected=None)
    assert remote.sha(BRANCH) == theirs


def test_is_built_on_means_one_commit_of_that_tree_on_that_base(remote: Remote, tmp_path: Path) -> None:
    repo = _repo(remote, tmp_path)
    base = repo.fetch("main").base_sha
    tree = repo.build(base, {"models.lock": b"lock: 2\n"}, ())
    tip = repo.commit(tree, base, "Promote")
    assert repo.is_built_on(tip, base, tree)
    assert not repo.is_built_on(tip, base, repo.build(base, {"models.lock": b"lock: 3\n"}, ()))
    assert not repo.is_built_on(repo.commit(tree, tip, "again"), base, tree)


def test_fetch_lists_bot_branches_only_and_forgets_deleted_ones(remote: Remote, tmp_path: Path) -> None:
    repo = _repo(remote, tmp_path)
    base = repo.fetch("main").base_sha
    staging, prod = _commit(repo, base, "s"), _commit(repo, base, "p")
    for branch, sha in ((BRANCH, staging), (f"{PREFIX}prod", prod), ("feature", prod)):
        assert repo.push(branch, sha, expected=None)
    assert repo.fetch("main").branches == {BRANCH: staging, f"{PREFIX}prod": prod}
    git("branch", "-D", f"{PREFIX}prod", cwd=remote.bare)
    assert repo.fetch("main").branches == {BRANCH: staging}
    assert repo.default_branch() == "main"


def test_commits_by_anyone_else_are_foreign(remote: Remote, tmp_path: Path) -> None:
    repo = _repo(remote, tmp_path)
    base = repo.fetch("main").base_sha
    ours = _commit(repo, base, "bot")
    assert repo.push(BRANCH, ours, expected=None)
    assert repo.foreign_commits(base, ours) == []
    human = remote.clone(tmp_path / "human")
    git("checkout", "--quiet", BRANCH, cwd=human)
    git("commit", "--quiet", "--amend", "--no-edit", cwd=human)  # the bot still authors it; a person commits it
    amended = git("rev-parse", "HEAD", cwd=human).strip()
    (human / "NOTES.md").write_text("reviewed\n")
    noted = commit_all(human, "note")
    git("push", "--quiet", "--force", "origin", BRANCH, cwd=human)
    tip = repo.fetch("main").branches[BRANCH]
    assert (tip, repo.foreign_commits(base, tip)) == (noted, [noted, amended])


def test_identity_is_name_and_email() -> None:
    assert Identity.parse(" kserve-gitops[bot] <1+kserve-gitops[bot]@users.noreply.github.com> ") == Identity(
        "kserve-gitops[bot]", "1+kserve-gitops[bot]@users.noreply.github.com"
    )
    with pytest.raises(ProposeDenied, match="not a git identity"):
        Identity.parse("kserve-gitops")


def test_not_a_repository_is_an_environment_problem(tmp_path: Path) -> None:
    with pytest.raises(ProposeDenied, match="is not a git repository"):
        GitRepo(tmp_path, identity=BOT, prefix=PREFIX)
