"""The YAML door: bounded reading (size, aliases, depth, unbuildable values) with the error at its line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from generator import yamlio
from generator.yamlio import MAX_ALIAS_NODES, MAX_DEPTH, MAX_YAML_BYTES, FileRefused, LimitExceeded

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
    with pytest.raises(FileRefused, match="larger than 16 MiB"):
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
        with pytest.raises(FileRefused, match="not a regular file"):
            yamlio.read_text(path)
