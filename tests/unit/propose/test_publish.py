"""Publishing on real git with a rival pushing at the worst moment; GitHub as an in-memory side with plain values,
or, where GitHub fails at the worst moment, the real client against the local GitHub server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from generator.diagnostics import Diagnostic
from generator.errors import ProposeDenied, ProposeError
from generator.github.api import GitHubApi
from generator.lock.model import Lock
from generator.propose import body, plan
from generator.propose.git import GitRepo, Identity
from generator.propose.github import ProposeGitHub
from generator.propose.publish import (
    GitHubSide,
    ProposeSettings,
    Published,
    PullRequest,
    PullRequestExists,
    Snapshot,
    propose,
)
from generator.registry.runs import RunDetails
from generator.render.tree import generated
from generator.spec.model import Platform, Spec
from generator.util.http import HttpSettings
from tests.support.git_remote import Remote, git, publish
from tests.support.github_fake import WRITE_TOKEN, FakeGitHub
from tests.unit.propose.values import SPEC, lock, spec

BOT = Identity("kserve-gitops[bot]", "bot@example.invalid")
STAGING = "kserve-gitops/promote-staging"
PROD = "kserve-gitops/promote-prod"
ALL = "kserve-gitops/promote-all"


class Racing(GitRepo):
    """A GitRepo whose next pushes each lose the race: one rival runs just before each of them."""

    def __init__(self, root: Path, rivals: list[Callable[[], None]]) -> None:
        super().__init__(root, identity=BOT, prefix=plan.BRANCH_PREFIX)
        self._rivals = rivals

    def push(self, branch: str, sha: str, expected: str | None) -> bool:
        if self._rivals:
            self._rivals.pop(0)()
        return super().push(branch, sha, expected)


@dataclass
class Hub:
    """GitHub as propose sees it; `rival_opens`: another run opens the pull request first."""

    pulls: dict[str, PullRequest] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)
    rival_opens: bool = False

    def find(self, branch: str) -> PullRequest | None:
        return self.pulls.get(branch)

    def open(self, branch: str, base: str, title: str, body: str) -> PullRequest:
        if self.rival_opens:
            self.pulls[branch] = PullRequest(7, "", "an older title", "an older body", ())
            raise PullRequestExists(branch)
        self.writes.append(f"open {branch}")
        self.pulls[branch] = PullRequest(len(self.pulls) + 1, "", title, body, ())
        return self.pulls[branch]

    def edit(self, number: int, *, title: str, body: str) -> None:
        self.writes.append(f"edit #{number}")
        self._change(number, title=title, body=body)

    def label(self, number: int, *, add: Sequence[str], remove: Sequence[str]) -> None:
        self.writes.append(f"label #{number} +{','.join(add)} -{','.join(remove)}")
        (pull,) = [p for p in self.pulls.values() if p.number == number]
        self._change(number, labels=tuple(n for n in (*pull.labels, *add) if n not in remove))

    def comments(self, number: int) -> list[str]:
        return []

    def comment(self, number: int, text: str) -> None:
        self.writes.append(f"comment #{number}")

    def close(self, number: int) -> None:
        self.writes.append(f"close #{number}")

    def _change(self, number: int, **values: object) -> None:
        branch = next(b for b, p in self.pulls.items() if p.number == number)
        self.pulls[branch] = replace(self.pulls[branch], **values)  # type: ignore[arg-type]


class NoRuns:
    def details(self, spec: Spec, run_ids: Sequence[str]) -> Mapping[str, RunDetails]:
        return {}

    def ui(self, spec: Spec) -> str:
        return ""


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    """main: the example spec at version 1 everywhere, rendered."""
    root = tmp_path / "platform"
    root.mkdir()
    (root / "models.yaml").write_text(SPEC % "")
    for path, content in generated(spec(), lock()).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    return publish(root, tmp_path / "remote.git")


def _propose(git: GitRepo, hub: GitHubSide, new: Lock, group: plan.Group = "env") -> Published:
    def check(files: Mapping[str, bytes], platform: Platform) -> list[Diagnostic]:
        return []

    return propose(new, ProposeSettings(group=group), git=git, github=hub, runs=NoRuns(), check=check)


def _rival(remote: Remote, clone: Path, new: Lock) -> Callable[[], None]:
    """Another propose run of `new`, from a clone of its own."""

    def run() -> None:
        _propose(GitRepo(remote.clone(clone), identity=BOT, prefix=plan.BRANCH_PREFIX), Hub(), new)

    return run


def test_rival_run_pushing_first_is_not_overwritten_and_the_retry_finds_the_work_done(
    remote: Remote,
    tmp_path: Path,
) -> None:
    new = lock(wine_staging="2")
    git = Racing(remote.clone(tmp_path / "ours"), [_rival(remote, tmp_path / "rival", new)])
    hub = Hub()
    (result,) = _propose(git, hub, new).results
    rivals = remote.commits("main", STAGING)
    assert len(rivals) == 1
    assert (result.action, hub.writes) == ("opened", [f"open {STAGING}", "label #1 +promotion,staging,automerge -"])


def test_branch_that_keeps_moving_fails_after_one_retry_without_overwriting(remote: Remote, tmp_path: Path) -> None:
    rivals = [_rival(remote, tmp_path / f"rival-{v}", lock(wine_staging=v)) for v in "34"]
    git = Racing(remote.clone(tmp_path / "ours"), rivals)
    with pytest.raises(ProposeError, match=f"{STAGING} moved twice while this run pushed it"):
        _propose(git, Hub(), lock(wine_staging="2"))
    assert "version: '4'" in remote.show(STAGING, "environments/staging/wine.yaml"), "the rival's last push stands"


def test_pull_request_opened_meanwhile_is_updated_not_duplicated(remote: Remote, tmp_path: Path) -> None:
    hub = Hub(rival_opens=True)
    (result,) = _propose(
        GitRepo(remote.clone(tmp_path / "ours"), identity=BOT, prefix=plan.BRANCH_PREFIX), hub, lock(wine_staging="2")
    ).results
    assert (result.action, result.pull and result.pull.number) == ("updated", 7)
    assert hub.writes == ["edit #7", "label #7 +promotion,staging,automerge -"]
    assert hub.pulls[STAGING].title == "Promote wine 1 → 2 in staging"


def test_automerge_label_is_removed_once_an_approval_environment_joins(remote: Remote, tmp_path: Path) -> None:
    git = GitRepo(remote.clone(tmp_path / "ours"), identity=BOT, prefix=plan.BRANCH_PREFIX)
    hub = Hub()
    _propose(git, hub, lock(wine_staging="2"), group="all")
    _propose(git, hub, lock(wine_staging="2", wine_prod="2"), group="all")
    assert hub.pulls[ALL].labels == ("promotion", "staging", "prod", "needs-approval")
    assert hub.writes[-3:] == ["label #1 +prod,needs-approval -automerge", "edit #1", "edit #1"], "labels first"


def test_an_environment_whose_change_left_the_group_loses_its_label_and_only_ours_come_off(
    remote: Remote, tmp_path: Path
) -> None:
    git = GitRepo(remote.clone(tmp_path / "ours"), identity=BOT, prefix=plan.BRANCH_PREFIX)
    hub = Hub()
    _propose(git, hub, lock(wine_staging="2", wine_prod="2"), group="all")
    hub.pulls[ALL] = replace(hub.pulls[ALL], labels=(*hub.pulls[ALL].labels, "do-not-merge"))
    _propose(git, hub, lock(wine_staging="2"), group="all")
    assert hub.pulls[ALL].labels == ("promotion", "staging", "do-not-merge", "automerge")
    assert "label #1 +automerge -prod,needs-approval" in hub.writes


def test_lost_race_against_a_run_on_a_newer_base_is_not_taken_for_someone_elses_commits(
    remote: Remote, tmp_path: Path
) -> None:
    """The rival built on a base that moved after our fetch; the base's new commit is not foreign to the branch."""
    person = remote.clone(tmp_path / "person")
    git("commit", "--allow-empty", "--quiet", "-m", "Docs", cwd=person)
    rival = _rival(remote, tmp_path / "rival", lock(wine_staging="2"))

    def base_moves_then_rival_runs() -> None:
        git("push", "--quiet", "origin", "main", cwd=person)
        rival()

    hub = Hub()
    (result,) = _propose(
        Racing(remote.clone(tmp_path / "ours"), [base_moves_then_rival_runs]), hub, lock(wine_staging="2")
    ).results
    assert (result.action, hub.writes) == ("opened", [f"open {STAGING}", "label #1 +promotion,staging,automerge -"])


class DownAfterPush(GitRepo):
    """A GitRepo after whose next push GitHub stops answering: the run ends between the push and the pull request's
    edits, as it does when GitHub is down, a deadline passes or SIGTERM arrives."""

    def __init__(self, root: Path, github: FakeGitHub) -> None:
        super().__init__(root, identity=BOT, prefix=plan.BRANCH_PREFIX)
        self._github = github

    def push(self, branch: str, sha: str, expected: str | None) -> bool:
        pushed = super().push(branch, sha, expected)
        self._github.fail()
        return pushed


STAGED = {"wine_staging": "2"}


@pytest.fixture
def github(remote: Remote) -> Iterator[FakeGitHub]:
    with FakeGitHub("acme/platform", git_dir=remote.bare).running() as running:
        yield running


def _client(github: FakeGitHub) -> ProposeGitHub:
    settings = HttpSettings(retries=0, deadline=5)
    return ProposeGitHub(GitHubApi("acme/platform", WRITE_TOKEN, api_url=github.url, settings=settings, write_pause=0))


@pytest.mark.parametrize(
    ("before", "after"),
    [(STAGED, STAGED | {"wine_prod": "2"}), (STAGED | {"wine_prod": "2"}, STAGED)],
    ids=["prod joins", "prod leaves"],
)
def test_github_down_after_the_push_leaves_the_pull_request_no_more_automatic_than_either_head(
    remote: Remote, tmp_path: Path, github: FakeGitHub, before: dict[str, str], after: dict[str, str]
) -> None:
    """`automerge` goes before a head that needs approval is pushed, and comes only after a head that earns it is."""
    first = GitRepo(remote.clone(tmp_path / "first"), identity=BOT, prefix=plan.BRANCH_PREFIX)
    _propose(first, _client(github), lock(**before), group="all")
    with pytest.raises(ProposeDenied, match="cannot reach GitHub"):
        second = DownAfterPush(remote.clone(tmp_path / "second"), github)
        _propose(second, _client(github), lock(**after), group="all")
    prod = "version: '2'" in remote.show(ALL, "environments/prod/wine.yaml")
    assert prod == ("wine_prod" in after), "the new head is pushed"
    (pull,) = github.pulls.values()
    assert pull.labels == ["promotion", "staging", "prod", "needs-approval"]


def test_github_down_after_the_push_leaves_text_true_of_the_new_head_and_the_next_run_finishes_it(
    remote: Remote, tmp_path: Path, github: FakeGitHub
) -> None:
    git_ = GitRepo(remote.clone(tmp_path / "first"), identity=BOT, prefix=plan.BRANCH_PREFIX)
    _propose(git_, _client(github), lock(wine_prod="2"))
    with pytest.raises(ProposeDenied, match="cannot reach GitHub"):
        _propose(DownAfterPush(remote.clone(tmp_path / "second"), github), _client(github), lock(wine_prod="3"))
    assert "version: '3'" in remote.show(PROD, "environments/prod/wine.yaml")
    (pull,) = github.pulls.values()
    assert (pull.title, pull.body) == body.updating("prod", PROD), "says it is being updated, not 1 → 2"

    github.troubles.clear()
    (result,) = _propose(git_, _client(github), lock(wine_prod="3")).results
    assert (result.action, pull.title) == ("updated", "Promote wine 1 → 3 in prod")


class RivalAfterPush(GitRepo):
    """A GitRepo after whose push lands a rival run goes through all of its own steps before this run goes on."""

    def __init__(self, root: Path, rival: Callable[[], object]) -> None:
        super().__init__(root, identity=BOT, prefix=plan.BRANCH_PREFIX)
        self._rival: Callable[[], object] | None = rival

    def push(self, branch: str, sha: str, expected: str | None) -> bool:
        pushed = super().push(branch, sha, expected)
        rival, self._rival = self._rival, None
        if rival is not None:
            rival()
        return pushed


@pytest.mark.parametrize("opened_before", [False, True], ids=["first proposal", "pull request open"])
def test_a_run_overtaken_after_its_push_neither_grants_nor_describes_the_rivals_head(
    remote: Remote, tmp_path: Path, github: FakeGitHub, opened_before: bool
) -> None:
    """Two runs at once: ours pushes a staging-only head (automerge), then a rival pushes staging and prod (needs
    approval) and finishes its pull request; ours must then neither grant automerge to nor describe a head it did
    not push."""
    if opened_before:
        first = GitRepo(remote.clone(tmp_path / "first"), identity=BOT, prefix=plan.BRANCH_PREFIX)
        _propose(first, _client(github), lock(wine_staging="3"), group="all")
    rival = GitRepo(remote.clone(tmp_path / "rival"), identity=BOT, prefix=plan.BRANCH_PREFIX)
    ours = RivalAfterPush(
        remote.clone(tmp_path / "ours"),
        lambda: _propose(rival, _client(github), lock(wine_staging="2", wine_prod="2"), group="all"),
    )

    with pytest.raises(ProposeError, match=f"{ALL} moved while this run finished its pull request #1"):
        _propose(ours, _client(github), lock(wine_staging="2"), group="all")

    assert "version: '2'" in remote.show(ALL, "environments/prod/wine.yaml"), "the rival's head stands"
    (pull,) = github.open_pulls()
    assert "automerge" not in pull.labels
    assert "needs-approval" in pull.labels
    assert (pull.title, pull.body) == body.updating("all", ALL), "not staging alone: the head moves prod too"


@dataclass
class HeldGrant:
    """propose's GitHub side whose grant of `automerge` waits for `go`: the run is slow between its push and it."""

    inner: GitHubSide
    go: threading.Event

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def label(self, number: int, *, add: Sequence[str], remove: Sequence[str]) -> None:
        if "automerge" in add:
            assert self.go.wait(30)
        self.inner.label(number, add=add, remove=remove)


class SignalsPush(GitRepo):
    """A GitRepo that sets `pushed` once its push landed, and before its own push runs `before` once."""

    def __init__(self, root: Path, pushed: threading.Event, before: Callable[[], None] = lambda: None) -> None:
        super().__init__(root, identity=BOT, prefix=plan.BRANCH_PREFIX)
        self._pushed, self._before = pushed, before

    def push(self, branch: str, sha: str, expected: str | None) -> bool:
        self._before()
        done = super().push(branch, sha, expected)
        self._pushed.set()
        return done


def test_a_grant_that_lands_after_the_rival_read_the_pull_request_is_taken_back_by_the_rival(
    remote: Remote, tmp_path: Path, github: FakeGitHub
) -> None:
    """Ours pushes a staging-only head and is slow to grant automerge; a rival reads the pull request, ours grants,
    then the rival pushes staging and prod: the rival, not ours, sees the grant, and must take it back."""
    ours_pushed, grant, never = threading.Event(), threading.Event(), threading.Event()
    ours = SignalsPush(remote.clone(tmp_path / "ours"), ours_pushed)
    outcome: list[BaseException | Published] = []

    def run_ours() -> None:
        try:
            outcome.append(_propose(ours, HeldGrant(_client(github), grant), lock(wine_staging="2"), group="all"))
        except BaseException as exc:  # handed to the test's thread
            outcome.append(exc)

    thread = threading.Thread(target=run_ours)
    thread.start()
    assert ours_pushed.wait(30)

    def ours_grants_now() -> None:
        grant.set()
        thread.join(30)

    rival = SignalsPush(remote.clone(tmp_path / "rival"), never, before=ours_grants_now)
    _propose(rival, _client(github), lock(wine_staging="2", wine_prod="2"), group="all")

    assert isinstance(outcome[0], Published), outcome
    assert "version: '2'" in remote.show(ALL, "environments/prod/wine.yaml"), "the rival's head stands"
    (pull,) = github.open_pulls()
    assert "automerge" not in pull.labels


def test_a_close_github_failed_is_finished_by_the_next_run_without_a_second_closing_comment(
    remote: Remote, tmp_path: Path, github: FakeGitHub
) -> None:
    git_ = GitRepo(remote.clone(tmp_path / "ours"), identity=BOT, prefix=plan.BRANCH_PREFIX)
    _propose(git_, _client(github), lock(wine_staging="2"))
    github.fail("PATCH", r"/pulls/1")
    with pytest.raises(ProposeDenied, match=r"cannot reach GitHub .* while closing #1"):
        _propose(git_, _client(github), lock())  # the alias moved back: nothing left to propose

    github.troubles.clear()
    (result,) = _propose(git_, _client(github), lock()).results

    assert result.action == "closed"
    assert github.pulls[1].state == "closed"
    assert len(github.pulls[1].comments) == 1, github.pulls[1].comments


class RivalAfterFetch(GitRepo):
    """A GitRepo after whose first fetch a rival run goes through all of its steps before this run goes on."""

    def __init__(self, root: Path, rival: Callable[[], object]) -> None:
        super().__init__(root, identity=BOT, prefix=plan.BRANCH_PREFIX)
        self._rival: Callable[[], object] | None = rival

    def fetch(self, base: str) -> Snapshot:
        snapshot = super().fetch(base)
        rival, self._rival = self._rival, None
        if rival is not None:
            rival()
        return snapshot


def test_a_run_with_nothing_to_propose_does_not_close_what_a_rival_pushed_since_its_fetch(
    remote: Remote, tmp_path: Path, github: FakeGitHub
) -> None:
    """Ours fetched when staging's change had just moved back; a rival then pushed a newer one (3) and updated the
    pull request: ours must not close that pull request as having nothing left to promote."""
    first = GitRepo(remote.clone(tmp_path / "first"), identity=BOT, prefix=plan.BRANCH_PREFIX)
    _propose(first, _client(github), lock(wine_staging="2"))
    rival = GitRepo(remote.clone(tmp_path / "rival"), identity=BOT, prefix=plan.BRANCH_PREFIX)
    ours = RivalAfterFetch(
        remote.clone(tmp_path / "ours"), lambda: _propose(rival, _client(github), lock(wine_staging="3"))
    )

    _propose(ours, _client(github), lock())

    assert "version: '3'" in remote.show(STAGING, "environments/staging/wine.yaml")
    assert github.pulls[1].state == "open"
    assert github.pulls[1].comments == []
