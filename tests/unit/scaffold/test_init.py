"""`kserve-gitops init [DIR]`: what it writes, that a second run writes nothing, what it keeps, what it refuses."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from generator import __version__
from generator.cli import main
from generator.crds.sources import crd_files, dumps_lock, relock, sha256
from generator.scaffold import CRD_LOCK, DEFAULT_ACTION_REPO
from generator.spec.load import load_spec
from tests.support.paths import CRDS, REPO_ROOT
from tests.support.specs import IMAGE_MODEL

SCAFFOLD = [
    ".github/workflows/checks.yml",
    ".github/workflows/promote.yml",
    ".gitignore",
    "environments/dev/kustomization.yaml",
    "environments/prod/kustomization.yaml",
    "environments/staging/kustomization.yaml",
    "kustomization.yaml",
    "models.lock",
    "models.yaml",
    CRD_LOCK,
]


@dataclass
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def kserve_gitops(capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*args: str) -> Result:
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file with its bytes and mtime, to prove what a run did or did not touch."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_init_creates_a_platform_repository_in_a_new_directory(tmp_path: Path, kserve_gitops: Run) -> None:
    done = kserve_gitops("init", str(tmp_path / "platform"))

    assert done.code == 0, done.err
    assert sorted(_tree(tmp_path / "platform")) == sorted(SCAFFOLD)
    assert done.out.splitlines() == [f"create {path}" for path in sorted(SCAFFOLD)]
    assert done.err == ""


def test_the_new_repository_is_already_up_to_date_and_valid(tmp_path: Path, kserve_gitops: Run) -> None:
    """What init writes is what render and lock would write, so the first pull request passes its checks."""
    root = str(tmp_path)
    kserve_gitops("init", root)

    for check in (["render", "--check"], ["lock", "--check"], ["generate", "--check"]):
        done = kserve_gitops(*check, "--repo", root)
        assert (done.code, done.out) == (0, "up to date\n"), (check, done.err)
    done = kserve_gitops("validate", "--repo", root, "--crd-dir", str(CRDS))
    assert (done.code, done.out) == (0, "valid\n"), done.err


def test_models_yaml_names_its_schema_and_serves_nothing_yet(tmp_path: Path, kserve_gitops: Run) -> None:
    kserve_gitops("init", str(tmp_path))
    text = (tmp_path / "models.yaml").read_text()

    assert text.splitlines()[0] == (
        f"# yaml-language-server: $schema=https://raw.githubusercontent.com/"
        f"{DEFAULT_ACTION_REPO}/v{__version__}/schemas/models.schema.json"
    )
    spec, warnings = load_spec(tmp_path / "models.yaml")
    assert (spec.targets, warnings) == ((), [])
    assert list(spec.environments) == ["dev", "staging", "prod"]
    assert "#   wine-classifier:" in text  # the commented example


def test_a_second_run_changes_nothing_and_says_so(tmp_path: Path, kserve_gitops: Run) -> None:
    kserve_gitops("init", str(tmp_path))
    before = _tree(tmp_path)

    done = kserve_gitops("init", str(tmp_path))

    assert (done.code, done.out, done.err) == (0, "nothing to change\n", "")
    assert _tree(tmp_path) == before


def test_an_edited_file_is_kept_and_force_replaces_it(tmp_path: Path, kserve_gitops: Run) -> None:
    kserve_gitops("init", str(tmp_path))
    gitignore = tmp_path / ".gitignore"
    gitignore.write_text(".venv/\n")
    (tmp_path / "schemas" / "crds" / "crds.lock.yaml").unlink()

    done = kserve_gitops("init", str(tmp_path))

    assert (done.code, done.out) == (0, f"create {CRD_LOCK}\n")
    assert ".gitignore: exists and differs from what init writes; kept" in done.err
    assert "init --force" in done.err
    assert gitignore.read_text() == ".venv/\n"

    done = kserve_gitops("init", str(tmp_path), "--force")

    assert (done.code, done.out) == (0, "update .gitignore\n"), done.err
    assert "!/schemas/crds/crds.lock.yaml" in gitignore.read_text()


def test_a_models_yaml_of_your_own_is_kept_and_decides_the_images_workflow(tmp_path: Path, kserve_gitops: Run) -> None:
    """Re-running init in a platform repository adds what is missing; its tree stays `generate`'s job."""
    kserve_gitops("init", str(tmp_path))
    spec = tmp_path / "models.yaml"
    spec.write_text(spec.read_text().replace("models: {}\n", IMAGE_MODEL))
    shutil.rmtree(tmp_path / ".github")
    before = _tree(tmp_path)

    done = kserve_gitops("init", str(tmp_path))

    assert done.code == 0, done.err
    assert done.out.splitlines() == [
        "create .github/workflows/checks.yml",
        "create .github/workflows/images.yml",
        "create .github/workflows/promote.yml",
    ]
    assert "models.yaml: exists and differs from what init writes; kept" in done.err
    assert {p: v for p, v in _tree(tmp_path).items() if not p.startswith(".github/")} == before


@pytest.mark.parametrize(
    ("make", "said"),
    [
        ("link", "cannot read: a symbolic link: kserve-gitops reads the repository's own files only as regular files"),
        ("latin-1", "cannot read: not UTF-8 at line 1, column 6 (byte 0xe9); save the file as UTF-8"),
    ],
)
def test_a_models_yaml_init_may_not_read_is_refused_unread_as_validate_refuses_it(
    tmp_path: Path, kserve_gitops: Run, make: str, said: str
) -> None:
    """A link could point at a kubeconfig whose values the schema errors would quote."""
    secret = tmp_path / "kubeconfig.yaml"
    secret.write_text("models: {prod: token-AKIAEXAMPLE}\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    if make == "link":
        (repo / "models.yaml").symlink_to(secret)
    else:
        (repo / "models.yaml").write_bytes("# caf\u00e9\n".encode("latin-1"))
    before = _tree(tmp_path)

    refused = kserve_gitops("init", str(repo))

    assert (refused.code, refused.out) == (1, "")
    assert refused.err.startswith(f"error: models.yaml: {said}"), refused.err
    assert "AKIA" not in refused.err
    assert _tree(tmp_path) == before


def test_the_workflows_use_the_action_and_release_of_this_version(tmp_path: Path, kserve_gitops: Run) -> None:
    done = kserve_gitops("init", str(tmp_path), "--action-repo", "my-org/kserve-gitops-fork")
    assert done.code == 0, done.err

    workflow = yaml.safe_load((tmp_path / ".github/workflows/checks.yml").read_text())
    steps = workflow["jobs"]["check"]["steps"]
    ours = [s for s in steps if "kserve-gitops" in s.get("uses", "")]
    assert [s["uses"] for s in ours] == [f"my-org/kserve-gitops-fork@v{__version__}"] * 4
    assert [(s["with"]["version"], s["with"]["command"], s["with"].get("args")) for s in ours] == [
        (__version__, "validate", "-o github"),
        (__version__, "render", "--check"),
        (__version__, "lock", "--check"),
        (__version__, "gate", "--base HEAD^1 -o github"),
    ]
    assert steps[0]["with"]["fetch-depth"] == 2, "gate compares the merge commit with its first parent"
    assert "my-org/kserve-gitops-fork/v" in (tmp_path / "models.yaml").read_text()


def test_a_malformed_action_repo_is_refused(tmp_path: Path, kserve_gitops: Run) -> None:
    done = kserve_gitops("init", str(tmp_path / "new"), "--action-repo", "not a repo")

    assert done.code == 1
    assert "--action-repo 'not a repo' is not a GitHub repository" in done.err
    assert not (tmp_path / "new").exists()


def test_the_crd_lock_is_what_schemas_fetch_records_for_the_pinned_versions(tmp_path: Path, kserve_gitops: Run) -> None:
    """The same pure steps `schemas fetch` takes, over the real CRD files of those releases."""
    kserve_gitops("init", str(tmp_path))
    spec, _ = load_spec(tmp_path / "models.yaml")
    files = crd_files(spec.platform)
    downloaded = {file: sha256((CRDS / file.local).read_bytes()) for file in files}

    assert (tmp_path / CRD_LOCK).read_bytes() == dumps_lock(relock(files, {}, downloaded))


def test_a_new_github_repository_counts_as_empty(tmp_path: Path, kserve_gitops: Run) -> None:
    subprocess.run(["git", "init", "--quiet", str(tmp_path)], check=True)
    (tmp_path / "README.md").write_text("# ml-platform\n")
    (tmp_path / "LICENSE").write_text("Apache-2.0\n")

    done = kserve_gitops("init", str(tmp_path))

    assert done.code == 0, done.err
    assert (tmp_path / "models.yaml").is_file()
    assert (tmp_path / "README.md").read_text() == "# ml-platform\n"


def test_the_state_a_killed_run_left_does_not_count_as_another_project(tmp_path: Path, kserve_gitops: Run) -> None:
    """A run killed while removing its state directory leaves `.kserve-gitops/.gitignore`; init goes on."""
    (tmp_path / ".kserve-gitops").mkdir()
    (tmp_path / ".kserve-gitops" / ".gitignore").write_text("*\n")

    done = kserve_gitops("init", str(tmp_path))

    assert done.code == 0, done.err
    assert (tmp_path / "models.yaml").is_file()


def test_a_directory_holding_another_project_is_refused(tmp_path: Path, kserve_gitops: Run) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    (tmp_path / "src").mkdir()

    done = kserve_gitops("init", str(tmp_path))

    assert done.code == 1
    assert done.err.splitlines() == [
        f"error: {tmp_path}: holds another project (pyproject.toml, src) and no models.yaml: not a platform repository",
        "  fix: run `kserve-gitops init NEW_DIR` for a new repository, or add --force to write the platform files "
        "here anyway (files with the same names are replaced)",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml", "src"]

    assert kserve_gitops("init", str(tmp_path), "--force").code == 0
    assert (tmp_path / "models.yaml").is_file()


def test_the_names_of_another_projects_files_are_printable(tmp_path: Path, kserve_gitops: Run) -> None:
    """A name is anyone's: an escape or a line break in it must neither drive the terminal nor start a line."""
    (tmp_path / "x\x1b[2J\n::error file=models.yaml::forged").write_text("")

    done = kserve_gitops("init", str(tmp_path))

    assert done.code == 1
    assert "holds another project (x\\x1b[2J\\n::error file=models.yaml::forged) and no models.yaml" in done.err
    assert "\x1b" not in done.err and not any(line.startswith("::") for line in done.err.splitlines())


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("file", "{tmp}/file: is a file, not a directory"),
        ("file/below", "{tmp}/file/below: cannot be created: {tmp}/file is a file, not a directory"),
    ],
)
def test_a_file_in_the_way_is_refused(tmp_path: Path, kserve_gitops: Run, where: str, message: str) -> None:
    (tmp_path / "file").write_text("x\n")

    done = kserve_gitops("init", str(tmp_path / where))

    assert done.code == 2
    assert done.err.splitlines() == [
        f"error: {message.format(tmp=tmp_path)}",
        "  fix: pass the directory to create the platform repository in: kserve-gitops init DIR",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_read_only_file_system_is_refused_with_nothing_written(tmp_path: Path) -> None:
    """As root, permissions stop nothing: mount the directory read-only in a private mount namespace."""
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is not installed: apt-get install util-linux", pytrace=False)
    target = tmp_path / "ro"
    target.mkdir()
    script = (
        f"mount --bind -o ro {target} {target} && "
        f"PYTHONPATH={REPO_ROOT} {sys.executable} -m generator init {target / 'platform'}"
    )
    done = subprocess.run(
        ["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 2, done.stderr
    assert f"error: {target}: is not writable; nothing was written" in done.stderr
    assert list(target.iterdir()) == []
