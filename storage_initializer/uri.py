"""Parse `models:/<name>/<version>`, the one URI form git may put in front of this initializer.

Only an exact, positive version is accepted: an alias, a stage or `latest` would let the registry,
not the repository, decide what runs. The name is taken verbatim, as the generator writes it:
MLflow forbids only `/` and `:` in registered model names, so spaces, dots, `@`, `?`, `#` and `%`
are all part of the name and nothing is URL-decoded. (MLflow's own `models:/` parser runs the URI
through `urlparse`, which would cut `Fraud?v2` at the `?` and read `fraud@eu/3` as an alias, so it
is not used here.)
"""

from __future__ import annotations

import re
from typing import NamedTuple

SCHEME = "models:/"
_VERSION = re.compile(r"[1-9][0-9]*")  # ASCII only: str.isdigit() is also true of superscript and fullwidth digits
_EXACT = "the storageUri must name the exact version (models:/<name>/<version>) so git says what runs"


class BadUri(ValueError):
    """The argument is not a `models:/<name>/<version>` URI this initializer will serve."""


class ModelVersionRef(NamedTuple):
    name: str
    version: str  # canonical decimal, as the registry spells it

    @property
    def uri(self) -> str:
        return f"{SCHEME}{self.name}/{self.version}"


def parse_models_uri(uri: str) -> ModelVersionRef:
    """`models:/Wine.Classifier/3` → ModelVersionRef("Wine.Classifier", "3"), or BadUri saying why not."""
    if not uri.startswith(SCHEME) or uri.startswith(SCHEME + "/"):
        raise BadUri(f"{uri!r} is not a models:/<name>/<version> URI")
    parts = uri.removeprefix(SCHEME).split("/")
    if len(parts) == 1:
        kind = "an alias" if "@" in parts[0] else "a bare model name"
        raise BadUri(f"{uri!r} is {kind}, not a version: {_EXACT}")
    if len(parts) > 2:
        raise BadUri(f"{uri!r} has a path after the version; expected models:/<name>/<version>")
    name, version = parts
    if not name.strip() or ":" in name:
        raise BadUri(f"{uri!r} does not name a registered model")
    if not _VERSION.fullmatch(version):
        kind = "a stage or 'latest'" if version.isalpha() else "not a positive version number"
        raise BadUri(f"{uri!r}: {version!r} is {kind}: {_EXACT}")
    return ModelVersionRef(name, version)
