"""How findings are shown: `-o github` workflow commands and text, which no finding's text can break out of."""

from __future__ import annotations

import json

import pytest

from generator.diagnostics import Diagnostic
from generator.report import document, github, inert, text
from tests.support.actions_runner import commands


def test_a_finding_is_one_annotation_on_its_file_and_line() -> None:
    found = Diagnostic(file="environments/dev/a.yaml", line=3, column=1, message="bad", hint="fix it", rule="drift")
    assert github([found]) == "::error file=environments/dev/a.yaml,line=3,col=1,title=drift::bad%0Afix: fix it\n"


def test_a_file_name_cannot_add_properties_or_annotations_of_its_own() -> None:
    """A repository may hold a file named `x,line=9::INJECT` + newline + `::warning::Y.yaml`: its name is escaped as
    GitHub's toolkit escapes a property (`%`, CR, LF, `:` and `,`), so the runner reads one annotation."""
    hostile = "environments/prod/x,line=9::INJECT\n::warning::Y.yaml"
    (line,) = github([Diagnostic(file=hostile, line=2, message="invalid YAML")]).splitlines()
    assert line == (
        "::error file=environments/prod/x%2Cline=9%3A%3AINJECT%0A%3A%3Awarning%3A%3AY.yaml,line=2::invalid YAML"
    )


def test_a_file_name_cannot_start_lines_of_its_own_in_text() -> None:
    """A name with a line break (or an escape sequence) is shown with it escaped: it cannot forge a finding."""
    hostile = "environments/dev/x\nmodels.yaml\n  1:1: everything is fine\x1b[2J"
    shown = text([Diagnostic(file=hostile, line=2, message="invalid YAML")])
    assert shown == "environments/dev/x\\nmodels.yaml\\n  1:1: everything is fine\\x1b[2J\n  2: invalid YAML\n"
    assert str(Diagnostic(file=hostile, message="bad")).startswith("environments/dev/x\\nmodels.yaml\\n")


HOSTILE = "unknown environment 'dev\r::error file=models.yaml,line=1::fake finding'\n  ##[warning]also fake\n"


def test_under_github_actions_text_that_looks_like_a_command_runs_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pull request's key, file name or file lines, quoted in a finding or a diff, cannot add annotations or stop
    the real ones: the runner sees one `stop-commands` and its own resume, nothing else."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    shown = inert(HOSTILE)
    ran = commands(shown)
    assert len(ran) == 2
    assert ran[0].startswith("stop-commands::") and ran[1] == ran[0].removeprefix("stop-commands::") + "::"
    assert HOSTILE in shown


def test_text_is_left_as_it_is_outside_github_actions_or_when_nothing_looks_like_a_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert inert(HOSTILE) == HOSTILE
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert inert("models.yaml\n  3: invalid YAML: a::b\n") == "models.yaml\n  3: invalid YAML: a::b\n"


def test_the_json_document_carries_no_legacy_command_and_reads_back_the_same() -> None:
    finding = Diagnostic(file="models.yaml", message="##[error]fake")
    shown = document("validate", [finding], ok=False)
    assert commands(shown) == []
    assert json.loads(shown)["findings"][0]["message"] == "##[error]fake"
