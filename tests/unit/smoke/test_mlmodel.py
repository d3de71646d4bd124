"""MLmodel files → signature and example location, as MLflow writes them."""

from __future__ import annotations

import json

import pytest

from generator.errors import SmokeFailed
from generator.smoke.mlmodel import SERVING, Input, parse_mlmodel, parse_signature

WINE_COLUMNS = [
    "alcohol",
    "malic_acid",
    "ash",
    "alcalinity_of_ash",
    "magnesium",
    "total_phenols",
    "flavanoids",
    "nonflavanoid_phenols",
    "proanthocyanins",
    "color_intensity",
    "hue",
    "od280/od315_of_diluted_wines",
    "proline",
]


def wine_mlmodel(**changes: object) -> str:
    """The MLmodel file `devtools.stack.log_wine_model` produces (MLflow 3.17), trimmed to what matters."""
    inputs = json.dumps([{"type": "double", "name": name, "required": True} for name in WINE_COLUMNS])
    card: dict[str, object] = {
        "artifact_path": "mlflow-artifacts:/1/models/m-1/artifacts",
        "flavors": {"python_function": {"loader_module": "mlflow.sklearn"}, "sklearn": {}},
        "saved_input_example_info": {
            "artifact_path": "input_example.json",
            "pandas_orient": "split",
            "serving_input_path": "serving_input_example.json",
            "type": "dataframe",
        },
        "signature": {
            "inputs": inputs,
            "outputs": '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]',
            "params": None,
        },
    }
    card.update(changes)
    return json.dumps(card)  # JSON is YAML


def test_wine_signature_is_thirteen_fp64_columns_sent_as_a_dataframe() -> None:
    model = parse_mlmodel(wine_mlmodel())
    assert model.signature.content_type == "pd"
    assert [i.name for i in model.signature.inputs] == WINE_COLUMNS
    assert {i.datatype for i in model.signature.inputs} == {"FP64"}
    assert (model.example_file, model.example_kind) == ("serving_input_example.json", SERVING)


def test_models_without_a_serving_example_use_input_example_and_its_type() -> None:
    info = {"artifact_path": "input_example.json", "type": "ndarray", "format": "tf-serving"}
    model = parse_mlmodel(wine_mlmodel(saved_input_example_info=info))
    assert (model.example_file, model.example_kind) == ("input_example.json", "ndarray")


@pytest.mark.parametrize(
    ("mlflow_type", "datatype"),
    [
        ("double", "FP64"),
        ("float", "FP32"),
        ("long", "INT64"),
        ("integer", "INT32"),
        ("boolean", "BOOL"),
        ("string", "BYTES"),
    ],
)
def test_column_types_map_to_the_v2_datatypes_mlserver_publishes(mlflow_type: str, datatype: str) -> None:
    (column,) = parse_signature(json.dumps([{"type": mlflow_type, "name": "x"}])).inputs
    assert column == Input("x", datatype)


def test_optional_columns_are_marked() -> None:
    (column,) = parse_signature('[{"type": "long", "name": "age", "required": false}]').inputs
    assert not column.required


def test_named_tensors_are_sent_as_a_dict_and_a_lone_unnamed_one_as_numpy() -> None:
    named = parse_signature(
        '[{"type": "tensor", "name": "image", "tensor-spec": {"dtype": "uint8", "shape": [-1, 28, 28]}}]'
    )
    assert named.content_type == "dict"
    assert named.inputs == (Input("image", "UINT8", (-1, 28, 28)),)
    unnamed = parse_signature('[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]')
    assert unnamed.content_type == "np"
    assert unnamed.inputs == (Input("input-0", "FP32", (-1, 4)),)


@pytest.mark.parametrize(
    ("mlmodel", "message"),
    [
        (wine_mlmodel(signature=None), "the model has no input signature"),
        (wine_mlmodel(saved_input_example_info=None), "the model has no input example"),
        ("[unclosed", "MLmodel is not YAML"),
        ("just text", "MLmodel is not a mapping"),
    ],
)
def test_models_that_cannot_be_smoke_tested_say_what_to_log(mlmodel: str, message: str) -> None:
    with pytest.raises(SmokeFailed) as caught:
        parse_mlmodel(mlmodel)
    assert message in str(caught.value)


@pytest.mark.parametrize("key", ["artifact_path", "serving_input_path"])
@pytest.mark.parametrize("where", ["../secret.json", "/etc/passwd", "examples/../../secret.json"])
def test_an_example_path_leaving_the_model_directory_is_refused(key: str, where: str) -> None:
    info = {"artifact_path": "input_example.json", "type": "dataframe", key: where}
    with pytest.raises(SmokeFailed) as caught:
        parse_mlmodel(wine_mlmodel(saved_input_example_info=info))
    assert f'the input example path "{where}" leaves the model directory' in str(caught.value)
    assert caught.value.diagnostics[0].path == f"saved_input_example_info.{key}"


def test_missing_signature_hints_at_infer_signature() -> None:
    with pytest.raises(SmokeFailed) as caught:
        parse_mlmodel(wine_mlmodel(signature=None))
    assert "fix: log the model with mlflow.<flavor>.log_model(…, signature=infer_signature(X, y))" in str(caught.value)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            '[{"type": "tensor", "tensor-spec": {"dtype": "float32"}}, {"type": "double", "name": "a"}]',
            "the signature mixes columns and tensors",
        ),
        (
            '[{"type": "array", "items": {"type": "double"}, "name": "vec", "required": true}]',
            "column 'vec' has type \"array\", which the smoke test cannot send",
        ),
        (
            '[{"type": "tensor", "name": "t", "tensor-spec": {"dtype": "complex64", "shape": [-1]}}]',
            "tensor 't' has dtype 'complex64', which has no V2 datatype",
        ),
    ],
)
def test_unsupported_signatures_name_the_input(inputs: str, message: str) -> None:
    with pytest.raises(SmokeFailed) as caught:
        parse_signature(inputs)
    assert message in str(caught.value)
