"""Surgical edits of models.yaml, the file people own: change one value, keep every comment and layout.

Like pre-commit's `migrate-config`, the file is composed once per edit and only the
span of the affected node is replaced; nothing else is re-serialized.
"""

from __future__ import annotations

import yaml

from generator.errors import SpecError

Path_ = tuple[str, ...]


def pin(text: str, model: str, env: str, version: str) -> str:
    """`hold: VERSION` on models.<model>.environments.<env>; the reference as written stays for `unpin`."""
    return set_key(text, ("models", model, "environments", env), "hold", version)


def unpin(text: str, model: str, env: str) -> str:
    return remove_key(text, ("models", model, "environments", env), "hold")


def set_key(text: str, path: Path_, key: str, value: str) -> str:
    mapping = _mapping_at(text, path)
    for key_node, value_node in mapping.value:
        if key_node.value == key:
            return text[: value_node.start_mark.index] + value + text[value_node.end_mark.index :]
    if mapping.flow_style:
        close = mapping.end_mark.index - 1
        separator = ", " if mapping.value else ""
        return text[:close].rstrip() + f"{separator}{key}: {value}" + text[close:]
    last_key, last_value = mapping.value[-1]
    end_of_line = _line_end(text, last_value.end_mark.index)
    indent = " " * last_key.start_mark.column
    return text[:end_of_line] + f"\n{indent}{key}: {value}" + text[end_of_line:]


def remove_key(text: str, path: Path_, key: str) -> str:
    mapping = _mapping_at(text, path)
    pairs = mapping.value
    index = next((i for i, (k, _) in enumerate(pairs) if k.value == key), None)
    if index is None:
        return text
    key_node, value_node = pairs[index]
    if not mapping.flow_style:
        start = text.rfind("\n", 0, key_node.start_mark.index) + 1
        end = _line_end(text, value_node.end_mark.index)
        return text[:start] + text[end + 1 :]
    if index + 1 < len(pairs):
        return text[: key_node.start_mark.index] + text[pairs[index + 1][0].start_mark.index :]
    if index > 0:
        return text[: pairs[index - 1][1].end_mark.index] + text[value_node.end_mark.index :]
    return text[: key_node.start_mark.index] + text[value_node.end_mark.index :]


def _mapping_at(text: str, path: Path_) -> yaml.MappingNode:
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    for part in path:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
        if child is None:
            raise SpecError.simple(f"{'.'.join(path)} not found", file="models.yaml",
                                   hint="check the model and environment names (see `kserve-gitops validate`)")
        node = child
    if not isinstance(node, yaml.MappingNode):
        raise SpecError.simple(f"{'.'.join(path)} is not a mapping", file="models.yaml")
    return node


def _line_end(text: str, index: int) -> int:
    end = text.find("\n", index)
    return len(text) if end < 0 else end
