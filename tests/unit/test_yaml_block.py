"""yaml_block writes exactly what libyaml writes, or leaves the documents to libyaml; it reads back only what
it wrote, exactly as libyaml reads it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.scenario import models_yaml, synthetic_lock
from generator import yamlio
from generator.lock import LOCK_FILE
from generator.lock.io import dumps
from generator.render.tree import render
from generator.spec.load import parse_spec
from generator.yaml_block import KUSTOMIZE, Emitter, Unsimple, read
from generator.yamlio import MAX_DEPTH, dump_libyaml

# Strings this emitter writes itself, though some read as numbers, booleans or nulls…
WORDS = st.one_of(
    st.from_regex(r"[a-zA-Z0-9_/]([aoyNT01._/ -]{0,6}[aoyNT01._/-])?", fullmatch=True),
    st.sampled_from(["s3://bucket/path/m-1/artifacts", "Bench.Model 0003", "alias champion", "1Gi", "500m", "v2"]),
    st.sampled_from(["", "2", "1.0", "0x1F", "1e3", "on", "No", "null", "a b" * 333]),
    st.sampled_from(["--env", "-v", "-1", "--1", "-0x1F", "-.5", "a,b", "BeforeHookCreation,HookSucceeded"]),
    st.sampled_from(["path: a.yaml\n", "a\nb: c\n", "#!/bin/sh\necho 1\n"]),  # literal blocks
)
# …and values that change how libyaml writes them: indicators, quotes, `: `, a non-ASCII letter, a tab, a break,
# long strings and keys, floats, integer keys.
ODD = st.one_of(
    st.text(alphabet="az0 #'\"@,!&*?|>%{}[]~<=.:-é\t\n", max_size=8),
    st.sampled_from(["a: b", "a:", "a ", "a b" * 334, 1.5, 7, "a\n\n", "a\nb", "\n", " a\n", "a\n\nb\n"]),
    st.sampled_from(["-", "--", "---", "---a", "- a", "-,", ",a", "a,", "-a: b", "-- a", "--a\n"]),
)


def trees(odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Maps and lists of WORDS, integers, booleans and nulls, with `odd` as one key or scalar in about twenty."""
    words = st.sampled_from(range(20)).flatmap(lambda n: odd if n == 0 else WORDS)
    scalars = st.one_of(words, words, st.integers(-(10**20), 10**20), st.booleans(), st.none())
    keys = st.one_of(words, words, words, st.sampled_from(["k" * 128, "k" * 129]))  # 128: the longest simple key
    return st.recursive(
        scalars,
        lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
        max_leaves=16,
    )


DOCUMENTS = st.lists(
    st.dictionaries(st.sampled_from(["apiVersion", "kind", "spec", "2"]), trees(ODD), min_size=1),
    min_size=1,
    max_size=3,
)


@settings(max_examples=400, deadline=None)
@given(DOCUMENTS)
def test_dump_writes_the_bytes_libyaml_writes(documents: list[Any]) -> None:
    assert yamlio.dump(documents, "# a comment\n") == dump_libyaml(documents, "# a comment\n")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "spec"]), trees(ODD), min_size=1, max_size=3))
def test_dump_files_shares_what_it_learnt_between_files_without_changing_them(document: dict[str, Any]) -> None:
    files = {"a.yaml": ([document], ""), "b.yaml": ([document, {"b": document}], "# b\n")}
    assert yamlio.dump_files(files) == {
        "a.yaml": dump_libyaml([document]),
        "b.yaml": dump_libyaml([document, {"b": document}], "# b\n"),
    }


SMOKE_TESTED = models_yaml(30).replace(
    "models:\n",
    "argocd: {repoURL: 'https://github.com/acme/platform.git', targetRevision: main, smokeTest: {image: 'curl:8'}}\n"
    "models:\n",
)


@pytest.mark.parametrize("declared", [models_yaml(30), SMOKE_TESTED], ids=["plain", "smoke-tested"])
def test_every_rendered_file_and_the_lock_are_written_without_libyaml(declared: str) -> None:
    """What the speed-up is for: the files there are thousands of, InferenceServices, smoke-test Jobs (their
    commands' `--options`, Argo CD's comma-separated hook policies), kustomizations and models.lock, are all plain
    enough. (argocd/ holds one ApplicationSet, whose Go templates libyaml writes.)"""
    spec, _ = parse_spec(declared)
    lock = synthetic_lock(spec)
    kept = yamlio.Kept()
    written = {**render(spec, lock, dump=kept), LOCK_FILE: dumps(lock, kept)}
    emitter = Emitter()
    for path, documents in kept.documents.items():
        if not path.startswith("argocd/"):
            assert written[path].endswith(emitter.documents(list(documents)).encode()), path


@pytest.mark.parametrize(
    "document",
    [{"f": 1.5}, {"s": "two\nlines"}, {"s": "é"}, {1: "int key"}, {"l": [[1]]}, {"l": [{}]}, {"k" * 129: 1}, {}],
)
def test_what_it_does_not_copy_is_left_to_libyaml(document: dict[Any, Any]) -> None:
    with pytest.raises(Unsimple):
        Emitter().documents([document])
    assert yamlio.dump([document]) == dump_libyaml([document])


@settings(max_examples=400, deadline=None)
@given(DOCUMENTS)
def test_what_the_kustomize_dialect_writes_reads_back_as_the_same_tree(documents: list[Any]) -> None:
    """Why equal text is an equal object: yaml_block.KUSTOMIZE never writes a tree that parses as another."""
    try:
        text = Emitter(KUSTOMIZE).documents(documents)
    except Unsimple:
        return
    assert yamlio.load_all(text) == documents


def test_the_kustomize_dialect_sorts_keys_and_double_quotes() -> None:
    document = {"kind": "A", "apiVersion": "v1", "metadata": {"labels": {"b": "2", "a": ""}, "name": "x"}}
    assert Emitter(KUSTOMIZE).documents([document]) == (
        'apiVersion: v1\nkind: A\nmetadata:\n  labels:\n    a: ""\n    b: "2"\n  name: x\n'
    )
    for unsorted in ({"a9": 1, "a10": 2}, {"a_b": 1, "aZ": 2}):  # go-yaml sorts these otherwise than Python does
        with pytest.raises(Unsimple):
            Emitter(KUSTOMIZE).documents([unsorted])


def _reference(text: str) -> Any:
    """What PyYAML's reference loader makes of a text (libyaml is tested against it in test_yamlio)."""
    return yaml.load(text, Loader=yaml.SafeLoader)


@settings(max_examples=400, deadline=None)
@given(DOCUMENTS.map(lambda documents: documents[0]))
def test_read_gives_back_the_tree_the_emitter_wrote(document: dict[str, Any]) -> None:
    try:
        text = "# Generated by a test\n# kept: comments at the top\n" + Emitter().documents([document])
    except Unsimple:
        return
    assert read(text, MAX_DEPTH) == document == _reference(text)


# Edits that change what a text means to YAML: indentation, indicators, quotes, comments, line breaks YAML knows
# (\r, NEL, LINE SEPARATOR) and characters it refuses (NUL, a BOM inside).
_EDITS = " -:'\"#|>&*!?{}[],~\t\n\r\x85\u2028\x00\ufeff0aé"


@settings(max_examples=1500, deadline=None)
@given(
    DOCUMENTS.map(lambda documents: documents[0]),
    st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(_EDITS), st.sampled_from(["insert", "delete", "swap"]))),
)
def test_read_takes_no_text_that_libyaml_reads_otherwise(document: dict[str, Any], edits: list[Any]) -> None:
    """The promise `yamlio.load_plain` relies on: for any text, `read` declines or agrees with YAML."""
    try:
        text = "# header\n" + Emitter().documents([document])
    except Unsimple:
        return
    for place, char, how in edits:
        at = place % (len(text) + 1)
        if how == "insert":
            text = text[:at] + char + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            lines = text.split("\n")
            i = at % len(lines)
            lines[i], lines[-i] = lines[-i], lines[i]
            text = "\n".join(lines)
    try:
        tree = read(text, MAX_DEPTH)
    except Unsimple:
        return
    assert tree == _reference(text)


@pytest.mark.parametrize(
    "text",
    [
        "# a\u2028b: 1\na: 1\n",  # a line break YAML knows, inside what looks like a comment line
        "# a\x85b: 1\na: 1\n",
        "# a\rb: 1\na: 1\n",
        "# a\x00\na: 1\n",  # a character YAML refuses
        "\ufeffa: 1\n",
        "a: 1\r\n",
        "---\na: 1\n",
        "a: 1\n...\n",
        "a: 1 # a comment\n",
        "a: 1\n\nb: 2\n",
        "a: 1\na: 2\n",
        "a:\n\tb: 1\n",
        "a: 1",  # no line break at the end
        "a: 0x1F\nb: yes\nc: ~\nd: 1.5\ne: 007\n",  # spellings the emitter does not write
        'a: "x"\n',
        "a: 'x'\n",  # quoted, though plain it reads as a string
        "a:\n  - x\n",  # an indented list
        "",
        "# only a comment\n",
    ],
)
def test_read_declines_any_text_the_emitter_would_not_write(text: str) -> None:
    with pytest.raises(Unsimple):
        read(text, MAX_DEPTH)


def test_read_declines_what_is_nested_as_deep_as_the_limit() -> None:
    def nested(levels: int) -> str:  # `levels` maps, the innermost holding a scalar
        return "".join(f"{'  ' * level}k:\n" for level in range(levels - 1)) + f"{'  ' * (levels - 1)}k: x\n"

    assert read(nested(MAX_DEPTH - 1), MAX_DEPTH) == _reference(nested(MAX_DEPTH - 1))
    with pytest.raises(Unsimple):
        read(nested(MAX_DEPTH), MAX_DEPTH)
    with pytest.raises(yamlio.NotPlain):
        yamlio.load_plain(nested(MAX_DEPTH))


def test_the_lock_is_read_back_without_libyaml() -> None:
    spec, _ = parse_spec(models_yaml(30))
    text = dumps(synthetic_lock(spec)).decode()
    assert read(text, MAX_DEPTH) == _reference(text)
