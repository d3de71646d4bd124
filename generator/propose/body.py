"""Pure: the Markdown of promotion pull requests and of the bot's comments.

A reviewer decides from the body alone: one table per change (what moves, from which
run, with the run's key metrics and links into the MLflow UI), then which rendered
files change per environment. The same inputs always give the same text, so an
unchanged proposal never edits its pull request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from generator.lock.model import LockEntry
from generator.registry.runs import KEY_METRICS, RunDetails, run_url, version_url
from generator.spec.model import Spec

EDITED_MARKER = "<!-- kserve-gitops:edited {sha} -->"
_FOOTER = (
    "This branch belongs to kserve-gitops: every `kserve-gitops propose` rebuilds it from `{base}` with what "
    "the registry says then, and edits this pull request to match. If you push to the branch, the bot leaves it "
    "alone from then on. To keep a version where it is, `kserve-gitops pin MODEL ENV VERSION`."
)


@dataclass(frozen=True)
class Context:
    spec: Spec
    runs: Mapping[str, RunDetails]
    ui: str  # the MLflow UI's address; "" when there is none to link to
    base_branch: str


@dataclass(frozen=True)
class Row:
    new: LockEntry
    old: LockEntry | None


def pull_request(context: Context, rows: Sequence[Row], files: Mapping[str, list[str]]) -> str:
    parts = [_intro(context, rows)]
    parts += [_change(context, row) for row in rows]
    parts += [_files(files), "---\n" + _FOOTER.format(base=context.base_branch)]
    return "\n\n".join(parts) + "\n"


def _intro(context: Context, rows: Sequence[Row]) -> str:
    envs = [e for e in context.spec.environments if any(r.new.env == e for r in rows)]
    moves = f"{len(rows)} model version{'s' if len(rows) != 1 else ''}"
    gates = "; ".join(
        f"**{e}** merges automatically once checks pass (`promotion: auto`)"
        if context.spec.environments[e].promotion == "auto"
        else f"**{e}** needs a reviewer's approval (`promotion: approval`)"
        for e in envs
    )
    return (f"Moves {moves} to what the MLflow registry says now. Once merged, Argo CD deploys it. {gates}.")


def _change(context: Context, row: Row) -> str:
    new, old = row.new, row.old
    details = context.runs.get(new.run_id)
    version = f"{_link(old.version, _version_url(context, old))} → " if old else ""
    cells = [
        ("registered model", f"`{new.registered_model}`"),
        ("reference", f"`{new.reference}`"),
        ("version", f"{version}**{_link(new.version, _version_url(context, new))}**"),
        ("run", _link(f"`{new.run_id}`", run_url(context.ui, details.experiment_id, new.run_id) if details else "")
         if new.run_id else "none recorded"),
        ("metrics", _metrics(details)),
    ]
    table = ["| | |", "| --- | --- |", *(f"| {name} | {_cell(value)} |" for name, value in cells)]
    return f"### {new.model} in {new.env}\n\n" + "\n".join(table)


def _version_url(context: Context, entry: LockEntry) -> str:
    return version_url(context.ui, entry.registered_model, entry.version)


def _metrics(details: RunDetails | None) -> str:
    if details is None:
        return "not available"
    shown = details.key_metrics()
    if not shown:
        return "none logged"
    text = ", ".join(f"`{name}` {value:.4g}" for name, value in shown)
    more = len(details.metrics) - len(shown)
    return f"{text} (first {KEY_METRICS} by name; {more} more in MLflow)" if more else text


def _files(files: Mapping[str, list[str]]) -> str:
    rows = [f"| {env or '(repository)'} | {'<br>'.join(_file(line) for line in lines)} |"
            for env, lines in files.items()]
    return "\n".join(["### Rendered changes", "", "| environment | files |", "| --- | --- |", *rows])


def _file(line: str) -> str:
    kind, path = line.split(" ", 1)
    return f"`{_cell(path)}` ({kind})"


def _link(text: str, url: str) -> str:
    return f"[{text}]({url})" if url else text


def _cell(text: str) -> str:
    """A pipe would end the table cell."""
    return text.replace("|", "\\|")


def closing(key: str, *, superseded_by: Sequence[str]) -> str:
    if superseded_by:
        return (f"Superseded by {', '.join(superseded_by)}: `kserve-gitops propose` now groups changes "
                f"differently, and that pull request carries what this one proposed. Closing.")
    return (f"Nothing is left to promote for **{key}**: the registry points at what the base branch already "
            "deploys again (an alias moved back, or the change was merged another way). Closing; a new pull "
            "request opens when something moves again.")


def edited(branch: str, tip: str, foreign: Sequence[str]) -> str:
    commits = ", ".join(f"`{sha[:12]}`" for sha in foreign)
    return (f"{EDITED_MARKER.format(sha=tip)}\n"
            f"`{branch}` has commits kserve-gitops did not make ({commits}), so the bot leaves this branch and "
            "pull request alone and will not update them. To hand it back, close this pull request and delete "
            "the branch; the next run starts afresh.")
