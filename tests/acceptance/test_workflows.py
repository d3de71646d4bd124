"""Every GitHub Actions workflow and the repository's own action (action.yml) pass three linters, offline
(tests/support/actions_lint.py), and keep the hardening rules of docs/github-setup.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import actions_lint
from tests.support.paths import REPO_ROOT

WORKFLOW_DIR = REPO_ROOT / ".github" / "workflows"
WORKFLOWS = sorted([*WORKFLOW_DIR.glob("*.yml"), *WORKFLOW_DIR.glob("*.yaml")])
EXPECTED = {"ci.yml", "images.yml", "manifests.yml", "promote.yml"}
ACTION = REPO_ROOT / "action.yml"
# `uses: owner/repo[/path]@<40 hex> # vX.Y.Z`: a full commit SHA, and the release it is, for people and bots.
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+(\s|$)")


def _load(path: Path) -> dict[Any, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), f"{path.name}: not a mapping"
    return loaded


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
    workflow = _load(path)
    triggers = workflow.get(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    assert "pull_request_target" not in (triggers or {}), "pull_request_target runs with secrets and a write token"
    assert workflow.get("permissions") == {}, "top level: `permissions: {}`; each job asks for its own"
    assert "group" in (workflow.get("concurrency") or {}), "a concurrency group, so two runs never race"
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {name}: no permissions"
        assert isinstance(job.get("timeout-minutes"), int), f"job {name}: no timeout-minutes"
    _assert_pinned(path)


def test_the_action_pins_what_it_uses() -> None:
    _assert_pinned(ACTION)


def _assert_pinned(path: Path) -> None:
    uses = [line.split("uses:", 1)[1].strip() for line in path.read_text(encoding="utf-8").splitlines()
            if re.match(r"\s*(- )?uses:", line)]
    unpinned = [u for u in uses if not u.startswith("./") and not PINNED.match(u)]
    assert not unpinned, f"pin to a full commit SHA with a `# vX.Y.Z` comment: {unpinned}"
