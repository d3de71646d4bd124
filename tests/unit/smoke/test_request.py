"""Examples → V2 requests in MLServer's PandasCodec layout, /invocations bodies, and the answer checks."""

from __future__ import annotations

from typing import Any

import pytest

from generator.errors import SmokeFailed
from generator.smoke.mlmodel import SERVING, Input, Signature, as_logged, parse_mlmodel
from generator.smoke.request import (
    Output,
    check_predictions,
    check_v2_response,
    invocations_body,
    invocations_request,
    v2_request,
)
from tests.unit.smoke.test_mlmodel import WINE_COLUMNS, wine_mlmodel

WINE_ROWS = [
    [14.23, 1.71, 2.43, 15.6, 127.0, 2.8, 3.06, 0.28, 2.29, 5.64, 1.04, 3.92, 1065.0],
    [13.2, 1.78, 2.14, 11.2, 100.0, 2.65, 2.76, 0.26, 1.28, 4.38, 1.05, 3.4, 1050.0],
]
WINE_EXAMPLE = {"dataframe_split": {"columns": WINE_COLUMNS, "data": WINE_ROWS}}
COLUMNS = Signature((Input("name", "BYTES"), Input("age", "INT64"), Input("note", "BYTES", required=False)), "pd")


def _failure(call: Any, *args: Any) -> str:
    with pytest.raises(SmokeFailed) as caught:
        call(*args)
    return str(caught.value)


def test_wine_example_becomes_one_fp64_input_per_column_with_the_pandas_content_type() -> None:
    request = v2_request(parse_mlmodel(wine_mlmodel()).signature, WINE_EXAMPLE)
    assert request.rows == 2
    assert request.body["parameters"] == {"content_type": "pd"}
    first, *_, last = request.body["inputs"]
    assert first == {"name": "alcohol", "shape": [2], "datatype": "FP64", "data": [14.23, 13.2]}
    assert last == {"name": "proline", "shape": [2], "datatype": "FP64", "data": [1065.0, 1050.0]}
    assert [i["name"] for i in request.body["inputs"]] == WINE_COLUMNS


def test_columns_follow_the_signature_whatever_order_the_example_has() -> None:
    example = {"dataframe_split": {"columns": ["age", "name"], "data": [[41, "ada"], [36, "alan"]]}}
    inputs = v2_request(COLUMNS, example).body["inputs"]
    assert inputs == [
        {
            "name": "name",
            "shape": [2],
            "datatype": "BYTES",
            "data": ["ada", "alan"],
            "parameters": {"content_type": "str"},
        },
        {"name": "age", "shape": [2], "datatype": "INT64", "data": [41, 36]},
    ]


def test_records_and_unnamed_columns_are_read_too() -> None:
    records = {"dataframe_records": [{"name": "ada", "age": 41}]}
    assert [i["data"] for i in v2_request(COLUMNS, records).body["inputs"]] == [["ada"], [41]]
    positional = {"dataframe_split": {"data": [["ada", 41, "x"]]}}
    assert [i["name"] for i in v2_request(COLUMNS, positional).body["inputs"]] == ["name", "age", "note"]


def test_example_params_travel_as_request_parameters() -> None:
    example = {"dataframe_split": {"columns": ["name", "age"], "data": [["a", 1]]}, "params": {"top_k": 3}}
    body = v2_request(COLUMNS, example).body
    assert body["parameters"] == {"top_k": 3, "content_type": "pd"}


def test_tensors_keep_their_shape_and_flatten_their_data() -> None:
    unnamed = Signature((Input("input-0", "FP32", (-1, 2)),), "np")
    request = v2_request(unnamed, {"inputs": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]})
    assert request.rows == 3
    assert request.body == {
        "parameters": {"content_type": "np"},
        "inputs": [{"name": "input-0", "shape": [3, 2], "datatype": "FP32", "data": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}],
    }
    named = Signature((Input("a", "INT64", (-1,)), Input("b", "BOOL", (-1,))), "dict")
    inputs = v2_request(named, {"inputs": {"b": [True], "a": [7]}}).body["inputs"]
    assert [(i["name"], i["shape"], i["data"]) for i in inputs] == [("a", [1], [7]), ("b", [1], [True])]


@pytest.mark.parametrize(
    ("signature", "example", "message"),
    [
        (
            COLUMNS,
            {"dataframe_split": {"columns": ["name"], "data": [["ada"]]}},
            "the input example lacks column(s) the signature requires: age",
        ),
        (COLUMNS, {"dataframe_split": {"columns": ["name", "age"], "data": []}}, "the input example has no rows"),
        (
            Signature((Input("note", "BYTES", required=False),), "pd"),
            {"dataframe_split": {"columns": ["x"], "data": [[1]]}},
            "no column of the input example is in the signature",
        ),
        (COLUMNS, {"inputs": [[1, 2]]}, "the signature is column-based but the input example is not a DataFrame"),
        (
            Signature((Input("input-0", "FP32", (-1, 2)),), "np"),
            WINE_EXAMPLE,
            "the signature is tensor-based but the input example has no `inputs`",
        ),
        (
            Signature((Input("input-0", "FP32", (-1, 2)),), "np"),
            {"inputs": [[1.0, 2.0], [3.0]]},
            "tensor 'input-0' in the input example is not a rectangular array",
        ),
        (
            Signature((Input("input-0", "FP32", (-1, 2)),), "np"),
            {"inputs": [[1.0, 2.0, 3.0]]},
            "tensor 'input-0' has shape [1, 3] in the input example but [-1, 2] in the signature",
        ),
        (
            Signature((Input("a", "FP32"), Input("b", "FP32")), "dict"),
            {"inputs": {"a": [1.0]}},
            "the input example lacks tensor(s) the signature declares: b",
        ),
        (
            Signature((Input("a", "FP32"), Input("b", "FP32")), "dict"),
            {"inputs": [1.0]},
            "the input example is one tensor but the signature declares 2",
        ),
    ],
)
def test_examples_that_do_not_fit_the_signature_say_how(
    signature: Signature, example: dict[str, Any], message: str
) -> None:
    assert message in _failure(v2_request, signature, example)


def test_invocations_body_is_the_scoring_server_form_of_every_example_file() -> None:
    assert invocations_body(SERVING, WINE_EXAMPLE) == WINE_EXAMPLE
    split = {"columns": ["a"], "data": [[1]]}
    assert invocations_body("dataframe", split) == {"dataframe_split": split}
    assert invocations_body("ndarray", [[1, 2]]) == {"inputs": [[1, 2]]}
    assert invocations_body("json_object", {"question": "?"}) == {"inputs": {"question": "?"}}
    assert "cannot read an input example of type 'sparse_matrix_csr'" in _failure(
        invocations_body, "sparse_matrix_csr", {}
    )


def test_a_well_formed_answer_yields_its_outputs_flattened() -> None:
    answer = {
        "model_name": "wine",
        "outputs": [
            {"name": "output-1", "shape": [2, 1], "datatype": "INT64", "data": [0, 2]},
            {"name": "proba", "shape": [2, 3], "datatype": "FP64", "data": [[0.9, 0.1, 0.0], [0.0, 0.2, 0.8]]},
        ],
    }
    assert check_v2_response(answer, rows=2) == [
        Output("output-1", "INT64", (2, 1), [0, 2]),
        Output("proba", "FP64", (2, 3), [0.9, 0.1, 0.0, 0.0, 0.2, 0.8]),
    ]


def test_every_problem_of_every_output_is_reported_at_once_in_path_order() -> None:
    answer = {
        "outputs": [
            {"name": "a", "shape": [3, 1], "datatype": "INT64", "data": [0, 1]},
            {"name": "b", "shape": [2], "datatype": "LONG", "data": [1, 2]},
            {"name": "c", "datatype": "FP64"},
            "scalar",
        ]
    }
    assert _failure(check_v2_response, answer, 2).splitlines() == [
        "$.outputs[0]: data holds 2 value(s), shape [3, 1] needs 3",
        "$.outputs[0]: shape [3, 1] answers 3 row(s), the request sent 2",
        "$.outputs[1]: datatype 'LONG' is not a V2 datatype",
        "$.outputs[2]: `data` is missing",
        "$.outputs[2]: `shape` is missing",
        "$.outputs[3]: is not an object",
    ]


def test_an_answer_a_server_shaped_to_cost_is_refused_at_once() -> None:
    """A 2.4 MB answer (600 dimensions of 4,000 digits each) took a minute of CPU, then a ValueError; nested data
    deeper than Python's stack was a RecursionError; a name of another type a TypeError."""
    huge = {"name": "o", "datatype": "FP64", "shape": [2] + [10**4000 - 1] * 600, "data": [1, 2]}
    deep: Any = 1
    for _ in range(5_000):
        deep = [deep]
    answer = {
        "outputs": [
            huge,
            {"name": ["a"], "datatype": "FP64", "shape": [2, True], "data": [1, 2]},
            {"name": "", "datatype": "FP64", "shape": [2], "data": [deep, 2]},
        ]
    }
    said = _failure(check_v2_response, answer, 2).splitlines()
    assert said[0].startswith("$.outputs[0]: shape [2, 9999") and said[0].endswith("is not a list of sizes")
    assert len(said[0]) < 400
    assert said[1:] == [
        "$.outputs[1]: `name` ['a'] is not the name of an output",
        "$.outputs[1]: shape [2, True] is not a list of sizes",
        "$.outputs[2]: `name` '' is not the name of an output",
    ]


@pytest.mark.parametrize("answer", [{}, {"outputs": []}, [], {"predictions": [0]}])
def test_an_answer_without_outputs_fails(answer: Any) -> None:
    assert "the answer has no `outputs`" in _failure(check_v2_response, answer, 1)


def test_the_scoring_body_is_sent_as_is_once_it_fits_the_signature() -> None:
    signature = parse_mlmodel(wine_mlmodel()).signature
    request = invocations_request(signature, WINE_EXAMPLE)
    assert (request.body, request.rows) == (WINE_EXAMPLE, 2)
    assert "lacks column(s) the signature requires: proline" in _failure(
        invocations_request, signature, {"dataframe_split": {"columns": WINE_COLUMNS[:-1], "data": [[1.0] * 12]}}
    )


def test_scoring_answers_need_one_prediction_per_row() -> None:
    assert check_predictions({"predictions": [[0.1, 0.9], [0.8, 0.2]]}, 2) == [
        Output("predictions", "", (2,), [[0.1, 0.9], [0.8, 0.2]])
    ]
    too_few = _failure(check_predictions, {"predictions": [0]}, 2)
    assert too_few == "$.predictions: 1 prediction(s) for the 2 row(s) sent"
    assert "the answer has no `predictions` list" in _failure(check_predictions, {"outputs": []}, 2)


TENSOR_IN = '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": ["x", 2]}}]'


@pytest.mark.parametrize(
    ("signature", "example"),
    [
        ({"inputs": "not json ["}, None),
        ({"inputs": ["a", "b"]}, None),
        ({"inputs": "[1, 2]"}, None),
        ("hello", None),
        ({"inputs": '[{"type": "tensor", "tensor-spec": "x"}]'}, None),
        ({"inputs": TENSOR_IN}, {"inputs": [[1.0, 2.0]]}),
        (None, {"dataframe_split": {"columns": WINE_COLUMNS, "data": [[1.0, 2.0]]}}),
        (None, {"dataframe_split": {"columns": WINE_COLUMNS, "data": [1.0, 2.0]}}),
        (None, {"dataframe_records": [1, 2]}),
        (None, {"dataframe_split": {"columns": WINE_COLUMNS, "data": [[1.0] * 13]}, "params": [1]}),
        ({"inputs": "[]"}, {"inputs": {"t": [1]}}),
    ],
    ids=[
        "signature not JSON",
        "inputs a YAML list",
        "specs not objects",
        "signature a string",
        "tensor-spec a string",
        "a shape of words",
        "a short row",
        "rows not lists",
        "records not objects",
        "params not a mapping",
        "an empty signature",
    ],
)
def test_model_files_not_as_mlflow_writes_them_are_a_finding_about_the_model(signature: Any, example: Any) -> None:
    """Whoever logged the model wrote them: exit 1 naming the files, never a bug's traceback."""
    card = wine_mlmodel(**({} if signature is None else {"signature": signature}))
    body = example or {"dataframe_split": {"columns": WINE_COLUMNS, "data": [[1.0] * 13]}}
    with pytest.raises(SmokeFailed) as caught, as_logged():
        model = parse_mlmodel(card)
        v2_request(model.signature, invocations_body(model.example_kind, body))
    assert caught.value.exit_code == 1
