"""Every GitHub Actions workflow and the repository's own action (action.yml) pass three linters, offline
(tests/support/actions_lint.py), and keep the hardening rules of docs/github-setup.md."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import actions_lint
from tests.support.actions_runner import commands
from tests.support.paths import REPO_ROOT

WORKFLOW_DIR = REPO_ROOT / ".github" / "workflows"
WORKFLOWS = sorted([*WORKFLOW_DIR.glob("*.yml"), *WORKFLOW_DIR.glob("*.yaml")])
EXPECTED = {"ci.yml", "images.yml", "manifests.yml", "promote.yml"}
ACTION = REPO_ROOT / "action.yml"


def test_the_workflows_are_there() -> None:
    missing = EXPECTED - {p.name for p in WORKFLOWS}
    assert not missing, f"missing from {WORKFLOW_DIR}: {sorted(missing)}"


def test_actionlint_finds_nothing() -> None:
    findings = actions_lint.actionlint(WORKFLOWS, REPO_ROOT)
    assert findings == [], "\n".join(findings)


def test_zizmor_finds_nothing() -> None:
    done = actions_lint.zizmor([*WORKFLOWS, ACTION], REPO_ROOT)
    assert done.returncode == 0, actions_lint.report("zizmor", done)
    assert "No findings to report" in done.stdout, actions_lint.report("zizmor", done)


def test_check_jsonschema_validates_against_the_github_workflow_schema() -> None:
    done = actions_lint.check_jsonschema(actions_lint.WORKFLOW_SCHEMA, WORKFLOWS, REPO_ROOT)
    assert done.returncode == 0, actions_lint.report("check-jsonschema", done)


def test_the_action_validates_against_the_github_action_schema() -> None:
    done = actions_lint.check_jsonschema(actions_lint.ACTION_SCHEMA, [ACTION], REPO_ROOT)
    assert done.returncode == 0, actions_lint.report("check-jsonschema", done)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_pinned_actions(path: Path) -> None:
    """The rules the linters do not enforce on their own (docs/github-setup.md, "Hardening")."""
    actions_lint.assert_least_privilege(path)
    actions_lint.assert_pinned(path)


def test_the_action_pins_what_it_uses() -> None:
    actions_lint.assert_pinned(ACTION)


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("repository_dispatch", {"PAYLOAD_MODEL": "x ##[add-mask]wine", "PAYLOAD_ALIAS": "##[error]a"}),
        ("repository_dispatch", {"PAYLOAD_MODEL": "wine\n::error::forged", "PAYLOAD_EVENT": "##[group]x"}),
        ("workflow_dispatch", {"INPUT_MODEL": "##[add-mask]wine"}),
    ],
)
def test_the_promotion_prints_event_fields_as_no_runner_command(
    tmp_path: Path, event: str, payload: dict[str, str]
) -> None:
    """Whoever can register a model in MLflow names the model a repository_dispatch carries; the step that selects
    models prints it, where the runner acts on `##[command]` anywhere in a line and `::command::` at its start."""
    step = next(
        s
        for s in yaml.safe_load((WORKFLOW_DIR / "promote.yml").read_text())["jobs"]["promote"]["steps"]
        if s.get("id") == "select"
    )
    script = tmp_path / "select.py"
    script.write_text(step["run"])
    (tmp_path / "models.yaml").write_text("models:\n  wine: {registeredModel: wine}\n")
    output = tmp_path / "output"
    env = {"EVENT": event, "GITHUB_OUTPUT": str(output), "PATH": os.environ["PATH"], "INPUT_MODEL": ""}
    env |= {"PAYLOAD_MODEL": "", "PAYLOAD_ALIAS": "", "PAYLOAD_VERSION": "", "PAYLOAD_EVENT": ""} | payload
    done = subprocess.run([sys.executable, script], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)

    found = commands(done.stdout + done.stderr)
    assert len(found) == 1, found  # the step's own notice (nothing served) or error (a bad input), and nothing else
    assert found[0].startswith(("notice title=nothing to promote::", "error title=bad model input::")), found
