"""What others chose (a registered model's name, a metric's, a gate override) reaches the pull request as text
only: one code span in its table cell, whatever backticks, pipes, backslashes, HTML, @-mentions or invisible
characters it holds."""

from __future__ import annotations

import json
import re
import string
from dataclasses import replace

import pytest

from generator.diagnostics import printable
from generator.gate.evaluate import Check, Verdict
from generator.gate.review import GateReview, Move
from generator.propose import body, plan
from generator.registry.base import Facts
from generator.registry.runs import run_url
from generator.spec.load import parse_spec
from tests.unit.propose.values import SPEC, UI
from tests.unit.propose.values import entry as _entry
from tests.unit.propose.values import lock as _lock
from tests.unit.propose.values import spec as _spec

NAMES = [  # registered model names models.yaml accepts (it refuses control, bidirectional and invisible characters)
    "wine` @octocat **pwned** <img src=x width=999> gnp.exe `",
    "a|b \\\\|d",  # pipes after no backslash and after two
    "``` ``x",
    " lead and trail ",
    "</details> [link](https://evil.example)",
]
HOSTILE = [  # metric names and gate overrides (a quoted models.yaml string may escape any character)
    "wine` @octocat **pwned** <img src=x width=999> \u200fgnp.exe\u200b\u061c `",
    "a|b \\\\|d",  # pipes after no backslash and after two
    "``` ``x",
    " lead and trail ",
    "</details> [link](https://evil.example) \u202egnp",
]


def _body(name: str) -> str:
    """The body of the pull request that moves wine in staging from 1 to 2, its registered model named `name`."""
    old, new = _lock(), _lock(wine_staging="2")
    for lock in (old, new):
        for key, entry in lock.entries.items():
            if key[0] == "wine":
                lock.entries[key] = replace(entry, registered_model=name)
    spec = parse_spec(SPEC.replace("registeredModel: Wine Classifier", f"registeredModel: {json.dumps(name)}") % "")[0]
    changes = plan.find_changes(spec, old, new, "env")
    (proposal,) = plan.proposals(spec, old, changes, "env", runs={}, ui=UI, base_branch="main")
    return proposal.body


def _row(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| {label} |"))


def _cells(row: str) -> list[str]:
    """A table row split as GitHub splits it (cmark-gfm): at each pipe not escaped, where a backslash escapes the
    ASCII punctuation character after it; then each cell's `\\|` read as `|`."""
    cells, cell, i = [], "", 0
    while i < len(row):
        if row[i] == "\\" and i + 1 < len(row) and row[i + 1] in string.punctuation:
            cell += row[i : i + 2]
            i += 2
            continue
        if row[i] == "|":
            cells.append(cell)
            cell = ""
        else:
            cell += row[i]
        i += 1
    cells.append(cell)
    return [c.strip().replace("\\|", "|") for c in cells[1:-1]]


def _code_span(cell: str) -> str:
    """The text of a cell that is exactly one code span (CommonMark): fenced by a run of n backticks that no run
    inside equals, one space stripped from each side when both sides have one."""
    fence = re.match("`+", cell)
    assert fence is not None and cell.endswith(fence.group()), cell
    inside = cell[len(fence.group()) : -len(fence.group())]
    assert len(fence.group()) not in map(len, re.findall("`+", inside)), cell
    if inside.startswith(" ") and inside.endswith(" ") and inside.strip():
        inside = inside[1:-1]
    return inside


@pytest.mark.parametrize("name", NAMES)
def test_a_registered_model_name_is_one_code_span_in_its_cell(name: str) -> None:
    text = _body(name)

    label, cell = _cells(_row(text, "registered model"))
    assert label == "registered model"
    assert _code_span(cell) == printable(name)
    assert not re.search("[\u200b-\u200f\u061c\u202a-\u202e]", text)


def test_a_pipe_after_an_odd_run_of_backslashes_stays_in_its_cell_shown_with_one_more() -> None:
    """GitHub reads `\\|` as an escaped backslash and a pipe that ends the cell: the pipe gets two more backslashes,
    and shows one more than the name has (no count of backslashes shows exactly that many before a kept pipe)."""
    cells = _cells(_row(_body("x\\|y <b>"), "registered model"))
    assert [_code_span(cell) for cell in cells[1:]] == ["x\\\\|y <b>"]


def test_a_link_to_a_version_ends_where_it_should() -> None:
    assert f"**[2]({UI}/#/models/a%29%20!%5Bx%5D%28y/versions/2)**" in _body("a) ![x](y")
    assert run_url(UI, "7)](x", "r 1") == f"{UI}/#/experiments/7)%5D(x/runs/r%201", "quoted; _link escapes parentheses"


@pytest.mark.parametrize("metric", HOSTILE)
def test_a_held_candidates_failing_metric_is_a_code_span(metric: str) -> None:
    spec = _spec()
    target = next(t for t in spec.targets if t.key == ("wine", "staging"))
    held = Move(target, _entry("wine", "staging", "1"), _entry("wine", "staging", "2"))
    verdict = Verdict((Check("staging", metric, "min", False, "not logged on the candidate"),))

    text = body.closing("wine/staging", superseded_by=[], held=[(held, verdict)])

    row = text.splitlines()[-1]
    *_, failing = _cells(row)
    assert failing.endswith(" not logged on the candidate")
    assert _code_span(failing.removesuffix(" not logged on the candidate")) == printable(metric)


def test_a_run_with_hundreds_of_metrics_gives_a_body_github_accepts() -> None:
    """Every metric both versions logged is a row of the comparison: 400 of 250 characters would be 114,000
    characters, and GitHub refuses a body over 65,536 (the run would fail). The body is cut at a line end instead,
    says so, and keeps its footer."""
    spec, old, new = _spec(), _lock(), _lock(wine_staging="2")
    metrics = {f"m{i:04d}_" + "x" * 244: float(i) for i in range(400)}
    facts = {("Wine Classifier", "1"): Facts(metrics), ("Wine Classifier", "2"): Facts(metrics)}
    changes = plan.find_changes(spec, old, new, "env")
    (proposal,) = plan.proposals(
        spec, old, changes, "env", runs={}, ui=UI, base_branch="main", gates=GateReview(facts=facts)
    )

    text = proposal.body
    assert len(text) <= body.BODY_LIMIT < 65_536
    assert "Cut to fit GitHub's limit" in text
    assert text.endswith(body._FOOTER.format(base="main") + "\n")
    assert all(_cells(line) for line in text.splitlines() if line.startswith("| `m"))  # whole rows only


def test_the_comment_on_a_branch_someone_else_pushed_to_fits_whatever_they_pushed() -> None:
    """Thousands of pushed commits (another project's history) named one by one made a comment over GitHub's 65,536
    characters, refused on every run: it names the first ones and counts the rest."""
    foreign = [f"{i:012x}" + "0" * 28 for i in range(5_000)]
    text = body.edited("kserve-gitops/promote-staging", "f" * 40, foreign)
    assert len(text) < 2_000
    assert f"`{foreign[0][:12]}`" in text and f"`{foreign[-1][:12]}`" not in text
    assert "and 4,980 more" in text
    assert "and" not in body.edited("b", "f" * 40, foreign[:2]).split("(")[1].split(")")[0]
