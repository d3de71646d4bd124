"""Walk the proposals through git and GitHub, treating the bot's branches the way Renovate does.

The two sides are Protocols with plain values (Snapshot, PullRequest), so importing this
module imports neither gitpython nor the GitHub client: only `propose` pays for them.

For each group: build one commit on the base branch; push it only when the branch
does not already hold exactly that (a run with nothing new writes nothing), with a
lease on the sha this run saw, retried once after a refetch; then open the pull
request or bring its title, body and labels up to date. A branch someone else
pushed to is left alone, with one comment saying so. Bot branches with nothing
left to propose have their pull request closed, with a comment saying why.
Results come back in proposal order, then closed branches by name.

What was reviewed is what gets deployed, even when the run stops between its GitHub
calls (GitHub down, a deadline, SIGTERM): before a new head goes onto an open pull
request, the request loses the label that grants automation (unless the new head
earns it too), gains those that restrict, and its text says it is being updated; the
final text, the granting label and the removal of a restricting one come after the
push. A stopped run thus leaves a pull request at worst more restricted than its
head, never one that describes or auto-merges another version; the next run
finishes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from generator.diagnostics import Diagnostic
from generator.errors import ProposeError, UserError
from generator.gate.evaluate import Verdict
from generator.gate.review import GateReview, Move
from generator.lock import LOCK_FILE
from generator.lock import io as lock_io
from generator.lock.model import Lock
from generator.lock.resolve import Update
from generator.propose import body, plan
from generator.registry.runs import RunDetails
from generator.spec import SPEC_FILE
from generator.spec.load import parse_spec
from generator.spec.model import Platform, Spec

Action = Literal["opened", "updated", "unchanged", "edited", "closed"]
GRANTING = plan.APPROVAL[0]  # the label that lets automation merge; put on only once the head it judges is pushed
Check = Callable[[Mapping[str, bytes], Platform], list[Diagnostic]]


@dataclass(frozen=True)
class Snapshot:
    """The remote as one fetch saw it: the base branch and every bot branch, by name."""

    base: str
    base_sha: str
    branches: dict[str, str]


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    title: str
    body: str
    labels: tuple[str, ...]


class NotText(Exception):
    """A file at a commit that is not UTF-8 text (a person committed another encoding or a binary under its name)."""


class PullRequestExists(Exception):
    """GitHub's 422 for a second open pull request from the same branch: another run opened it first."""


class GitSide(Protocol):
    def default_branch(self) -> str: ...
    def fetch(self, base: str) -> Snapshot: ...
    def read(self, rev: str, path: str) -> str | None:
        """A file's text at a commit; None when it has no such file; NotText when it is not UTF-8."""
        ...

    def foreign_commits(self, base_sha: str, tip: str) -> list[str]: ...
    def build(self, base_sha: str, writes: Mapping[str, bytes], deletes: Sequence[str]) -> str: ...
    def is_built_on(self, tip: str, base_sha: str, tree: str) -> bool: ...
    def commit(self, tree: str, parent: str, message: str) -> str: ...
    def push(self, branch: str, sha: str, expected: str | None) -> bool: ...
    def holds(self, branch: str, sha: str) -> bool:
        """Whether the remote's branch is at `sha` now (asked of the remote, not of the last fetch)."""
        ...


class RunSource(Protocol):
    def details(self, spec: Spec, run_ids: Sequence[str]) -> Mapping[str, RunDetails]: ...
    def ui(self, spec: Spec) -> str: ...


class GateSide(Protocol):
    def review(self, spec: Spec, base: Lock, changes: Sequence[plan.Change], update: Update) -> GateReview: ...


class GitHubSide(Protocol):
    def find(self, branch: str) -> PullRequest | None: ...
    def open(self, branch: str, base: str, title: str, body: str) -> PullRequest: ...
    def edit(self, number: int, *, title: str, body: str) -> None: ...
    def label(self, number: int, *, add: Sequence[str], remove: Sequence[str]) -> None: ...
    def comments(self, number: int) -> list[str]: ...
    def comment(self, number: int, text: str) -> None: ...
    def close(self, number: int) -> None: ...


@dataclass(frozen=True)
class ProposeSettings:
    group: plan.Group = "env"
    update: Update = plan.EVERYTHING  # which targets `lock --update` re-resolved; the rest keep their branch
    base: str = ""  # "": the remote's default branch
    dry_run: bool = False


@dataclass(frozen=True)
class Result:
    key: str
    branch: str
    action: Action
    pull: PullRequest | None = None
    proposal: plan.Proposal | None = None


@dataclass(frozen=True)
class Published:
    results: list[Result] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    base: str = ""
    held: tuple[str, ...] = ()  # one line per candidate held back by its gates


def propose(
    new: Lock,
    settings: ProposeSettings,
    *,
    git: GitSide,
    github: GitHubSide | None,
    runs: RunSource,
    check: Check,
    gates: GateSide | None = None,
) -> Published:
    """`new` is the updated lock (the working tree's); everything else is read from the remote's base branch.

    Every proposal is validated before anything is pushed. Without `github` (no token) nothing is written:
    a dry run. With `gates`, a change that fails its gates (without an override) is left out and listed as held back.
    """
    base = settings.base or git.default_branch()
    snapshot = git.fetch(base)
    spec, warnings = _spec(git, snapshot)
    made, held = _proposals(new, settings, git=git, snapshot=snapshot, spec=spec, runs=runs, gates=gates)
    for proposal in made:
        warnings += check(proposal.files, spec.platform)
    bot = (
        _Bot(_ReadOnlyGit(git), _ReadOnlyGitHub(github), snapshot)
        if settings.dry_run or github is None
        else _Bot(git, github, snapshot)
    )
    results = [bot.publish(proposal) for proposal in made]
    results += bot.close_stale(spec, settings, results, held)
    lines = tuple(
        f"{m.target.model}/{m.target.env}: version {m.candidate.version} held back by gate ({v.summary()})"
        for m, v in held
    )
    return Published(results, warnings, base, lines)


def _proposals(
    new: Lock,
    settings: ProposeSettings,
    *,
    git: GitSide,
    snapshot: Snapshot,
    spec: Spec,
    runs: RunSource,
    gates: GateSide | None,
) -> tuple[list[plan.Proposal], tuple[tuple[Move, Verdict], ...]]:
    """The base branch's lock and, with MODEL arguments, what each bot branch proposes now, into `plan`."""
    unknown = settings.update.unknown_selectors(spec)
    if unknown:
        raise ProposeError.simple(f"{', '.join(unknown)}: not a MODEL or MODEL/ENV of {snapshot.base}:{SPEC_FILE}")
    base_lock = _lock(git, snapshot.base_sha, f"{snapshot.base}:{LOCK_FILE}")
    proposed = {} if settings.update.everything else _proposed(git, snapshot)
    changes = plan.find_changes(spec, base_lock, new, settings.group, update=settings.update, proposed=proposed)
    review = gates.review(spec, base_lock, changes, settings.update) if gates is not None else GateReview()
    held = {(move.target.key, move.candidate.version) for move, _ in review.held}
    changes = [c for c in changes if ((c.model, c.env), c.new.version) not in held]
    details = runs.details(spec, sorted({c.new.run_id for c in changes}))
    made = plan.proposals(
        spec,
        base_lock,
        changes,
        settings.group,
        runs=details,
        ui=runs.ui(spec),
        base_branch=snapshot.base,
        gates=review,
    )
    return made, review.held


def _spec(git: GitSide, snapshot: Snapshot) -> tuple[Spec, list[Diagnostic]]:
    text = _read(git, snapshot.base_sha, SPEC_FILE, f"{snapshot.base}:{SPEC_FILE}")
    if text is None:
        raise ProposeError.simple(f"{snapshot.base} has no {SPEC_FILE}", hint="propose from a platform repository")
    return parse_spec(text, f"{snapshot.base}:{SPEC_FILE}")


def _proposed(git: GitSide, snapshot: Snapshot) -> dict[str, Lock]:
    """What each bot branch proposes now, by branch. A branch someone else pushed to is left alone whatever it
    holds, so a models.lock of theirs that cannot be read is skipped (its group keeps the base's entries) rather
    than stopping every other group's proposal; on a branch only the bot wrote it is an error."""
    proposed = {}
    for branch, tip in snapshot.branches.items():
        try:
            proposed[branch] = _lock(git, tip, f"{branch}:{LOCK_FILE}")
        except UserError:
            if not git.foreign_commits(snapshot.base_sha, tip):
                raise
    return proposed


def _lock(git: GitSide, rev: str, display: str) -> Lock:
    text = _read(git, rev, LOCK_FILE, display)
    return lock_io.loads(text, display) if text is not None else Lock()


def _read(git: GitSide, rev: str, path: str, display: str) -> str | None:
    """`path`'s text at `rev`; None when absent; an error naming `display` (REF:FILE) when it is not UTF-8."""
    try:
        return git.read(rev, path)
    except NotText as exc:
        raise ProposeError.simple(
            f"{display} is not UTF-8 text ({exc})",
            hint=f"commit {path} as UTF-8, as kserve-gitops writes it, then run propose again",
        ) from None


@dataclass(frozen=True)
class _Bot:
    git: GitSide
    github: GitHubSide
    snapshot: Snapshot

    def publish(self, proposal: plan.Proposal) -> Result:
        """After a lost lease both the branch and the base are read again: a rival run may have built on a base
        that moved meanwhile, and the base's new commits are not someone else's commits on the branch."""
        base_sha, tip = self.snapshot.base_sha, self.snapshot.branches.get(proposal.branch)
        for _attempt in range(2):
            foreign = self.git.foreign_commits(base_sha, tip) if tip else []
            if foreign and tip:
                return self._edited(proposal, tip, foreign)
            tree = self.git.build(base_sha, proposal.writes, proposal.deletes)
            if tip and self.git.is_built_on(tip, base_sha, tree):
                return self._pull_request(proposal, self.github.find(proposal.branch), head=tip, pushed=False)
            pull = self.github.find(proposal.branch)
            if pull is not None:
                self._before_push(proposal, pull)
            head = self.git.commit(tree, base_sha, proposal.message)
            if self.git.push(proposal.branch, head, expected=tip):
                # read again: a rival run may have labelled or described it since (then it is undone here)
                return self._pull_request(proposal, self.github.find(proposal.branch), head=head, pushed=True)
            now = self.git.fetch(self.snapshot.base)
            base_sha, tip = now.base_sha, now.branches.get(proposal.branch)
        raise ProposeError.simple(
            f"{proposal.branch} moved twice while this run pushed it; nothing was overwritten",
            hint="another propose run or a person is pushing to it: run propose again once it is done",
        )

    def _before_push(self, proposal: plan.Proposal, pull: PullRequest) -> PullRequest:
        """Make the open pull request no more permissive, and no more specific, than either head: the old one stays
        until the push lands, the new one follows it. Only then may `_pull_request` grant and describe."""
        pull = self._labelled(proposal, pull, settled=False)
        if (pull.title, pull.body) == (proposal.title, proposal.body):
            return pull
        title, text = body.updating(proposal.key, proposal.branch)
        if (pull.title, pull.body) != (title, text):
            self.github.edit(pull.number, title=title, body=text)
        return replace(pull, title=title, body=text)

    def _pull_request(self, proposal: plan.Proposal, pull: PullRequest | None, *, head: str, pushed: bool) -> Result:
        """`pull` as this run last saw it; None when it saw none open. `head`: the commit the branch holds for this
        proposal. Once the pull request describes and labels it, the branch is asked again whether it still holds it:
        a rival run that pushed meanwhile must not see its head described or granted as this one."""
        if pull is None:
            try:
                pull = self.github.open(proposal.branch, self.snapshot.base, proposal.title, proposal.body)
                opened = self._result(proposal, "opened", self._labelled(proposal, pull, settled=True))
                return self._still_holds(proposal, head, opened)
            except PullRequestExists:
                pull = self._find_again(proposal.branch)
        outdated = (pull.title, pull.body) != (proposal.title, proposal.body)
        if outdated:
            self.github.edit(pull.number, title=proposal.title, body=proposal.body)
        action: Action = "updated" if pushed or outdated else "unchanged"
        described = replace(pull, title=proposal.title, body=proposal.body)
        labelled = self._labelled(proposal, described, settled=True)
        result = self._result(proposal, action, labelled)
        return self._still_holds(proposal, head, result) if outdated or labelled != described else result

    def _still_holds(self, proposal: plan.Proposal, head: str, result: Result) -> Result:
        """`result`, unless the branch moved from `head` while its pull request was being finished: then the pull
        request is left restricted and saying it is being updated, for the run that moved it (or the next) to finish."""
        if self.git.holds(proposal.branch, head):
            return result
        assert result.pull is not None
        pull = result.pull
        remove = [GRANTING] if GRANTING in pull.labels else []
        add = [name for name in plan.APPROVAL if name != GRANTING and name not in pull.labels]
        if add or remove:
            self.github.label(pull.number, add=add, remove=remove)
        title, text = body.updating(proposal.key, proposal.branch)
        self.github.edit(pull.number, title=title, body=text)
        raise ProposeError.simple(
            f"{proposal.branch} moved while this run finished its pull request #{pull.number}; it is left needing "
            "approval and saying it is being updated",
            hint="another propose run or a person is pushing to it: run propose again once it is done",
        )

    def _find_again(self, branch: str) -> PullRequest:
        """Another run opened it between our lookup and our request."""
        pull = self.github.find(branch)
        if pull is None:
            raise ProposeError.simple(
                f"GitHub says a pull request from {branch} is open, but lists none", hint="run propose again"
            )
        return pull

    def _labelled(self, proposal: plan.Proposal, pull: PullRequest, *, settled: bool) -> PullRequest:
        """`pull` with the proposal's labels once `settled` (the branch holds the proposal). Until then the head may
        still be the old one: the granting label may go but not come, a restricting one may come but not go."""
        add = [name for name in proposal.labels if name not in pull.labels and (settled or name != GRANTING)]
        remove = [
            name
            for name in proposal.owned
            if name in pull.labels and name not in proposal.labels and (settled or name == GRANTING)
        ]
        if not (add or remove):
            return pull
        self.github.label(pull.number, add=add, remove=remove)
        return replace(pull, labels=tuple(name for name in (*pull.labels, *add) if name not in remove))

    def _edited(self, proposal: plan.Proposal, tip: str, foreign: Sequence[str]) -> Result:
        """Someone else's commits are on the branch: never overwrite them; say so once per branch tip."""
        pull = self.github.find(proposal.branch)
        marker = body.EDITED_MARKER.format(sha=tip)
        if pull is not None and not any(marker in text for text in self.github.comments(pull.number)):
            self.github.comment(pull.number, body.edited(proposal.branch, tip, foreign))
        return self._result(proposal, "edited", pull)

    def close_stale(
        self, spec: Spec, settings: ProposeSettings, done: Sequence[Result], held: Sequence[tuple[Move, Verdict]] = ()
    ) -> list[Result]:
        """Close the open pull request of every bot branch this run proposes nothing for, unless
        someone else pushed to the branch (then it is theirs to close). When its changes were held back by
        gates, the closing comment says so.

        With MODEL arguments only branches of the current grouping are considered: one of
        another grouping may still carry changes of models this run did not look at.
        """
        busy = {r.branch for r in done}
        successors = [_reference(r) for r in done if r.action != "edited"]
        in_scope = set(plan.keys(spec, settings.group))
        closed = []
        for branch, tip in sorted(self.snapshot.branches.items()):
            key = branch.removeprefix(plan.BRANCH_PREFIX)
            if branch in busy or not (settings.update.everything or key in in_scope):
                continue
            pull = self.github.find(branch)
            if pull is None or self.git.foreign_commits(self.snapshot.base_sha, tip):
                continue
            if not self.git.holds(branch, tip):  # pushed since this run's fetch (a rival run): it is the pusher's
                continue
            mine = [(m, v) for m, v in held if plan.group_key(m.target.model, m.target.env, settings.group) == key]
            text = plan.closing_comment(branch, spec, settings.group, successors, mine)
            if text not in self.github.comments(pull.number):  # a run that stopped before closing said it already
                self.github.comment(pull.number, text)
            self.github.close(pull.number)
            closed.append(Result(key, branch, "closed", pull))
        return closed

    @staticmethod
    def _result(proposal: plan.Proposal, action: Action, pull: PullRequest | None) -> Result:
        return Result(proposal.key, proposal.branch, action, pull, proposal)


def _reference(result: Result) -> str:
    return f"#{result.pull.number}" if result.pull and result.pull.number else f"`{result.branch}`"


@dataclass(frozen=True)
class _ReadOnlyGit:
    """--dry-run: reads and builds trees (unreferenced objects only), never commits or pushes."""

    inner: GitSide

    def default_branch(self) -> str:
        return self.inner.default_branch()

    def fetch(self, base: str) -> Snapshot:
        return self.inner.fetch(base)

    def read(self, rev: str, path: str) -> str | None:
        return self.inner.read(rev, path)

    def foreign_commits(self, base_sha: str, tip: str) -> list[str]:
        return self.inner.foreign_commits(base_sha, tip)

    def build(self, base_sha: str, writes: Mapping[str, bytes], deletes: Sequence[str]) -> str:
        return self.inner.build(base_sha, writes, deletes)

    def is_built_on(self, tip: str, base_sha: str, tree: str) -> bool:
        return self.inner.is_built_on(tip, base_sha, tree)

    def commit(self, tree: str, parent: str, message: str) -> str:
        return ""

    def push(self, branch: str, sha: str, expected: str | None) -> bool:
        return True

    def holds(self, branch: str, sha: str) -> bool:
        return True


@dataclass(frozen=True)
class _ReadOnlyGitHub:
    """--dry-run: looks pull requests up when it can (a token is set), writes nothing."""

    inner: GitHubSide | None

    def find(self, branch: str) -> PullRequest | None:
        return self.inner.find(branch) if self.inner else None

    def open(self, branch: str, base: str, title: str, body: str) -> PullRequest:
        return PullRequest(number=0, url="", title=title, body=body, labels=())

    def edit(self, number: int, *, title: str, body: str) -> None:
        return None

    def label(self, number: int, *, add: Sequence[str], remove: Sequence[str]) -> None:
        return None

    def comments(self, number: int) -> list[str]:
        return self.inner.comments(number) if self.inner else []

    def comment(self, number: int, text: str) -> None:
        return None

    def close(self, number: int) -> None:
        return None
