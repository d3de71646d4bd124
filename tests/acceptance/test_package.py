"""kserve-gitops as people install it: `python -m build` turns the working tree into an sdist and a wheel built
from that sdist, and the wheel, installed with pip into a fresh virtualenv outside the repository, goes from
`init` to a clean `validate` with nothing of the checkout in reach.

The wheel holds every file git tracks under generator/ (the schema as its real content, not the repository's
symlink to schemas/models.schema.json; the scaffold templates; py.typed; the load-check probe) and nothing
else of the repository: no tests, bench or devtools. The build and the install fetch setuptools and the
runtime dependencies from PyPI (through pip's cache), so the module builds and installs once, on the MLflow
tests' xdist worker, whose server it uses; `-m "not package"` leaves it out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from email.parser import HeaderParser
from pathlib import Path

import pytest
import yaml

from devtools.crd_mirror import Mirror, layout
from generator.crds import BASE_URL_ENV
from tests.acceptance.conftest import add_model
from tests.support.mlflow_server import MlflowServer, NewModel
from tests.support.paths import CRDS, REPO_ROOT

pytestmark = [pytest.mark.package, pytest.mark.xdist_group("mlflow")]

BUILD_TIMEOUT = 600  # seconds: an isolated build installs setuptools first
INSTALL_TIMEOUT = 900  # seconds: the wheel's dependencies (mlflow-skinny, boto3, …) from PyPI or the cache
CLI_TIMEOUT = 300
SCHEMA = "generator/spec/models.schema.json"
NOT_SHIPPED = ("tests/", "bench/", "devtools/", "storage_initializer/", "schemas/", "environments/")


def _run(
    command: list[str],
    cwd: Path,
    timeout: float,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env=env if env is not None else _outside(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _outside(**extra: str) -> dict[str, str]:
    """This process's environment without PYTHONPATH, so no command can import the checkout's generator."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | extra


def _source_tree(dest: Path) -> Path:
    """The working tree as git sees it (tracked and new files, ignored ones left out, symlinks kept as links),
    copied so that building writes nothing into the repository."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source, target = REPO_ROOT / name, dest / name
        if not os.path.lexists(source):  # deleted, not yet committed
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return dest


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel `python -m build` makes (the wheel from the sdist, as PyPI users get it)."""
    work = tmp_path_factory.mktemp("build")
    source = _source_tree(work / "source")
    done = _run([sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(source)], work, BUILD_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    return work / "dist"


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv outside the repository with the wheel installed; its bin/ directory."""
    venv = tmp_path_factory.mktemp("venv")
    done = _run([sys.executable, "-m", "venv", str(venv)], venv, 120)
    assert done.returncode == 0, done.stderr
    [wheel] = dist.glob("*.whl")
    done = _run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", str(wheel)],
        venv,
        INSTALL_TIMEOUT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return venv / "bin"


@contextmanager
def _crd_mirror(root: Path) -> Iterator[str]:
    """raw.githubusercontent.com on loopback, serving the CRDs root's models.yaml pins; its base URL. Stops
    when the block ends."""
    with Mirror(layout(CRDS, root)) as mirror:
        thread = threading.Thread(target=mirror.serve_forever, daemon=True)
        thread.start()
        try:
            yield mirror.base_url
        finally:
            mirror.shutdown()
            thread.join(timeout=10)


def _tracked_package_files() -> set[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "generator"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return {name for name in listed.splitlines() if os.path.lexists(REPO_ROOT / name)}


def test_the_wheel_holds_every_file_of_the_package_and_nothing_else(dist: Path) -> None:
    [wheel] = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        schema = archive.read(SCHEMA)

    shipped = {n for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert shipped == _tracked_package_files()
    assert {"generator/py.typed", "generator/scaffold/templates/checks.yml", "generator/compat/probe.py"} <= shipped
    assert not [n for n in names if n.startswith(NOT_SHIPPED)]
    assert schema == (REPO_ROOT / "schemas" / "models.schema.json").read_bytes()  # the content, not a link


def test_the_sdist_holds_the_schema_itself(dist: Path) -> None:
    [sdist] = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {m.name.split("/", 1)[1]: m for m in archive.getmembers() if "/" in m.name}
        schema = members[SCHEMA]
        content = archive.extractfile(schema)
        assert content is not None
        assert schema.isfile()
        assert content.read() == (REPO_ROOT / "schemas" / "models.schema.json").read_bytes()
    assert not [n for n in members if n.startswith(NOT_SHIPPED)]


def test_the_installed_command_goes_from_init_to_a_clean_validate(
    installed: Path, dist: Path, tmp_path: Path, mlflow_proxied: MlflowServer, new_model: NewModel
) -> None:
    name = new_model(versions=3, aliases={"challenger": 3, "champion": 2})
    env = _outside(MLFLOW_TRACKING_URI=mlflow_proxied.stack.tracking_uri, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
    cli = str(installed / "kserve-gitops")
    root = tmp_path / "ml-platform"

    def run(*args: str, cwd: Path = root) -> subprocess.CompletedProcess[str]:
        done = _run([cli, *args], cwd, CLI_TIMEOUT, env)
        assert done.returncode == 0, (
            f"kserve-gitops {' '.join(args)}: exit {done.returncode}\n{done.stdout}{done.stderr}"
        )
        return done

    imported = _run([str(installed / "python"), "-c", "import generator; print(generator.__file__)"], tmp_path, 60, env)
    assert Path(imported.stdout.strip()).is_relative_to(installed.parent), imported.stdout + imported.stderr
    [wheel] = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = HeaderParser().parsestr(
            archive.read(f"kserve_gitops-{wheel.name.split('-')[1]}.dist-info/METADATA").decode()
        )
    assert run("--version", cwd=tmp_path).stdout == f"kserve-gitops {metadata['Version']}\n"

    run("init", "ml-platform", cwd=tmp_path)
    with _crd_mirror(root) as base_url:
        env[BASE_URL_ENV] = base_url
        fetched = run("schemas", "fetch")
    assert (root / "schemas" / "crds" / "kserve" / "serving.kserve.io_inferenceservices.yaml").is_file(), fetched.stderr
    add_model(root / "models.yaml", mlflow_proxied, name)
    generated = run("generate")
    assert "create environments/prod/wine-classifier.yaml" in generated.stdout
    prod = yaml.safe_load((root / "environments" / "prod" / "wine-classifier.yaml").read_text())
    assert prod["metadata"]["labels"]["kserve-gitops.io/model-version"] == "2"
    run("validate")


def test_the_installed_command_refuses_a_database_uri_mlflow_skinny_cannot_read(
    installed: Path, tmp_path: Path
) -> None:
    """kserve-gitops depends on mlflow-skinny, which leaves out MLflow's SQL store (SQLAlchemy): a laptop's
    `sqlite:///…/mlflow.db` is then refused in words, where importing the store would end in a traceback."""
    database = tmp_path / "mlflow.db"
    database.write_bytes(b"")
    env = _outside(MLFLOW_TRACKING_URI=f"sqlite:///{database}")

    done = _run(
        [str(installed / "kserve-gitops"), "init", "--from-registry", "ml-platform"], tmp_path, CLI_TIMEOUT, env
    )

    assert done.returncode == 2, done.stdout + done.stderr
    assert "mlflow-skinny leaves out" in done.stderr
    assert "pipx inject kserve-gitops mlflow" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "ml-platform").exists()
