"""What smoke-test reads of a model's own files, from a local directory as MLflow's artifact reader copies them: files
whoever logged the model wrote, refused as findings about the model (exit 1), never read whole past the YAML limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.errors import SmokeFailed
from generator.smoke.fetch import fetch_example
from tests.unit.smoke.test_mlmodel import WINE_COLUMNS, wine_mlmodel

EXAMPLE = {"dataframe_split": {"columns": WINE_COLUMNS, "data": [[1.0] * 13]}}


def _model(root: Path, mlmodel: str, example: object = EXAMPLE) -> str:
    root.mkdir()
    (root / "MLmodel").write_text(mlmodel)
    (root / "serving_input_example.json").write_text(json.dumps(example))
    return str(root)


def test_a_model_directory_gives_its_signature_and_example(tmp_path: Path) -> None:
    model, example = fetch_example(_model(tmp_path / "m", wine_mlmodel()), "")
    assert [i.name for i in model.signature.inputs] == WINE_COLUMNS
    assert example == EXAMPLE


@pytest.mark.parametrize(
    ("make", "said"),
    [
        ("huge", "MLmodel: larger than 16 MiB, more than MLflow writes"),
        ("directory", "serving_input_example.json: cannot read it: Is a directory"),
        ("signature a string", "the model's MLmodel or input example is not as MLflow writes it (AttributeError"),
    ],
)
def test_model_files_that_cannot_be_what_mlflow_writes_are_a_finding(tmp_path: Path, make: str, said: str) -> None:
    mlmodel = wine_mlmodel(signature="hello") if make == "signature a string" else wine_mlmodel()
    source = _model(tmp_path / "m", mlmodel + ("\n#" + "x" * 16 * 2**20 if make == "huge" else ""))
    if make == "directory":
        (tmp_path / "m" / "serving_input_example.json").unlink()
        (tmp_path / "m" / "serving_input_example.json").mkdir()
    with pytest.raises(SmokeFailed) as caught:
        fetch_example(source, "")
    assert said in str(caught.value)
    assert caught.value.exit_code == 1
