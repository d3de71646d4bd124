"""Every GitHub Actions workflow and the repository's own action (action.yml) pass three linters, offline
(tests/support/actions_lint.py), and keep the hardening rules of docs/github-setup.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import actions_lint
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
