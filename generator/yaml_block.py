"""Block YAML for plain trees, written directly: byte for byte what libyaml writes through `yamlio.dump`.

`yamlio.dump` hands every document to PyYAML, whose representer turns each map, list and scalar into a node
object in Python before libyaml writes them: for 3,000 InferenceServices, 0.37 s, all of it before kustomize
can start on them. Generated files are trees of maps, lists, strings, integers, booleans and nulls whose
strings are short and made of a handful of characters; `emit` writes such a tree in one pass, seven times
faster, and gives up (`Unsimple`) on anything else, which then goes the libyaml way. What it writes is what
libyaml writes (`tests/unit/test_yaml_block.py` compares the two on generated trees), so the choice never
shows in a file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml
from yaml.resolver import Resolver

_STR = Resolver.DEFAULT_SCALAR_TAG
# A string libyaml writes plain, or in single quotes when it would read back as something else (`'2'`, `'on'`):
# letters, digits and a few punctuation marks, not starting with one that means something at the start of a
# scalar (`-`, `:`, `.`…), no `: ` or trailing `:` (a key's end) and no trailing space. Anything else: `Unsimple`.
_SIMPLE = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9 _./:@+=-]*")
_KEY_END = re.compile(r": |:$| $")
_LONGEST = 1000  # a longer string might reach libyaml's line width (4096) and be folded at a space
_DEEPEST = 1000  # columns of indentation, likewise
_LONGEST_KEY = 128  # a longer key is not a "simple key" to libyaml, which writes it as `? key`


class Unsimple(Exception):
    """A value this emitter does not write the way libyaml would: the caller hands the documents to libyaml."""


class Emitter:
    """Writes documents; remembers how each string it met is written (a tree repeats its keys and values)."""

    def __init__(self) -> None:
        self._resolver = Resolver()
        self._scalars: dict[str, str] = {}

    def documents(self, documents: Sequence[Any]) -> str:
        """The documents as `yaml.dump_all(..., explicit_start=len(documents) > 1)` writes them with yamlio's
        dumper; raises Unsimple."""
        out: list[str] = []
        many = len(documents) > 1
        for document in documents:
            if type(document) is not dict or not document:
                raise Unsimple
            if many:
                out.append("---\n")
            self._map(document, 0, out)
        return "".join(out)

    def _scalar(self, text: str, longest: int = _LONGEST) -> str:
        written = self._scalars.get(text)
        if written is None:
            if not text:
                return "''"
            if len(text) > longest or not _SIMPLE.fullmatch(text) or _KEY_END.search(text):
                raise Unsimple
            resolved = self._resolver.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
            written = self._scalars[text] = text if resolved == _STR else f"'{text}'"
        return written

    def _key(self, key: Any) -> str:
        if type(key) is not str or len(key) > _LONGEST_KEY:
            raise Unsimple
        return self._scalar(key)

    def _map(self, data: dict[Any, Any], indent: int, out: list[str]) -> None:
        if indent > _DEEPEST:
            raise Unsimple
        pad = " " * indent
        for key, value in data.items():
            kind = type(value)
            if kind is str:
                out.append(f"{pad}{self._key(key)}: {self._scalar(value)}\n")
            elif kind is dict and value:
                out.append(f"{pad}{self._key(key)}:\n")
                self._map(value, indent + 2, out)
            elif kind is list and value:
                out.append(f"{pad}{self._key(key)}:\n")
                self._list(value, indent, out)
            else:
                out.append(f"{pad}{self._key(key)}: {_other(value)}\n")

    def _list(self, items: list[Any], indent: int, out: list[str]) -> None:
        """Items level with their key (libyaml's block sequences in a map are not indented)."""
        pad = " " * indent
        for item in items:
            kind = type(item)
            if kind is str:
                out.append(f"{pad}- {self._scalar(item)}\n")
            elif kind is dict and item:
                first = len(out)
                self._map(item, indent + 2, out)
                out[first] = f"{pad}- {out[first][indent + 2 :]}"
            elif kind is dict or kind is list:
                raise Unsimple  # an empty map or any list as an item: libyaml's layout there is not copied here
            else:
                out.append(f"{pad}- {_other(item)}\n")


def _other(value: Any) -> str:
    """An integer, boolean, null, empty map or empty list as libyaml writes it; Unsimple for anything else
    (floats: PyYAML's own spelling of them is not copied here)."""
    kind = type(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    if kind is dict:
        return "{}"
    if kind is list:
        return "[]"
    raise Unsimple
