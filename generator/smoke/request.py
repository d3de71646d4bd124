"""Signature + input example → an inference request, and the checks on the answer. Pure.

Two wire formats:

- MLflow's scoring-server body (`/invocations`): `{"dataframe_split": {"columns": […], "data": [[…]]}}`
  or `{"inputs": …}`. It is what `method: image` containers speak, and the form
  every input example is first brought into.
- Open Inference Protocol (V2), what `kserve-mlserver` speaks. Columns are encoded as
  MLServer's `PandasCodec` reads them: one input per column, strings with
  `content_type: str`, and `content_type: pd` on the request. Each column has shape
  `[rows]`, not the `[rows, 1]` MLServer's own `encode_request` writes: MLServer 1.5.0
  (the Helm chart's default image) turns a `[rows, 1]` numeric column into one-element
  arrays per cell, which the model's schema enforcement then refuses, while `[rows]`
  decodes to the same column in 1.5.0 and 1.7.1 (SeldonIO/MLServer, tags 1.5.0 and 1.7.1,
  mlserver/codecs/pandas.py `_to_series`: 1.7.1 reshapes to `[rows]`, 1.5.0 does not).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from generator.diagnostics import Diagnostic
from generator.errors import SmokeFailed
from generator.excerpt import quoted
from generator.smoke.mlmodel import LOG_HINT, SERVING, Input, Signature

V2_DATATYPES = frozenset(
    {"BOOL", "BYTES", "FP16", "FP32", "FP64"} | {f"{s}INT{n}" for s in ("", "U") for n in (8, 16, 32, 64)}
)
_TENSOR_KEYS = ("inputs", "instances")


@dataclass(frozen=True)
class Request:
    body: dict[str, Any]
    rows: int  # what every answer must have one prediction for


@dataclass(frozen=True)
class Output:
    name: str
    datatype: str
    shape: tuple[int, ...]
    data: list[Any]  # flattened, row-major


def invocations_body(kind: str, example: Any) -> dict[str, Any]:
    """The example as MLflow's scoring server takes it, whichever example file it came from.

    Models logged by older MLflow versions only have input_example.json, whose
    layout depends on the example's type.
    """
    if kind == SERVING and isinstance(example, dict):
        return example
    if kind == "dataframe" and isinstance(example, dict):
        return {"dataframe_split": example}
    if kind in ("ndarray", "json_object"):
        return {"inputs": example}
    raise SmokeFailed.simple(
        f"cannot read an input example of type '{kind}'",
        file="MLmodel",
        path="saved_input_example_info.type",
        hint=LOG_HINT.format(what="input_example=<a DataFrame or numpy array>"),
    )


def invocations_request(signature: Signature, body: Mapping[str, Any]) -> Request:
    """The scoring-server body as it is, once it is known to fit the signature (MLflow enforces it too)."""
    return Request(dict(body), v2_request(signature, body).rows)


def v2_request(signature: Signature, body: Mapping[str, Any]) -> Request:
    """A V2 request carrying the same rows as the scoring-server `body`, typed by the signature."""
    if signature.content_type == "pd":
        inputs = _column_inputs(signature.inputs, *_frame(body))
    else:
        inputs = _tensor_inputs(signature.inputs, _tensors(body))
    params = body.get("params") or {}
    request = {"parameters": {**params, "content_type": signature.content_type}, "inputs": inputs}
    return Request(request, inputs[0]["shape"][0])


def check_v2_response(body: Any, rows: int) -> list[Output]:
    """Every output well-formed and one answer per input row; all problems are reported together."""
    outputs = body.get("outputs") if isinstance(body, dict) else None
    if not isinstance(outputs, list) or not outputs:
        raise SmokeFailed.simple("the answer has no `outputs`", path="$.outputs")
    found: list[Diagnostic] = []
    checked = []
    for index, output in enumerate(outputs):
        problems = _output_problems(output, rows) if isinstance(output, dict) else ["is not an object"]
        found += [Diagnostic(path=f"$.outputs[{index}]", message=p) for p in problems]
        if not problems:
            checked.append(Output(output["name"], output["datatype"], tuple(output["shape"]), _flat(output["data"])))
    if found:
        raise SmokeFailed(found)
    return checked


def check_predictions(body: Any, rows: int) -> list[Output]:
    """MLflow's scoring server answers `{"predictions": [...]}`, one entry per row."""
    predictions = body.get("predictions") if isinstance(body, dict) else None
    if not isinstance(predictions, list):
        raise SmokeFailed.simple("the answer has no `predictions` list", path="$.predictions")
    if len(predictions) != rows:
        raise SmokeFailed.simple(f"{len(predictions)} prediction(s) for the {rows} row(s) sent", path="$.predictions")
    return [Output("predictions", "", (rows,), predictions)]


def _frame(body: Mapping[str, Any]) -> tuple[list[str] | None, list[Sequence[Any]]]:
    """Column names (None: by position) and rows of a DataFrame example."""
    if isinstance(split := body.get("dataframe_split"), dict):
        return split.get("columns"), list(split.get("data") or [])
    if isinstance(records := body.get("dataframe_records"), list):
        columns = list(dict.fromkeys(key for record in records for key in record))
        return columns, [[record.get(c) for c in columns] for record in records]
    raise SmokeFailed.simple(
        f"the signature is column-based but the input example is not a DataFrame (it has {sorted(body)})",
        hint=LOG_HINT.format(what="input_example=<a DataFrame>"),
    )


def _column_inputs(
    columns: Sequence[Input], names: list[str] | None, rows: list[Sequence[Any]]
) -> list[dict[str, Any]]:
    if not rows:
        raise SmokeFailed.simple("the input example has no rows")
    position = {name: i for i, name in enumerate(names if names is not None else [c.name for c in columns])}
    missing = [c.name for c in columns if c.required and c.name not in position]
    if missing:
        raise SmokeFailed.simple(f"the input example lacks column(s) the signature requires: {', '.join(missing)}")
    inputs = [_column_input(c, [row[position[c.name]] for row in rows]) for c in columns if c.name in position]
    if not inputs:
        raise SmokeFailed.simple("no column of the input example is in the signature")
    return inputs


def _column_input(column: Input, values: list[Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"name": column.name, "shape": [len(values)], "datatype": column.datatype, "data": values}
    if column.datatype == "BYTES":
        item["parameters"] = {"content_type": "str"}  # else MLServer leaves the values as raw bytes
    return item


def _tensors(body: Mapping[str, Any]) -> Any:
    for key in _TENSOR_KEYS:
        if key in body:
            return body[key]
    raise SmokeFailed.simple(
        f"the signature is tensor-based but the input example has no `inputs` (it has {sorted(body)})",
        hint=LOG_HINT.format(what="input_example=<a numpy array>"),
    )


def _tensor_inputs(specs: Sequence[Input], value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        absent = [s.name for s in specs if s.name not in value]
        if absent:
            raise SmokeFailed.simple(f"the input example lacks tensor(s) the signature declares: {', '.join(absent)}")
        return [_tensor_input(s, value[s.name]) for s in specs]
    if len(specs) != 1:
        raise SmokeFailed.simple(f"the input example is one tensor but the signature declares {len(specs)}")
    return [_tensor_input(specs[0], value)]


def _tensor_input(spec: Input, value: Any) -> dict[str, Any]:
    shape, data = _shape(value), _flat(value)
    if not shape or len(data) != math.prod(shape):
        raise SmokeFailed.simple(f"tensor '{spec.name}' in the input example is not a rectangular array")
    if spec.shape and (
        len(spec.shape) != len(shape) or any(want not in (-1, got) for want, got in zip(spec.shape, shape, strict=True))
    ):
        raise SmokeFailed.simple(
            f"tensor '{spec.name}' has shape {shape} in the input example but {list(spec.shape)} in the signature"
        )
    return {"name": spec.name, "shape": shape, "datatype": spec.datatype, "data": data}


def _output_problems(output: Mapping[str, Any], rows: int) -> list[str]:
    name, datatype, shape, data = (output.get(k) for k in ("name", "datatype", "shape", "data"))
    problems = [
        f"`{key}` is missing"
        for key, value in (("name", name), ("datatype", datatype), ("shape", shape), ("data", data))
        if value is None
    ]
    if problems:
        return problems
    if not isinstance(name, str) or not name:
        problems.append(f"`name` {quoted(name)} is not the name of an output")
    if datatype not in V2_DATATYPES:
        problems.append(f"datatype {quoted(datatype)} is not a V2 datatype")
    if not (isinstance(shape, list) and 0 < len(shape) <= _MAX_DIMENSIONS and all(map(_size, shape))):
        return [*problems, f"shape {quoted(shape)} is not a list of sizes"]
    if shape[0] != rows:
        problems.append(f"shape {shape} answers {shape[0]} row(s), the request sent {rows}")
    flat = _flat(data) if isinstance(data, list) else None
    if flat is None or len(flat) != math.prod(shape):
        count = "no list of" if flat is None else len(flat)
        problems.append(f"data holds {count} value(s), shape {shape} needs {math.prod(shape)}")
    return problems


_MAX_DIMENSIONS = 32  # a tensor's rank (numpy's limit is 64); a server's answer with more is no tensor of a model's
_MAX_SIZE = 2**31  # one dimension's size: a server's answer bounded so that their product stays cheap to compute


def _size(value: Any) -> bool:
    """A dimension's size: a whole number (not a bool) that an answer within the body's limit can hold."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _MAX_SIZE


def _shape(value: Any) -> list[int]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _flat(value: Any) -> list[Any]:
    """The leaves of nested lists, in order; without recursion, so that no nesting depth an answer or an input example
    holds can exhaust Python's stack."""
    leaves: list[Any] = []
    pending = [iter([value])]
    while pending:
        item = next(pending[-1], _END)
        if item is _END:
            pending.pop()
        elif isinstance(item, list):
            pending.append(iter(item))
        else:
            leaves.append(item)
    return leaves


_END = object()
