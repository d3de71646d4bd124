"""Load a model the way KServe's kserve-mlserver does, inside the runtime's own environment, and answer one request.

This file is not imported by kserve-gitops: it is run by the runtime image's Python
(`python probe.py MODEL_DIR REQUEST_JSON RESULT_JSON`, in the image under docker or in
the environment `environment.py` builds), so it uses only the standard library and
MLServer. It calls MLServer's own `MLflowRuntime.load()` (which calls
`mlflow.pyfunc.load_model`) and `predict()`, and writes what happened to RESULT_JSON:
`{"loads": bool, "error": str, "response": {...}, "predictError": str, "versions": {...}}`.
The error text is the exception MLServer logs when the model fails to load.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from importlib.metadata import version
from typing import Any


def _error(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


async def _probe(model_dir: str, request_file: str) -> dict[str, Any]:
    from mlserver.settings import ModelSettings  # type: ignore[import-not-found]  # noqa: PLC0415
    from mlserver.types import InferenceRequest  # type: ignore[import-not-found]  # noqa: PLC0415

    settings = ModelSettings(
        name="model", implementation="mlserver_mlflow.MLflowRuntime", parameters={"uri": model_dir}
    )
    result: dict[str, Any] = {"versions": {name: version(name) for name in ("mlserver", "mlserver-mlflow", "mlflow")}}
    result["versions"]["python"] = sys.version.split()[0]
    try:
        runtime = settings.implementation(settings)
        await runtime.load()
    except Exception as exc:  # whatever the loader raises is the verdict
        return {**result, "loads": False, "error": _error(exc)}
    result["loads"] = True
    if request_file:
        with open(request_file, encoding="utf-8") as handle:
            request = InferenceRequest(**json.load(handle))
        try:
            response = await runtime.predict(request)
        except Exception as exc:
            return {**result, "predictError": _error(exc)}
        dump = getattr(response, "model_dump_json", None) or response.json
        result["response"] = json.loads(dump())
    return result


def main() -> None:
    model_dir, request_file, result_file = sys.argv[1:4]
    result = asyncio.run(_probe(model_dir, request_file))
    with open(result_file, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
