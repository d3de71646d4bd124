"""Block YAML for plain trees, written directly, in two dialects: libyaml's and kustomize's.

`yamlio.dump` hands every document to PyYAML, whose representer turns each map, list and scalar into a node
object in Python before libyaml writes them: for 3,000 InferenceServices, 0.37 s, all of it before kustomize
can start on them. Generated files are trees of maps, lists, strings, integers, booleans and nulls whose
strings are short and made of a handful of characters; `Emitter` writes such a tree in one pass, about eight
times faster, and gives up (`Unsimple`) on anything else, which then goes the libyaml way.

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

`read` goes the other way for `LIBYAML`: it reads back what `Emitter` wrote (a models.lock of 3,000 entries in
0.07 s where libyaml's parse takes 0.15 s) and accepts its reading only when the emitter writes that tree as
exactly the text it read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.resolver import Resolver

_STR = Resolver.DEFAULT_SCALAR_TAG
_INT, _BOOL, _NULL = (f"tag:yaml.org,2002:{name}" for name in ("int", "bool", "null"))
# A string written plain, or quoted when it would read back as something else (`'2'`, `'on'`): letters, digits
# and a few punctuation marks, not starting with one that means something at the start of a scalar (`:`, `.`,
# `,`…) but for one or two dashes before a letter or digit (`--env`, a command's option: `- ` starts a list item,
# `---` a document), no `: ` or trailing `:` (a key's end) and no trailing space. Anything else: `Unsimple`.
_SIMPLE = re.compile(r"(?:[A-Za-z0-9_/]|--?(?=[A-Za-z0-9_/]))[A-Za-z0-9 _./:@+=,-]*")
_KEY_END = re.compile(r": |:$| $")
_SORTABLE_KEY = re.compile(r"[A-Za-z./-]+")  # a key go-yaml v2 puts where Python's sort does
_LONGEST = 1000  # a longer string might reach libyaml's line width (4096) and be folded at a space
_DEEPEST = 1000  # columns of indentation, likewise
_LONGEST_KEY = 128  # a longer key is not a "simple key" to libyaml, which writes it as `? key`
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]{0,999})")  # an integer as `str(int)` writes it
_COMMENT = re.compile(r"#[ -~]*")  # printable ASCII: no character YAML reads as a line break or refuses

# No path resolvers and no wildcard resolver: a plain scalar's tag depends only on its own first character.
assert not Resolver.yaml_path_resolvers and None not in Resolver.yaml_implicit_resolvers
_RESOLVED_FIRSTS = frozenset(Resolver.yaml_implicit_resolvers)
_RESOLVER = Resolver()


def plain_tag(text: str) -> str:
    """What a plain scalar `text` reads as (its tag): a string, a number, a boolean, a null…, as PyYAML's
    resolver says, without its regular expressions for the scalars none of them can match (only a value whose
    first character starts one of those forms, a digit, `n`, `t`, `~`…, needs them)."""
    if text and text[0] not in _RESOLVED_FIRSTS:
        return _STR
    return str(_RESOLVER.resolve(yaml.ScalarNode, text, (True, False)))  # type: ignore[no-untyped-call]


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
        self._scalars: dict[str, str] = {}
        self._keys: dict[str, str] = {}  # keys as written, once checked
        self._sortable: set[str] = set()  # keys met that the dialect sorts as Python does

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
            written = self._scalars[text] = text if plain_tag(text) == _STR else f"{quote}{text}{quote}"
        return written

    def _key(self, key: Any) -> str:
        written = self._keys.get(key) if type(key) is str else None
        if written is None:
            if type(key) is not str or len(key) > _LONGEST_KEY or key.startswith("-"):
                raise Unsimple  # `--key:` at the start of a line reads, to `read`, as a list item
            written = self._keys[key] = self._scalar(key)
        return written

    def _items(self, data: dict[Any, Any]) -> Iterable[tuple[Any, Any]]:
        if not self._dialect.sort_keys:
            return data.items()
        if not self._sortable.issuperset(data):
            if not all(type(key) is str and _SORTABLE_KEY.fullmatch(key) for key in data):
                raise Unsimple
            self._sortable.update(data)
        return sorted(data.items())

    def _map(self, data: dict[Any, Any], indent: int, out: list[str]) -> None:
        if indent > _DEEPEST:
            raise Unsimple
        pad = " " * indent
        keys, scalars = self._keys, self._scalars  # looked up here first: most keys and values were met before
        for key, value in self._items(data):
            kind = type(value)
            head = (keys.get(key) if type(key) is str else None) or self._key(key)
            if kind is str:
                if "\n" in value:
                    out.append(f"{pad}{head}: |\n{_literal(value, pad + '  ')}")
                else:
                    out.append(f"{pad}{head}: {scalars.get(value) or self._scalar(value)}\n")
            elif kind is dict and value:
                out.append(f"{pad}{head}:\n")
                self._map(value, indent + 2, out)
            elif kind is list and value:
                out.append(f"{pad}{head}:\n")
                self._list(value, indent, out)
            else:
                out.append(f"{pad}{head}: {_other(value)}\n")

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


def read(text: str, max_depth: int) -> dict[str, Any]:
    """The tree `Emitter(LIBYAML)` wrote as `text`, after comment lines at its top; Unsimple for any other text.

    The lines are read back into a tree of maps, lists, strings, integers, booleans and nulls, which is taken
    only when the emitter writes it as exactly the text that was read: libyaml writes that tree so (tested) and
    reads what it writes as the tree it was given, so any YAML reader makes the same of the text. What the
    reading gets wrong, the writing shows. `max_depth`: a map or list that deep or deeper (the top is 1) is
    Unsimple, left to the caller's reader and its limits.
    """
    lines = text.split("\n")
    if lines.pop() != "":
        raise Unsimple  # no line break at the end
    top = 0
    while top < len(lines) and lines[top].startswith("#"):
        if not _COMMENT.fullmatch(lines[top]):
            raise Unsimple
        top += 1
    body = text[sum(len(line) + 1 for line in lines[:top]) :]
    reader = _Reader(lines, top, max_depth)
    tree = reader.map(0, 1)
    if reader.at != len(lines) or Emitter(LIBYAML).documents([tree]) != body:
        raise Unsimple
    return tree


class _Reader:
    """Reads the lines `Emitter` writes; checks only what it needs to find its way, `read` checks the rest."""

    def __init__(self, lines: list[str], at: int, max_depth: int) -> None:
        """`lines`: the text's, which a list's maps rewrite (`- key: value` as `  key: value`)."""
        self.at = at
        self._lines, self._max_depth = lines, max_depth
        self._scalars: dict[str, Any] = {}

    def map(self, indent: int, depth: int) -> dict[str, Any]:
        if depth >= self._max_depth:
            raise Unsimple
        lines, out = self._lines, {}
        pad = " " * indent
        while self.at < len(lines):
            line = lines[self.at]
            if not line.startswith(pad) or line[indent : indent + 1] in (" ", "-"):
                break
            self.at += 1
            key, colon, value = line[indent:].partition(": ")
            if colon:
                item = self._literal(indent + 2) if value == "|" else self._scalar(value)
            elif key.endswith(":"):
                key = key[:-1]
                item = self._nested(indent, depth)
            else:
                raise Unsimple
            name = self._scalar(key)
            if type(name) is not str or name in out:
                raise Unsimple
            out[name] = item
        if not out:
            raise Unsimple
        return out

    def _nested(self, indent: int, depth: int) -> Any:
        """The map (indented) or list (level with its key) that follows a `key:` line."""
        following = self._lines[self.at] if self.at < len(self._lines) else ""
        if following.startswith(" " * indent + "- "):
            return self._list(indent, depth + 1)
        return self.map(indent + 2, depth + 1)

    def _list(self, indent: int, depth: int) -> list[Any]:
        if depth >= self._max_depth:
            raise Unsimple
        lines, out = self._lines, []
        dash = " " * indent + "- "
        while self.at < len(lines) and lines[self.at].startswith(dash):
            item = lines[self.at][indent + 2 :]
            if ": " in item or item.endswith(":"):  # a map: its first key on the dash's line, the rest below
                lines[self.at] = " " * (indent + 2) + item
                out.append(self.map(indent + 2, depth + 1))
            else:
                self.at += 1
                out.append(self._scalar(item))
        return out

    def _literal(self, indent: int) -> str:
        lines, out = self._lines, []
        pad = " " * indent
        while self.at < len(lines) and lines[self.at].startswith(pad) and lines[self.at][indent : indent + 1] != " ":
            out.append(lines[self.at][indent:] + "\n")
            self.at += 1
        return "".join(out)

    def _scalar(self, text: str) -> Any:
        if text in ("{}", "[]"):
            return {} if text == "{}" else []  # a new one each time: the tree's collections are its own
        value = self._scalars.get(text, self)
        if value is self:
            value = self._scalars[text] = _scalar(text)
        return value


def _scalar(text: str) -> Any:
    """A scalar as the emitter writes one: plain, or in single quotes when plain it would read as another type.
    Any other text gives up at once (a hand-written models.yaml at its first flow map or double quote), not after
    reading the whole document for the emitter to disagree."""
    if _DECIMAL.fullmatch(text) and plain_tag(text) == _INT:
        return int(text)
    quoted = text.startswith("'")
    if quoted:
        if len(text) < 2 or not text.endswith("'"):
            raise Unsimple
        text = text[1:-1]
        if not text:
            return text
    if len(text) > _LONGEST or not _SIMPLE.fullmatch(text) or _KEY_END.search(text):
        raise Unsimple  # nothing the emitter writes (a quote inside, `{`, `"`, `#`, `: `…)
    tag = plain_tag(text)
    if tag == _STR or quoted:
        return text
    if tag == _BOOL and text in ("true", "false"):
        return text == "true"
    if tag == _NULL and text == "null":
        return None
    raise Unsimple  # another spelling (yes, Null), a float, a date…
