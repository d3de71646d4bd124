"""Safe YAML with positions: data plus the line of every key.

Errors found later (schema, meaning) carry a JSON path; `Positions.line_of`
turns it back into `models.yaml:LINE:COL` for the user. Most files are plain
(no aliases, no repeated key) and most runs never need a line, so a plain file is
read the quick way and its positions are found on first use, by a second parse
that records them; any other file is read once with positions, which word its problems.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from generator import yaml_entries, yamlio
from generator.cache import remembered_parse
from generator.diagnostics import UNSEEN, Diagnostic, json_path

PathKey = tuple[str | int, ...]
_INTEGER = "tag:yaml.org,2002:int"
_LINE_BREAK = re.compile("\r\n|\r|\n")
_TEXT = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:merge")  # text, and `<<`, which merges a map into its own
# What a plain key that is not text reads as (YAML 1.1, as PyYAML and Kubernetes read it): JSON, and every document
# this tool reads, has text keys only, and `yes:` or `1.30:` would be a name nobody wrote.
_READ_AS = {
    f"tag:yaml.org,2002:{tag}": what
    for tag, what in (
        ("bool", "a boolean"),
        ("int", "a number"),
        ("float", "a number"),
        ("null", "null"),
        ("timestamp", "a date"),
    )
}
# What changes a file's meaning without showing in a diff (UNSEEN): after a NEL in a comment, YAML reads a key
_UNSEEN = re.compile(f"[{UNSEEN}]")
_SYNTAX_HINT = "fix the YAML syntax at this position (indentation, quotes, ':' after keys)"
_TAG_HINT = "remove the tag: only plain YAML is read (mappings, lists, strings, numbers, booleans, null)"


class Positions:
    """1-based (line, column) of each node, keyed by its path from the root.

    Built from the nodes of a parse, or from the text of a plain document, parsed again on first use.
    """

    def __init__(self, by_path: dict[PathKey, tuple[int, int]] | None = None, *, text: str = "") -> None:
        self._by_path, self._text = by_path, text
        self._by_json_path: dict[str, int] | None = None

    @property
    def by_path(self) -> dict[PathKey, tuple[int, int]]:
        if self._by_path is None:
            loader = yamlio.Loader(self._text)
            try:
                node = loader.get_single_node()
                self._by_path = {}
                if node is not None:
                    _walk(node, (), self._by_path, [], "")
            finally:
                loader.dispose()
        return self._by_path

    def line_of(self, path: Sequence[str | int]) -> tuple[int, int]:
        """The position of `path`, or of its nearest ancestor that has one."""
        by_path, key = self.by_path, tuple(path)
        while key not in by_path and key:
            key = key[:-1]
        return by_path.get(key, (0, 0))

    def line_of_json_path(self, path: str) -> int:
        """The line of a `$.a.b[0]` path, or of its nearest ancestor (validators report strings)."""
        if self._by_json_path is None:
            self._by_json_path = {json_path(k): v[0] for k, v in self.by_path.items()}
        while path not in self._by_json_path and len(path) > 1:
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else "$"
        return self._by_json_path.get(path, 0)


def load(text: str, file: str, *, entries: str = "") -> tuple[Any, Positions, list[Diagnostic]]:
    """Parse one YAML document. Syntax errors, broken limits and duplicate keys come back as diagnostics.

    A large plain document's data is remembered as JSON (cache.remembered_parse), ~10x faster to read back: right
    for a models.lock of thousands of entries, which most runs read unchanged. `entries`: a top-level key whose
    entries are remembered one by one instead (yaml_entries): models.yaml's `models`, as a run reads models.yaml
    when it was edited (an unchanged one is answered from the run's record), mostly in one model.
    """
    unseen = None if text.isascii() else _UNSEEN.search(text)  # a str knows it is ASCII: no scan
    if unseen is not None:
        lines = _LINE_BREAK.split(text[: unseen.start()])  # as an editor shows them: NEL is none there
        what = (
            "a line break to YAML that diffs and editors do not show"
            if unseen.group() in "\x85\u2028\u2029"
            else "a bidirectional control, which changes how the line reads"
        )
        problem = f"character {_codepoint(unseen.group())} is not allowed: {what}"
        return _invalid(file, (len(lines), len(lines[-1]) + 1), problem, "remove it; a reviewer cannot see it")
    try:
        data = yaml_entries.load(text, entries) if entries else remembered_parse(text, yamlio.load_plain)
        return data, Positions(text=text), []
    except (yamlio.NotPlain, yaml.YAMLError):
        pass  # parsed again below, with the positions that word the problem
    loader = yamlio.Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, Positions({}), []
        by_path: dict[PathKey, tuple[int, int]] = {}
        duplicates: list[Diagnostic] = []
        _walk(node, (), by_path, duplicates, file)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        hint = exc.note or (_TAG_HINT if "could not determine a constructor" in problem else _SYNTAX_HINT)
        if mark and _character_at(text, mark.line, mark.column) == "\t":
            problem = problem if "tab" in problem else f"{problem}: a tab"  # libyaml names no character
            hint = "indent with spaces: YAML allows no tab in indentation"
        return _invalid(file, (mark.line + 1, mark.column + 1) if mark else (0, 0), problem, hint)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, where libyaml says: a UTF-8 byte offset
        before = text.encode("utf-8")[: exc.position].decode("utf-8", errors="replace")
        problem = f"character {_codepoint(exc.character)} is not allowed ({exc.reason})"
        hint = "remove it: YAML allows tabs, line breaks and printable characters only"
        lines = _LINE_BREAK.split(before)  # as YAML counts lines: a file may end them with CR alone
        return _invalid(file, (len(lines), len(lines[-1]) + 1), problem, hint)
    finally:
        loader.dispose()
    return data, Positions(by_path), duplicates


def _character_at(text: str, line: int, column: int) -> str:
    """The character at a 0-based line and column, as YAML counts lines; "" past the end."""
    lines = _LINE_BREAK.split(text)
    return lines[line][column : column + 1] if line < len(lines) else ""


def _not_decimal(node: yaml.ScalarNode, path: PathKey, file: str) -> Diagnostic:
    """An integer YAML 1.1 reads as another number than its digits say: 010 is 8, 0x10 is 16, 1:30 is 90."""
    read = yaml.safe_load(node.value)
    return Diagnostic(
        file=file,
        line=node.start_mark.line + 1,
        column=node.start_mark.column + 1,
        path=json_path(path),
        message=f"{node.value} is read as the number {read} (YAML 1.1), not as the digits written",
        hint=f"write {read}, or quote it ('{node.value}') to keep it as text",
    )


def _not_text(key_node: yaml.Node, path: PathKey, file: str) -> Diagnostic:
    """A key that YAML reads as something other than text: the user wrote text, or a map or list where a name goes."""
    if isinstance(key_node, yaml.ScalarNode):
        what = _READ_AS.get(key_node.tag, f"a value tagged {key_node.tag}")
        message, hint = f"the key {key_node.value!r} is read as {what}, not as text", f"quote it: '{key_node.value}'"
    else:
        message, hint = "a key is a map or a list, not text", "write a name as the key"
    return Diagnostic(
        file=file,
        line=key_node.start_mark.line + 1,
        column=key_node.start_mark.column + 1,
        path=json_path(path),
        message=message,
        hint=hint,
    )


def _invalid(file: str, where: tuple[int, int], problem: str, hint: str) -> tuple[None, Positions, list[Diagnostic]]:
    """`load`'s answer for a document that is not valid YAML: no data, one located diagnostic."""
    line, column = where
    return (
        None,
        Positions({}),
        [Diagnostic(file=file, line=line, column=column, message=f"invalid YAML: {problem}", hint=hint)],
    )


def _codepoint(character: str | int) -> str:
    """U+0001 for a character ReaderError reports (a str, or an int for bytes that are not UTF-8)."""
    return f"U+{character if isinstance(character, int) else ord(character):04X}"


def _walk(
    node: yaml.Node,
    path: PathKey,
    by_path: dict[PathKey, tuple[int, int]],
    duplicates: list[Diagnostic],
    file: str,
) -> None:
    by_path.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.ScalarNode) and node.tag == _INTEGER and not yamlio.is_decimal(node.value):
        duplicates.append(_not_decimal(node, path, file))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                duplicates.append(
                    Diagnostic(
                        file=file,
                        line=key_node.start_mark.line + 1,
                        column=key_node.start_mark.column + 1,
                        path=json_path(child),
                        message=f"duplicate key '{key}'",
                        hint="YAML keeps only the last one; remove or rename the duplicate",
                    )
                )
            elif not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _TEXT:
                duplicates.append(_not_text(key_node, child, file))
            seen.add(key)
            by_path[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _walk(value_node, child, by_path, duplicates, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), by_path, duplicates, file)
