"""A platform repository in tmp_path, wired to the session's real MLflow server, and the CLI as users run it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.cli import main
from tests.support.mlflow_server import MlflowServer, NewModel
from tests.support.paths import CRDS as CRD_DIR

SPEC = """\
apiVersion: kserve-gitops/v1
registry: {{artifactsDestination: "{destination}"}}
defaults:
  serviceAccountName: kserve-sa
  resources: {{requests: {{cpu: 500m, memory: 2Gi}}, limits: {{cpu: "1", memory: 4Gi}}}}
environments:
  dev: {{namespace: ml-dev}}
  staging: {{namespace: ml-staging}}
  prod: {{namespace: ml-prod, minReplicas: 2, maxReplicas: 4}}
models:
  wine:
    registeredModel: "{name}"
    environments:
      dev: {{latest: true}}
      staging: {{alias: challenger}}
      prod: {{alias: champion{prod_extra}}}
"""


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Platform:
    """A repository with models.yaml whose model `name` lives on the test MLflow server."""

    root: Path
    name: str
    server: MlflowServer
    run: Callable[..., Result]

    def write_spec(self, prod_extra: str = "", destination: str | None = None) -> None:
        text = SPEC.format(
            destination=destination or self.server.stack.artifacts_destination, name=self.name, prod_extra=prod_extra
        )
        (self.root / "models.yaml").write_text(text)

    def files(self) -> dict[str, tuple[bytes, int]]:
        """Every file with its bytes and mtime, to prove what a command did or did not touch."""
        return {
            p.relative_to(self.root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
        }

    def read(self, path: str) -> str:
        return (self.root / path).read_text()


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def platform(tmp_path: Path, mlflow_proxied: MlflowServer, new_model: NewModel, cli: Callable[..., Result]) -> Platform:
    """Versions 1-3; challenger → 3, champion → 2."""
    name = new_model(versions=3, aliases={"challenger": 3, "champion": 2})
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_proxied.stack.tracking_uri
    os.environ["KSERVE_GITOPS_HTTP_RETRIES"] = "0"
    repo = Platform(
        tmp_path / "platform", name, mlflow_proxied, lambda *args: cli(*args, "--repo", str(tmp_path / "platform"))
    )
    repo.root.mkdir()
    repo.write_spec()
    return repo


CRDS = ("--crd-dir", str(CRD_DIR))


def add_model(spec: Path, server: MlflowServer, registered_model: str) -> None:
    """Edit the models.yaml init wrote as its comments say: the registry's bucket, and one model."""
    registry = f'registry: {{artifactsDestination: "{server.stack.artifacts_destination}"}}\n'
    model = (
        f'models:\n  wine-classifier:\n    registeredModel: "{registered_model}"\n    environments:\n'
        "      dev: {alias: challenger}\n      staging: {alias: challenger}\n      prod: {alias: champion}\n"
    )
    api = "apiVersion: kserve-gitops/v1\n"
    spec.write_text(spec.read_text().replace(api, api + registry).replace("models: {}\n", model))
