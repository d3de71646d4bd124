"""The git side of propose, on real repositories: commits built without a checkout, leases, edited branches."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.errors import ProposeDenied
from generator.propose.git import GitRepo, Identity
from generator.propose.publish import NotText
from generator.util.http_settings import HttpSettings
from tests.support.faults import Fault, faulty
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


def test_a_branch_nested_under_a_bot_branch_is_no_bot_branch_and_blocks_its_push(
    remote: Remote, tmp_path: Path
) -> None:
    """`<bot branch>/notes` on the remote: git cannot create the bot branch beside it. That is a push failure in
    git's words (exit 2), not a lost lease to retry and report as a concurrent push."""
    repo = _repo(remote, tmp_path)
    base = repo.fetch("main").base_sha
    nested = f"{BRANCH}/notes"
    assert repo.push(nested, base, expected=None)
    assert repo.fetch("main").branches == {}
    with pytest.raises(ProposeDenied) as failed:
        repo.push(BRANCH, _commit(repo, base, "mine"), expected=None)
    said = str(failed.value)
    assert f"git failed (exit 1): git push --porcelain --force-with-lease=refs/heads/{BRANCH}: origin" in said
    assert f"cannot lock ref 'refs/heads/{BRANCH}': 'refs/heads/{nested}' exists" in said
    assert f"no branch named {BRANCH}/… exists there" in said
    assert failed.value.exit_code == 2
    assert remote.sha(BRANCH) is None


def test_a_file_that_is_not_utf8_is_named_with_its_first_bad_byte(remote: Remote, tmp_path: Path) -> None:
    repo = _repo(remote, tmp_path)
    base = repo.fetch("main").base_sha
    tip = repo.commit(repo.build(base, {"models.lock": b"lock: caf\xe9\n"}, ()), base, "latin-1")
    with pytest.raises(NotText, match=r"^byte 0xe9 at offset 9$"):
        repo.read(tip, "models.lock")
    assert repo.read(base, "models.lock") == "lock: 1\n"
    assert repo.read(base, "absent.yaml") is None


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


def test_without_git_on_path_it_says_so_before_any_work(
    remote: Remote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clone = remote.clone(tmp_path / "clone")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ProposeDenied, match="git cannot be run: not on PATH, or not executable") as caught:
        GitRepo(clone, identity=BOT, prefix=PREFIX)
    assert caught.value.diagnostics[0].hint == "install git, or put it on PATH"


REMOTE_CALLS: dict[str, Callable[[GitRepo, str], object]] = {
    "ls-remote": lambda repo, _: repo.default_branch(),
    "fetch": lambda repo, _: repo.fetch("main"),
    "push": lambda repo, base: repo.push(BRANCH, base, expected=None),
}


@pytest.mark.parametrize("call", REMOTE_CALLS.values(), ids=REMOTE_CALLS.keys())
@pytest.mark.parametrize(
    ("limits", "said"),
    [
        (HttpSettings(download_deadline=2, read_timeout=60), "did not finish within 2 s; stopped"),
        (HttpSettings(download_deadline=60, read_timeout=1), "Operation too slow"),
    ],
    ids=["deadline", "stalled transfer"],
)
def test_a_remote_that_never_answers_fails_within_the_limits_naming_it_and_the_setting(
    remote: Remote, tmp_path: Path, limits: HttpSettings, said: str, call: Callable[[GitRepo, str], object]
) -> None:
    """The remote accepts the connection and never answers (a stuck server or proxy)."""
    checkout = remote.clone(tmp_path / "checkout")
    base = git("rev-parse", "HEAD", cwd=checkout).strip()
    with faulty(Fault("hang")) as url:
        stuck = url.replace("://", "://bot:s3cret-pass@") + "/platform.git"
        git("remote", "set-url", "origin", stuck, cwd=checkout)
        repo = GitRepo(checkout, identity=BOT, prefix=PREFIX, settings=limits)
        started = time.monotonic()
        with pytest.raises(ProposeDenied) as failed:
            call(repo, base)
        took = time.monotonic() - started
    message = str(failed.value)
    assert took < 15
    assert said in message
    assert f"remote origin ({url.replace('://', '://***@')}/platform.git)" in message
    assert "KSERVE_GITOPS_HTTP_DOWNLOAD_DEADLINE" in message
    assert "s3cret-pass" not in message
    assert failed.value.exit_code == 2
