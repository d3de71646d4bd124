"""How findings are shown: `-o github` workflow commands and text, which no finding's text can break out of."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from generator.diagnostics import Diagnostic, printable
from generator.report import document, github, inert, text
from tests.support.actions_runner import commands


def test_a_finding_is_one_annotation_on_its_file_and_line() -> None:
    found = Diagnostic(file="environments/dev/a.yaml", line=3, column=1, message="bad", hint="fix it", rule="drift")
    assert github([found]) == "::error file=environments/dev/a.yaml,line=3,col=1,title=drift::bad%0Afix: fix it\n"


def test_a_file_name_cannot_add_properties_or_annotations_of_its_own() -> None:
    """A repository may hold a file named `x,line=9::INJECT` + newline + `::warning::Y.yaml`: its name is escaped as
    GitHub's toolkit escapes a property (`%`, CR, LF, `:` and `,`), after its line break is shown `\\n` as text
    shows it, so the runner reads one annotation."""
    hostile = "environments/prod/x,line=9::INJECT\n::warning::Y.yaml"
    (line,) = github([Diagnostic(file=hostile, line=2, message="invalid YAML")]).splitlines()
    assert line == (
        "::error file=environments/prod/x%2Cline=9%3A%3AINJECT\\n%3A%3Awarning%3A%3AY.yaml,line=2::invalid YAML"
    )


def test_a_file_name_cannot_start_lines_of_its_own_in_text() -> None:
    """A name with a line break (or an escape sequence) is shown with it escaped: it cannot forge a finding."""
    hostile = "environments/dev/x\nmodels.yaml\n  1:1: everything is fine\x1b[2J"
    shown = text([Diagnostic(file=hostile, line=2, message="invalid YAML")])
    assert shown == "environments/dev/x\\nmodels.yaml\\n  1:1: everything is fine\\x1b[2J\n  2: invalid YAML\n"
    assert str(Diagnostic(file=hostile, message="bad")).startswith("environments/dev/x\\nmodels.yaml\\n")


def test_an_annotation_shows_what_a_pull_request_wrote_as_text_shows_it() -> None:
    """A key holding a bidirectional override or an escape, quoted in a message, and a file name that is not UTF-8
    (which print could not even write under a UTF-8 locale) reach the annotation as their escapes."""
    name = os.fsdecode(b"environments/dev/x\xff\x1b[31m.yaml")
    path = '$.metadata.labels["x\u202eevil\x1b[2J\u200b"]'
    (line,) = github([Diagnostic(file=name, line=6, path=path, message="expected string")]).splitlines()
    line.encode("utf-8")  # would raise on the lone surrogate
    assert line == (
        "::error file=environments/dev/x\\xff\\x1b[31m.yaml,line=6::"
        '$.metadata.labels["x\\u202eevil\\x1b[2J\\u200b"]: expected string'
    )


HOSTILE = "unknown environment 'dev\r::error file=models.yaml,line=1::fake finding'\n  ##[warning]also fake\n"


def test_under_github_actions_text_that_looks_like_a_command_runs_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pull request's key, file name or file lines, quoted in a finding or a diff, cannot add annotations or stop
    the real ones: the runner sees one `stop-commands` and its own resume, nothing else."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    shown = inert(HOSTILE)
    ran = commands(shown)
    assert len(ran) == 2
    assert ran[0].startswith("stop-commands::") and ran[1] == ran[0].removeprefix("stop-commands::") + "::"
    assert HOSTILE.replace("\r", "\\r") in shown


@pytest.mark.parametrize("blank", ["\u00a0", "\u2003", "\u3000", " \u202f\t"])
def test_a_command_after_unicode_blanks_runs_none(blank: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner trims every Unicode white space before `::` (.NET's TrimStart), so a diff's context line holding a
    YAML line that starts with an ideographic space is a command unless wrapped like any other."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    shown = inert(f"data:\n     {blank}::error file=models.yaml,line=1::fake finding\n")
    ran = commands(shown)
    assert len(ran) == 2 and ran[0].startswith("stop-commands::"), ran


def test_text_redirected_to_a_file_is_not_wrapped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`diff -o markdown > comment.md` under GitHub Actions: the runner never reads the file, and a wrapped comment
    would start with `::stop-commands::…`, not the marker the workflow finds its comment by. A pipe is wrapped."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    comment = '<!-- kserve-gitops:rendered-diff -->\n```diff\n+    echo "##[group]build"\n```\n'
    with (tmp_path / "comment.md").open("w") as file:
        assert inert(comment, into=file) == comment
    read, write = os.pipe()
    with os.fdopen(read), os.fdopen(write, "w") as pipe:
        assert inert(comment, into=pipe).startswith("::stop-commands::")
    assert inert(comment).startswith("::stop-commands::")


def test_text_is_left_as_it_is_outside_github_actions_or_when_nothing_looks_like_a_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert inert("models.yaml\n  3: invalid YAML: a::b\n\tok\n") == "models.yaml\n  3: invalid YAML: a::b\n\tok\n"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert inert("models.yaml\n  3: invalid YAML: a::b\n") == "models.yaml\n  3: invalid YAML: a::b\n"


def test_no_printed_text_can_drive_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server's or a pull request's words (an escape sequence, a hyperlink, a carriage return that hides what came
    before it, a bidirectional override) are shown as their escapes, in or out of GitHub Actions."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    hostile = "answer: x\x1b[2J\x1b]8;;http://evil\x07link\rfine\u202eZ\x85\x9b31m\n"
    assert inert(hostile) == "answer: x\\x1b[2J\\x1b]8;;http://evil\\x07link\\rfine\\u202eZ\\x85\\x9b31m\n"


def test_characters_that_show_as_nothing_are_printed_as_their_escapes() -> None:
    """A zero-width space, a bidirectional mark or a byte order mark makes `wine` and `wine\u200b` look alike."""
    assert inert("wine\u200b \u200fgnp \u061c\u2060\ufeff\xad\U000e0041 café\n") == (
        "wine\\u200b \\u200fgnp \\u061c\\u2060\\ufeff\\xad\\U000e0041 café\n"
    )
    assert printable("environments/dev/wine\u200b.yaml") == "environments/dev/wine\\u200b.yaml"


def test_the_json_document_carries_no_legacy_command_and_reads_back_the_same() -> None:
    finding = Diagnostic(file="models.yaml", message="##[error]fake")
    shown = document("validate", [finding], ok=False)
    assert commands(shown) == []
    assert json.loads(shown)["findings"][0]["message"] == "##[error]fake"


def test_the_json_document_shows_what_a_terminal_acts_on_or_does_not_show_as_escapes() -> None:
    """json.dumps leaves C1 controls, bidirectional controls and invisible characters as they are: a document
    printed to a terminal or a log could reorder or hide text. Any JSON reader reads the escapes back the same."""
    said = "wine\x9b2J\u202egnp\u200b\u2066\ufeff\U000e0041 café"
    shown = document("validate", [Diagnostic(file="models.yaml", message=said)], ok=False)
    assert shown.isascii() is False and "café" in shown, "other text stays as it reads"
    assert not re.search("[\x7f-\x9f\u200b\u202e\u2066\ufeff\U000e0041]", shown)
    assert json.loads(shown)["findings"][0]["message"] == said


def test_a_file_name_that_is_not_utf8_is_shown_escaped_and_the_json_document_is_utf8() -> None:
    name = os.fsdecode(b"environments/dev/x\xff.yaml")  # what os.listdir gives for such a name
    finding = Diagnostic(file=name, message="not generated by kserve-gitops")
    shown = document("validate", [finding], ok=False)
    shown.encode("utf-8")  # would raise on the lone surrogate
    assert json.loads(shown)["findings"][0]["file"] == "environments/dev/x\\xff.yaml"
    assert text([finding]).startswith("environments/dev/x\\xff.yaml\n")


def test_the_json_document_is_utf8_whatever_a_server_said() -> None:
    """A server's JSON may say `"\\ud800"`: the lone surrogate it decodes to cannot be written as UTF-8, so printing
    the document failed and none was printed. It is written as its escape, which reads back the same."""
    said = "INVALID_PARAMETER_VALUE: bad \ud800 and \udfff"
    shown = document("lock", [Diagnostic(message=said)], ok=False)
    shown.encode("utf-8")  # would raise on the lone surrogates
    assert json.loads(shown)["findings"][0]["message"] == said


def test_default_ignorable_characters_python_prints_as_they_are_are_escaped_too() -> None:
    """A combining grapheme joiner shows as nothing and a Hangul filler as a blank, yet `repr` keeps them: a metric
    `accuracy\u034f` or an alias `champion\u3164` would read as another one in the pull request or the terminal."""
    hidden = "accuracy\u034f champion\u3164 \u115f\u1160\u17b4\u180b\uffa0\U0001bca0\U0001d173"
    expected = "accuracy\\u034f champion\\u3164 \\u115f\\u1160\\u17b4\\u180b\\uffa0\\U0001bca0\\U0001d173"
    assert printable(hidden) == expected
    assert inert(hidden) == expected
    shown = document("status", [], ok=True, said=hidden)
    assert shown.isascii() and json.loads(shown)["said"] == hidden
    assert printable("café \U0001f600 \u2764\ufe0f") == "café \U0001f600 \u2764\ufe0f", "variation selectors stay"
