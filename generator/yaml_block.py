"""Block YAML for plain trees, written directly, in two dialects: libyaml's and kustomize's.

`yamlio.dump` hands every document to PyYAML, whose representer turns each map, list and scalar into a node
object in Python before libyaml writes them: for 3,000 InferenceServices, 0.37 s, all of it before kustomize
can start on them. Generated files are trees of maps, lists, strings, integers, booleans and nulls whose
strings are short and made of a handful of characters; `Emitter` writes such a tree in one pass, seven times
faster, and gives up (`Unsimple`) on anything else, which then goes the libyaml way.

- `LIBYAML`: byte for byte what libyaml writes through `yamlio.dump` (keys in their order, a string that would
  read as something else in single quotes); `tests/unit/test_yaml_block.py` compares the two on generated
  trees, so the choice never shows in a file.
- `KUSTOMIZE`: what `kustomize build` prints for an object (keys sorted, such strings in double quotes: its
  output goes through JSON and go-yaml v2, sigs.k8s.io/yaml `JSONToYAML`), which lets `validate.kustomize` tell
  that kustomize printed exactly an object it knows by comparing text instead of parsing it. Keys are sorted as
  Python sorts them, which is go-yaml's order only for keys of letters, `.`, `/` and `-` (go-yaml compares
  digit runs as numbers and puts other marks before letters): any other key is `Unsimple`. What this dialect
  writes reads back, with PyYAML, as exactly the tree it was given (tested), so equal text is an equal object;
  a guess that differs from kustomize's text costs only the parse it would have saved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.resolver import Resolver

_STR = Resolver.DEFAULT_SCALAR_TAG
# A string written plain, or quoted when it would read back as something else (`'2'`, `'on'`): letters, digits
# and a few punctuation marks, not starting with one that means something at the start of a scalar (`-`, `:`,
# `.`…), no `: ` or trailing `:` (a key's end) and no trailing space. Anything else: `Unsimple`.
_SIMPLE = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9 _./:@+=-]*")
_KEY_END = re.compile(r": |:$| $")
_SORTABLE_KEY = re.compile(r"[A-Za-z./-]+")  # a key go-yaml v2 puts where Python's sort does
_LONGEST = 1000  # a longer string might reach libyaml's line width (4096) and be folded at a space
_DEEPEST = 1000  # columns of indentation, likewise
_LONGEST_KEY = 128  # a longer key is not a "simple key" to libyaml, which writes it as `? key`


@dataclass(frozen=True)
class Dialect:
    sort_keys: bool
    quote: str  # around a string that would otherwise read as a number, a boolean or a null


LIBYAML = Dialect(sort_keys=False, quote="'")
KUSTOMIZE = Dialect(sort_keys=True, quote='"')


class Unsimple(Exception):
    """A value this emitter does not write as the dialect's writer would: the caller takes the long way."""


class Emitter:
    """Writes documents; remembers how each string it met is written (a tree repeats its keys and values)."""

    def __init__(self, dialect: Dialect = LIBYAML) -> None:
        self._dialect = dialect
        self._resolver = Resolver()
        self._scalars: dict[str, str] = {}

    def documents(self, documents: Sequence[Any]) -> str:
        """The documents as `yaml.dump_all(..., explicit_start=len(documents) > 1)` writes them with yamlio's
        dumper (in the KUSTOMIZE dialect: as kustomize prints one object); raises Unsimple."""
        out: list[str] = []
        many = len(documents) > 1
        for document in documents:
            if type(document) is not dict or not document:
                raise Unsimple
            if many:
                out.append("---\n")
            self._map(document, 0, out)
        return "".join(out)

    def _scalar(self, text: str) -> str:
        written = self._scalars.get(text)
        if written is None:
            quote = self._dialect.quote
            if not text:
                return quote * 2
            if len(text) > _LONGEST or not _SIMPLE.fullmatch(text) or _KEY_END.search(text):
                raise Unsimple
            resolved = self._resolver.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
            written = self._scalars[text] = text if resolved == _STR else f"{quote}{text}{quote}"
        return written

    def _key(self, key: Any) -> str:
        if type(key) is not str or len(key) > _LONGEST_KEY:
            raise Unsimple
        return self._scalar(key)

    def _items(self, data: dict[Any, Any]) -> Iterable[tuple[Any, Any]]:
        if not self._dialect.sort_keys:
            return data.items()
        if not all(type(key) is str and _SORTABLE_KEY.fullmatch(key) for key in data):
            raise Unsimple
        return sorted(data.items())

    def _map(self, data: dict[Any, Any], indent: int, out: list[str]) -> None:
        if indent > _DEEPEST:
            raise Unsimple
        pad = " " * indent
        for key, value in self._items(data):
            kind = type(value)
            if kind is str:
                if "\n" in value:
                    out.append(f"{pad}{self._key(key)}: |\n{_literal(value, pad + '  ')}")
                else:
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
        """Items level with their key (block sequences in a map are not indented, in either dialect)."""
        pad = " " * indent
        for item in items:
            kind = type(item)
            if kind is str and "\n" not in item:
                out.append(f"{pad}- {self._scalar(item)}\n")
            elif kind is dict and item:
                first = len(out)
                self._map(item, indent + 2, out)
                out[first] = f"{pad}- {out[first][indent + 2 :]}"
            elif kind in (str, dict, list):
                raise Unsimple  # a literal block, an empty map or any list as an item: that layout is not copied here
            else:
                out.append(f"{pad}- {_other(item)}\n")


def _literal(text: str, pad: str) -> str:
    """The lines of a literal block (`|`, both dialects' style for a string with line breaks): only for a string
    ending in exactly one line break whose lines are simple (no leading space: that needs an indentation
    indicator)."""
    lines = text.split("\n")
    if lines[-1] or len(text) > _LONGEST or not all(line and _SIMPLE.fullmatch(line) for line in lines[:-1]):
        raise Unsimple
    return "".join(f"{pad}{line}\n" for line in lines[:-1])


def _other(value: Any) -> str:
    """An integer, boolean, null, empty map or empty list, as both dialects write it; Unsimple for anything else
    (floats: their spellings are not copied here)."""
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
