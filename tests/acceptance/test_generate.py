"""`kserve-gitops generate / lock / render` end to end against a real MLflow server and a real kustomize."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from generator.validate.kustomize import kustomize_build
from tests.acceptance.conftest import CRDS, Platform, Result
from tests.support.mlflow_server import MlflowServer

ENVIRONMENTS = ("dev", "staging", "prod")


def _lock(platform: Platform) -> dict[str, dict[str, object]]:
    data = yaml.safe_load(platform.read("models.lock"))
    return data["models"]["wine"]  # type: ignore[no-any-return]


def _isvc(platform: Platform, env: str) -> dict[str, object]:
    return yaml.safe_load(platform.read(f"environments/{env}/wine.yaml"))  # type: ignore[no-any-return]


def test_generate_resolves_every_reference_and_writes_lock_and_overlays(platform: Platform) -> None:
    result = platform.run("generate", *CRDS)
    assert result.code == 0, result.err
    assert "create models.lock" in result.out
    lock = _lock(platform)
    assert {env: lock[env]["version"] for env in ENVIRONMENTS} == {"dev": "3", "staging": "3", "prod": "2"}
    assert lock["prod"]["reference"] == {"alias": "champion"}
    assert lock["prod"]["registeredModel"] == platform.name
    assert str(lock["prod"]["source"]).startswith("mlflow-artifacts:/")
    assert str(lock["prod"]["artifactUri"]).startswith("s3://mlflow-artifacts/mlartifacts/")
    model = _isvc(platform, "prod")["spec"]["predictor"]["model"]  # type: ignore[index]
    assert model["storageUri"] == lock["prod"]["artifactUri"]
    assert platform.server.stack.s3_keys(str(lock["prod"]["source"])), "the locked location holds the model"


def test_every_environment_builds_with_kustomize_and_passes_strict_checks(platform: Platform) -> None:
    assert platform.run("generate", *CRDS).code == 0
    for env in ENVIRONMENTS:
        (built,) = kustomize_build(platform.root / "environments" / env)
        assert built["kind"] == "InferenceService"
        assert built["metadata"]["namespace"] == f"ml-{env}"
    assert len(kustomize_build(platform.root)) == 3
    result = platform.run("validate", *CRDS)
    assert result.code == 0, result.out
    assert result.out == "valid\n", result.out


def test_second_generate_changes_nothing_and_touches_no_file(platform: Platform) -> None:
    assert platform.run("generate", *CRDS).code == 0
    before = platform.files()
    result = platform.run("generate", *CRDS)
    assert (result.code, result.out) == (0, "nothing to change\n")
    assert platform.files() == before


def test_same_registry_state_gives_byte_identical_files(platform: Platform, tmp_path: Path) -> None:
    assert platform.run("generate", *CRDS).code == 0
    first = {k: v[0] for k, v in platform.files().items()}
    for path in platform.root.rglob("*"):
        if path.is_file() and path.name != "models.yaml":
            path.unlink()
    assert platform.run("generate", *CRDS).code == 0
    assert {k: v[0] for k, v in platform.files().items()} == first


def test_moving_champion_changes_only_the_prod_entry_and_file(platform: Platform) -> None:
    assert platform.run("generate", *CRDS).code == 0
    before = platform.files()
    platform.server.client.set_registered_model_alias(platform.name, "champion", "3")
    assert platform.run("generate", *CRDS).out == "nothing to change\n", "without --update the pin holds"
    assert platform.run("lock", "--update").code == 0
    rendered = platform.run("render", *CRDS)
    assert rendered.code == 0
    after = platform.files()
    changed = sorted(p for p in after if after[p] != before.get(p))
    assert changed == ["environments/prod/wine.yaml", "models.lock"]
    assert _lock(platform)["prod"]["version"] == "3"
    assert _isvc(platform, "prod")["metadata"]["labels"]["kserve-gitops.io/model-version"] == "3"  # type: ignore[index]


def test_update_of_one_target_leaves_the_others(platform: Platform) -> None:
    assert platform.run("generate", *CRDS).code == 0
    client = platform.server.client
    client.set_registered_model_alias(platform.name, "champion", "1")
    client.set_registered_model_alias(platform.name, "challenger", "1")
    assert platform.run("generate", "--update", "wine/staging", *CRDS).code == 0
    assert {env: _lock(platform)[env]["version"] for env in ENVIRONMENTS} == {"dev": "3", "staging": "1", "prod": "2"}


def test_held_entry_keeps_its_version_when_the_alias_moves(platform: Platform) -> None:
    platform.write_spec(prod_extra=", hold: true")
    assert platform.run("generate", *CRDS).code == 0
    platform.server.client.set_registered_model_alias(platform.name, "champion", "1")
    assert platform.run("generate", "--update", *CRDS).code == 0
    assert _lock(platform)["prod"]["version"] == "2"


def test_deleted_alias_is_a_clear_error_and_nothing_is_written(platform: Platform) -> None:
    assert platform.run("generate", *CRDS).code == 0
    before = platform.files()
    platform.server.client.delete_registered_model_alias(platform.name, "champion")
    result = platform.run("generate", "--update", *CRDS)
    assert result.code == 1
    assert (
        f"models.yaml:16: $.models.wine.environments.prod.alias: alias 'champion' not found on '{platform.name}'"
        in result.err
    )
    assert "Traceback" not in result.err
    assert platform.files() == before


def test_deleted_version_is_a_clear_error(platform: Platform) -> None:
    (platform.root / "models.yaml").write_text(platform.read("models.yaml").replace("alias: champion", "version: 9"))
    result = platform.run("generate", *CRDS)
    assert result.code == 1
    assert f"version 9 not found on '{platform.name}'" in result.err
    assert sorted(platform.files()) == ["models.yaml"]


def test_unknown_registered_model_names_the_model_and_writes_nothing(platform: Platform) -> None:
    (platform.root / "models.yaml").write_text(platform.read("models.yaml").replace(platform.name, "no such model"))
    result = platform.run("generate", *CRDS)
    assert result.code == 1
    assert "registered model 'no such model' not found" in result.err
    assert sorted(platform.files()) == ["models.yaml"]


def test_proxied_location_without_destination_is_refused_with_the_fix(platform: Platform) -> None:
    (platform.root / "models.yaml").write_text(
        "\n".join(line for line in platform.read("models.yaml").splitlines() if "artifactsDestination" not in line)
    )
    result = platform.run("generate", *CRDS)
    assert result.code == 1
    assert "KServe cannot fetch" in result.err
    assert "registry.artifactsDestination" in result.err


def test_unreachable_registry_exits_2_without_leaking_credentials(platform: Platform) -> None:
    os.environ["MLFLOW_TRACKING_URI"] = "http://alice:s3cret@127.0.0.1:9"
    result = platform.run("generate", *CRDS)
    assert result.code == 2
    assert "http://***@127.0.0.1:9" in result.err
    assert "s3cret" not in result.err + result.out
    assert "Traceback" not in result.err
    assert sorted(platform.files()) == ["models.yaml"]


def test_render_check_reports_drift_as_a_diff_and_exits_1(platform: Platform) -> None:
    assert platform.run("generate", *CRDS).code == 0
    path = platform.root / "environments/prod/wine.yaml"
    path.write_text(path.read_text().replace("maxReplicas: 4", "maxReplicas: 9"))
    before = platform.files()
    result = platform.run("render", "--check", *CRDS)
    assert result.code == 1
    assert "-    maxReplicas: 9\n+    maxReplicas: 4\n" in result.out
    assert "run `kserve-gitops render`" in result.err
    assert platform.files() == before
    assert platform.run("render", *CRDS).code == 0
    assert platform.run("render", "--check", *CRDS).out == "up to date\n"


def test_render_prunes_its_own_stale_files_and_keeps_foreign_ones(platform: Platform) -> None:
    assert platform.run("generate", *CRDS).code == 0
    (platform.root / "environments/prod/NOTES.md").write_text("ours, not the tool's")
    (platform.root / "models.yaml").write_text(platform.read("models.yaml").replace("      dev: {latest: true}\n", ""))
    result = platform.run("generate", *CRDS)
    assert result.code == 0
    assert "delete environments/dev/wine.yaml" in result.out
    assert not (platform.root / "environments/dev/wine.yaml").exists()
    assert platform.read("environments/prod/NOTES.md") == "ours, not the tool's"


def test_invalid_spec_fails_before_any_registry_call(platform: Platform) -> None:
    os.environ["MLFLOW_TRACKING_URI"] = "http://127.0.0.1:9"
    (platform.root / "models.yaml").write_text(platform.read("models.yaml").replace("minReplicas: 2", "minReplica: 2"))
    result = platform.run("generate", *CRDS)
    assert result.code == 1
    assert "models.yaml:9:30: $.environments.prod.minReplica: unknown field 'minReplica'" in result.err


def test_usage_errors_exit_2(platform: Platform) -> None:
    assert platform.run("lock", "wine").code == 2
    assert platform.run("generate", "--no-such-option").code == 2


# What only commands that talk to the outside need: none of it may load before such a command runs.
NETWORK_MODULES = ("mlflow", "requests", "git", "github", "starlette", "uvicorn")
# What only commands that check or render need: `--help` and `--version` start without it.
PIPELINE_MODULES = (
    "generator.pipeline",
    "generator.cache",
    "generator.spec.model",
    "sqlite3",
    "jsonschema",
    "jsonschema_rs",
    "kubernetes_validate",
)


def _imported_after(*argv: list[str]) -> set[str]:
    """Top-level packages and generator modules a fresh interpreter has loaded after running each argv."""
    probe = (
        "import json, sys; from generator.cli import main; "
        "[main(a) for a in json.loads(sys.argv[1])]; print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(argv)], capture_output=True, text=True, check=False
    )
    loaded = json.loads(result.stdout.splitlines()[-1])
    return {m for m in loaded if m.startswith("generator.")} | {m.split(".")[0] for m in loaded}


def test_help_and_version_import_nothing_heavy() -> None:
    loaded = _imported_after(["--help"], ["--version"], ["generate", "--help"], ["validate", "--help"])
    assert loaded.isdisjoint(NETWORK_MODULES + PIPELINE_MODULES), loaded & {*NETWORK_MODULES, *PIPELINE_MODULES}


def test_a_valid_tree_is_checked_without_importing_jsonschema(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled and structural checks say yes; jsonschema is imported only to word what they refuse."""
    assert platform.run("generate", *CRDS).code == 0
    monkeypatch.setenv("KSERVE_GITOPS_CACHE_DIR", "off")  # no record to answer from: the pipeline runs
    for command in ("render", "validate"):
        loaded = _imported_after([command, "--repo", str(platform.root), *CRDS])
        assert "generator.validate.manifests" in loaded, f"{command} checked the tree"
        assert "jsonschema" not in loaded, command


def test_a_run_answered_from_its_record_never_imports_the_pipeline(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KSERVE_GITOPS_CACHE_DIR", str(tmp_path / "cache"))
    assert platform.run("generate", *CRDS).code == 0  # writes models.lock, an input of the record's key
    assert platform.run("generate", *CRDS).out == "nothing to change\n"  # remembered under today's inputs
    loaded = _imported_after(["generate", "--repo", str(platform.root), *CRDS])
    assert "generator.cache" in loaded, "the probe asked the run record"
    assert "generator.pipeline" not in loaded
    assert "yaml" not in loaded, "it parses nothing: importing PyYAML was ~10% of its time"
    assert "pydantic" not in loaded, "typer 0.29 coerces options with pydantic, which costs more than this run"


def test_status_without_a_registry_imports_no_network_client(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a tracking URI the registry columns say unknown: importing mlflow to learn that took a second."""
    assert platform.run("generate", *CRDS).code == 0
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    loaded = _imported_after(["status", "--repo", str(platform.root)])
    assert "generator.status" in loaded, "the probe ran status"
    assert loaded.isdisjoint(NETWORK_MODULES), loaded & set(NETWORK_MODULES)


def test_validate_imports_no_network_client(platform: Platform) -> None:
    loaded = _imported_after(["validate", "--repo", str(platform.root)])
    assert "generator.pipeline" in loaded, "the probe ran validate"
    assert loaded.isdisjoint(NETWORK_MODULES), loaded & set(NETWORK_MODULES)


def test_direct_artifact_store_locks_s3_uris_and_stage_references_warn(
    mlflow_direct: MlflowServer, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    name = mlflow_direct.new_model(versions=2, stages={1: "Production"})
    os.environ.update({"MLFLOW_TRACKING_URI": mlflow_direct.stack.tracking_uri, **mlflow_direct.stack.s3_env})
    spec = (
        "apiVersion: kserve-gitops/v1\n"
        "environments: {dev: {namespace: d}, prod: {namespace: p}}\n"
        f"models:\n  m:\n    registeredModel: '{name}'\n    resources: {{limits: {{cpu: 1, memory: 1Gi}}}}\n"
        "    environments: {dev: {version: 2}, prod: {stage: Production}}\n"
    )
    (tmp_path / "models.yaml").write_text(spec)
    refused = cli("generate", "--repo", str(tmp_path), *CRDS)
    assert refused.code == 1
    assert "which cannot be checked: models.yaml declares no storage prefix" in refused.err
    assert not (tmp_path / "models.lock").exists()
    (tmp_path / "models.yaml").write_text(
        spec.replace(
            "environments:", 'registry: {allowedStoragePrefixes: ["s3://mlflow-artifacts/direct"]}\nenvironments:', 1
        )
    )
    result = cli("generate", "--repo", str(tmp_path), *CRDS)
    assert result.code == 0, result.err
    assert "warning: models.yaml:8:" in result.err and "stage 'Production' is deprecated" in result.err
    lock = yaml.safe_load((tmp_path / "models.lock").read_text())["models"]["m"]
    assert (lock["dev"]["version"], lock["prod"]["version"]) == ("2", "1")
    assert lock["prod"]["source"] == lock["prod"]["artifactUri"]
    assert lock["prod"]["artifactUri"].startswith("s3://mlflow-artifacts/direct/")


def test_pin_rolls_back_and_holds_until_unpin(platform: Platform) -> None:
    assert platform.run("generate", *CRDS).code == 0
    result = platform.run("pin", "wine", "prod", "1", *CRDS)
    assert result.code == 0, result.err
    assert "prod: {alias: champion, hold: 1}" in platform.read("models.yaml")
    assert sorted(line.split(" ", 1)[1] for line in result.out.splitlines()) == [
        "environments/prod/wine.yaml",
        "models.lock",
        "models.yaml",
    ]
    assert _lock(platform)["prod"]["version"] == "1"
    platform.server.client.set_registered_model_alias(platform.name, "champion", "3")
    assert platform.run("generate", "--update", *CRDS).code == 0
    assert _lock(platform)["prod"]["version"] == "1", "automation never undoes a pin"
    assert platform.run("unpin", "wine", "prod", *CRDS).code == 0
    assert "prod: {alias: champion}" in platform.read("models.yaml")
    assert _lock(platform)["prod"]["version"] == "3"


def test_following_environment_waits_for_its_leader(platform: Platform) -> None:
    spec = platform.read("models.yaml")
    (platform.root / "models.yaml").write_text(
        spec.replace("prod: {namespace: ml-prod,", "prod: {follow: staging, namespace: ml-prod,")
    )
    client = platform.server.client
    client.set_registered_model_alias(platform.name, "champion", "3")
    assert platform.run("generate", *CRDS).code == 0
    assert _lock(platform)["prod"]["version"] == "3", "staging has 3 (challenger)"
    client.set_registered_model_alias(platform.name, "champion", "1")
    assert platform.run("generate", "--update", *CRDS).code == 0
    assert _lock(platform)["prod"]["version"] == "3", "staging does not have 1: prod keeps 3"
    client.set_registered_model_alias(platform.name, "challenger", "1")
    assert platform.run("generate", "--update", *CRDS).code == 0
    assert (_lock(platform)["staging"]["version"], _lock(platform)["prod"]["version"]) == ("1", "1")


def test_unpin_refuses_a_hold_merged_in_from_an_anchor_and_changes_nothing(platform: Platform) -> None:
    text = platform.read("models.yaml")
    text = text.replace("staging: {alias: challenger}", "staging: &held {alias: challenger, hold: true}")
    (platform.root / "models.yaml").write_text(text.replace("prod: {alias: champion}", "prod: {<<: *held}"))
    assert platform.run("generate", *CRDS).code == 0
    before = platform.read("models.yaml")
    result = platform.run("unpin", "wine", "prod", *CRDS)
    assert result.code == 1
    assert "wine in prod is held by a mapping merged into it (`<<: *anchor`)" in result.err
    assert platform.read("models.yaml") == before


def test_pin_and_unpin_keep_a_crlf_models_yaml_byte_for_byte(platform: Platform) -> None:
    original = platform.read("models.yaml").replace("\n", "\r\n").encode()
    (platform.root / "models.yaml").write_bytes(original)
    assert platform.run("generate", *CRDS).code == 0
    assert platform.run("pin", "wine", "prod", "1", *CRDS).code == 0
    pinned = (platform.root / "models.yaml").read_bytes()
    assert pinned == original.replace(b"{alias: champion}", b"{alias: champion, hold: 1}")
    assert platform.run("unpin", "wine", "prod", *CRDS).code == 0
    assert (platform.root / "models.yaml").read_bytes() == original


def test_pin_never_writes_over_a_models_yaml_saved_while_it_asked_the_registry(platform: Platform) -> None:
    """Someone saves models.yaml while pin waits on MLflow: their save is kept, and nothing is written."""
    from generator import pipeline  # noqa: PLC0415 -- the registry factory is where the wait is
    from generator.cli import _build  # noqa: PLC0415
    from generator.errors import UserError  # noqa: PLC0415
    from generator.registry.base import Registry  # noqa: PLC0415
    from generator.spec.model import Spec  # noqa: PLC0415

    assert platform.run("generate", *CRDS).code == 0
    spec = platform.root / "models.yaml"
    saved = spec.read_text().replace("models:", "# saved by someone meanwhile\nmodels:", 1)
    before = platform.files()

    def saving_meanwhile(parsed: Spec) -> Registry:
        spec.write_text(saved)
        return _build.registry_for(parsed)

    with pytest.raises(UserError, match="changed while"):
        pipeline.pin(platform.root, "wine", "prod", "1", registry=saving_meanwhile, crds=Path(CRDS[1]))
    assert spec.read_text() == saved
    assert {p: v for p, v in platform.files().items() if p != "models.yaml"} == {
        p: v for p, v in before.items() if p != "models.yaml"
    }


@pytest.mark.parametrize("mode", [0o600, 0o444], ids=["private", "read-only"])
def test_pin_and_unpin_keep_the_permissions_of_models_yaml(platform: Platform, mode: int) -> None:
    """models.yaml is the user's file: an edit keeps who may read and write it, as it keeps its other bytes."""
    assert platform.run("generate", *CRDS).code == 0
    spec = platform.root / "models.yaml"
    spec.chmod(mode)
    for command in (["pin", "wine", "prod", "1"], ["unpin", "wine", "prod"]):
        assert platform.run(*command, *CRDS).code == 0
        assert spec.stat().st_mode & 0o7777 == mode, command


def test_the_servers_database_read_directly_locks_the_same_versions(platform: Platform) -> None:
    """A laptop's registry is often a sqlite database without a server: read directly, it locks the same versions and
    locations. The MLmodel files behind its proxied `mlflow-artifacts:/` locations only a server reads."""
    assert platform.run("lock").code == 0
    through_server = yaml.safe_load(platform.read("models.lock"))
    (platform.root / "models.lock").unlink()
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{platform.server.stack.workdir / 'mlflow.db'}"
    try:
        direct = platform.run("lock")
    finally:
        os.environ["MLFLOW_TRACKING_URI"] = platform.server.stack.tracking_uri
    assert direct.code == 1
    assert "an MLFLOW_TRACKING_URI that is the server's database, not its URL" in direct.err
    assert not (platform.root / "models.lock").exists()
    spec = platform.read("models.yaml").replace("prod: {namespace: ml-prod,", "prod: {namespace: ml-prod, " + ACCEPT)
    (platform.root / "models.yaml").write_text(spec)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{platform.server.stack.workdir / 'mlflow.db'}"
    try:
        accepted = platform.run("lock")
    finally:
        os.environ["MLFLOW_TRACKING_URI"] = platform.server.stack.tracking_uri
    assert accepted.code == 0, accepted.err
    locked = yaml.safe_load(platform.read("models.lock"))["models"]["wine"]
    assert {env: {k: v for k, v in entry.items() if k != "mlmodel"} for env, entry in locked.items()} == {
        env: {k: v for k, v in entry.items() if k != "mlmodel"}
        for env, entry in through_server["models"]["wine"].items()
    }


ACCEPT = "policies: {allowUnverifiedModels: true},"
