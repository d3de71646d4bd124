"""models.lock text ↔ `Lock`. Sorted, no timestamps: identical locks are identical bytes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs
import yaml

from generator import yamlio
from generator.cache import Store, key, tool_identity
from generator.diagnostics import Diagnostic, json_path
from generator.errors import LockError, unreadable
from generator.generated import header
from generator.lock import LOCK_FILE
from generator.lock.model import LoadCheck, Lock, LockEntry, Verdict
from generator.registry.base import RUN_ID, VERSION, ModelInfo
from generator.spec.model import REF_KINDS, Ref
from generator.spec.yaml_lines import Positions
from generator.spec.yaml_lines import load as load_yaml
from generator.util import schema_check
from generator.yamlio import Dump, dump_files

if TYPE_CHECKING:
    import jsonschema

LOCK_VERSION = 1
HEADER = header(
    "from models.yaml; do not edit by hand.",
    "Regenerate: kserve-gitops lock  (add --update to follow moved aliases, stages and latest)",
)

# models.lock key ↔ ModelInfo field; optional, so locks written before it was recorded still load.
_MLMODEL_FIELDS = {
    "serializationFormat": "serialization_format",
    "mlflowVersion": "mlflow_version",
    "pythonVersion": "python_version",
}
_MLMODEL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["flavors"],
    "properties": {
        "flavors": {"type": "array", "items": {"type": "string"}},
        **{key: {"type": "string"} for key in _MLMODEL_FIELDS},
    },
}
_LOAD_CHECK = {
    "type": "object",
    "additionalProperties": False,
    "required": ["image", "verdict", "environment"],
    "properties": {
        "image": {"type": "string"},
        "verdict": {"enum": ["loads", "fails"]},
        "environment": {"type": "string"},
        "error": {"type": "string"},
    },
}
# An OCI content digest as registries report it (`docker buildx imagetools inspect`, ECR's imageDigest).
IMAGE_DIGEST = r"^sha256:[0-9a-f]{64}$"
# URIs end up in manifests: no line breaks or other control characters.
_ONE_LINE = r"^[^\x00-\x1f\x7f]+$"
_ENTRY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["registeredModel", "reference", "version", "runId", "source", "artifactUri"],
    "properties": {
        "registeredModel": {"type": "string", "pattern": _ONE_LINE},
        "reference": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "propertyNames": {"enum": list(REF_KINDS)},
            # the others are compared, as written, with models.yaml's; `latest: false` would be read as latest
            "properties": {"latest": {"const": True}},
        },
        "version": {"type": "string", "pattern": VERSION},
        "runId": {"type": "string", "pattern": RUN_ID},
        "source": {"type": "string", "pattern": _ONE_LINE},
        "artifactUri": {"type": "string", "pattern": _ONE_LINE},
        "mlmodel": _MLMODEL,
        "imageDigest": {"type": "string", "pattern": IMAGE_DIGEST},
        "loadCheck": _LOAD_CHECK,
    },
}
_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["lockVersion", "models"],
    "properties": {
        "lockVersion": {"const": LOCK_VERSION},
        "models": {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": _ENTRY}},
    },
}


@cache
def _validator() -> jsonschema.protocols.Validator:
    return schema_check.validator(_SCHEMA)


@cache
def _quick_validator() -> jsonschema_rs.Validator:
    """The same schema compiled: the fast yes; only a lock it refuses goes through `_validator` for the words."""
    return jsonschema_rs.validator_for(_SCHEMA)


def dumps(lock: Lock, dump: Dump = dump_files) -> bytes:
    """The lock file's bytes; `dump` as for render. A lock read from bytes a run of this tool wrote is given them
    back (`_written`): emitting 3,000 entries again, to find the same bytes, takes longer than a one-model edit."""
    if lock.text and _written(lock.text):
        return lock.text.encode("utf-8")
    models: dict[str, dict[str, Any]] = {}
    for (model, env), entry in sorted(lock.entries.items()):
        models.setdefault(model, {})[env] = {
            "registeredModel": entry.registered_model,
            "reference": entry.reference.as_dict(),
            "version": entry.version,
            "runId": entry.run_id,
            "source": entry.source,
            "artifactUri": entry.artifact_uri,
            **({"mlmodel": dump_info(entry.info)} if entry.info else {}),
            **({"imageDigest": entry.image_digest} if entry.image_digest else {}),
            **({"loadCheck": _dump_load_check(entry.load_check)} if entry.load_check else {}),
        }
    emitted = dump({LOCK_FILE: ([{"lockVersion": LOCK_VERSION, "models": models}], HEADER)})[LOCK_FILE]
    with contextlib.closing(Store.open()) as store:
        store.put(_WRITTEN, {_written_key(emitted): ""})
    return emitted


_WRITTEN = "lock-text"  # texts `dumps` emitted, by `_written_key`


def _written(text: str) -> bool:
    """Whether `dumps` emitted exactly this text: then it is what `dumps` emits for the lock read from it."""
    with contextlib.closing(Store.open()) as store:
        fact = _written_key(text.encode("utf-8"))
        return fact in store.get(_WRITTEN, [fact])


def _written_key(text: bytes) -> str:
    return key(tool_identity(), yaml.__version__, str(yaml.__with_libyaml__), text)


def loads(text: str, file: str = LOCK_FILE) -> Lock:
    data, positions, problems = load_yaml(text, file)
    if data is None and not problems:
        return Lock()
    if not problems and not isinstance(data, dict):
        problems = [
            Diagnostic(
                file=file,
                line=1,
                message="not a models.lock: expected a mapping with lockVersion and models",
                hint="models.lock is generated: delete it and run `kserve-gitops lock`",
            )
        ]
    if not problems and not schema_check.quickly_valid(_quick_validator(), data):
        problems = [
            Diagnostic(
                file=file,
                line=positions.line_of(list(e.absolute_path))[0],
                path=json_path(list(e.absolute_path)),
                message=schema_check.message(e),
                hint="models.lock is generated: delete it and run `kserve-gitops lock` to recreate it",
            )
            for e in _validator().iter_errors(data)
        ]
    if problems:
        raise LockError(problems)
    read: dict[Any, Any] = {}  # equal references and MLmodel facts read once: a thousand entries share a few
    return Lock(
        {
            (model, env): _entry(model, env, raw, _EntryLines(positions, (model, env), raw), read)
            for model, envs in data["models"].items()
            for env, raw in envs.items()
        },
        file,
        text,
    )


class _EntryLines(Mapping[str, int]):
    """Where an entry ("") and its fields are in the file, looked up when a diagnostic asks: finding the
    positions costs a second parse of the lock, which most runs never need."""

    def __init__(self, positions: Positions, key: tuple[str, str], raw: Mapping[str, Any]) -> None:
        self._positions, self._key, self._fields = positions, key, ("", *raw)

    def __getitem__(self, field: str) -> int:
        if field not in self._fields:
            raise KeyError(field)
        return self._positions.line_of(["models", *self._key, *([field] if field else [])])[0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)


def _entry(model: str, env: str, raw: dict[str, Any], lines: Mapping[str, int], read: dict[Any, Any]) -> LockEntry:
    ((kind, value),) = raw["reference"].items()
    said = (kind, repr(value))  # repr: 2, 2.0, True and "2" are told apart, and a list is no key
    if (reference := read.get(said)) is None:
        reference = read[said] = Ref(kind, "" if kind == "latest" else str(value))
    info = None
    if (mlmodel := raw.get("mlmodel")) is not None:
        facts = (tuple(mlmodel["flavors"]), *(mlmodel.get(key, "") for key in _MLMODEL_FIELDS))
        if (info := read.get(facts)) is None:
            info = read[facts] = _load_info(mlmodel)
    return LockEntry(
        model=model,
        env=env,
        registered_model=raw["registeredModel"],
        reference=reference,
        version=raw["version"],
        source=raw["source"],
        artifact_uri=raw["artifactUri"],
        run_id=raw["runId"],
        info=info,
        image_digest=raw.get("imageDigest", ""),
        lines=lines,
        load_check=_load_load_check(raw["loadCheck"]) if "loadCheck" in raw else None,
    )


def dump_info(info: ModelInfo) -> dict[str, Any]:
    """Flavors sorted, empty facts left out: the same MLmodel always gives the same bytes."""
    facts = {key: getattr(info, field) for key, field in _MLMODEL_FIELDS.items()}
    return {"flavors": sorted(info.flavors), **{key: value for key, value in facts.items() if value}}


def _load_info(raw: dict[str, Any]) -> ModelInfo:
    facts = {field: raw.get(key, "") for key, field in _MLMODEL_FIELDS.items()}
    return ModelInfo(flavors=tuple(sorted(raw["flavors"])), **facts)


def _dump_load_check(check: LoadCheck) -> dict[str, str]:
    return {
        "image": check.image,
        "verdict": check.verdict,
        "environment": check.environment,
        **({"error": check.error} if check.error else {}),
    }


def _load_load_check(raw: dict[str, str]) -> LoadCheck:
    verdict: Verdict = "loads" if raw["verdict"] == "loads" else "fails"  # the schema allows only these two
    return LoadCheck(raw["image"], verdict, raw["environment"], raw.get("error", ""))


def read(path: Path) -> Lock:
    """The lock file at `path`; a missing file is an empty lock (nothing resolved yet)."""
    try:
        text = yamlio.read_text(path, follow=False)
    except FileNotFoundError:
        return Lock()
    except PermissionError as exc:
        raise unreadable(path.name, exc) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LockError.simple(f"cannot read: {exc}", file=path.name) from None
    if text and not text.endswith(("\n", "\r")):  # every lock this tool writes ends its last line
        raise _cut_short(text, path.name)
    return loads(text, path.name)


def _cut_short(text: str, file: str) -> LockError:
    """A lock whose last line has no end: a save or a copy stopped part-way. What is left may still read as YAML
    with a value cut (a serialization format, a digest) or entries missing, which would be served or re-locked."""
    return LockError(
        Diagnostic(
            file=file,
            line=len(text.splitlines()),
            message="ends in the middle of a line: the file was cut short (an interrupted save or copy), so what it "
            "says cannot be trusted",
            hint="restore it (`git checkout models.lock`), or delete it and run `kserve-gitops lock`",
        )
    )
