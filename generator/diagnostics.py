"""One finding about the user's input, with where it is and how to fix it.

Every stage reports problems as `Diagnostic`s so that a run can collect all of
them and print them together, as text, JSON or GitHub annotations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

from generator.excerpt import MESSAGE_LIMIT, excerpt

Severity = Literal["error", "warning"]
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# Characters that change how text reads without showing: line breaks to YAML and Unicode that editors and diffs
# draw as none (NEL, LINE and PARAGRAPH SEPARATOR), and the bidirectional controls that reorder a line ("Trojan
# Source", CVE-2021-42574). A regular expression's character class, for every reader and printer of such text.
UNSEEN = "\x85\u2028\u2029\u202a-\u202e\u2066-\u2069"
# Characters that show as nothing at all: the soft hyphen, the implicit bidirectional marks (ALM, LRM, RLM), zero-width
# spaces and joiners, the word joiner and invisible operators, deprecated format controls, the byte order mark, tag
# characters; and the rest of Unicode's default-ignorable code points but variation selectors (which emoji and CJK
# text hold): the combining grapheme joiner, Hangul fillers (drawn as blanks), Khmer inherent vowels, Mongolian
# variation selectors, shorthand format controls and musical formatting. Not refused where a user writes them (an
# emoji holds a joiner, an editor may start a file with a BOM), but printed as escapes with the characters above, and
# written escaped in generated YAML (yamlio), so that a name read in a terminal, a pull request or a manifest is the
# name it is.
INVISIBLE = (
    "\xad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2060-\u2064\u206a-\u206f\u3164\ufeff"
    "\uffa0\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e007f"
)
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{UNSEEN}{INVISIBLE}]")
_UNDECODED = re.compile(r"[\udc80-\udcff]")  # a byte of a name that is not UTF-8, as os.fsdecode keeps it


def printable(name: str) -> str:
    """A file name as text shows it: a control character (a line break, an escape) as its escape, so a name
    cannot start lines of its own or drive the terminal; a byte that is not UTF-8 as `\\xff`, so that what is
    printed (a JSON document too) is UTF-8."""
    if _UNDECODED.search(name):
        name = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda match: escaped(match.group()), name)


def escaped(char: str) -> str:
    """`char` as Python writes it in a string (`\\x1b`, `\\u200b`); also one Python prints as it is (a combining
    grapheme joiner, a Hangul filler: printable to `repr`, yet they show as nothing or a blank)."""
    shown = repr(char)[1:-1]
    return shown if shown != char else f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"


@dataclass(frozen=True, order=True)
class Diagnostic:
    """A problem, located as precisely as the stage that found it can."""

    file: str = ""
    line: int = 0
    column: int = 0
    path: str = ""
    message: str = ""
    hint: str = ""
    severity: Severity = "error"
    rule: str = ""

    def location(self, *, with_file: bool = True) -> str:
        parts = [printable(self.file)] if self.file and with_file else []
        if self.line:
            parts.append(str(self.line))
            if self.column:
                parts.append(str(self.column))
        where = ":".join(parts)
        if self.path:
            where = f"{where}: {self.path}" if where else self.path
        return where

    def describe(self, *, with_file: bool = True) -> str:
        where = self.location(with_file=with_file)
        rule = f" [{self.rule}]" if self.rule else ""
        text = f"{where}: {self.message}{rule}" if where else f"{self.message}{rule}"
        if self.severity == "warning":
            text = f"warning: {text}"
        text = excerpt(text, MESSAGE_LIMIT)
        return f"{text}\n  fix: {excerpt(self.hint, MESSAGE_LIMIT)}" if self.hint else text

    def __str__(self) -> str:
        return self.describe()

    def as_dict(self) -> dict[str, object]:
        """Every field, strings redacted and cut to MESSAGE_LIMIT like the text form."""
        return {
            k: excerpt(printable(v) if k == "file" else v, MESSAGE_LIMIT) if isinstance(v, str) else v
            for k, v in asdict(self).items()
            if v not in ("", 0)
        }


def errors(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The findings that stop a command (nothing is written when there is one)."""
    return [d for d in diagnostics if d.severity == "error"]


def warnings(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The findings that are shown but let the command go on."""
    return [d for d in diagnostics if d.severity == "warning"]


def ordered(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by file, then line, so output never depends on discovery order."""
    return sorted(set(diagnostics))


def json_path(parts: Iterable[str | int]) -> str:
    """`$.spec.containers[0].env`, with odd keys quoted as JSON strings: `$.metadata.annotations["a.io/b"]`."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out
