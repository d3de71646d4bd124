"""`diff`'s report as a patch (text), a pull-request comment (Markdown) or data for tools (JSON).

The Markdown comment stays under GitHub's limit of 65,536 characters per comment: every directory keeps
its summary line (but for the last ones of hundreds, when not even the summaries fit), and diffs fill the room that
is left, in order; a diff that does not fit is cut at a line end (or, with too little room left, not shown) and a
note at the end says how many were, and how many directories were not listed.
"""

from __future__ import annotations

import html
import re
from typing import Any

from generator.diagnostics import Diagnostic, printable
from generator.diff.compare import DirectoryDiff, RenderedDiff
from generator.render.tree import ARGOCD_DIR

COMMENT_LIMIT = 65_536  # GitHub's limit on a comment's body
LIMIT = COMMENT_LIMIT - 1_024  # less room for closing a cut section and the note
MARKER = "<!-- kserve-gitops:rendered-diff -->"  # the first line: how the workflow finds its comment again
_MIN_CUT = 1_000  # with less room than this, a diff is not shown at all rather than cut to a stub
_BACKTICKS = re.compile(r"`{3,}")
# The comment's caution names at most so many Applications, each name and directory cut to so many characters:
# Argo CD's names are DNS labels and ours a project, an environment and a cluster's slug, so only an argocd/ written
# by hand at the base could hold more, and the comment must stay within its limit whatever it holds.
_MOST_DELETIONS_LISTED, _LONGEST_NAME = 20, 253


def text(report: RenderedDiff) -> str:
    """Every directory's unified diff, one after the other: a patch, empty when nothing changes."""
    return "".join(d.diff for d in report.directories)


def notes(report: RenderedDiff) -> str:
    """For stderr: a line per directory that is not plain (a failed build, a skipped name), then a summary."""
    lines = [
        f"{printable(d.directory)}: {d.summary}\n" + "".join(f"  {printable(line)}\n" for line in d.error.splitlines())
        for d in report.directories
        if d.status in ("build-failed", "skipped")
    ]
    return "".join(lines) + f"{_counted(report)} (base: {report.base_ref} = {report.base_commit[:12]})\n"


def findings(report: RenderedDiff) -> list[Diagnostic]:
    """A warning per Argo CD Application the change deletes: the diff shows an element leaving a list, not that
    merging deletes everything the Application deployed, at once and whatever its sync policy (prod's manual
    sync included)."""
    return [
        Diagnostic(
            file=f"{ARGOCD_DIR}/applicationset.yaml",
            severity="warning",
            rule="argocd-deletion",
            message=f"merging this deletes the Argo CD Application {printable(name)!r} ({printable(path)}) and "
            "every resource it deployed, at once, whatever its sync policy",
            hint="if they must stay, keep the environment and its clusters in models.yaml (a change of an "
            "environment's clusters renames its Applications); else merge when they may go",
        )
        for name, path in report.deleted_applications
    ]


def fields(report: RenderedDiff) -> dict[str, Any]:
    """What `-o json` adds to the command's document: the shape documented in docs/diff.md."""
    return {
        "base": {"ref": report.base_ref, "commit": report.base_commit},
        "changed": report.changed,
        "directories": [_directory_json(d) for d in report.directories],
    }


def markdown(report: RenderedDiff, *, details_url: str = "", limit: int = LIMIT) -> str:
    """The pull-request comment: a hidden marker, a heading, then one collapsible section per directory."""
    limit -= len(details_url)  # the note quotes it: a long one takes its room from the diffs, not from the limit
    body = (
        f"{MARKER}\n### Rendered manifests\n\n`kustomize build` of every directory at the base "
        f"(`{report.base_commit[:12]}`) and with this change: {_counted(report)}.\n\n{_unbuilt(report)}"
        f"{_deleting(report)}"
    )
    sections = [_section(d) for d in report.directories]
    short = [f"{summary} (diff not shown: too long)\n\n" for summary, _, _ in sections]
    listed = _listable(len(body), short, limit)  # so many directories that not even their summaries all fit
    unlisted = len(sections) - listed
    sections, short = sections[:listed], short[:listed]
    cut = 0
    for i, (summary, language, content) in enumerate(sections):
        block = _details(summary, language, content) if content else f"{summary}\n\n"
        room = limit - len(body) - sum(map(len, short[i + 1 :]))
        if len(block) <= room:
            body += block
            continue
        cut += 1
        if room > _MIN_CUT:  # the start of this diff, cut at a line end
            keep = content[: room - len(summary) - 200].rsplit("\n", 1)[0] + "\n"
            body += _details(f"{summary} (cut)", language, keep)
        else:
            body += short[i]
    if cut or unlisted:
        where = f"[the full diffs]({details_url}), or " if details_url else ""
        left_out = f"; {unlisted} more director{'y is' if unlisted == 1 else 'ies are'} not listed" if unlisted else ""
        body += (
            f"> [!NOTE]\n> Cut to fit GitHub's comment size limit: {cut} diff(s) are incomplete or not shown"
            f"{left_out}. See {where}`kserve-gitops diff --base {report.base_commit}`.\n"
        )
    return body


def _listable(used: int, short: list[str], limit: int) -> int:
    """How many directories' summary lines fit after `used` characters (all of them, but with thousands)."""
    room = limit - used
    for count, line in enumerate(short):
        room -= len(line)
        if room < 0:
            return count
    return len(short)


def _counted(report: RenderedDiff) -> str:
    total = len(report.directories)
    return f"{report.changed} of {total} director{'y' if total == 1 else 'ies'} differ"


def _unbuilt(report: RenderedDiff) -> str:
    """A warning under the heading when the change itself does not build: `diff` still exits 0 (the comment is
    posted; `validate` is the check that fails the pull request), so the comment must not read like a diff a
    reviewer can approve."""
    failed = sum(d.status == "build-failed" and d.failed == "working tree" for d in report.directories)
    if not failed:
        return ""
    where = f"{failed} director{'y' if failed == 1 else 'ies'}"
    return (
        f"> [!WARNING]\n> This change does not build: kustomize failed on the working tree in {where} "
        "(⚠️ below), so Argo CD could not sync it. `kserve-gitops validate` fails on it.\n\n"
    )


def _deleting(report: RenderedDiff) -> str:
    """A caution under the heading for each Application merging deletes (`findings`), which reviewers must not
    have to find as an element missing from the ApplicationSet's diff."""
    if not report.deleted_applications:
        return ""
    shown = report.deleted_applications[:_MOST_DELETIONS_LISTED]
    listed = ", ".join(
        f"<code>{html.escape(printable(name[:_LONGEST_NAME]))}</code> ({html.escape(printable(path[:_LONGEST_NAME]))})"
        for name, path in shown
    )
    if more := len(report.deleted_applications) - len(shown):
        listed += f" and {more} more (`-o json` lists them)"
    return (
        f"> [!CAUTION]\n> Merging this deletes the Argo CD Application(s) {listed} and every resource they "
        "deployed, at once, whatever their sync policy (prod's manual sync included).\n\n"
    )


def _section(d: DirectoryDiff) -> tuple[str, str, str]:
    """(summary line, code block language, code block text); no text when there is nothing to show."""
    summary = f"<code>{html.escape(printable(d.directory))}</code>: {d.summary}"
    if d.status == "build-failed":
        return summary, "text", "".join(f"{printable(line)}\n" for line in d.error.splitlines())
    return summary, "diff", d.diff


def _details(summary: str, language: str, content: str) -> str:
    fence = "`" * max([5, *(len(run) + 1 for run in _BACKTICKS.findall(content))])  # longer than any inside
    return f"<details><summary>{summary}</summary>\n\n{fence}{language}\n{content}{fence}\n\n</details>\n\n"


def _directory_json(d: DirectoryDiff) -> dict[str, Any]:
    return {
        "directory": printable(d.directory),
        "status": d.status,
        "summary": d.summary,
        "added": d.added,
        "removed": d.removed,
        "objects": [
            {
                "group": c.id.group,
                "kind": c.id.kind,
                "namespace": c.id.namespace or None,
                "name": c.id.name,
                "change": c.change,
            }
            for c in d.changes
        ],
        "diff": d.diff,
        "error": {"side": d.failed, "message": "\n".join(map(printable, d.error.splitlines()))}
        if d.status == "build-failed"
        else None,
    }
