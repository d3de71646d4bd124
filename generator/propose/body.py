"""Pure: the Markdown of promotion pull requests and of the bot's comments.

A reviewer decides from the body alone: one table per change (what moves, from which
run, with the run's key metrics and links into the MLflow UI), then which rendered
files change per environment. The same inputs always give the same text, so an
unchanged proposal never edits its pull request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from generator.diagnostics import printable
from generator.gate.evaluate import SIGNATURE, Check, Verdict
from generator.gate.review import Move, VersionKey, version_key
from generator.lock.model import LockEntry
from generator.registry.base import Facts
from generator.registry.runs import KEY_METRICS, RunDetails, run_url, version_url
from generator.spec.model import Spec

if TYPE_CHECKING:  # plan builds the body from its changes; importing it at run time would be a loop
    from generator.propose.plan import Change

EDITED_MARKER = "<!-- kserve-gitops:edited {sha} -->"
FOREIGN_SHOWN = 20  # commits named in the comment on a branch someone else pushed to
BODY_LIMIT = 65_536 - 1_024  # GitHub refuses a body over 65,536 characters (422): a margin, as diff keeps one
_BACKTICKS = re.compile("`+")
_PIPE = re.compile(r"(\\*)\|")
_FOOTER = (
    "This branch belongs to kserve-gitops: every `kserve-gitops propose` rebuilds it from `{base}` with what "
    "the registry says then, and edits this pull request to match. If you push to the branch, the bot leaves it "
    "alone from then on. To keep a version where it is, `kserve-gitops pin MODEL ENV VERSION`."
)


@dataclass(frozen=True)
class PullRequestContext:
    spec: Spec
    runs: Mapping[str, RunDetails]
    ui: str  # the MLflow UI's address; "" when there is none to link to
    base_branch: str
    facts: Mapping[VersionKey, Facts] = field(default_factory=dict)  # metrics of candidates and what they replace
    verdicts: Mapping[tuple[str, str], Verdict] = field(default_factory=dict)  # by (model, env), gated changes only


def pull_request(
    context: PullRequestContext,
    rows: Sequence[Change],
    files: Mapping[str, list[str]],
    held: Sequence[tuple[Move, Verdict]] = (),
) -> str:
    parts = [_intro(context, rows)]
    parts += [_change(context, row) for row in rows]
    parts += [_held(held)] if held else []
    parts += [_files(files)]
    return _fitted("\n\n".join(parts), "---\n" + _FOOTER.format(base=context.base_branch))


def _fitted(text: str, footer: str, limit: int = BODY_LIMIT) -> str:
    """`text` and `footer`, `text` cut at a line end to fit GitHub's limit with a note saying so: a run's metrics
    (every one both versions logged is a row) and the names others chose are unbounded, and GitHub refuses a longer
    body, which would fail the whole run. Cut at a line end, a table or code span is never left open."""
    whole = f"{text}\n\n{footer}\n"
    if len(whole) <= limit:
        return whole
    note = (
        "> [!NOTE]\n> Cut to fit GitHub's limit on a pull request's body: `kserve-gitops propose --dry-run` prints "
        "it whole, and the branch's commits are what merging deploys."
    )
    kept = text[: limit - len(note) - len(footer) - 5].rsplit("\n", 1)[0]
    return f"{kept}\n\n{note}\n\n{footer}\n"


def _intro(context: PullRequestContext, rows: Sequence[Change]) -> str:
    envs = [e for e in context.spec.environments if any(r.new.env == e for r in rows)]
    moves = f"{len(rows)} model version{'s' if len(rows) != 1 else ''}"
    gates = "; ".join(
        f"**{e}** merges automatically once checks pass (`promotion: auto`)"
        if context.spec.environments[e].promotion == "auto"
        else f"**{e}** needs a reviewer's approval (`promotion: approval`)"
        for e in envs
    )
    return f"Moves {moves} to what the MLflow registry says now. Once merged, Argo CD deploys it. {gates}."


def _change(context: PullRequestContext, row: Change) -> str:
    new, old = row.new, row.old
    details = context.runs.get(new.run_id)
    version = f"{_link(old.version, _version_url(context, old))} → " if old else ""
    cells = [
        ("registered model", _code(new.registered_model)),
        ("reference", _code(str(new.reference))),
        ("version", f"{version}**{_link(new.version, _version_url(context, new))}**"),
        (
            "run",
            _link(_code(new.run_id), run_url(context.ui, details.experiment_id, new.run_id) if details else "")
            if new.run_id
            else "none recorded",
        ),
        ("metrics", _metrics(details)),
    ]
    table = ["| | |", "| --- | --- |", *(f"| {name} | {value} |" for name, value in cells)]
    return f"### {new.model} in {new.env}\n\n" + "\n".join(table) + _comparison(context, row)


def _comparison(context: PullRequestContext, row: Change) -> str:
    """Candidate vs current per gated metric (delta, ✓/✗), then the ungated metrics both versions have."""
    new_facts = context.facts.get(version_key(row.new))
    if new_facts is None:
        return ""
    old_facts = context.facts.get(version_key(row.old)) if row.old is not None else None
    verdict = context.verdicts.get((row.new.model, row.new.env))
    checks: dict[str, list[Check]] = {}
    for check in verdict.checks if verdict else ():
        checks.setdefault(check.metric, []).append(check)
    shared = sorted(set(new_facts.metrics) & set(old_facts.metrics if old_facts else {}) - set(checks))
    if not checks and not shared:
        return ""
    before = f"current ({row.old.version})" if row.old is not None else "current"
    lines = [
        "",
        "",
        f"| metric | {before} | candidate ({row.new.version}) | change | gate |",
        "| --- | --- | --- | --- | --- |",
    ]
    for metric, found in checks.items():
        mark = "✓" if all(c.passed for c in found) else "✗"
        why = "; ".join(c.reason for c in found if not c.passed) or ", ".join(
            f"{c.rule} ({c.source})" if c.source != row.new.env else c.rule for c in found
        )
        lines.append(
            f"| {_code(metric)} | {_value(old_facts, metric)} | {_value(new_facts, metric)} | "
            f"{_delta(old_facts, new_facts, metric)} | {mark} {_cell(why)} |"
        )
    lines += [
        f"| {_code(metric)} | {_value(old_facts, metric)} | {_value(new_facts, metric)} | "
        f"{_delta(old_facts, new_facts, metric)} | not gated |"
        for metric in shared
    ]
    if verdict is not None and verdict.override and not verdict.passed:
        lines += [
            "",
            f"**Gate override** on `models.{row.new.model}.environments.{row.new.env}`: "
            f"{_code(verdict.override)}. A reviewer accepts the ✗ above by merging.",
        ]
    return "\n".join(lines)


def _value(facts: Facts | None, metric: str) -> str:
    if metric == SIGNATURE:
        return "" if facts is None or facts.signature is None else "present" if facts.signature else "missing"
    value = facts.metrics.get(metric) if facts is not None else None
    return f"{value:.4g}" if value is not None else "—"


def _delta(old: Facts | None, new: Facts, metric: str) -> str:
    a, b = (old.metrics.get(metric) if old else None), new.metrics.get(metric)
    return f"{b - a:+.4g}" if a is not None and b is not None else ""


def _held(held: Sequence[tuple[Move, Verdict]]) -> str:
    rows = [
        f"| {m.target.model} | {m.target.env} | {m.candidate.version} ({_code(str(m.candidate.reference))}) | "
        f"{m.current.version if m.current else '—'} | "
        f"{'<br>'.join(f'{_code(c.metric)} {_cell(c.reason)}' for c in v.failures)} |"
        for m, v in held
    ]
    return "\n".join(
        [
            "### Held back by gate",
            "",
            "The registry offers these versions, but they fail the quality gates of models.yaml, so they "
            "are not proposed (docs/gates.md).",
            "",
            "| model | environment | candidate | keeps | failing |",
            "| --- | --- | --- | --- | --- |",
            *rows,
        ]
    )


def _version_url(context: PullRequestContext, entry: LockEntry) -> str:
    return version_url(context.ui, entry.registered_model, entry.version)


def _metrics(details: RunDetails | None) -> str:
    if details is None:
        return "not available"
    shown = details.key_metrics()
    if not shown:
        return "none logged"
    text = ", ".join(f"{_code(name)} {value:.4g}" for name, value in shown)
    more = len(details.metrics) - len(shown)
    return f"{text} (first {KEY_METRICS} by name; {more} more in MLflow)" if more else text


def _files(files: Mapping[str, list[str]]) -> str:
    rows = [
        f"| {env or '(repository)'} | {'<br>'.join(_file(line) for line in lines)} |" for env, lines in files.items()
    ]
    return "\n".join(["### Rendered changes", "", "| environment | files |", "| --- | --- |", *rows])


def _file(line: str) -> str:
    kind, path = line.split(" ", 1)
    return f"{_code(path)} ({kind})"


def _link(text: str, url: str) -> str:
    """A link whose address cannot end early: a parenthesis in it (a registered model's name) would close it."""
    return f"[{text}]({url.replace('(', '%28').replace(')', '%29')})" if url else text


def _cell(text: str) -> str:
    """Text this tool words (a gate's reason, a rule) in a table cell: a pipe would end the cell; a control or
    invisible character shows as its escape."""
    return _pipes(printable(text))


def _code(text: str) -> str:
    """Text others chose (a registered model's name, a metric's, a gate override's) as a code span in a table cell:
    shown literally, so no Markdown, HTML or @-mention in it acts; fenced by more backticks than any run inside (a
    backtick in it cannot end the span), padded when it starts or ends with a backtick or a space (CommonMark strips
    one space from each side); a control or invisible character as its escape; pipes escaped (`_pipes`)."""
    shown = _pipes(printable(text))
    fence = "`" * (max(map(len, _BACKTICKS.findall(shown)), default=0) + 1)
    pad = " " if not shown or shown[0] in "` " or shown[-1] in "` " else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def _pipes(text: str) -> str:
    """Each pipe escaped, to stay in its cell: GitHub splits a table row at every pipe that is not escaped (inside a
    code span too) before it reads the cell, pairing backslashes from the left (`\\X` is one escaped character). A
    pipe after n backslashes gets one more when n is even and two when n is odd: an odd run, whose last backslash
    escapes the pipe."""
    return _PIPE.sub(lambda match: match.group(1) + ("\\" if len(match.group(1)) % 2 == 0 else "\\\\") + "|", text)


def closing(key: str, *, superseded_by: Sequence[str], held: Sequence[tuple[Move, Verdict]] = ()) -> str:
    if held:
        return (
            f"Nothing is left to promote for **{key}**: what the registry offers now fails the quality gates of "
            f"models.yaml. Closing; a new pull request opens when a version passes, or when "
            f"`gates.override` lets one through.\n\n{_held(held)}"
        )
    if superseded_by:
        return (
            f"Superseded by {', '.join(superseded_by)}: `kserve-gitops propose` now groups changes "
            f"differently, and that pull request carries what this one proposed. Closing."
        )
    return (
        f"Nothing is left to promote for **{key}**: the registry points at what the base branch already "
        "deploys again (an alias moved back, or the change was merged another way). Closing; a new pull "
        "request opens when something moves again."
    )


def updating(key: str, branch: str) -> tuple[str, str]:
    """The title and body a pull request wears while its branch gets a new commit: true of the old head and of the
    new one, so a run stopped between the push and the final edit never leaves text describing what is not there."""
    return (
        f"Updating the promotion of {key}",
        f"kserve-gitops is pushing a new commit to `{branch}` and rewrites this description once it is there. "
        "Until then, review the commits: they are what merging deploys. If this text stays, the run was "
        "interrupted; the next `kserve-gitops propose` finishes the update.\n",
    )


def edited(branch: str, tip: str, foreign: Sequence[str]) -> str:
    """The comment on a branch someone else pushed to. At most FOREIGN_SHOWN of their commits are named: a pushed
    history of thousands (another project's branch) would make a comment GitHub refuses, on every run."""
    more = len(foreign) - FOREIGN_SHOWN
    commits = ", ".join(f"`{sha[:12]}`" for sha in foreign[:FOREIGN_SHOWN])
    commits += f" and {more:,} more" if more > 0 else ""
    return (
        f"{EDITED_MARKER.format(sha=tip)}\n"
        f"`{branch}` has commits kserve-gitops did not make ({commits}), so the bot leaves this branch and "
        "pull request alone and will not update them. To hand it back, close this pull request and delete "
        "the branch; the next run starts afresh."
    )
