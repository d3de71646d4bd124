"""A document read entry by entry gives exactly what reading it whole gives, whatever the memory holds.

The memory (cache.Parses) is keyed by an entry's lines alone: these tests read series of texts through one memory,
so that lines learned in one layout are offered to every later text, including texts in which the same lines mean
something else (inside a quoted scalar, a flow mapping, under another indentation).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator import yaml_entries, yamlio
from generator.cache import CACHE_ENV, Parses
from generator.util.environ import scoped_environ
from generator.yamlio import MAX_DEPTH

FILE = """\
apiVersion: kserve-gitops/v1
environments: {dev: {namespace: ml-dev}}
models:
  # the models
  wine:
    registeredModel: Wine
    environments: {dev: {alias: champion}}
  churn:
    registeredModel: "Churn: v2"
    description: |
      two
      lines

  fraud: {registeredModel: Fraud, environments: {dev: {version: 3}}}
# after the models
defaults: {serviceAccountName: sa}
"""


def outcome(read: Callable[[str], Any], text: str) -> tuple[str, Any]:
    """What reading `text` gives: its data with every map's key order, or the error's type and words."""
    try:
        return "data", ordered(read(text))
    except (yamlio.NotPlain, yaml.YAMLError) as exc:
        return "error", (type(exc), str(exc))


def ordered(data: Any) -> Any:
    if isinstance(data, dict):
        return [(key, ordered(value)) for key, value in data.items()]
    if isinstance(data, list):
        return [ordered(item) for item in data]
    return data


def by_entry(text: str) -> Any:
    return yaml_entries.load(text, "models")


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[Path]:
    with scoped_environ({CACHE_ENV: str(tmp_path)}):
        yield tmp_path


def test_a_file_read_by_entry_is_the_file_read_whole_cold_and_remembered(memory: Path) -> None:
    whole = outcome(yamlio.load_plain, FILE)
    assert whole[0] == "data"
    assert outcome(by_entry, FILE) == whole  # learns each entry
    assert outcome(by_entry, FILE) == whole  # every entry remembered


def test_an_edited_entry_is_read_again_and_the_others_are_taken_from_the_memory(memory: Path) -> None:
    """Seen through a forged memory: what is remembered for an entry's lines is what the reading takes."""
    text = "a: 1\nmodels:\n" + "".join(f"  m{i}:\n    n: {i}\n" for i in range(20)) + "z: 2\n"
    by_entry(text)
    with Parses.open(yaml_entries._entry) as parses:
        parses.learn("  m3:\n    n: 3\n", {"m3": "remembered"})
    data = by_entry(text.replace("n: 7", "n: 70"))
    assert data["models"]["m3"] == "remembered"
    assert data["models"]["m7"] == {"n": 70}
    assert list(data) == ["a", "models", "z"]
    assert list(data["models"]) == [f"m{i}" for i in range(20)]


def test_without_a_cache_the_file_is_read_whole() -> None:
    with scoped_environ({CACHE_ENV: "off"}):
        assert outcome(by_entry, FILE) == outcome(yamlio.load_plain, FILE)


MANY = "".join(f"  m{i}:\n    n: {i}\n" for i in range(20))  # a section of which one new entry is read alone


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("? models\nq: 'x\nmodels:\n" + MANY + "'\n", id="the section's lines inside a quoted text"),
        pytest.param("models:\n" + MANY + "- x\n", id="a list after the section"),
        pytest.param("models:\n" + MANY + "  q: 'x\n  r: y'\n", id="a quoted text across two entries' lines"),
        pytest.param("models:\n" + MANY + "  {k: 1, j: 2}\n", id="an entry of two keys in flow style"),
        pytest.param("models:\n" + MANY + "  m1:\n    n: 2\n", id="an entry's name twice"),
        pytest.param("models:\n" + MANY + f"  a: {'[' * (MAX_DEPTH - 3)}{']' * (MAX_DEPTH - 3)}\n", id="deep"),
        pytest.param("models:\n" + MANY + f"  a: {'[' * (MAX_DEPTH - 2)}1{']' * (MAX_DEPTH - 2)}\n", id="too deep"),
    ],
)
def test_a_text_around_remembered_entries_reads_as_it_whole(memory: Path, text: str) -> None:
    whole = outcome(yamlio.load_plain, text)
    assert outcome(by_entry, text) == whole  # knowing none of its entries
    by_entry("models:\n" + MANY)
    assert outcome(by_entry, text) == whole  # knowing all but one


# Lines that may join an entry to its neighbours, or mean something else under another indentation.
LINES = [
    "    a: 1\n",
    "    b: {x: 1,\n",
    "  y: 2}\n",
    '    c: "open\n',
    '  m: close"\n',
    "    d: |\n      text\n",
    "# a comment at the start of a line\n",
    "  # a comment\n",
    " less: 1\n",
    "\n",
    "    e: [1, 2]\n",
    "    f: 2024-01-01\n",
    "    g: !!binary aGk=\n",
    "    h: &x 1\n",
    "    i: *x\n",
    "    <<: {j: 1}\n",
    "  - item\n",
    "  {k: 1}\n",
    "\tt: 1\n",
    "    n: 010\n",
    "    r: 1\r\n",
    "  ? key\n",
    "  : value\n",
    "models:\n",
    "...\n",
    "  plain\n",
    "    continued\n",
]
NAMES = st.sampled_from(["m1", "m2", "m1", '"m3"', "'m4'", "models", "m5: 1", "[m6]", "m7 #c"])
ENTRY = st.builds(lambda name, lines: f"  {name}:\n" + "".join(lines), NAMES, st.lists(st.sampled_from(LINES)))
HEAD = st.sampled_from(
    ["", "a: 1\n", "---\na: 1\n", '"models": 1\n', "a: 'x\n", "# c\nb: [1,\n 2]\n", "%YAML 1.1\n---\n"]
)
TAIL = st.sampled_from(["", "z: 1\n", "models: again\n", "...\n", "---\nx: 1\n", "z: 'x\n", "# end\n"])
TEXT = st.builds(
    lambda head, entries, tail, key: f"{head}{key}\n{''.join(entries)}{tail}",
    HEAD,
    st.lists(ENTRY, max_size=5),
    TAIL,
    st.sampled_from(["models:", "models:  # note", "models: ", "models: {}"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXT, min_size=1, max_size=4))
def test_any_series_of_texts_reads_as_each_text_read_whole(texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as cache, scoped_environ({CACHE_ENV: cache}):
        for text in texts + texts:  # the second time round, every entry any of them learned is remembered
            assert outcome(by_entry, text) == outcome(yamlio.load_plain, text)


VALID_LINES = [
    "    a: 1\n",
    "    d: |\n      text\n",
    "  # a comment\n",
    "# a comment at the start of a line\n",
    "\n",
    "    b: {x: 1,\n      y: 2}\n",
    '    c: "two\n      lines"\n',
    "    f: 2024-01-01\n",
]
VALID = st.lists(st.lists(st.sampled_from(VALID_LINES), max_size=3), min_size=12, max_size=12).map(
    lambda bodies: [f"  m{i}:\n" + "".join(lines) for i, lines in enumerate(bodies)]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALID, HEAD, ENTRY, TAIL, st.integers(0, 11))
def test_a_file_of_remembered_entries_with_one_edited_reads_as_it_whole(
    entries: list[str], head: str, edit: str, tail: str, at: int
) -> None:
    """Most entries remembered: the rest of the file and the one new entry are read alone."""
    before = "models:\n" + "".join(entries)
    after = head + "models:\n" + "".join([*entries[:at], edit, *entries[at + 1 :]]) + tail
    with tempfile.TemporaryDirectory() as cache, scoped_environ({CACHE_ENV: cache}):
        for text in (before, after, before, after):
            assert outcome(by_entry, text) == outcome(yamlio.load_plain, text)
