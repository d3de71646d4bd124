"""Adopting kserve-gitops from nothing: `init` an empty directory, commit, add a model, `generate` against the
real MLflow server, `validate` clean with the CRDs in place, and `diff` shows the model's manifests for review.
The workflows `init` writes pass the same three linters as this repository's own (tests/support/actions_lint.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from generator.crds.sources import crd_files
from generator.scaffold import DEFAULT_ACTION_REPO
from generator.spec.load import load_spec
from tests.acceptance.conftest import Result, add_model
from tests.support import actions_lint
from tests.support.mlflow_server import MlflowServer, NewModel
from tests.support.paths import CRDS
from tests.support.specs import IMAGE_MODEL


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True, timeout=60).stdout


def _place_crds(root: Path) -> None:
    """What `kserve-gitops schemas fetch` leaves in schemas/crds, copied from the real release files."""
    spec, _ = load_spec(root / "models.yaml")
    for file in crd_files(spec.platform):
        target = root / "schemas" / "crds" / file.local
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CRDS / file.local, target)


def test_from_an_empty_directory_to_a_first_model_under_review(
    tmp_path: Path,
    mlflow_proxied: MlflowServer,
    new_model: NewModel,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The issue's "done when", end to end: init, commit, add a model, generate, validate clean, the workflows
    pass their linters, and `diff` against the first commit shows the new model's manifests and nothing else."""
    name = new_model(versions=3, aliases={"challenger": 3, "champion": 2})
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_proxied.stack.tracking_uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    root = tmp_path / "ml-platform"
    root.mkdir()
    _git(root, "init", "--quiet")
    repo = ("--repo", str(root))

    assert cli("init", str(root)).code == 0
    _place_crds(root)
    _git(root, "add", "--all")
    _git(root, "commit", "--quiet", "--message", "kserve-gitops init")
    first = _git(root, "rev-parse", "HEAD").strip()
    committed = _git(root, "ls-files").split()
    assert [p for p in committed if p.startswith("schemas/")] == ["schemas/crds/crds.lock.yaml"]  # CRDs ignored
    assert {
        "models.yaml",
        "models.lock",
        "environments/prod/kustomization.yaml",
        ".github/workflows/checks.yml",
    } <= set(committed)

    # What a person does next: point at the registry's bucket and add a model.
    add_model(root / "models.yaml", mlflow_proxied, name)
    generated = cli("generate", *repo)
    assert generated.code == 0, generated.err
    assert "create environments/prod/wine-classifier.yaml" in generated.out
    prod = yaml.safe_load((root / "environments/prod/wine-classifier.yaml").read_text())
    assert prod["metadata"]["labels"]["kserve-gitops.io/model-version"] == "2"

    verified = cli("schemas", "verify", *repo)  # the CRD lock init wrote holds the real release files
    assert verified.code == 0, verified.err
    validated = cli("validate", *repo, "-o", "json")
    assert validated.code == 0, validated.out + validated.err
    # Nothing at all: a cloudpickle model logged by MLflow 3 is no finding by itself (docs/model-compatibility.md).
    assert json.loads(validated.out)["findings"] == []
    workflows = sorted((root / ".github" / "workflows").glob("*.yml"))
    assert [p.name for p in workflows] == ["checks.yml", "promote.yml"]
    actions_lint.assert_clean(workflows, root)

    _git(root, "add", "--all")
    _git(root, "commit", "--quiet", "--message", "Serve wine-classifier")
    assert _git(root, "status", "--porcelain") == ""
    diff = cli("diff", "--base", first, "-o", "json", *repo)

    assert diff.code == 0, diff.err
    report = json.loads(diff.out)
    assert report["base"]["commit"] == first
    changed = {d["directory"]: d for d in report["directories"] if d["status"] != "unchanged"}
    assert set(changed) == {"environments/dev", "environments/staging", "environments/prod"}
    for env, directory in changed.items():
        assert directory["status"] == "changed"  # the directory was there, empty: init wrote its kustomization
        namespace = f"models-{env.rsplit('/', 1)[1]}"
        assert directory["objects"] == [
            {
                "group": "serving.kserve.io",
                "kind": "InferenceService",
                "namespace": namespace,
                "name": "wine-classifier",
                "change": "added",
            }
        ]
        assert directory["removed"] == 0


def test_the_workflows_init_writes_pass_actionlint_zizmor_and_check_jsonschema(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """Every workflow init can write, the images workflow included (written once a model uses method: image),
    hardened like this repository's own; only kserve-gitops' action is used at a release tag instead of a SHA."""
    assert cli("init", str(tmp_path)).code == 0
    spec = tmp_path / "models.yaml"
    spec.write_text(spec.read_text().replace("models: {}\n", IMAGE_MODEL))
    assert cli("init", str(tmp_path)).code == 0
    workflows = sorted((tmp_path / ".github" / "workflows").glob("*.yml"))

    assert [p.name for p in workflows] == ["checks.yml", "images.yml", "promote.yml"]
    actions_lint.assert_clean(workflows, tmp_path)
    for path in workflows:
        actions_lint.assert_least_privilege(path)
        actions_lint.assert_pinned(path, release_tagged=DEFAULT_ACTION_REPO)


def test_init_from_registry_lists_the_registered_models_and_their_aliases(
    tmp_path: Path,
    mlflow_proxied: MlflowServer,
    new_model: NewModel,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = new_model(versions=3, aliases={"challenger": 3, "champion": 2})
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_proxied.stack.tracking_uri)

    done = cli("init", str(tmp_path / "platform"), "--from-registry")

    assert done.code == 0, done.err
    spec, warnings = load_spec(tmp_path / "platform" / "models.yaml")
    assert warnings == []
    ours = {t.env: (t.ref.kind, t.ref.value) for t in spec.targets if t.registered_model == name}
    assert ours == {"dev": ("alias", "challenger"), "staging": ("alias", "challenger"), "prod": ("alias", "champion")}
    # Models need the registry to lock: the tree is left to `generate`.
    assert "create models.yaml" in done.out
    assert not (tmp_path / "platform" / "models.lock").exists()


def test_init_from_registry_leaves_out_names_models_yaml_cannot_hold_and_says_which(
    tmp_path: Path, mlflow_proxied: MlflowServer, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = mlflow_proxied.new_model(versions=1)
    control = mlflow_proxied.new_model("Carriage\rReturn", versions=1)
    long = mlflow_proxied.new_model("L" * 300, versions=1)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_proxied.stack.tracking_uri)

    done = cli("init", str(tmp_path / "platform"), "--from-registry")

    assert done.code == 0, done.err
    spec, _ = load_spec(tmp_path / "platform" / "models.yaml")
    listed = {t.registered_model for t in spec.targets}
    assert good in listed
    assert control not in listed and long not in listed
    assert "registered model left out: 'Carriage\\rReturn " in done.err
    assert "holds control character U+000D" in done.err
    assert "registered model left out: 'LLLL" in done.err and "is too long" in done.err


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (None, "no MLflow tracking URI is configured"),
        ("http://127.0.0.1:9", "cannot use the MLflow registry at http://127.0.0.1:9"),
        ("file:///tmp/mlruns", "cannot use the MLflow registry at file:///tmp/mlruns: a local directory"),
        ("http://u:p@[::1/", "cannot use the MLflow registry at http://***@[::1/: Invalid IPv6 URL"),  # not a URL
    ],
)
def test_init_from_an_unreachable_registry_writes_nothing(
    tmp_path: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, uri: str | None, message: str
) -> None:
    if uri is not None:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

    done = cli("init", str(tmp_path / "platform"), "--from-registry")

    assert done.code == 2
    assert message in done.err
    assert not (tmp_path / "platform").exists()
