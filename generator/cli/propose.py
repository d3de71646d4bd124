"""`kserve-gitops propose`: what `lock --update` changed, as pull requests on fixed branches (docs/propose.md)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from generator.cli import _build, _options
from generator.cli._report import CommandReport, emit
from generator.errors import ProposeDenied
from generator.github import DEFAULT_API_URL
from generator.propose import DEFAULT_AUTHOR

if TYPE_CHECKING:
    from generator.propose.plan import Proposal
    from generator.propose.publish import GitHubSide, Published, Result

NAME = "propose"
HELP = (
    "Commit what `lock --update` changed in models.lock, with the re-rendered files, on one fixed branch per "
    "group (kserve-gitops/promote-<key>) built on the default branch; push it with a lease and open or update its "
    "pull request. Closes the bot's pull requests that have nothing left to propose; never touches a branch "
    "someone else pushed to. Needs GITHUB_TOKEN and GITHUB_REPOSITORY (not for --dry-run)."
)
EXAMPLE = (
    "Examples: kserve-gitops lock --update && kserve-gitops propose  |  kserve-gitops propose --group all --dry-run"
)

Group = Annotated[
    Literal["env", "model", "all"],
    typer.Option("--group", help="One branch and pull request per environment, per model, or one for everything."),
]
Selectors = Annotated[
    list[str] | None,
    typer.Argument(
        help="The MODEL or MODEL/ENV given to `lock --update`; other targets keep what their branch proposes.",
        show_default=False,
        metavar="MODEL[/ENV]",
    ),
]
Base = Annotated[
    str,
    typer.Option("--base", help="Branch to build on and merge into. Default: the remote's HEAD.", show_default=False),
]
Remote = Annotated[str, typer.Option("--remote", help="Git remote to fetch from and push to.")]
ApiUrl = Annotated[
    str,
    typer.Option(
        "--api-url",
        envvar="GITHUB_API_URL",
        callback=_options.masked_url,
        help="GitHub's REST API; https://HOST/api/v3 for GitHub Enterprise.",
    ),
]
Repository = Annotated[
    str,
    typer.Option(
        "--repository", envvar="GITHUB_REPOSITORY", help="OWNER/NAME of the platform repository.", show_default=False
    ),
]
Author = Annotated[
    str,
    typer.Option(
        "--author",
        envvar="KSERVE_GITOPS_AUTHOR",
        help="'NAME <EMAIL>' the bot commits as. A commit on a bot branch "
        "whose author or committer is someone else marks the branch as edited.",
    ),
]
DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Print the branches, titles, labels and bodies; push nothing, write nothing on GitHub."
    ),
]

_SAID = {  # action → (done, dry run)
    "opened": ("opened {pull}", "would push {branch} and open a pull request"),
    "updated": ("updated {pull}", "would update {pull}"),
    "unchanged": ("{pull} is up to date", "{pull} is up to date"),
    "edited": (
        "{branch} has commits by someone else; left alone ({pull})",
        "{branch} has commits by someone else; would leave it alone ({pull})",
    ),
    "closed": ("closed {pull}: nothing left to propose", "would close {pull}: nothing left to propose"),
}


def command(
    ctx: typer.Context,
    selectors: Selectors = None,
    group: Group = "env",
    dry_run: DryRun = False,
    base: Base = "",
    remote: Remote = "origin",
    api_url: ApiUrl = DEFAULT_API_URL,
    repository: Repository = "",
    author: Author = DEFAULT_AUTHOR,
    repo: _options.Repo = None,
    crd_dir: _options.CrdDir = None,
    output: _options.Output = "text",
) -> None:
    from generator import pipeline  # noqa: PLC0415
    from generator.lock.resolve import Update  # noqa: PLC0415
    from generator.propose.git import GitRepo, Identity  # noqa: PLC0415 -- gitpython only for this command
    from generator.propose.plan import BRANCH_PREFIX  # noqa: PLC0415
    from generator.propose.publish import ProposeSettings  # noqa: PLC0415
    from generator.registry.runs import MlflowRuns  # noqa: PLC0415

    root = _build.repo_root(repo)
    settings = ProposeSettings(group=group, update=Update.parse(selectors or []), base=base, dry_run=dry_run)
    git = GitRepo(root, identity=Identity.parse(author), prefix=BRANCH_PREFIX, remote=remote)
    with _build.in_session(ctx, root, write_tree=False):
        published = pipeline.propose(
            root,
            settings,
            git=git,
            github=_github(repository, api_url, dry_run=dry_run),
            runs=MlflowRuns(os.environ.get("MLFLOW_TRACKING_URI", "")),
            crds=_build.crd_directory(root, crd_dir),
            registry=_build.registry_for,
            facts=_build.facts_for,
        )
        emit(
            ctx,
            CommandReport(published.warnings, _text(published, dry_run=dry_run), _fields(published, dry_run=dry_run)),
        )


def _github(repository: str, api_url: str, *, dry_run: bool) -> GitHubSide | None:
    """The REST client; None for a dry run without credentials (nothing is looked up then)."""
    token = os.environ.get("GITHUB_TOKEN", "")
    if token and repository:
        from generator.github.api import GitHubApi  # noqa: PLC0415
        from generator.propose.github import ProposeGitHub  # noqa: PLC0415

        return ProposeGitHub(GitHubApi(repository, token, api_url=api_url))
    if dry_run:
        return None
    missing = " and ".join(
        name for name, value in (("GITHUB_TOKEN", token), ("GITHUB_REPOSITORY", repository)) if not value
    )
    raise ProposeDenied.simple(
        f"{missing} not set",
        hint="export GITHUB_TOKEN (pull-requests: write) and GITHUB_REPOSITORY=OWNER/NAME, or use --dry-run",
    )


def _text(published: Published, *, dry_run: bool) -> str:
    lines = [] if published.results else [f"nothing to propose: models.lock moves no version against {published.base}"]
    lines += published.held
    for result in published.results:
        lines.append(f"{result.key}: {_said(result, dry_run=dry_run)}")
        if dry_run and result.proposal is not None:
            lines += _details(result.proposal)
    return "".join(f"{line}\n" for line in lines)


def _fields(published: Published, *, dry_run: bool) -> dict[str, object]:
    """What `-o json` adds (docs/cli-json.md): one result per group, with the proposal itself on a dry run."""
    results = [
        {
            "key": r.key,
            "branch": r.branch,
            "action": r.action,
            "pull": {"number": r.pull.number, "url": r.pull.url} if r.pull and r.pull.number else None,
            **(
                {
                    "proposal": {
                        "title": r.proposal.title,
                        "labels": list(r.proposal.labels),
                        "writes": sorted(r.proposal.writes),
                        "deletes": sorted(r.proposal.deletes),
                        "body": r.proposal.body,
                    }
                }
                if dry_run and r.proposal is not None
                else {}
            ),
        }
        for r in published.results
    ]
    return {"dryRun": dry_run, "base": published.base, "held": list(published.held), "results": results}


def _said(result: Result, *, dry_run: bool) -> str:
    pull = (
        f"#{result.pull.number} {result.pull.url}".rstrip()
        if result.pull and result.pull.number
        else "no open pull request"
    )
    return _SAID[result.action][dry_run].format(pull=pull, branch=result.branch)


def _details(proposal: Proposal) -> list[str]:
    files = sorted(
        [*(f"write {p}" for p in proposal.writes), *(f"delete {p}" for p in proposal.deletes)],
        key=lambda line: line.split(" ", 1)[1],
    )
    return [
        f"  branch: {proposal.branch}",
        f"  title:  {proposal.title}",
        f"  labels: {', '.join(proposal.labels)}",
        f"  files:  {', '.join(files)}",
        "  body:",
        *(f"    {line}".rstrip() for line in proposal.body.splitlines()),
    ]
