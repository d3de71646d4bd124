"""Surgical edits of models.yaml, the file people own: change one value, keep every comment and layout.

Like pre-commit's `migrate-config`, the file is composed once per edit and only the
span of the affected node is replaced; nothing else is re-serialized. Three things
make that harder than it looks:

- a mapping reached through an alias (`prod: *env`) is the anchored one (`staging: &env …`):
  editing it in place would edit both environments. Such a mapping is un-shared first: each
  alias of it becomes a flow-style copy of its value, so the edit lands on one environment only;
- a block mapping ends where the next token starts, past its trailing comments and blank lines,
  so a key is appended after the last token the mapping really holds, however deeply nested;
- a file may use CRLF: added lines take the file's line break and everything else keeps its bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from generator.errors import SpecError
from generator.spec import SPEC_FILE

Path_ = tuple[str, ...]


def pin(text: str, model: str, env: str, version: str) -> str:
    """`hold: VERSION` on models.<model>.environments.<env>; the reference as written stays for `unpin`."""
    return set_key(text, ("models", model, "environments", env), "hold", version)


def unpin(text: str, model: str, env: str) -> str:
    return remove_key(text, ("models", model, "environments", env), "hold")


def set_key(text: str, path: Path_, key: str, value: str) -> str:
    held = any(k.value == key for k, _ in _mapping_at(text, path).value)
    text = _unshared(text, (*path, key) if held else path)  # an anchored value, aliased elsewhere, is copied there
    mapping = _mapping_at(text, path)
    for key_node, value_node in mapping.value:
        if key_node.value == key:
            start, end = _value_span(text, key_node, value_node)
            return text[:start] + value + text[end:]
    if mapping.flow_style and mapping.value:  # right after the last value: a trailing comma or a comment may follow
        end = _value_span(text, *mapping.value[-1])[1]
        return text[:end] + f", {key}: {value}" + text[end:]
    if mapping.flow_style:
        close = mapping.end_mark.index - 1
        return text[:close].rstrip() + f"{key}: {value}" + text[close:]
    last_key, _ = mapping.value[-1]
    end_of_line = _line_end(text, _content_end(text, mapping))
    written = text[text.rfind("\n", 0, last_key.start_mark.index) + 1 : last_key.start_mark.index]
    explicit = written.strip() == "?"  # `? key` on its line, `: value` on the next: the mapping is at the `?`
    indent = " " * (len(written) - len(written.lstrip(" ")) if explicit else last_key.start_mark.column)
    return text[:end_of_line] + f"{_newline(text)}{indent}{key}: {value}" + text[end_of_line:]


def remove_key(text: str, path: Path_, key: str) -> str:
    if not any(k.value == key for k, _ in _mapping_at(text, path).value):
        return text
    text = _unshared(text, (*path, key))
    mapping = _mapping_at(text, path)
    pairs = mapping.value
    index = next(i for i, (k, _) in enumerate(pairs) if k.value == key)
    key_node, value_node = pairs[index]
    value_end = _value_span(text, key_node, value_node)[1]
    if not mapping.flow_style:
        start = text.rfind("\n", 0, key_node.start_mark.index) + 1
        end = _line_end(text, value_end)
        if end == len(text) and start > 0:  # the last line, with no line break after it: the one before goes
            return text[: start - (2 if text[start - 2 : start] == "\r\n" else 1)]
        return text[:start] + text[_next_line(text, end) :]
    if index + 1 < len(pairs):
        return text[: key_node.start_mark.index] + text[pairs[index + 1][0].start_mark.index :]
    if index > 0:  # from the comma after the value before: a comment between the two stays
        previous_end = _value_span(text, *pairs[index - 1])[1]
        between = text[previous_end : key_node.start_mark.index]
        kept = re.sub(r"^((?:[^#,]|#[^\n]*)*),", r"\1", between, count=1) if "#" in between else ""
        return text[:previous_end] + kept + text[value_end:]
    return text[: key_node.start_mark.index] + text[value_end:]


def _value_span(text: str, key_node: yaml.Node, value_node: yaml.Node) -> tuple[int, int]:
    """Where the value of `key_node` is written: an alias (`hold: *v`) composes to the anchored node, written
    before the key, so its own span is that of the first alias after the key, the next thing the parser met."""
    if value_node.start_mark.index > key_node.start_mark.index:
        return value_node.start_mark.index, value_node.end_mark.index
    site = next(a for a in _aliases(text) if a.start >= key_node.end_mark.index)
    return site.start, site.end


def _mapping_at(text: str, path: Path_) -> yaml.MappingNode:
    node = _nodes_on(yaml.compose(text, Loader=yaml.SafeLoader), path)[-1]
    if not isinstance(node, yaml.MappingNode):
        raise SpecError.simple(f"{'.'.join(path)} is not a mapping", file=SPEC_FILE)
    return node


def _nodes_on(root: yaml.Node | None, path: Path_) -> list[yaml.Node]:
    """The node at each step of `path` (the root excluded); an alias step gives the anchored node itself."""
    nodes: list[yaml.Node] = []
    node = root
    for part in path:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
        if child is None:
            raise SpecError.simple(
                f"{'.'.join(path)} not found",
                file=SPEC_FILE,
                hint="check the model and environment names (see `kserve-gitops validate`)",
            )
        nodes.append(child)
        node = child
    return nodes


@dataclass(frozen=True)
class _Alias:
    anchor_at: int  # where the anchored node starts (its `&name`)
    start: int
    end: int


def _aliases(text: str) -> Iterator[_Alias]:
    """Every `*name` with the node it refers to: the latest `&name` before it (YAML lets a name be re-anchored)."""
    anchored: dict[str, int] = {}
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) and event.anchor is not None:
            yield _Alias(anchored[event.anchor], _index(event.start_mark), _index(event.end_mark))
        elif isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            anchored[event.anchor] = _index(event.start_mark)


def _index(mark: Any) -> int:
    """A parsed event's offset in the text (the stubs allow a missing mark; the parser always sets one)."""
    return int(mark.index)


def _unshared(text: str, path: Path_) -> str:
    """`text` where no node on `path` is also reached through an alias: each such alias becomes a flow copy.

    A node's start mark is that of its anchor, so a node on the path is shared exactly when some alias
    refers to its start. The copy is the node's value, aliases inside it expanded; the anchor stays for
    whatever else uses it. Repeated until the path is alias-free (an outer copy may expose no inner one,
    but an inner anchor may be aliased too).
    """
    while True:
        loader = yaml.SafeLoader(text)
        try:
            on_path = {n.start_mark.index: n for n in _nodes_on(loader.get_single_node(), path)}
            sites = [a for a in _aliases(text) if a.anchor_at in on_path]
            if not sites:
                return text
            node = on_path[sites[0].anchor_at]
            copy = yaml.safe_dump(  # in a flow sequence: a scalar alone would be dumped as a document, `2\n...`
                [loader.construct_document(node)], default_flow_style=True, sort_keys=False, width=1 << 30
            ).rstrip("\r\n")[1:-1]
        finally:
            loader.dispose()
        for site in reversed([s for s in sites if s.anchor_at == sites[0].anchor_at]):
            text = text[: site.start] + copy + text[site.end :]


def _content_end(text: str, mapping: yaml.MappingNode) -> int:
    """Where a block mapping's last token ends: its end mark lies past trailing comments and blank lines.
    So does a block scalar's (`|`, `>`): its last token ends where its last character is."""
    start, end = mapping.start_mark.index, mapping.end_mark.index
    last = max(
        _index(token.end_mark)
        for token in yaml.scan(text, Loader=yaml.SafeLoader)
        if start <= token.start_mark.index < end and not isinstance(token, yaml.BlockEndToken)
    )
    return len(text[:last].rstrip(" \t\r\n"))


def _newline(text: str) -> str:
    """The file's line break: CRLF if its first line ends so, else LF."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _line_end(text: str, index: int) -> int:
    """Where the line holding `index` ends, before its `\\n` or `\\r\\n`."""
    end = text.find("\n", index)
    if end < 0:
        return len(text)
    return end - 1 if end > 0 and text[end - 1] == "\r" else end


def _next_line(text: str, line_end: int) -> int:
    """The start of the line after the one ending at `line_end` (as `_line_end` gives it)."""
    end = text.find("\n", line_end)
    return len(text) if end < 0 else end + 1
