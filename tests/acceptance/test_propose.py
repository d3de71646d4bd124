"""`kserve-gitops propose` end to end: a real MLflow server, a real bare git remote, GitHub as a local HTTP server.

Each test starts from a platform repository whose first commit on `main` holds models.yaml,
models.lock and the rendered tree (`generate`), cloned from a bare remote, as the promotion
workflow's checkout is. Registry moves are made with the test's own MLflow calls.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from tests.acceptance.conftest import CRDS, Platform, Result
from tests.support.faults import Fault, faulty
from tests.support.git_remote import Remote, commit_all, git, publish
from tests.support.github_fake import READ_TOKEN, WRITE_TOKEN, FakeGitHub
from tests.support.paths import REPO_ROOT

STAGING = "kserve-gitops/promote-staging"
REPOSITORY = "acme/platform"
METRICS = {
    "accuracy": 0.9722,
    "f1": 0.9718,
    "log_loss": 0.0931,
    "precision": 0.973,
    "recall": 0.9722,
    "roc_auc": 0.9991,
    "training_time": 1.5,
}


@dataclass
class Promotion:
    platform: Platform
    remote: Remote
    github: FakeGitHub
    tmp_path: Path

    def propose(self, *args: str) -> Result:
        return self.platform.run("propose", *CRDS, *args)

    def lock(self, *selectors: str) -> None:
        result = self.platform.run("lock", "--update", *selectors)
        assert result.code == 0, result.err

    def release(self, alias: str, metrics: dict[str, float] | None = None) -> tuple[str, str]:
        """A new version from a run of its own with `metrics`, and `alias` on it: (version, run id)."""
        client = self.platform.server.client
        logged = self.platform.server.logged
        experiment = client.get_run(logged.run_id).info.experiment_id
        run_id = client.create_run(experiment).info.run_id
        for name, value in (metrics or {}).items():
            client.log_metric(run_id, name, value)
        client.set_terminated(run_id)
        version = client.create_model_version(
            self.platform.name, source=logged.model_uri, run_id=run_id, model_id=logged.model_id, await_creation_for=0
        ).version
        self.move(alias, str(version))
        return str(version), run_id

    def move(self, alias: str, version: str) -> None:
        self.platform.server.client.set_registered_model_alias(self.platform.name, alias, version)

    def lock_file(self, ref: str) -> dict[str, dict[str, str]]:
        return yaml.safe_load(self.remote.show(ref, "models.lock"))["models"]["wine"]  # type: ignore[no-any-return]


@pytest.fixture
def promo(platform: Platform, tmp_path: Path) -> Iterator[Promotion]:
    """main holds dev 3 (latest), staging 3 (challenger), prod 2 (champion); GitHub knows acme/platform."""
    assert platform.run("generate", *CRDS).code == 0
    remote = publish(platform.root, tmp_path / "remote.git")
    fake = FakeGitHub(REPOSITORY, git_dir=remote.bare)
    with fake.running():
        os.environ.update(GITHUB_TOKEN=WRITE_TOKEN, GITHUB_REPOSITORY=REPOSITORY, GITHUB_API_URL=fake.url)
        yield Promotion(platform, remote, fake, tmp_path)


def test_alias_move_opens_one_pull_request_with_the_change_and_its_run(promo: Promotion) -> None:
    version, run_id = promo.release("challenger", METRICS)
    promo.lock("wine/staging")
    result = promo.propose()
    assert result.code == 0, result.err
    (pull,) = promo.github.pulls.values()
    assert result.out == f"staging: opened #1 {promo.github.url}/{REPOSITORY}/pull/1\n"
    assert (pull.title, pull.head, pull.base) == (f"Promote wine 3 → {version} in staging", STAGING, "main")
    assert pull.labels == ["promotion", "staging", "automerge"]
    ui = promo.platform.server.stack.tracking_uri.rstrip("/")
    experiment = promo.platform.server.client.get_run(run_id).info.experiment_id
    model_page = f"{ui}/#/models/{quote(promo.platform.name)}/versions"
    assert f"| version | [3]({model_page}/3) → **[{version}]({model_page}/{version})** |" in pull.body
    assert f"| run | [`{run_id}`]({ui}/#/experiments/{experiment}/runs/{run_id}) |" in pull.body
    assert (
        "| metrics | `accuracy` 0.9722, `f1` 0.9718, `log_loss` 0.0931, `precision` 0.973, `recall` 0.9722 "
        "(first 5 by name; 2 more in MLflow) |"
    ) in pull.body
    assert "| staging | `environments/staging/wine.yaml` (update) |" in pull.body
    assert promo.remote.changed("main", STAGING) == ["environments/staging/wine.yaml", "models.lock"]
    assert {env: e["version"] for env, e in promo.lock_file(STAGING).items()} == {
        "dev": "3",
        "staging": version,
        "prod": "2",
    }
    rendered = yaml.safe_load(promo.remote.show(STAGING, "environments/staging/wine.yaml"))
    assert rendered["metadata"]["annotations"]["kserve-gitops.io/model-version"] == version
    (commit,) = promo.remote.commits("main", STAGING)
    assert commit.endswith(f"kserve-gitops[bot] | kserve-gitops[bot] | {promo.remote.sha('main')}")


def test_second_run_with_nothing_new_pushes_nothing_and_writes_nothing(promo: Promotion) -> None:
    promo.release("challenger")
    promo.lock("wine/staging")
    assert promo.propose().code == 0
    tip, writes = promo.remote.sha(STAGING), len(promo.github.writes())
    result = promo.propose()
    assert (result.code, result.out) == (0, f"staging: #1 {promo.github.url}/{REPOSITORY}/pull/1 is up to date\n")
    assert promo.remote.sha(STAGING) == tip
    assert len(promo.github.writes()) == writes


def test_next_alias_move_updates_the_same_pull_request_and_branch(promo: Promotion) -> None:
    promo.release("challenger")
    promo.lock("wine/staging")
    assert promo.propose().code == 0
    first = promo.remote.sha(STAGING)
    version, run_id = promo.release("challenger")
    promo.lock("wine/staging")
    result = promo.propose()
    assert result.out.startswith("staging: updated #1 "), result.err
    (pull,) = promo.github.pulls.values()
    assert pull.title == f"Promote wine 3 → {version} in staging"
    assert run_id in pull.body
    assert promo.remote.sha(STAGING) != first
    assert len(promo.remote.commits("main", STAGING)) == 1, "rebuilt on main, not stacked on the old commit"
    assert promo.lock_file(STAGING)["staging"]["version"] == version


def test_two_runs_at_once_open_one_pull_request(promo: Promotion) -> None:
    promo.release("challenger")
    promo.lock("wine/staging")
    clones = [promo.remote.clone(promo.tmp_path / name) for name in ("run-a", "run-b")]
    for clone in clones:
        (clone / "models.lock").write_bytes((promo.platform.root / "models.lock").read_bytes())
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "generator", "propose", *CRDS, "--repo", str(clone)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for clone in clones
    ]
    outcomes = [(*run.communicate(timeout=120), run.returncode) for run in runs]
    assert [code for _, _, code in outcomes] == [0, 0], outcomes
    assert len(promo.github.pulls) == 1
    assert len(promo.remote.commits("main", STAGING)) == 1
    pull = f"#1 {promo.github.url}/{REPOSITORY}/pull/1"
    opened, other = sorted((out for out, _, _ in outcomes), key=lambda out: "opened" not in out)
    assert opened == f"staging: opened {pull}\n"
    assert other in (f"staging: {pull} is up to date\n", f"staging: updated {pull}\n"), "lost the race, saw it won"


def test_branch_a_person_pushed_to_is_left_alone_with_one_comment(promo: Promotion) -> None:
    promo.release("challenger")
    promo.lock("wine/staging")
    assert promo.propose().code == 0
    human = promo.remote.clone(promo.tmp_path / "human")
    git("checkout", "--quiet", STAGING, cwd=human)
    (human / "NOTES.md").write_text("Checked the canary by hand.\n")
    pushed = commit_all(human, "Note from review")
    git("push", "--quiet", "origin", STAGING, cwd=human)
    promo.release("challenger")
    promo.lock("wine/staging")
    for _ in range(2):
        result = promo.propose()
        assert (result.code, result.out) == (
            0,
            f"staging: {STAGING} has commits by someone else; left alone (#1 {promo.github.url}/{REPOSITORY}/pull/1)\n",
        )
    assert promo.remote.sha(STAGING) == pushed
    (comment,) = promo.github.pulls[1].comments
    assert f"commits kserve-gitops did not make (`{pushed[:12]}`)" in comment


def test_held_environment_gets_no_pull_request(promo: Promotion) -> None:
    promo.platform.write_spec(prod_extra=", hold: 2")  # what `kserve-gitops pin wine prod 2` writes
    assert promo.platform.run("generate", *CRDS).code == 0
    commit_all(promo.platform.root, "Hold prod at 2")
    git("push", "--quiet", "origin", "main", cwd=promo.platform.root)
    promo.move("champion", "3")
    version, _ = promo.release("challenger")
    promo.lock()
    result = promo.propose()
    assert result.code == 0, result.err
    assert sorted(p.head for p in promo.github.pulls.values()) == [
        "kserve-gitops/promote-dev",
        "kserve-gitops/promote-staging",
    ]
    assert promo.remote.sha("kserve-gitops/promote-prod") is None
    assert {env: e["version"] for env, e in promo.lock_file("kserve-gitops/promote-dev").items()} == {
        "dev": version,
        "staging": "3",
        "prod": "2",
    }


def test_reverted_alias_closes_the_pull_request_with_a_comment(promo: Promotion) -> None:
    promo.release("challenger")
    promo.lock("wine/staging")
    assert promo.propose().code == 0
    promo.move("challenger", "3")
    promo.lock("wine/staging")
    result = promo.propose()
    assert result.out == f"staging: closed #1 {promo.github.url}/{REPOSITORY}/pull/1: nothing left to propose\n"
    pull = promo.github.pulls[1]
    assert pull.state == "closed"
    (comment,) = pull.comments
    assert comment.startswith("Nothing is left to promote for **staging**")


def test_regrouping_closes_the_superseded_pull_request(promo: Promotion) -> None:
    promo.release("challenger")
    promo.lock("wine/staging")
    assert promo.propose().code == 0
    result = promo.propose("--group", "all")
    assert result.code == 0, result.err
    assert [(p.number, p.head, p.state) for p in promo.github.pulls.values()] == [
        (1, STAGING, "closed"),
        (2, "kserve-gitops/promote-all", "open"),
    ]
    assert promo.github.pulls[1].comments[0].startswith("Superseded by #2")


def test_dry_run_prints_the_proposal_and_changes_nothing(promo: Promotion) -> None:
    version, run_id = promo.release("challenger")
    promo.lock("wine/staging")
    del os.environ["GITHUB_TOKEN"]
    result = promo.propose("--dry-run")
    assert result.code == 0, result.err
    assert result.out.startswith(
        f"staging: would push {STAGING} and open a pull request\n"
        f"  branch: {STAGING}\n"
        f"  title:  Promote wine 3 → {version} in staging\n"
        "  labels: promotion, staging, automerge\n"
        "  files:  write environments/staging/wine.yaml, write models.lock\n"
        "  body:\n"
    )
    assert run_id in result.out
    assert promo.remote.sha(STAGING) is None
    assert promo.github.requests == []


@pytest.mark.parametrize(
    ("token", "said"),
    [
        ("ghs_not-a-real-token-42", "GitHub answered 401"),
        (READ_TOKEN, "the token needs `pull-requests: write` on acme/platform"),
    ],
)
def test_refused_token_exits_2_naming_the_permission_and_never_printing_it(
    promo: Promotion,
    token: str,
    said: str,
) -> None:
    promo.release("challenger")
    promo.lock("wine/staging")
    os.environ["GITHUB_TOKEN"] = token
    result = promo.propose()
    assert result.code == 2
    assert said in result.err
    assert token not in result.err + result.out


def test_missing_token_exits_2_before_touching_anything(promo: Promotion) -> None:
    promo.release("challenger")
    promo.lock("wine/staging")
    del os.environ["GITHUB_TOKEN"]
    result = promo.propose()
    assert (result.code, result.err) == (
        2,
        "error: GITHUB_TOKEN not set\n  fix: export GITHUB_TOKEN (pull-requests: "
        "write) and GITHUB_REPOSITORY=OWNER/NAME, or use --dry-run\n",
    )
    assert promo.remote.sha(STAGING) is None


FORGED = {  # the prod entry of models.lock, edited by hand in the working tree before propose runs
    "version 999": {"version": "999"},
    "version 999 in another bucket": {
        "version": "999",
        "source": "s3://attacker-bucket/m-999/artifacts",
        "artifactUri": "s3://attacker-bucket/m-999/artifacts",
    },
    "run id": {"runId": "0123456789abcdef0123456789abcdef"},
    "file": {"source": "file:///etc/passwd", "artifactUri": "file:///etc/passwd"},
    "metadata endpoint": {
        "source": "http://169.254.169.254/latest/meta-data/",
        "artifactUri": "http://169.254.169.254/latest/meta-data/",
    },
}


@pytest.mark.parametrize("fields", FORGED.values(), ids=FORGED.keys())
def test_a_forged_lock_is_refused_and_nothing_is_pushed_or_opened(promo: Promotion, fields: dict[str, str]) -> None:
    lock_path = promo.platform.root / "models.lock"
    lock = yaml.safe_load(lock_path.read_text())
    lock["models"]["wine"]["prod"].update(fields)
    lock_path.write_text(yaml.safe_dump(lock, sort_keys=False))
    branches = git("branch", "-r", cwd=promo.platform.root)
    result = promo.propose()
    assert result.code == 1, result.out
    assert "models.lock:" in result.err and "$.models.wine.prod." in result.err and "wine/prod: " in result.err
    assert "Traceback" not in result.err
    assert promo.remote.sha("kserve-gitops/promote-prod") is None, "nothing pushed"
    assert git("ls-remote", str(promo.remote.bare), cwd=promo.platform.root).count("refs/heads/") == 1, "main only"
    assert git("branch", "-r", cwd=promo.platform.root) == branches
    assert promo.github.pulls == {} and promo.github.writes() == [], "no pull request"


def _push_lock_edit(promo: Promotion, branch: str, tail: bytes) -> str:
    """A person appends `tail` to models.lock on `branch` and pushes it; returns the new tip."""
    human = promo.remote.clone(promo.tmp_path / f"human-{branch.replace('/', '-')}")
    git("checkout", "--quiet", branch, cwd=human)
    (human / "models.lock").write_bytes((human / "models.lock").read_bytes() + tail)
    pushed = commit_all(human, "Review fix")
    git("push", "--quiet", "origin", branch, cwd=human)
    return pushed


def test_a_person_edited_branch_whose_lock_is_not_utf8_is_left_alone_by_a_run_for_another_target(
    promo: Promotion,
) -> None:
    prod = "kserve-gitops/promote-prod"
    promo.move("champion", "3")
    promo.lock("wine/prod")
    assert promo.propose().code == 0
    edited = _push_lock_edit(promo, prod, b"# caf\xe9\n")
    version, _ = promo.release("challenger")
    promo.lock("wine/staging")
    result = promo.propose("wine/staging")
    assert (result.code, result.out) == (0, f"staging: opened #2 {promo.github.url}/{REPOSITORY}/pull/2\n"), result.err
    assert promo.lock_file(STAGING)["staging"]["version"] == version
    assert promo.remote.sha(prod) == edited
    assert promo.github.pulls[1].state == "open"


def test_a_base_lock_that_is_not_utf8_exits_1_naming_the_branch_and_file(promo: Promotion) -> None:
    _push_lock_edit(promo, "main", b"# caf\xe9\n")
    promo.release("challenger")
    promo.lock("wine/staging")
    result = promo.propose()
    assert result.code == 1
    assert "error: main:models.lock is not UTF-8 text (byte 0xe9 at offset " in result.err
    assert "fix: commit models.lock as UTF-8" in result.err
    assert "Traceback" not in result.err
    assert promo.remote.sha(STAGING) is None


def test_a_branch_nested_under_a_bot_branch_is_ignored_and_the_push_failure_is_gits_own(promo: Promotion) -> None:
    """`kserve-gitops/promote-staging/notes` is no bot branch, and no ref `kserve-gitops/promote-staging` can exist
    beside it: git refuses the push, which is no concurrent push to report as a lost lease."""
    nested = f"{STAGING}/notes"
    git("push", "--quiet", "origin", f"HEAD:refs/heads/{nested}", cwd=promo.platform.root)
    promo.release("challenger")
    promo.lock("wine/staging")
    result = promo.propose()
    assert result.code == 2
    assert "moved twice" not in result.err
    assert f"error: git failed (exit 1): git push --porcelain --force-with-lease=refs/heads/{STAGING}:" in result.err
    assert f"cannot lock ref 'refs/heads/{STAGING}'" in result.err
    assert promo.github.pulls == {}
    assert promo.remote.sha(nested) == promo.remote.sha("main")


def test_a_git_remote_that_never_answers_exits_2_within_the_deadline(promo: Promotion) -> None:
    promo.release("challenger")
    promo.lock("wine/staging")
    os.environ["KSERVE_GITOPS_HTTP_DOWNLOAD_DEADLINE"] = "3"
    with faulty(Fault("hang")) as url:
        git("remote", "set-url", "origin", f"{url}/platform.git", cwd=promo.platform.root)
        started = time.monotonic()
        result = promo.propose()
        took = time.monotonic() - started
    assert result.code == 2, result.err
    assert took < 30
    assert result.err.startswith(
        f"error: git ls-remote to remote origin ({url}/platform.git) did not finish within 3 s; stopped\n"
    )
    assert "a longer KSERVE_GITOPS_HTTP_DOWNLOAD_DEADLINE" in result.err
    assert promo.github.requests == []
