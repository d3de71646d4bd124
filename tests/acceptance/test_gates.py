"""Quality gates end to end: a real MLflow server, a bare git remote, GitHub as a local HTTP server (docs/gates.md).

main starts as in test_propose (dev 3, staging 3, prod 2). Staging gets gates on `accuracy`; the baseline
it is compared with is version 4 (accuracy 0.95), locked in staging and pushed to main as a merged promotion would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.acceptance.conftest import CRDS, Platform, Result
from tests.acceptance.test_propose import Promotion
from tests.acceptance.test_propose import promo as promo  # noqa: PLC0414 -- the fixture, reused
from tests.support.git_remote import commit_all, git

STAGING_GATES = "  staging:\n    namespace: ml-staging\n    gates: {metrics: {accuracy: {min: 0.9, maxDrop: 0.005}}}\n"


def _gate_staging(platform: Platform, override: str = "") -> None:
    text = platform.read("models.yaml").replace("  staging: {namespace: ml-staging}\n", STAGING_GATES)
    if override:
        text = text.replace(
            "staging: {alias: challenger}", f'staging: {{alias: challenger, gates: {{override: "{override}"}}}}'
        )
    (platform.root / "models.yaml").write_text(text)


def _merge(promo: Promotion, message: str) -> None:
    """What merging a pull request does: the working tree's files on main."""
    commit_all(promo.platform.root, message)
    git("push", "--quiet", "origin", "main", cwd=promo.platform.root)


@pytest.fixture
def gated(promo: Promotion) -> Iterator[Promotion]:
    """Staging gated on accuracy (min 0.9, maxDrop 0.005) and locked at version 4 (accuracy 0.95) on main."""
    _gate_staging(promo.platform)
    version, _ = promo.release("challenger", {"accuracy": 0.95, "f1": 0.94})
    assert version == "4"
    promo.lock("wine/staging")
    assert promo.platform.run("render", *CRDS).code == 0
    _merge(promo, "Gate staging; promote 4")
    yield promo


def _locked(promo: Promotion, env: str) -> str:
    return str(yaml.safe_load(promo.platform.read("models.lock"))["models"]["wine"][env]["version"])


def test_better_candidate_passes_and_the_pull_request_compares_it(gated: Promotion) -> None:
    gated.release("challenger", {"accuracy": 0.96, "f1": 0.93})
    locked = gated.platform.run("lock", "--update", "wine/staging")
    assert locked.code == 0, locked.err
    assert "[gate]" not in locked.err
    assert _locked(gated, "staging") == "5"
    result = gated.propose("wine/staging")
    assert result.code == 0, result.err
    (pull,) = gated.github.pulls.values()
    assert "| metric | current (4) | candidate (5) | change | gate |" in pull.body
    assert "| `accuracy` | 0.95 | 0.96 | +0.01 | ✓ min, maxDrop |" in pull.body
    assert "| `f1` | 0.94 | 0.93 | -0.01 | not gated |" in pull.body
    assert "Held back" not in pull.body


def test_regression_beyond_max_drop_is_held_back_and_the_pull_request_says_why(gated: Promotion) -> None:
    gated.release("challenger", {"accuracy": 0.93})  # version 5, also dev's latest
    locked = gated.platform.run("lock", "--update")
    assert locked.code == 0, locked.err
    assert (
        "held back by gate: version 5 (alias challenger) fails: accuracy dropped 0.02 (0.95 → 0.93), "
        "maxDrop 0.005; staging keeps version 4" in locked.err
    )
    assert (_locked(gated, "dev"), _locked(gated, "staging")) == ("5", "4")
    result = gated.propose("--group", "all")
    assert result.code == 0, result.err
    assert "wine/staging: version 5 held back by gate (fail: accuracy dropped 0.02" in result.out
    (pull,) = gated.github.pulls.values()
    assert pull.title == "Promote wine 3 → 5 in dev"
    assert "### Held back by gate" in pull.body
    assert (
        "| wine | staging | 5 (`alias challenger`) | 4 | `accuracy` dropped 0.02 (0.95 → 0.93), maxDrop 0.005 |"
        in pull.body
    )
    assert gated.lock_file("kserve-gitops/promote-all")["staging"]["version"] == "4"
    again = gated.propose("--group", "all")
    assert again.out.endswith(f"all: #1 {gated.github.url}/acme/platform/pull/1 is up to date\n"), "byte-identical body"


def test_open_pull_request_is_closed_with_the_reason_when_the_alias_moves_to_a_failing_version(
    gated: Promotion,
) -> None:
    gated.release("challenger", {"accuracy": 0.96})  # 5 passes: the staging pull request opens
    gated.lock("wine/staging")
    assert gated.propose("wine/staging").out.startswith("staging: opened #1 ")
    git("checkout", "--quiet", "--", "models.lock", "environments", cwd=gated.platform.root)  # the next CI run
    gated.release("challenger", {"accuracy": 0.90})  # 6 drops 0.05 against staging's 4
    gated.lock("wine/staging")
    result = gated.propose("wine/staging")
    assert result.out.endswith(f"staging: closed #1 {gated.github.url}/acme/platform/pull/1: nothing left to propose\n")
    (comment,) = gated.github.pulls[1].comments
    assert comment.startswith(
        "Nothing is left to promote for **staging**: what the registry offers now fails the "
        "quality gates of models.yaml."
    )
    assert (
        "| wine | staging | 6 (`alias challenger`) | 4 | `accuracy` dropped 0.05 (0.95 → 0.9), maxDrop 0.005 |"
        in comment
    )


def test_candidate_without_the_gated_metric_is_held_back(gated: Promotion) -> None:
    gated.release("challenger", {"f1": 0.99})
    locked = gated.platform.run("lock", "--update", "wine/staging")
    assert locked.code == 0, locked.err
    assert "fails: accuracy not logged on the candidate" in locked.err
    assert _locked(gated, "staging") == "4"


def test_a_logged_model_metric_wins_over_the_run_metric_of_the_same_name(gated: Promotion) -> None:
    """MLflow 3: a metric logged with model_id belongs to that model; the run may hold other values of it."""
    client, name = gated.platform.server.client, gated.platform.name
    experiment = client.get_run(gated.platform.server.logged.run_id).info.experiment_id
    run_id = client.create_run(experiment).info.run_id
    model_id = client.create_logged_model(experiment, source_run_id=run_id).model_id
    client.log_metric(run_id, "accuracy", 0.96, step=0, model_id=model_id)
    client.log_metric(run_id, "accuracy", 0.80, step=1)  # the run's latest value, not the model's
    client.set_terminated(run_id)
    version = client.create_model_version(
        name, source=f"models:/{model_id}", run_id=run_id, model_id=model_id, await_creation_for=0
    ).version
    gated.move("challenger", str(version))
    locked = gated.platform.run("lock", "--update", "wine/staging")
    assert locked.code == 0, locked.err
    assert "[gate]" not in locked.err
    assert _locked(gated, "staging") == str(version)


def test_hand_edit_to_a_failing_version_fails_the_check_on_its_line(gated: Promotion) -> None:
    gated.release("staging-candidate", {"accuracy": 0.80})  # version 5; no alias the spec follows
    lock = gated.platform.root / "models.lock"
    text = lock.read_text()
    lines = text.splitlines()
    staging = next(i for i, line in enumerate(lines) if line == "    staging:")
    version_line = next(i for i in range(staging, len(lines)) if lines[i].strip().startswith("version:"))
    lines[version_line] = "      version: '5'"
    lock.write_text("\n".join(lines) + "\n")
    result = gated.platform.run("gate", "-o", "github")
    assert result.code == 1, result.err
    assert result.out.startswith(f"::error file=models.lock,line={version_line + 1},title=gate::")
    assert "version 5 fails its gates: accuracy 0.8 < min 0.9; accuracy dropped 0.15" in result.out


def test_a_platform_in_a_subdirectory_of_a_monorepo_compares_with_its_own_lock_at_the_base(
    gated: Promotion, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """`git show REV:models.lock` would name the monorepo's root: no lock there, and the relative rules would pass."""
    mono = tmp_path / "mono"
    shutil.copytree(gated.platform.root, mono / "platform", ignore=shutil.ignore_patterns(".git"))
    git("init", "--quiet", "-b", "main", cwd=mono)
    commit_all(mono, "Monorepo with the platform in platform/")
    gated.release("staging-candidate", {"accuracy": 0.93})  # version 5: above min 0.9, but drops 0.02
    lock = mono / "platform" / "models.lock"
    text, moved = re.subn(r"(\n    staging:\n(?:      .*\n)*?      version: )'4'", r"\1'5'", lock.read_text())
    assert moved == 1
    lock.write_text(text)
    result = cli("gate", "--repo", str(mono / "platform"))
    assert result.code == 1, result.out + result.err
    assert "version 5 fails its gates: accuracy dropped 0.02" in result.out


def test_a_base_whose_lock_is_not_utf8_is_a_finding_at_its_line_not_a_crash(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """git's answer is decoded as UTF-8: bytes that are not fail where `validate` would say where they are."""
    repo = tmp_path / "platform"
    repo.mkdir()
    shutil.copy(Path(__file__).resolve().parents[2] / "models.yaml", repo / "models.yaml")
    (repo / "models.lock").write_bytes(b"lockVersion: 1\nmodels: {}\n# \xff\xfe\n")
    git("init", "--quiet", "-b", "main", cwd=repo)
    commit_all(repo, "A base with a damaged lock")
    (repo / "models.lock").write_text("lockVersion: 1\nmodels: {}\n")
    result = cli("gate", "--repo", str(repo), "--base", "HEAD")
    assert result.code == 1, result.out + result.err
    assert "HEAD:models.lock: not UTF-8 at line 3, column 3 (byte 0xff)" in result.out + result.err


def test_hand_edit_of_models_yaml_to_a_failing_version_is_locked_as_asked_and_fails_the_check(gated: Promotion) -> None:
    gated.release("staging-candidate", {"accuracy": 0.99, "f1": 0.5})  # version 5: passes
    gated.release("old-candidate", {"f1": 0.99})  # version 6: no accuracy
    spec = gated.platform.root / "models.yaml"
    spec.write_text(spec.read_text().replace("staging: {alias: challenger}", "staging: {version: 6}"))
    generated = gated.platform.run("generate", *CRDS)
    assert generated.code == 0, generated.err
    assert "version 6 fails its gates: accuracy not logged on the candidate [gate]" in generated.err
    assert _locked(gated, "staging") == "6"
    result = gated.platform.run("gate")
    assert result.code == 1
    line = spec.read_text().splitlines().index("      staging: {version: 6}") + 1
    assert result.out.startswith(
        f"models.yaml\n  {line}: $.models.wine.environments.staging: version 6 fails its "
        "gates: accuracy not logged on the candidate [gate]\n"
    )
    assert result.out.endswith("1 gate failure(s)\n")


def test_override_lets_a_failing_version_through_and_shows_in_the_pull_request(gated: Promotion) -> None:
    _gate_staging(gated.platform, override="relabelled test set, see JIRA-42")
    _merge(gated, "Override staging's gates")
    gated.release("challenger", {"accuracy": 0.93})
    locked = gated.platform.run("lock", "--update", "wine/staging")
    assert locked.code == 0, locked.err
    assert "let through by override: relabelled test set, see JIRA-42" in locked.err
    assert _locked(gated, "staging") == "5"
    assert gated.platform.run("gate", "--base", "HEAD").code == 0
    result = gated.propose("wine/staging")
    assert result.code == 0, result.err
    (pull,) = gated.github.pulls.values()
    assert "| `accuracy` | 0.95 | 0.93 | -0.02 | ✗ dropped 0.02 (0.95 → 0.93), maxDrop 0.005 |" in pull.body
    assert "**Gate override** on `models.wine.environments.staging`: `relabelled test set, see JIRA-42`." in pull.body


def test_registry_down_while_gating_exits_2_naming_version_and_metric(gated: Promotion) -> None:
    gated.release("challenger", {"accuracy": 0.96})
    gated.lock("wine/staging")
    os.environ["MLFLOW_TRACKING_URI"] = "http://127.0.0.1:9"  # discard port: nothing listens
    try:
        result = gated.platform.run("gate")
    finally:
        os.environ["MLFLOW_TRACKING_URI"] = gated.platform.server.stack.tracking_uri
    assert result.code == 2
    assert f"cannot evaluate the gates of '{gated.platform.name}' version " in result.err
    assert "(metric(s) accuracy)" in result.err


def test_status_shows_drift_when_a_tag_says_an_older_version_runs(gated: Promotion) -> None:
    client = gated.platform.server.client
    head = git("rev-parse", "HEAD", cwd=gated.platform.root).strip()
    client.set_model_version_tag(gated.platform.name, "3", "deployed.staging", head)
    client.set_model_version_tag(gated.platform.name, "3", "health.staging", "Healthy")
    result = gated.platform.run("status", "-o", "json")
    assert result.code == 0, result.err
    rows = {row["env"]: row for row in json.loads(result.out)["rows"]}
    assert rows["staging"]["locked"] == "4"
    assert rows["staging"]["deployed"] == f"3 @{head[:12]}"
    assert rows["staging"]["health"] == "Healthy"
    assert rows["staging"]["drift"] == "runs 3, locked 4"
    assert rows["staging"]["gate"] == "pass"
    assert rows["prod"]["deployed"] == "not deployed"
    assert rows["dev"]["gate"] == "none"
    # offline: nothing listens on the discard port; or no registry MLflow's client can be made for (a file store)
    for unusable in ("http://127.0.0.1:9", "file:///tmp/mlruns"):
        os.environ["MLFLOW_TRACKING_URI"] = unusable
        try:
            offline = gated.platform.run("status", "-o", "json")
        finally:
            os.environ["MLFLOW_TRACKING_URI"] = gated.platform.server.stack.tracking_uri
        assert (offline.code, offline.err) == (0, ""), "with -o json the warnings are in the document"
        document = json.loads(offline.out)
        assert document["ok"] and document["warnings"] == 1
        message = document["findings"][0]["message"]
        assert message.startswith("cannot") and unusable in message
        staging = next(row for row in document["rows"] if row["env"] == "staging")
        assert [staging[k] for k in ("locked", "gate", "deployed", "drift")] == ["4", "unknown", "unknown", ""]
    text = gated.platform.run("status", "--registry")
    assert "runs 3, locked 4" in text.out
    assert text.out.splitlines()[0].split() == [
        "MODEL",
        "ENV",
        "REFERENCE",
        "LOCKED",
        "GATE",
        "COMPAT",
        "DEPLOYED",
        "HEALTH",
        "DRIFT",
        "PENDING",
    ]
