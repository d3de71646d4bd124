"""What KServe's ServingRuntimes run, per KServe release and install method: facts with their sources.

Whether a model loads depends on the runtime image, not on this project's MLflow:
MLServer's MLflow runtime calls `mlflow.pyfunc.load_model` with the MLflow, Python
and libraries baked into the image. The rule check (`lock/compat.py`) and the
load check (`generator/compat/`) both read these facts; docs/model-compatibility.md
lists them with the same sources.

The image can depend on how KServe was installed: in v0.20.0 the kustomize install and
the Helm chart deploy different MLServer images. A cluster whose runtime image differs
(a newer tag, a mirror) says so with `platform.runtimeImage` in models.yaml.

Only what an upstream file shows is here, with its source. What was read at the release tag is
confirmed; for a release whose tag could not be read (v0.21), what its default branch showed before
the tag is recorded as unconfirmed, and models.yaml's loader warns when a target relies on it
(`platform.runtimeImage` states the image instead). An image without facts is "unknown", never
guessed: the rule check cannot judge it, and only a load check (`kserve-gitops compat`) can.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from generator.platform.releases import Source, release_line

InstallMethod = Literal["kustomize", "helm"]
INSTALL_METHODS: tuple[InstallMethod, ...] = ("kustomize", "helm")
DEFAULT_INSTALL: InstallMethod = "helm"  # KServe's documented install (charts/kserve-runtime-configs README)
MLSERVER = "kserve-mlserver"
PYFUNC = "python_function"
# protocolVersion per serving method: kserve-mlserver speaks the V2 protocol only (kserve/kserve,
# config/runtimes/kserve-mlserver.yaml at commit 206f917: `protocolVersions: [v2]`); `method: image` runs MLflow's
# own scoring server (`/invocations`: mlflow 3.17.2, mlflow/pyfunc/scoring_server/__init__.py).
PROTOCOLS = {"runtime": "v2", "registry": "v2", "image": "mlflow-invocations"}

# registry/path:tag or registry/path@sha256:…, as Kubernetes accepts in `image:` (lower-case path).
IMAGE_REFERENCE = re.compile(
    r"(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})"
)


@dataclass(frozen=True)
class RuntimeImage:
    """One runtime image: what loads models inside it.

    `packages` are the pins that decide whether a model loads (server, MLflow and the
    libraries models are pickled against), as the image installs them; the load check
    builds its environment from exactly these. `formats` are the serialization formats
    the image's MLflow sklearn flavor loads (`SUPPORTED_SERIALIZATION_FORMATS`).
    """

    reference: str
    python: str
    mlflow: str
    packages: tuple[str, ...]
    formats: frozenset[str]
    loader_flavor: str = PYFUNC

    @property
    def mlflow_major(self) -> int:
        return int(self.mlflow.split(".", 1)[0])

    @property
    def python_minor(self) -> str:
        """`3.10` of `3.10.12`: interpreters of one minor version read the same pickles."""
        return ".".join(self.python.split(".")[:2])


@dataclass(frozen=True)
class RuntimeRelease:
    """A ServingRuntime as one KServe release ships it."""

    kserve: str  # release line, e.g. "v0.20" (matches v0.20.0, v0.20.1, …)
    runtime: str
    images: dict[InstallMethod, str]
    model_formats: dict[str, tuple[str, ...]]  # supportedModelFormats: name → versions
    source: Source  # of `images` and `model_formats`


# docker.io/seldonio/mlserver:1.7.1
# - Python 3.10.12: SeldonIO/MLServer, tag 1.7.1 (1d1f3ee42f96744d809aca941ed2925347d198e9), Dockerfile
#   `ARG PYTHON_VERSION=3.10.12`; every runtime wheel is installed with `--constraint constraints.txt`,
#   which the same Dockerfile exports from the root poetry.lock (`poetry export --with all-runtimes`).
# - Versions: poetry.lock at that tag: mlflow 2.19.0, scikit-learn 1.5.2, cloudpickle 3.1.0, numpy 1.26.4,
#   pandas 2.2.3, scipy 1.13.1, pyarrow 17.0.0, uvloop 0.21.0. runtimes/mlflow/pyproject.toml at that tag:
#   mlserver-mlflow 1.7.1 requires `mlflow = ">=2.19.0"`, `python = ">=3.9,<3.13"`.
# - Loader: runtimes/mlflow/mlserver_mlflow/runtime.py at that tag, `mlflow.pyfunc.load_model(model_uri)`.
# - Formats: MLflow 2.19.0's mlflow/sklearn/__init__.py, SUPPORTED_SERIALIZATION_FORMATS = pickle, cloudpickle
#   (checked by importing it in the environment built from these pins).
MLSERVER_1_7_1 = RuntimeImage(
    reference="docker.io/seldonio/mlserver:1.7.1",
    python="3.10.12",
    mlflow="2.19.0",
    packages=(
        "mlserver==1.7.1",
        "mlserver-mlflow==1.7.1",
        "mlflow==2.19.0",
        "scikit-learn==1.5.2",
        "cloudpickle==3.1.0",
        "numpy==1.26.4",
        "pandas==2.2.3",
        "scipy==1.13.1",
        "pyarrow==17.0.0",
        "uvloop==0.21.0",
    ),
    formats=frozenset({"pickle", "cloudpickle"}),
)

# docker.io/seldonio/mlserver:1.5.0
# - SeldonIO/MLServer, tag 1.5.0 (8a48f5b74e0eb5ca86879c0a9bcc282c6ea4a5c2): Dockerfile `ARG PYTHON_VERSION=3.10.12`,
#   same constraints install; poetry.lock: mlflow 2.10.2, scikit-learn 1.4.1.post1, cloudpickle 3.0.0,
#   numpy 1.26.4, pandas 2.2.1, scipy 1.12.0, pyarrow 15.0.0, uvloop 0.19.0, pydantic 1.10.14.
#   runtimes/mlflow/pyproject.toml: mlserver-mlflow 1.5.0, `mlflow = "*"`, `python = ">=3.9,<3.12"`.
# - Formats: MLflow 2.10.2 predates skops in the sklearn flavor (added in MLflow 3, mlflow/mlflow#18759).
MLSERVER_1_5_0 = RuntimeImage(
    reference="docker.io/seldonio/mlserver:1.5.0",
    python="3.10.12",
    mlflow="2.10.2",
    packages=(
        "mlserver==1.5.0",
        "mlserver-mlflow==1.5.0",
        "mlflow==2.10.2",
        "scikit-learn==1.4.1.post1",
        "cloudpickle==3.0.0",
        "numpy==1.26.4",
        "pandas==2.2.1",
        "scipy==1.12.0",
        "pyarrow==15.0.0",
        "uvloop==0.19.0",
        "pydantic==1.10.14",
    ),
    formats=frozenset({"pickle", "cloudpickle"}),
)

IMAGES: dict[str, RuntimeImage] = {image.reference: image for image in (MLSERVER_1_7_1, MLSERVER_1_5_0)}

# KServe v0.20.0, kserve/kserve tag v0.20.0 (1fb781055dd1567164358233e1125142ca6ef1fe):
# - kustomize: config/runtimes/kustomization.yaml, `images: name: mlserver, newName: docker.io/seldonio/mlserver,
#   newTag: 1.7.1` (config/runtimes/kserve-mlserver.yaml has `image: mlserver:replace`).
# - helm: charts/kserve-runtime-configs/values.yaml `kserve.servingruntime.mlserver.tag: 1.5.0`. The chart's
#   templates/runtimes/resources.yaml deep-merges files/runtimes/clusterservingruntimes-patch.yaml (image
#   "{{ mlserver.image }}:{{ mlserver.tag }}", containers merged by name) over files/runtimes/resources.yaml
#   (the kustomize build, 1.7.1): the patch wins, so a Helm install with default values deploys 1.5.0.
# - supportedModelFormats of kserve-mlserver (config/runtimes/kserve-mlserver.yaml): mlflow "1" and "2",
#   sklearn "0"/"1", xgboost "1"/"2", lightgbm "3"/"4"; protocolVersions v2.
_FILES = ", ".join(
    (
        "config/runtimes/kustomization.yaml",
        "config/runtimes/kserve-mlserver.yaml",
        "charts/kserve-runtime-configs/values.yaml",
    )
)
RELEASES: tuple[RuntimeRelease, ...] = (
    RuntimeRelease(
        kserve="v0.20",
        runtime=MLSERVER,
        images={"kustomize": MLSERVER_1_7_1.reference, "helm": MLSERVER_1_5_0.reference},
        model_formats={"mlflow": ("1", "2"), "sklearn": ("0", "1"), "xgboost": ("1", "2"), "lightgbm": ("3", "4")},
        source=Source("kserve/kserve tag v0.20.0 (1fb781055dd1567164358233e1125142ca6ef1fe, 2026-08-05)", _FILES),
    ),
    # KServe v0.21.0 (September 2026) could not be read at its tag: the same three files on master at
    # aaac4e294dae2c7b1aa1886447793f3aa1c30912 (2026-08-21) show the same images (kustomize newTag 1.7.1, Helm
    # `kserve.servingruntime.mlserver.tag: 1.5.0`) and the same supportedModelFormats and protocolVersions.
    RuntimeRelease(
        kserve="v0.21",
        runtime=MLSERVER,
        images={"kustomize": MLSERVER_1_7_1.reference, "helm": MLSERVER_1_5_0.reference},
        model_formats={"mlflow": ("1", "2"), "sklearn": ("0", "1"), "xgboost": ("1", "2"), "lightgbm": ("3", "4")},
        source=Source("kserve/kserve master@aaac4e294dae2c7b1aa1886447793f3aa1c30912 (2026-08-21)", _FILES, False),
    ),
)
RUNTIMES = frozenset(release.runtime for release in RELEASES)


@functools.cache  # asked twice for every target of every run; the answers are constants
def runtime_release(runtime: str, kserve_version: str) -> RuntimeRelease | None:
    """How that KServe release ships `runtime`; None when nobody read it."""
    line = release_line(kserve_version)
    return next((r for r in RELEASES if r.runtime == runtime and r.kserve == line), None)


def default_image(runtime: str, kserve_version: str, install: InstallMethod) -> str:
    """The image `runtime` runs after a default install of that KServe release; "" when not known."""
    release = runtime_release(runtime, kserve_version)
    return release.images.get(install, "") if release else ""


def image_facts(reference: str) -> RuntimeImage | None:
    """What is known about an image; None for one nobody read (a mirror, a custom build, a newer tag)."""
    return IMAGES.get(reference)
