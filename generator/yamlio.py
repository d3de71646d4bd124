"""The one YAML door: every YAML the tool reads goes through `Loader`, every file it writes through `dump`.

Reading is bounded, because models.yaml, models.lock, crds.lock.yaml, manifests on disk and
MLmodel files come from a repository or a registry that anyone may have edited:

- a file larger than `MAX_YAML_BYTES` is refused before it is parsed, and only regular files are
  read (a models.lock symlinked to /dev/zero or a FIFO would never end);
- aliases may add at most `MAX_ALIAS_NODES` nodes beyond those written out, and nothing may nest
  deeper than `MAX_DEPTH` once aliases are expanded: a "billion laughs" file is a few hundred bytes
  that expand to 10⁹ nodes, and a recursive alias never ends. Legitimate files use a handful of
  anchors (`<<: *defaults`) and stay far below both;
- a value Python cannot build (an integer of 5,000 digits, the date 2024-13-45) is a YAML error at
  its line, not a crash.

Reading costs little more than libyaml's parse: a text without `&` holds no anchor, so no alias,
and its nodes form a tree that is built into data in one direct pass, depth counted on the way
(`_plain`); a text with anchors, and anything unusual (tags, merge keys, a value Python cannot
build, too deep), goes through the checks above and PyYAML's SafeConstructor, which word it.
What this tool wrote itself (models.lock) `load_plain` reads back with `yaml_block.read`, in half
the time, when writing what it read gives the same text.

Writing keeps a stable key order, no aliases and `\\n` endings.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from generator.diagnostics import INVISIBLE, UNSEEN
from generator.excerpt import quoted
from generator.util.files import MAX_YAML_BYTES, NotRegularFile, TooLarge, read_regular
from generator.yaml_block import Emitter, Unsimple, plain_tag, read

_HIDDEN = re.compile(f"[{UNSEEN}{INVISIBLE}]")

MAX_ALIAS_NODES = 100_000
MAX_DEPTH = 100
LIMITS_HINT = (
    "a models.yaml or lock never comes near these limits: write the values out instead of "
    "nesting aliases, and check that the file is the one you meant"
)

# libyaml's parser when present: the same nodes and marks, about ten times faster on rendered files.
_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR, _MAP, _SEQ, _BOOL, _INT, _NULL = (
    f"tag:yaml.org,2002:{name}" for name in ("str", "map", "seq", "bool", "int", "null")
)
# The scalars SafeConstructor builds; any other tag (sets, omaps, merge keys, unknown tags) takes the full path.
_SCALARS = {
    tag: SafeConstructor.yaml_constructors[tag]
    for tag in (f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "binary", "timestamp"))
}


class LimitExceeded(yaml.MarkedYAMLError):
    """The document breaks one of the reading limits; a YAMLError, so every reader reports it as bad YAML."""


def _resolve(self: Resolver, kind: type[yaml.Node], value: Any, implicit: Any) -> Any:
    """Resolver.resolve, answered without its regular expressions for the plain scalars they cannot match
    (`yaml_block.plain_tag`): libyaml asks once per node, in Python. A quoted scalar, a map and a list get the
    default tags."""
    if kind is yaml.ScalarNode:
        return plain_tag(value) if implicit[0] else _STR
    return _MAP if kind is yaml.MappingNode else _SEQ


assert (Resolver.DEFAULT_SCALAR_TAG, Resolver.DEFAULT_MAPPING_TAG, Resolver.DEFAULT_SEQUENCE_TAG) == (_STR, _MAP, _SEQ)


# What Python adds to "Exceeds the limit (4300 digits) for integer string conversion": advice for a programmer.
_PYTHON_ADVICE = re.compile(r"; use sys\.set_int_max_str_digits\(\) to increase the limit$")


class Loader(_BaseLoader):  # type: ignore[misc]
    """The safe loader, with the alias, depth and value checks above applied to every document."""

    resolve = _resolve

    def get_node(self) -> yaml.Node | None:
        return _checked(super().get_node())

    def get_single_node(self) -> yaml.Node | None:
        return _checked(super().get_single_node())

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"cannot read the value {quoted(node.value)}: {_PYTHON_ADVICE.sub('', str(exc))}",
                node.start_mark,
                "quote it to keep it as text, or write a valid value",
            ) from None


def load(text: str | bytes) -> Any:
    """One YAML document (None when empty), within the limits; raises yaml.YAMLError."""
    loader = Loader(text)
    try:
        return _data(loader, _BaseLoader.get_single_node(loader), _may_alias(text))
    finally:
        loader.dispose()


def load_all(text: str | bytes) -> list[Any]:
    """Every non-empty document of a stream, within the limits; raises yaml.YAMLError."""
    loader = Loader(text)
    may_alias = _may_alias(text)
    try:
        documents = []
        while loader.check_node():
            data = _data(loader, _BaseLoader.get_node(loader), may_alias)
            if data is not None:
                documents.append(data)
        return documents
    finally:
        loader.dispose()


def is_decimal(text: str) -> bool:
    """Whether an integer is written as its decimal digits say (YAML 1.1 also reads 010 as 8, 0x10 as 16, 1:30 as
    90 and 1_000 as 1000)."""
    return _DECIMAL.fullmatch(text) is not None


_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9]*)")


class NotPlain(Exception):
    """The document is valid YAML syntax but not a plain tree: aliases, a repeated key, a key that is not text,
    a tag other than the standard scalars, maps and lists, a value Python cannot build, or nesting beyond
    MAX_DEPTH."""


def load_plain(text: str | bytes) -> Any:
    """One plain document (None when empty), its keys unique, the quick way; raises NotPlain or
    yaml.YAMLError. For readers that word every other case themselves from the nodes (spec/yaml_lines)."""
    if isinstance(text, str):
        with contextlib.suppress(Unsimple):
            return read(text, MAX_DEPTH)  # what this tool wrote, read back without a parser
    return load_plain_node(text)[0]


def load_plain_node(text: str | bytes, *, depth: int = 1) -> tuple[Any, yaml.Node | None]:
    """`load_plain`'s data, read by libyaml, with the document's top node, whose marks say where each part of it
    was written. `depth`: how deep the top sits in a document the text was cut from (1: it is a whole one), from
    which the nesting limit counts."""
    if _may_alias(text):
        raise NotPlain
    loader = Loader(text)
    try:
        root = _BaseLoader.get_single_node(loader)
        return (None if root is None else _plain(loader, root, depth, unique_keys=True)), root
    except (ValueError, OverflowError, yaml.constructor.ConstructorError):
        raise NotPlain from None
    finally:
        loader.dispose()


def _may_alias(text: str | bytes) -> bool:
    """Whether the text can hold an alias at all: an alias names an anchor, and every anchor is written
    with `&` (any encoding libyaml reads has the byte 0x26 for it); an alias without one is a YAML error."""
    return "&" in text if isinstance(text, str) else b"&" in text


def _data(loader: Loader, root: yaml.Node | None, may_alias: bool) -> Any:
    """The document's data, built the quick way when it is a plain tree, else by the full path.

    A document without aliases is a tree: it cannot break the alias budget, and its depth is checked
    while it is built. Anything else (aliases, merge keys, other tags, a value Python cannot build, too
    deep) goes through `_checked` and SafeConstructor, which give the exact result or error.
    """
    if root is None:
        return None
    if not may_alias:
        try:
            return _plain(loader, root, 1, unique_keys=False)
        except (NotPlain, ValueError, OverflowError, yaml.constructor.ConstructorError):
            pass
    return loader.construct_document(_checked(root))


def _plain(loader: Loader, node: yaml.Node, depth: int, unique_keys: bool) -> Any:
    """What SafeConstructor builds from a tree of standard maps, lists and scalars, at a fraction of its cost
    (no generators, no bookkeeping for aliases a tree cannot have); NotPlain for anything else."""
    kind = type(node)
    if kind is yaml.ScalarNode:
        if node.tag == _STR:
            return node.value
        if node.tag == _INT and not is_decimal(node.value):
            raise NotPlain  # 010, 0x10, 1:30: YAML 1.1 reads a number the digits do not say; the full path words it
        build = _SCALARS.get(node.tag)
        if build is None:
            raise NotPlain
        return build(loader, node)
    if depth >= MAX_DEPTH and node.value:
        raise NotPlain  # `_checked` words it
    if kind is yaml.MappingNode and node.tag == _MAP:
        out = {}
        for key_node, value_node in node.value:
            if type(key_node) is not yaml.ScalarNode or key_node.tag != _STR:
                raise NotPlain  # a key that is not text (`yes`, `1`, `null`): JSON has none, the full path builds it
            out[key_node.value] = _plain(loader, value_node, depth + 1, unique_keys)
        if unique_keys and len({key_node.value for key_node, _ in node.value}) != len(node.value):
            raise NotPlain  # a key written twice (as the caller's positions see keys: their text)
        return out
    if kind is yaml.SequenceNode and node.tag == _SEQ:
        return [_plain(loader, item, depth + 1, unique_keys) for item in node.value]
    raise NotPlain


class NotUtf8(UnicodeDecodeError):
    """Bytes that are not UTF-8, said by line and column, where an editor shows them, not by byte offset."""

    def __str__(self) -> str:
        data = bytes(self.object)
        line = data.count(b"\n", 0, self.start) + 1
        column = self.start - data.rfind(b"\n", 0, self.start)  # in bytes: the line before it may not decode
        return f"not UTF-8 at line {line}, column {column} (byte 0x{data[self.start]:02x}); save the file as UTF-8"


def read_text(path: Path, *, follow: bool = True) -> str:
    """The text of a YAML file the user or the repository provides, refused when it is not a regular file
    or exceeds MAX_YAML_BYTES; raises OSError (FileNotFoundError, `util.files.Refused`) or UnicodeDecodeError.
    Bytes decoded as they are: a CRLF file keeps its line ends. `follow`: as `util.files.read_regular` (false for
    the repository's own files)."""
    try:
        data = read_regular(path, MAX_YAML_BYTES, follow=follow)
    except IsADirectoryError:
        raise NotRegularFile("not a regular file") from None
    except TooLarge:
        raise TooLarge(
            f"larger than {MAX_YAML_BYTES // 2**20} MiB, the limit for a YAML file; check that it is the file you meant"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUtf8(exc.encoding, exc.object, exc.start, exc.end, exc.reason) from None


def _checked(root: yaml.Node | None) -> yaml.Node | None:
    """`root` once its expanded size and depth are known to be within the limits.

    One pass over the node graph in document order: a node met a second time is an alias, and
    costs its whole expanded size again. Sizes and heights are kept per node, so the pass is
    linear in the nodes written, however much they would expand.
    """
    if root is None:
        return None
    size: dict[int, int] = {}  # expanded size and height of each node whose subtree is done
    height: dict[int, int] = {}
    active = {id(root)}
    added = 0
    # Frames: node, its children still to visit, and the size and height of those visited so far.
    stack: list[list[Any]] = [[root, _children(root), 1, 0]]
    while stack:
        frame = stack[-1]
        node, pending = frame[0], frame[1]
        child = next(pending, None)
        if child is None:
            stack.pop()
            active.discard(id(node))
            size[id(node)], height[id(node)] = frame[2], frame[3] + 1
            if height[id(node)] > MAX_DEPTH:
                raise LimitExceeded(
                    problem=f"nested more than {MAX_DEPTH} levels deep (aliases included)",
                    problem_mark=node.start_mark,
                    note=LIMITS_HINT,
                )
            if stack:
                stack[-1][2] += size[id(node)]
                stack[-1][3] = max(stack[-1][3], height[id(node)])
            continue
        key = id(child)
        if key in active:
            raise LimitExceeded(
                problem="an alias refers to a node that contains it, so it never ends",
                problem_mark=node.start_mark,
                note="replace the recursive alias by the values",
            )
        if key in size:
            added += size[key]
            if added > MAX_ALIAS_NODES:
                raise LimitExceeded(
                    problem=f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes (an alias bomb?)",
                    problem_mark=node.start_mark,
                    note=LIMITS_HINT,
                )
            frame[2] += size[key]
            frame[3] = max(frame[3], height[key])
        elif isinstance(child, yaml.ScalarNode):
            size[key] = height[key] = 1
            frame[2] += 1
            frame[3] = max(frame[3], 1)
        else:
            active.add(key)
            stack.append([child, _children(child), 1, 0])
    return root


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, yaml.SequenceNode):
        yield from node.value


class _Dumper(yaml.CSafeDumper):
    """libyaml's emitter: about six times faster than PyYAML's pure-Python one on thousands of files.

    It writes list items level with their key (`env:` then `- name: …`), as kustomize itself does.
    Maps, lists, strings, integers, booleans and None become nodes in one direct pass (`_node`), as
    SafeRepresenter would make them with `default_flow_style=False`; anything else goes to its representer.
    """

    resolve = _resolve

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def represent(self, data: Any) -> None:
        self.serialize(_node(self, data))
        self.represented_objects, self.object_keeper, self.alias_key = {}, [], None


def _text(dumper: yaml.CSafeDumper, data: str) -> yaml.ScalarNode:
    """Multi-line strings (templates, scripts) as literal blocks, so reviewers read them as written."""
    style = "|" if "\n" in data else None
    return dumper.represent_scalar(_STR, data, style=style)


_Dumper.add_representer(str, _text)


def _node(dumper: _Dumper, data: Any) -> yaml.Node:  # noqa: PLR0911 (one return per JSON type)
    kind = type(data)
    if kind is str:
        return yaml.ScalarNode(_STR, data, style="|" if "\n" in data else None)
    if kind is dict:
        return yaml.MappingNode(_MAP, [(_node(dumper, k), _node(dumper, v)) for k, v in data.items()], flow_style=False)
    if kind is list:
        return yaml.SequenceNode(_SEQ, [_node(dumper, item) for item in data], flow_style=False)
    if kind is bool:
        return yaml.ScalarNode(_BOOL, "true" if data else "false")
    if kind is int:
        return yaml.ScalarNode(_INT, str(data))
    if data is None:
        return yaml.ScalarNode(_NULL, "null")
    node: yaml.Node = dumper.represent_data(data)
    return node


Files = Mapping[str, tuple[Sequence[Any], str]]  # path -> (its documents, its header comment)
Dump = Callable[[Files], dict[str, bytes]]  # `dump_files`, or one that keeps the documents (`Kept`)


def dump(documents: Sequence[Any], comment: str = "", emitter: Emitter | None = None) -> bytes:
    """The documents as libyaml writes them with `_Dumper`, after the comment. Trees of plain values are written
    by `yaml_block` (the same bytes, several times faster); `emitter`: one to share between files."""
    try:
        return (comment + (emitter or Emitter()).documents(documents)).encode("utf-8")
    except Unsimple:
        return dump_libyaml(documents, comment)


def dump_libyaml(documents: Sequence[Any], comment: str = "") -> bytes:
    """What `dump` writes, always through PyYAML and libyaml: for what yaml_block does not write, and the reference
    it is tested against.

    Text is written as it reads (`allow_unicode`), unless a string holds a character that changes how a line reads
    without showing (diagnostics.UNSEEN: a bidirectional control, a line break to YAML that editors do not draw) or
    does not show at all (diagnostics.INVISIBLE: a zero-width space, a bidirectional mark):
    libyaml counts those printable and would write them as they are, for a reviewer to read a reordered line in the
    file or in `diff`'s comment. Such documents are written with every character past ASCII escaped (`"\\u202E"`),
    which reads back as the same strings."""

    def emitted(allow_unicode: bool) -> str:
        return yaml.dump_all(
            documents,
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=allow_unicode,
            width=4096,
            explicit_start=len(documents) > 1,
        )

    body = emitted(allow_unicode=True)
    if not body.isascii() and _HIDDEN.search(body):
        body = emitted(allow_unicode=False)
    return (comment + body).encode("utf-8")


def dump_files(files: Files) -> dict[str, bytes]:
    """Each file's documents, emitted by `dump`, sharing one emitter (the files repeat keys and values)."""
    emitter = Emitter()
    return {path: dump(documents, comment, emitter) for path, (documents, comment) in files.items()}


class Kept:
    """A `Dump` that keeps each file's documents: what `dump` emits loads back as exactly these (plain maps, lists
    and scalars, every string that could read as something else quoted), so a reader of the bytes may take them
    instead of parsing the bytes again."""

    def __init__(self, dump: Dump = dump_files) -> None:
        self._dump = dump
        self.documents: dict[str, Sequence[Any]] = {}

    def __call__(self, files: Files) -> dict[str, bytes]:
        self.documents.update({path: documents for path, (documents, _) in files.items()})
        return self._dump(files)
