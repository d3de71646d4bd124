"""`kserve-gitops image pending|context|record` on a platform repository wired to the real MLflow server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator.errors import EXIT_ENVIRONMENT
from tests.acceptance.conftest import CRDS, Platform
from tests.support.faults import Fault, faulty
from tests.support.paths import REPO_ROOT

DIGEST = "sha256:" + "0123456789abcdef" * 4
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "images.yml"
TEMPLATE = REPO_ROOT / "generator" / "scaffold" / "templates" / "images.yml"
IMAGE_DEFAULTS = "defaults:\n  method: image\n  imageRepository: example.com/models/wine\n"


@pytest.fixture
def image_platform(platform: Platform) -> Platform:
    """The platform's wine model served by `method: image`, generated: dev/staging at v3, prod at v2."""
    spec = platform.root / "models.yaml"
    spec.write_text(spec.read_text().replace("defaults:\n", IMAGE_DEFAULTS))
    assert platform.run("generate", *CRDS).code == 0
    return platform


def _image(platform: Platform, env: str) -> str:
    isvc = yaml.safe_load(platform.read(f"environments/{env}/wine.yaml"))
    return str(isvc["spec"]["predictor"]["containers"][0]["image"])


def test_pending_lists_each_version_once_until_its_digest_is_recorded(image_platform: Platform) -> None:
    listed = image_platform.run("image", "pending", "-o", "json")
    assert listed.code == 0, listed.err
    assert [(p["tag"], p["envs"]) for p in json.loads(listed.out)["pending"]] == [
        ("example.com/models/wine:wine-v3", ["dev", "staging"]),
        ("example.com/models/wine:wine-v2", ["prod"]),
    ]
    assert image_platform.run("image", "record", "wine", "3", DIGEST, *CRDS).code == 0
    assert image_platform.run("image", "pending").out == "example.com/models/wine:wine-v2\n"


@pytest.mark.parametrize("workflow", [WORKFLOW, TEMPLATE], ids=["this repository", "what init writes"])
def test_the_images_workflow_reads_what_pending_prints(
    image_platform: Platform, workflow: Path, tmp_path: Path
) -> None:
    """Every `jq` program the workflow runs on `image pending -o json`, run by jq on the real output."""
    listed = image_platform.run("image", "pending", "-o", "json")
    (tmp_path / "pending.json").write_text(listed.out)
    programs = re.findall(r"jq -r '([^']+)' pending\.json", workflow.read_text())
    assert len(programs) == 2
    rows = [
        subprocess.run(["jq", "-r", p, "pending.json"], cwd=tmp_path, capture_output=True, text=True, check=True)
        for p in programs
    ]
    assert rows[1].stdout.splitlines() == [
        "wine\tdev\t3\texample.com/models/wine:wine-v3",
        "wine\tprod\t2\texample.com/models/wine:wine-v2",
    ]


def test_record_writes_the_lock_and_that_environments_manifest_only(image_platform: Platform) -> None:
    before = image_platform.files()
    done = image_platform.run("image", "record", "wine", "2", DIGEST, *CRDS)
    assert done.code == 0, done.err
    after = image_platform.files()
    assert sorted(p for p in after if after[p] != before.get(p)) == ["environments/prod/wine.yaml", "models.lock"]
    assert _image(image_platform, "prod") == f"example.com/models/wine:wine-v2@{DIGEST}"
    assert _image(image_platform, "dev") == "example.com/models/wine:wine-v3"
    lock = yaml.safe_load(image_platform.read("models.lock"))["models"]["wine"]
    assert (lock["prod"]["imageDigest"], "imageDigest" in lock["dev"]) == (DIGEST, False)
    assert image_platform.run("validate", *CRDS).code == 0
    assert image_platform.run("image", "record", "wine", "2", DIGEST, *CRDS).out == "nothing to change\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("wine", "2", "sha256:abc"), "not an image digest: 'sha256:abc'"),
        (("wine", "9", DIGEST), "locked for 'wine': dev: version 3 (method image)"),
        (("beer", "2", DIGEST), "models.yaml has no model 'beer'"),
    ],
)
def test_record_refuses_and_writes_nothing(image_platform: Platform, args: tuple[str, ...], message: str) -> None:
    before = image_platform.files()
    done = image_platform.run("image", "record", *args, *CRDS)
    assert (done.code, message in done.err) == (1, True), done.err
    assert image_platform.files() == before


@pytest.mark.parametrize("exists", [False, True], ids=["a new directory", "an empty one"])
def test_context_is_mlflows_dockerfile_and_the_locked_version(
    image_platform: Platform, tmp_path: Path, exists: bool
) -> None:
    out = tmp_path / "build" / "wine-v2"  # as the images workflow names it; its parent need not exist
    if exists:
        out.mkdir(parents=True)
    done = image_platform.run("image", "context", "wine", "--env", "prod", "--output", str(out))
    assert done.code == 0, done.err
    assert done.out == "example.com/models/wine:wine-v2\n"
    dockerfile = (out / "Dockerfile").read_text()
    assert "mlflow.models import container" in dockerfile  # MLflow's scoring server: /invocations, /ping on 8080
    assert "COPY model_dir /opt/ml/model" in dockerfile
    mlmodel = yaml.safe_load((out / "model_dir" / "MLmodel").read_text())
    assert "python_function" in mlmodel["flavors"]
    meta = yaml.safe_load((out / "model_dir" / "registered_model_meta").read_text())
    assert (meta["model_name"], str(meta["model_version"])) == (image_platform.name, "2")
    assert os.listdir(out.parent) == ["wine-v2"], "no staging directory left beside it"


def test_context_refuses_a_target_that_is_not_an_image(platform: Platform, tmp_path: Path) -> None:
    assert platform.run("generate", *CRDS).code == 0
    done = platform.run("image", "context", "wine", "--env", "prod", "--output", str(tmp_path / "c"))
    assert done.code == 1 and "wine/prod is not a locked target with method image" in done.err
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    ("output", "left"),
    [
        (".", "Dockerfile"),  # the repository's own Dockerfile would be replaced, model_dir/ added at its root
        ("build", "build/model_dir/model/stale_code.py"),  # another version's file would be baked into the image
    ],
    ids=["the repository root", "a previous context"],
)
def test_context_refuses_an_output_that_holds_anything_and_leaves_it_as_it_was(
    image_platform: Platform, output: str, left: str
) -> None:
    """The image's digest is recorded as the locked version's: its context may hold nothing else."""
    (image_platform.root / left).parent.mkdir(parents=True, exist_ok=True)
    (image_platform.root / left).write_text("# not MLflow's\n")
    before = image_platform.files()
    done = image_platform.run(
        "image", "context", "wine", "--env", "prod", "--output", str(image_platform.root / output)
    )
    assert done.code == 1, done.err
    assert "is not empty" in done.err and "give a new or empty directory" in done.err, done.err
    assert "Traceback" not in done.err
    assert image_platform.files() == before


@pytest.mark.parametrize("target", ["empty", "absent"])
def test_context_refuses_a_symbolic_link_as_output_and_writes_nothing_where_it_points(
    image_platform: Platform, tmp_path: Path, target: str
) -> None:
    """A link (committed in a pull request's tree, say) would send the build context anywhere the user can write."""
    elsewhere = tmp_path / "elsewhere" / "context"
    if target == "empty":
        elsewhere.mkdir(parents=True)
    link = image_platform.root / "build"
    link.symlink_to(elsewhere)
    done = image_platform.run("image", "context", "wine", "--env", "prod", "--output", str(link))
    assert done.code == 1, done.err
    assert f"--output {link} is" in done.err and "give a new or empty directory" in done.err, done.err
    assert link.is_symlink()
    if target == "empty":
        assert os.listdir(elsewhere) == []
    else:
        assert not elsewhere.parent.exists(), "not even its parent is created"


def test_context_below_a_file_is_refused_naming_it(image_platform: Platform) -> None:
    (image_platform.root / "afile").write_text("")
    done = image_platform.run(
        "image", "context", "wine", "--env", "prod", "--output", str(image_platform.root / "afile" / "sub")
    )
    assert done.code == 1, done.err
    assert f"cannot create {image_platform.root / 'afile'}: File exists" in done.err
    assert "Traceback" not in done.err and "unexpected error" not in done.err


SAFETY = 60.0  # seconds: far beyond the deadline below plus MLflow's start-up


def _context_against(image_platform: Platform, url: str, out: Path, **limits: str) -> subprocess.CompletedProcess[str]:
    """`image context` as users run it, a process of its own, with MLflow at `url` and KSERVE_GITOPS_HTTP_`limits`."""
    return subprocess.run(
        [sys.executable, "-m", "generator", "image", "context", "wine", "--env", "prod", "--output", str(out)],
        cwd=image_platform.root,
        env=os.environ
        | {"MLFLOW_TRACKING_URI": url, "PYTHONPATH": str(REPO_ROOT)}
        | {f"KSERVE_GITOPS_HTTP_{name.upper()}": value for name, value in limits.items()},
        capture_output=True,
        text=True,
        timeout=SAFETY,
        check=False,
    )


def test_context_stops_a_dripping_tracking_server_at_the_download_deadline(
    image_platform: Platform, tmp_path: Path
) -> None:
    """MLflow's client bounds each read, not a whole answer: the subprocess itself is held to the deadline."""
    out = tmp_path / "build" / "wine-v2"
    with faulty(Fault("drip", interval=0.5)) as url:
        done = _context_against(
            image_platform, url.replace("://", "://bob:s3cret@"), out, download_deadline="8", deadline="2"
        )
    assert done.returncode == EXIT_ENVIRONMENT, done.stderr
    assert f"from the tracking server http://***@127.0.0.1:{url.rsplit(':', 1)[1]} within 8 s; stopped" in (
        done.stderr
    ), done.stderr
    assert "KSERVE_GITOPS_HTTP_DOWNLOAD_DEADLINE" in done.stderr and "s3cret" not in done.stderr
    assert "Traceback" not in done.stderr
    assert os.listdir(out.parent) == [], "nothing half-written"


def test_context_gives_mlflow_the_retries_of_the_http_settings(image_platform: Platform, tmp_path: Path) -> None:
    """KSERVE_GITOPS_HTTP_RETRIES=1: one request and one retry, not MLflow's own seven with minutes of backoff."""
    out = tmp_path / "build" / "wine-v2"
    fault = Fault("status", status=500)
    with faulty(fault) as url:
        done = _context_against(image_platform, url, out, retries="1", backoff="0.05")
    assert done.returncode == EXIT_ENVIRONMENT, done.stderr
    assert len(fault.requests) == 2, fault.requests
    assert f"from the tracking server {url}:" in done.stderr and "500" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert os.listdir(out.parent) == [], "nothing half-written"


def test_context_without_a_tracking_server_refuses_and_creates_no_database(
    image_platform: Platform, tmp_path: Path
) -> None:
    """Without a tracking URI MLflow would create sqlite:///mlflow.db in the working directory, the repository,
    and then report the registered model as not found there."""
    out = tmp_path / "build" / "wine-v2"
    before = sorted(os.listdir(image_platform.root))
    done = subprocess.run(
        [sys.executable, "-m", "generator", "image", "context", "wine", "--env", "prod", "--output", str(out)],
        cwd=image_platform.root,
        env={k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")} | {"PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=SAFETY,
        check=False,
    )
    assert done.returncode == EXIT_ENVIRONMENT, done.stderr
    assert "needs an MLflow tracking server, and none is configured" in done.stderr, done.stderr
    assert sorted(os.listdir(image_platform.root)) == before, "no mlflow.db in the repository"
    assert not out.parent.exists()
