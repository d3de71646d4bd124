"""The YAML door: bounded reading (size, aliases, depth, unbuildable values) with the error at its line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from generator import yamlio
from generator.util.files import MAX_YAML_BYTES, NotRegularFile, TooLarge
from generator.yamlio import MAX_ALIAS_NODES, MAX_DEPTH, LimitExceeded
from tests.support.paths import CRDS

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]\n" for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_a_billion_laughs_is_refused_at_the_line_of_the_alias_that_breaks_the_limit() -> None:
    with pytest.raises(LimitExceeded) as caught:
        yamlio.load(BILLION_LAUGHS)
    assert f"more than {MAX_ALIAS_NODES:,} nodes" in str(caught.value)
    assert caught.value.problem_mark is not None and caught.value.problem_mark.line + 1 == 5


def test_every_document_of_a_stream_is_checked() -> None:
    with pytest.raises(yaml.YAMLError):
        yamlio.load_all("kind: A\n---\n" + BILLION_LAUGHS)


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(LimitExceeded, match="contains it"):
        yamlio.load("a: &a [1, *a]\n")


def test_nesting_through_aliases_is_bounded() -> None:
    chain = "x0: &x0 [1]\n" + "".join(f"x{i}: &x{i} [*x{i - 1}]\n" for i in range(1, MAX_DEPTH + 5))
    with pytest.raises(LimitExceeded, match=f"more than {MAX_DEPTH} levels"):
        yamlio.load(chain)


def test_a_shared_defaults_anchor_used_by_a_thousand_models_loads() -> None:
    text = "defaults: &d {resources: {limits: {cpu: '1', memory: 2Gi}}, minReplicas: 1}\nmodels:\n" + "".join(
        f"  m{i}: {{<<: *d, registeredModel: m{i}}}\n" for i in range(1_000)
    )
    models = yamlio.load(text)["models"]
    assert len(models) == 1_000
    assert models["m999"]["resources"]["limits"]["memory"] == "2Gi"


@pytest.mark.parametrize(
    ("text", "problem"),
    [("replicas: 1" + "0" * 5_000 + "\n", "Exceeds the limit"), ("since: 2024-13-45\n", "month must be in 1..12")],
)
def test_a_value_python_cannot_build_is_a_yaml_error_at_its_line(text: str, problem: str) -> None:
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        yamlio.load("ok: 1\n" + text)
    assert problem in str(caught.value)
    assert caught.value.problem_mark is not None and caught.value.problem_mark.line + 1 == 2
    assert len(str(caught.value)) < 1_000


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "models.yaml"
    with big.open("wb") as handle:
        handle.truncate(MAX_YAML_BYTES + 1)
    with pytest.raises(TooLarge, match="larger than 16 MiB"):
        yamlio.read_text(big)


def test_a_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    edge = tmp_path / "models.yaml"
    edge.write_bytes(b"#" * MAX_YAML_BYTES)
    assert len(yamlio.read_text(edge)) == MAX_YAML_BYTES


def test_a_fifo_or_a_device_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    device = tmp_path / "models.lock"
    device.symlink_to("/dev/zero")
    for path in (fifo, device):
        with pytest.raises(NotRegularFile, match="not a regular file"):
            yamlio.read_text(path)


PLAIN_AND_UNUSUAL = [
    "a: 1\nb: 0x1f\nc: 0o17\nd: 017\ne: 1_000\nf: -3.5e+3\ng: .inf\nh: -.INF\ni: 1:30\n",
    "yes: [yes, no, on, off, true, False, TRUE, y, n]\nnull: [~, null, Null, '', \"\"]\n",
    "when: 2024-01-02\nat: 2024-01-02T03:04:05.5+01:00\nbytes: !!binary aGVsbG8=\n",
    "quoted: ['1', \"true\", 'null', \"a\\tb\"]\nblock: |\n  line\n  next\nfolded: >-\n  one\n  two\n",
    "1: int key\n2.5: float key\ntrue: bool key\n~: null key\n2024-01-02: date key\n",
    "tagged: [!!str 1, !!int '2', !!float '3', !!bool 'yes', !!null '']\n",
    "set: !!set {a, b}\nomap: !!omap [{x: 1}, {y: 2}]\npairs: !!pairs [{x: 1}, {x: 2}]\n",
    "merged: {<<: {a: 1, b: 2}, b: 3}\nlist_merge: {<<: [{a: 1}, {c: 2}]}\n",
    "twice: 1\ntwice: 2\nnested: {k: {k: {k: [[[]], {}]}}}\n",
    "base: &b {x: 1}\nderived: {<<: *b, y: 2}\nlist: [*b, *b]\n",
    "value: {=: default}\n",
    "- [a, b]\n- {c: d}\n- ''\n-\n- 'multi\n\n  line'\n",
    "plain &text: a&b\nurl: https://x.example/?a=1&b=2\n",
    "",
    "# only a comment\n",
    "scalar at the root\n",
]


@pytest.mark.parametrize("text", PLAIN_AND_UNUSUAL)
def test_every_document_loads_as_the_reference_safe_loader_builds_it(text: str) -> None:
    reference = [doc for doc in yaml.load_all(text, Loader=yaml.SafeLoader) if doc is not None]

    assert yamlio.load_all(text) == reference
    assert yamlio.load_all(text.encode()) == reference
    assert yamlio.load(text) == (reference[0] if reference else None)


def test_the_crds_load_as_the_reference_loader_builds_them() -> None:
    for path in sorted(CRDS.rglob("*.yaml")):
        text = path.read_text()
        assert yamlio.load_all(text) == [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d is not None]


def _nested(levels: int, aliased: bool) -> str:
    """`levels` nodes from the root to the innermost scalar, written out or through an anchor."""
    inner = "[" * (levels - 1) + "x" + "]" * (levels - 1)
    return f"base: &b {inner}\nuse: *b\n" if aliased else f"use: {inner}\n"


@pytest.mark.parametrize("aliased", [False, True])
def test_nesting_is_bounded_with_or_without_aliases(aliased: bool) -> None:
    assert yamlio.load(_nested(MAX_DEPTH - 1, aliased))["use"] is not None  # the root map adds one level
    with pytest.raises(LimitExceeded, match=f"more than {MAX_DEPTH} levels") as caught:
        yamlio.load(_nested(MAX_DEPTH, aliased))
    assert caught.value.problem_mark is not None and caught.value.problem_mark.line == 0


def test_a_deep_document_in_a_stream_is_refused() -> None:
    with pytest.raises(LimitExceeded):
        yamlio.load_all("a: 1\n---\n" + "[" * 900 + "]" * 900 + "\n")


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",  # an alias
        "a: 1\na: 2\n",  # a key written twice
        "'1': a\n1: b\n",  # twice as text, though YAML reads one as a number
        "a: !!set {x}\n",  # another tag
        "a: 2024-13-45\n",  # a value Python cannot build
        _nested(MAX_DEPTH, aliased=False),
    ],
)
def test_load_plain_leaves_every_unusual_document_to_its_caller(text: str) -> None:
    with pytest.raises(yamlio.NotPlain):
        yamlio.load_plain(text)


def test_load_plain_reads_a_plain_document() -> None:
    assert yamlio.load_plain("a: [1, 'x', null, {b: true}]\n") == {"a": [1, "x", None, {"b": True}]}
    assert yamlio.load_plain("") is None
    with pytest.raises(yaml.YAMLError):
        yamlio.load_plain("a: [1\n")


def test_dump_writes_what_the_reference_representer_writes() -> None:
    data = {
        "apiVersion": "v1",
        "items": [1, -2, 3.5, 1e20, float("inf"), True, False, None, "", "yes", "1.0", "null", "~", "a: b", "- x"],
        "script": "#!/bin/sh\necho hi\n",
        "nested": {"empty": {}, "none": [], "deep": [[{"k": "v"}]]},
        7: "int key",
        "unicode": "é ✓",
    }
    reference = yaml.dump(
        data, Dumper=_ReferenceDumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=4096
    ).encode()

    assert yamlio.dump([data]) == reference


@pytest.mark.parametrize("unseen", ["\u202e", "\u2066", "\u2028", "\x85", "\u200b", "\u200f", "\xad"])
def test_a_string_that_would_read_otherwise_than_it_shows_is_written_escaped(unseen: str) -> None:
    """A bidirectional control or a line break editors do not draw, written as it is, makes a reviewer read a line of
    a generated file (or of `diff`'s comment) in another order or as two: such a document is written in ASCII, every
    other character escaped too, and reads back as the same strings."""
    data = {"storageUri": f"s3://bucket/{unseen}admin", "note": "café", "script": f"a\n{unseen}b\n"}

    text = yamlio.dump([data]).decode("utf-8")

    assert unseen not in text
    assert yaml.safe_load(text) == data
    if unseen != "\x85":  # libyaml itself writes NEL as `\N`; the others it counts printable
        assert text.isascii(), "café's é is escaped too: one document, one way of writing"


def test_a_document_without_such_characters_is_written_as_it_reads() -> None:
    assert yamlio.dump([{"note": "café ✓"}]) == "note: café ✓\n".encode()


class _ReferenceDumper(yaml.CSafeDumper):
    """PyYAML's own representer with yamlio's choices: no aliases, multi-line strings as literal blocks."""

    def ignore_aliases(self, data: object) -> bool:
        return True


_ReferenceDumper.add_representer(
    str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None)
)


def test_a_file_that_is_not_utf8_is_located_by_line_and_column(tmp_path: Path) -> None:
    """Where an editor shows it: the line, and the byte's column in it (the é before it is two bytes of UTF-8)."""
    latin = tmp_path / "models.yaml"
    latin.write_bytes("apiVersion: kserve-gitops/v1\n# a café ".encode() + b"\xe9 written as Latin-1\n")
    with pytest.raises(UnicodeDecodeError) as caught:
        yamlio.read_text(latin)
    assert str(caught.value) == "not UTF-8 at line 2, column 11 (byte 0xe9); save the file as UTF-8"


def test_a_number_too_long_to_read_is_refused_in_the_users_words() -> None:
    with pytest.raises(yaml.constructor.ConstructorError) as caught:
        yamlio.load("version: " + "1" * 4400 + "\n")
    assert "Exceeds the limit (4300 digits)" in str(caught.value)
    assert "sys.set_int_max_str_digits" not in str(caught.value)
