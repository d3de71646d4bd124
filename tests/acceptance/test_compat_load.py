"""`kserve-gitops compat`: versions logged by this project's MLflow 3, loaded with what kserve-mlserver's image runs.

The seed's set-up: the tracking server hands out `s3://` locations (direct artifact mode)
and clients read S3 themselves. `lock` runs where S3 cannot be reached, so it cannot read
the MLmodel files and only warns (dev allows unverified models). `compat`, with S3
credentials, downloads each locked artifact and loads it with the image's MLServer MLflow
runtime and the image's MLflow — per install method of KServe v0.20.0: the kustomize
install's MLServer 1.7.1 / MLflow 2.19.0 and the Helm chart's MLServer 1.5.0 / MLflow
2.10.2 — records the verdicts in models.lock, and from then on the skops version is
refused before merge with MLServer's own words.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import mlflow
import pytest
import yaml

from devtools.stack import LoggedModel, free_port, seed_model
from generator.cli import main
from generator.util.environ import scoped_environ
from tests.acceptance.conftest import CRDS, Result
from tests.support.mlflow_server import MlflowServer

# Each install method's default kserve-mlserver image (generator/platform/runtimes.py, with sources): the kustomize
# install's 1.7.1 (MLflow 2.19.0) and the Helm chart's 1.5.0 (MLflow 2.10.2).
IMAGES = {"kustomize": "docker.io/seldonio/mlserver:1.7.1", "helm": "docker.io/seldonio/mlserver:1.5.0"}
SKOPS_ERROR = (
    "Unrecognized serialization format: skops. Please specify one of the following supported formats: "
    "['pickle', 'cloudpickle']."
)
SPEC = """\
apiVersion: kserve-gitops/v1
registry: {{artifactsDestination: "{destination}"}}
platform: {{kserveInstall: {install}}}
defaults: {{resources: {{limits: {{cpu: "1", memory: 2Gi}}}}}}
environments:
  dev: {{namespace: ml-dev}}
models:
  wine:
    registeredModel: "{cloudpickle}"
    environments:
      dev: {{version: 1}}
  wine-skops:
    registeredModel: "{skops}"
    environments:
      dev: {{version: 1}}
"""


@dataclass(frozen=True)
class Repo:
    root: Path
    image: str  # the kserve-mlserver image of the platform's install method
    run: Callable[..., Result]  # the CLI with the server's tracking URI and S3 credentials

    def lock(self) -> dict[str, dict[str, dict[str, Any]]]:
        return yaml.safe_load((self.root / "models.lock").read_text())["models"]  # type: ignore[no-any-return]


def _cli(*args: str) -> Result:
    """The CLI in this process, its output captured (module-scoped fixtures cannot use capsys)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return Result(code, out.getvalue(), err.getvalue())


def _log_skops(server: MlflowServer) -> LoggedModel:
    """A wine classifier as MLflow 3 logs scikit-learn by default: skops (LogisticRegression: types skops trusts)."""
    from sklearn.datasets import load_wine  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    features, labels = load_wine(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(features, labels)
    with server.stack.client_environ(), mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="skops",
            input_example=features.head(3),
            pip_requirements=[f"{d}=={dist_version(d)}" for d in ("scikit-learn", "skops")],
        )
    return LoggedModel(info.model_uri, run.info.run_id, info.model_id)


@pytest.fixture(scope="module", params=sorted(IMAGES))
def repo(
    request: pytest.FixtureRequest, mlflow_direct: MlflowServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Repo]:
    """Both versions locked where S3 is out of reach (the MLmodel files unread), per install method."""
    install = request.param
    stack = mlflow_direct.stack
    cloudpickle = mlflow_direct.new_model(versions=1)  # the session's wine model: cloudpickle, this MLflow 3
    skops = f"Wine.Skops {cloudpickle.rsplit(' ', 1)[1]}"
    seed_model(mlflow_direct.client, skops, _log_skops(mlflow_direct), versions=1)
    root = tmp_path_factory.mktemp("compat") / "platform"
    root.mkdir()
    (root / "models.yaml").write_text(
        SPEC.format(destination=stack.artifacts_destination, cloudpickle=cloudpickle, skops=skops, install=install)
    )
    dead_s3 = {
        "MLFLOW_TRACKING_URI": stack.tracking_uri,
        "MLFLOW_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    with scoped_environ(dead_s3):
        locked = _cli("lock", "--repo", str(root))
    assert locked.code == 0, locked.err
    # One finding for both versions (the same finding is reported once, naming each version it concerns).
    (unknown,) = [line for line in locked.err.splitlines() if line.startswith("warning:")]
    assert "whether kserve-mlserver can load it is unknown: its MLmodel file is not recorded" in unknown
    assert " version 1 and " in unknown, unknown
    with scoped_environ(stack.client_env | {"KSERVE_GITOPS_HTTP_RETRIES": "0"}):
        yield Repo(root, IMAGES[install], lambda *args: _cli(*args, "--repo", str(root)))


@pytest.fixture(scope="module")
def compat_run(repo: Repo) -> Result:
    return repo.run("compat")


def test_the_skops_version_fails_with_mlservers_own_error_and_the_image(compat_run: Result, repo: Repo) -> None:
    assert compat_run.code == 1, compat_run.err
    assert f"version 1 on {repo.image} (virtualenv (Python 3.10." in compat_run.out
    assert f"MLServer's MLflow runtime failed to load it: mlflow.exceptions.MlflowException: {SKOPS_ERROR}" in (
        compat_run.out
    )


def test_the_cloudpickle_version_from_mlflow_3_loads_and_answers_its_own_example(
    compat_run: Result, repo: Repo
) -> None:
    """Logged by MLflow 3.17.2 with scikit-learn 1.9.1, loaded by MLflow 2.19.0 with scikit-learn 1.5.2: it loads
    (scikit-learn warns about the version) and answers the V2 request built from its signature, one row each."""
    assert "loads: 'Wine.Classifier" in compat_run.out
    assert "request: answered 3 row(s) (output-1)" in compat_run.out
    check = repo.lock()["wine"]["dev"]["loadCheck"]
    assert check == {"image": repo.image, "verdict": "loads", "environment": check["environment"]}
    assert str(check["environment"]).startswith("virtualenv (Python 3.10.")


def test_the_verdicts_are_recorded_and_the_skops_version_is_refused_before_merge(
    compat_run: Result, repo: Repo
) -> None:
    check = repo.lock()["wine-skops"]["dev"]["loadCheck"]
    assert (check["image"], check["verdict"]) == (repo.image, "fails")
    assert SKOPS_ERROR in str(check["error"])
    generated = repo.run("generate", *CRDS)
    assert generated.code == 1
    assert (
        "$.models.wine-skops.environments.dev: 'Wine.Skops" in generated.err
        and f"version 1: it does not load in kserve-mlserver's image {repo.image}" in generated.err
    )
    assert SKOPS_ERROR in generated.err
    assert "wine.environments" not in generated.err, "the verified version has no finding at all"


def test_a_second_run_loads_nothing_again_and_changes_nothing(compat_run: Result, repo: Repo) -> None:
    before = (repo.root / "models.lock").read_bytes()
    again = repo.run("compat")
    assert again.code == 1, "the recorded failure still fails the run"
    assert again.out.startswith("not checked: wine/dev: version 1 already checked on")
    assert (repo.root / "models.lock").read_bytes() == before
    rechecked = repo.run("compat", "wine", "--recheck")
    assert (rechecked.code, (repo.root / "models.lock").read_bytes()) == (0, before), "deterministic verdict"


def test_docker_missing_is_refused_before_downloading_naming_model_version_and_image(repo: Repo) -> None:
    with scoped_environ({"PATH": str(repo.root)}):
        result = repo.run("compat", "wine", "--env", "dev", "--docker", "--recheck")
    assert result.code == 2
    assert (
        "'Wine.Classifier" in result.err
        and f"version 1 on {repo.image}: --docker was asked for, but there is no `docker` on PATH" in result.err
    )


def test_with_base_a_verdict_the_pull_request_wrote_is_not_trusted(
    repo: Repo, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The pull-request check (`compat --base HEAD^1`) loads again a version whose `loadCheck` is new in the pull
    request: a hand-written `verdict: loads` beside a lock without MLmodel facts (as here, S3 out of reach when
    locking) would otherwise pass every check, and the skops version would crash-loop after merge."""
    root = tmp_path_factory.mktemp("forged") / "platform"
    shutil.copytree(repo.root, root)
    text = (root / "models.lock").read_text()
    header = text[: text.index("lockVersion:")]  # the generated-file header, kept by the edits below
    lock = yaml.safe_load(text)
    for entry in lock["models"].values():
        entry["dev"].pop("loadCheck", None)
    git = ("git", "-c", "user.name=t", "-c", "user.email=t@localhost")
    subprocess.run(("git", "init", "-q", str(root)), check=True)
    (root / "models.lock").write_text(header + yaml.safe_dump(lock))
    subprocess.run((*git, "-C", str(root), "add", "-A"), check=True)
    subprocess.run((*git, "-C", str(root), "commit", "-qm", "base"), check=True)
    lock["models"]["wine-skops"]["dev"]["loadCheck"] = {
        "image": repo.image,
        "verdict": "loads",
        "environment": "virtualenv (Python 3.10.13)",
    }
    (root / "models.lock").write_text(header + yaml.safe_dump(lock))
    subprocess.run((*git, "-C", str(root), "commit", "-qam", "forged verdict"), check=True)

    trusting = _cli("compat", "wine-skops", "--repo", str(root))
    assert trusting.out.startswith("not checked: wine-skops/dev: version 1 already checked on"), trusting.out
    checked = _cli("compat", "wine-skops", "--base", "HEAD^1", "--repo", str(root))
    assert checked.code == 1, checked.out + checked.err
    assert "fails: 'Wine.Skops" in checked.out and SKOPS_ERROR in checked.out
