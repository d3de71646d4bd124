"""What an MLmodel file says about loading the model, as `ModelInfo`, and how much of one is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.registry.base import ModelInfo
from generator.registry.mlmodel import fetch_mlmodel_text

# As mlflow 3.17.2 writes it for mlflow.sklearn.save_model(model, path) (skops is its default).
SKLEARN_SKOPS = """\
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.skops
    predict_fn: predict
    python_version: 3.11.7
  sklearn:
    code: null
    pickled_model: model.skops
    serialization_format: skops
    sklearn_version: 1.9.1
    skops_trusted_types: null
mlflow_version: 3.17.2
model_id: null
model_size_bytes: 9151
model_uuid: d5310f4784f04bd38f3f8bd7d2eecf76
utc_time_created: '2026-11-26 15:46:28.375687'
"""


def test_sklearn_model_gives_flavors_format_and_versions() -> None:
    assert ModelInfo.parse(SKLEARN_SKOPS) == ModelInfo(
        flavors=("python_function", "sklearn"),
        serialization_format="skops",
        mlflow_version="3.17.2",
        python_version="3.11.7",
    )


def test_flavor_without_serialization_format_leaves_it_empty() -> None:
    text = "flavors:\n  python_function: {loader_module: model, python_version: 3.10.11}\nmlflow_version: 2.20.4\n"
    assert ModelInfo.parse(text) == ModelInfo(("python_function",), "", "2.20.4", "3.10.11")


@pytest.mark.parametrize("text", ["", "just text", "- a list", "flavors: [sklearn]", "mlflow_version: 3.1.0"])
def test_file_that_is_not_an_mlmodel_gives_nothing(text: str) -> None:
    assert ModelInfo.parse(text) is None


def test_an_mlmodel_file_larger_than_any_yaml_file_read_is_not_read(tmp_path: Path) -> None:
    """Streamed to disk, 1 GiB of it (a 1 MB gzip bomb) read and parsed took 4.4 GB: unreadable, as a broken one is."""
    (tmp_path / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    assert fetch_mlmodel_text(tmp_path.as_uri(), "") == "flavors:\n  python_function: {}\n"
    with (tmp_path / "MLmodel").open("a") as handle:
        handle.write("#" * (16 * 2**20))
    assert fetch_mlmodel_text(tmp_path.as_uri(), "") is None
