"""How findings are shown: `-o github` workflow commands and text, which no finding's text can break out of."""

from __future__ import annotations

from generator.diagnostics import Diagnostic
from generator.report import github, text


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
