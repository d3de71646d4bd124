"""A plain document whose one large section is read entry by entry: an edit of one entry parses that entry's lines.

models.yaml is mostly its `models:` section, and parsing a thousand models costs ~65 ms of libyaml on every run
after an edit, which changes one of them. Each entry's lines (a `name:` line at the section's indentation and what
follows it, up to the next) are remembered with what they parse to (`cache.Parses`); a later run takes the entries
whose lines are unchanged from the memory and parses only the others, alone.

An entry's lines read alone give what they give in the file, or an error: a line at the entries' indentation ends
whatever an entry's lines hold in block context; a quote or bracket left open runs to the end of the lines read
alone, which libyaml refuses; a line indented less than the entries ends the section in the file, and the document
read alone, where what follows is an error either way. So each entry read alone must be one `key:` in block style,
no key may repeat, and the parse of the rest of the file must find the section's key where the text seems to have it,
with no value. Anything else, or any error, and the whole file is read as before
(`yamlio.load_plain`), which reports it. A run that knows few of the entries reads the whole file, and learns each
entry from where the parse found it.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import yaml

from generator import yamlio
from generator.cache import Parses

_MOSTLY_NEW = 0.1  # a share of entries not remembered above which the whole file is parsed at once, and learned


@dataclass(frozen=True)
class _Layout:
    """Where a section's entries are: the rest of the text (the section's key left with no value), the line of that
    key (0-based) and each entry's lines."""

    rest: str
    key_line: int
    entries: tuple[str, ...]


def load(text: str, key: str) -> Any:
    """`yamlio.load_plain(text)`, with the entries of the top-level `key` remembered and read one by one where the
    layout allows (none: as `load_plain`); raises what `load_plain` raises."""
    with Parses.open(_entry) as memory:
        layout = _layout(text, key) if memory.enabled else None
        if layout is None:
            return yamlio.load_plain(text)
        known = memory.recall(layout.entries)
        if len(layout.entries) - len(known) > _MOSTLY_NEW * len(layout.entries):
            return _learned(text, key, layout, memory)
        data = _assembled(key, layout, known, memory)
        return yamlio.load_plain(text) if data is None else data


def _layout(text: str, key: str) -> _Layout | None:
    head = re.compile(rf"^{re.escape(key)}:[ ]*(?:#[^\n]*)?\n", re.MULTILINE).search(text)
    if head is None:
        return None
    start = head.end()
    after = re.compile(r"^[^ #\n]", re.MULTILINE).search(text, start)  # the next top-level line: the section's end
    end = after.start() if after else len(text)
    first = re.compile(r"^( +)[^ #\n]", re.MULTILINE).search(text, start, end)
    if first is None:
        return None
    indent = len(first.group(1))
    starts = [m.start() for m in re.compile(rf"^ {{{indent}}}[^ #\n]", re.MULTILINE).finditer(text, start, end)]
    entries = tuple(text[a:b] for a, b in itertools.pairwise([*starts, end]))
    return _Layout(rest=text[:start] + text[end:], key_line=text.count("\n", 0, head.start()), entries=entries)


def _entry(text: str) -> dict[str, Any]:
    """One entry's lines, read alone: the one key they hold and its value. NotPlain if they hold anything else; the
    nesting limit counts from the entry's place in the file (the section's mapping is at depth 2). Its name is the
    parser's in the memory."""
    data, node = yamlio.load_plain_node(text, depth=2)
    if not (_block_map(node) and len(node.value) == 1 and isinstance(data, dict)):  # type: ignore[union-attr]
        raise yamlio.NotPlain
    return data


def _learned(text: str, key: str, layout: _Layout, memory: Parses) -> Any:
    """The whole file parsed at once, and its entries learned if the parse found as many as the layout has lines
    starting one: each key of a block map starts such a line, so then each of them starts one entry's lines."""
    data, root = yamlio.load_plain_node(text)
    section = _value_of(root, key, layout.key_line)
    if _block_map(section) and len(section.value) == len(layout.entries):  # type: ignore[union-attr]
        for (name, value), lines in zip(data[key].items(), layout.entries, strict=True):
            memory.learn(lines, {name: value})
    return data


def _assembled(key: str, layout: _Layout, known: dict[str, Any], memory: Parses) -> Any:
    """The file's data from the rest of it and its entries, remembered or read alone; None when the layout does not
    hold after all (the key is not where it seemed, an entry is not one key, a key repeats)."""
    try:
        data, root = yamlio.load_plain_node(layout.rest)
        if not isinstance(data, dict) or data.get(key, "") is not None:
            return None
        if _value_of(root, key, layout.key_line) is None:
            return None
        section: dict[str, Any] = {}
        for lines in layout.entries:
            entry = known.get(lines)
            if not (isinstance(entry, dict) and len(entry) == 1):
                entry = _entry(lines)
                memory.learn(lines, entry)
            [(name, value)] = entry.items()
            if name in section:
                return None
            section[name] = value
    except (yamlio.NotPlain, yaml.YAMLError):
        return None
    data[key] = section
    return data


def _value_of(root: yaml.Node | None, key: str, line: int) -> yaml.Node | None:
    """The value of `key` in the top-level map, if the key starts `line`."""
    if not isinstance(root, yaml.MappingNode):
        return None
    for k, value in root.value:
        if k.value == key and (k.start_mark.line, k.start_mark.column) == (line, 0):
            return value  # type: ignore[no-any-return]
    return None


def _block_map(node: yaml.Node | None) -> bool:
    return isinstance(node, yaml.MappingNode) and not node.flow_style
