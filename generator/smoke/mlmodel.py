"""What a smoke test needs from a model's MLmodel file: the input signature and where the example is.

MLflow stores the signature as JSON strings inside the YAML MLmodel file, either
column-based (a DataFrame: `[{"type": "double", "name": "alcohol"}, …]`) or
tensor-based (`[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 13]}}]`).
The datatypes are mapped the way mlserver-mlflow's `metadata.py` maps them, so the
request matches the metadata the runtime itself publishes at `/v2/models/<name>`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import yaml

from generator import yamlio
from generator.errors import SmokeFailed

SERVING = "serving"  # the example file is already a scoring-server body (serving_input_example.json)
COLUMN_TYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
}
_TENSOR_TYPES = {
    "bool": "BOOL",
    **{f"int{n}": f"INT{n}" for n in (8, 16, 32, 64)},
    **{f"uint{n}": f"UINT{n}" for n in (8, 16, 32, 64)},
    **{f"float{n}": f"FP{n}" for n in (16, 32, 64)},
    "object": "BYTES",
    "str": "BYTES",
    "bytes": "BYTES",
}
LOG_HINT = "log the model with mlflow.<flavor>.log_model(…, {what}) and register that version"


@dataclass(frozen=True)
class Input:
    """One input the model declares: a DataFrame column, or a tensor (then with its shape, -1 = any size)."""

    name: str
    datatype: str
    shape: tuple[int, ...] = ()
    required: bool = True


@dataclass(frozen=True)
class Signature:
    """The inputs, and the request content type mlserver-mlflow derives from them (`to_model_content_type`):
    `pd` for columns (one V2 input per column), `dict` for named tensors, `np` for one unnamed tensor."""

    inputs: tuple[Input, ...]
    content_type: str


@dataclass(frozen=True)
class MlModel:
    signature: Signature
    example_file: str  # relative to the model directory
    example_kind: str  # SERVING, or MLflow's example type: dataframe, ndarray, json_object


@contextmanager
def as_logged() -> Iterator[None]:
    """Reading the model's MLmodel and input example, and the request built from them: whoever logged the model wrote
    them, so anything the readers do not expect (a list where a mapping goes, a string for a shape, a row shorter than
    the signature, nesting past Python's stack) is a finding about the model (exit 1), never a bug (exit 3)."""
    try:
        yield
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError) as exc:
        raise SmokeFailed.simple(
            f"the model's MLmodel or input example is not as MLflow writes it ({type(exc).__name__}: {exc})",
            hint=LOG_HINT.format(what="signature=…, input_example=…"),
        ) from None


def parse_mlmodel(text: str) -> MlModel:
    """The signature and the example file of an MLmodel file; a model without either cannot be smoke-tested."""
    try:
        card = yamlio.load(text)
    except yaml.YAMLError as exc:
        raise SmokeFailed.simple(f"MLmodel is not YAML: {exc}", file="MLmodel") from None
    if not isinstance(card, dict):
        raise SmokeFailed.simple("MLmodel is not a mapping", file="MLmodel")
    inputs = (card.get("signature") or {}).get("inputs")
    if not inputs:
        raise SmokeFailed.simple(
            "the model has no input signature, so no request can be built",
            file="MLmodel",
            hint=LOG_HINT.format(what="signature=infer_signature(X, y)"),
        )
    return MlModel(parse_signature(inputs), *_example_location(card.get("saved_input_example_info")))


def parse_signature(inputs_json: str) -> Signature:
    specs = json.loads(inputs_json)
    tensors = [s.get("type") == "tensor" for s in specs]
    if any(tensors) and not all(tensors):
        raise SmokeFailed.simple("the signature mixes columns and tensors", file="MLmodel", path="signature.inputs")
    if not all(tensors):
        return Signature(tuple(_column(i, s) for i, s in enumerate(specs)), "pd")
    named = all(s.get("name") for s in specs)
    return Signature(tuple(_tensor(i, s) for i, s in enumerate(specs)), "dict" if named else "np")


def _example_location(info: Any) -> tuple[str, str]:
    if not isinstance(info, dict) or not info.get("artifact_path"):
        raise SmokeFailed.simple(
            "the model has no input example to send", file="MLmodel", hint=LOG_HINT.format(what="input_example=X[:3]")
        )
    if info.get("serving_input_path"):
        return _inside("serving_input_path", info["serving_input_path"]), SERVING
    return _inside("artifact_path", info["artifact_path"]), str(info.get("type", ""))


def _inside(key: str, value: Any) -> str:
    """The example's path, refused unless it stays inside the model directory: MLflow only ever writes a file name
    there, and `../x` or `/x` would have the smoke test read (and send to a server) a file the model does not own."""
    path = PurePosixPath(str(value))
    if path.is_absolute() or ".." in path.parts:
        raise SmokeFailed.simple(
            f"the input example path {json.dumps(str(value))} leaves the model directory",
            file="MLmodel",
            path=f"saved_input_example_info.{key}",
            hint=LOG_HINT.format(what="input_example=X[:3]"),
        )
    return str(path)


def _column(index: int, spec: dict[str, Any]) -> Input:
    name, kind = str(spec.get("name") or f"input-{index}"), spec.get("type")
    if not isinstance(kind, str) or kind not in COLUMN_TYPES:
        raise SmokeFailed.simple(
            f"column '{name}' has type {json.dumps(kind)}, which the smoke test cannot send "
            f"(supported: {', '.join(COLUMN_TYPES)})",
            file="MLmodel",
            path="signature.inputs",
        )
    return Input(name, COLUMN_TYPES[kind], required=spec.get("required", True) is not False)


def _tensor(index: int, spec: dict[str, Any]) -> Input:
    tensor = spec.get("tensor-spec") or {}
    dtype, name = str(tensor.get("dtype", "")), str(spec.get("name") or f"input-{index}")
    datatype = _TENSOR_TYPES.get(dtype) or ("BYTES" if dtype.startswith(("<U", "|S")) else "")
    if not datatype:
        raise SmokeFailed.simple(
            f"tensor '{name}' has dtype '{dtype}', which has no V2 datatype", file="MLmodel", path="signature.inputs"
        )
    return Input(name, datatype, tuple(int(d) for d in tensor.get("shape", ())))
