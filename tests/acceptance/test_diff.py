"""`kserve-gitops diff` on a real git repository (this repository's example, committed in tmp_path) with the real
kustomize: it shows what a merge would make Argo CD change, reads the base from git, and never touches the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.acceptance.conftest import CRDS, Result
from tests.support.git_remote import commit_all, git, publish
from tests.support.paths import REPO_ROOT, copy_example

DIRECTORIES = ("environments/dev", "environments/prod", "environments/staging", "argocd", "cluster")
PROD_ISVC = "environments/prod/InferenceService/mlflow-kserve-prod/wine-classifier"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The example as the first commit of `main`, with a bare `origin` it was pushed to (no origin/HEAD)."""
    root = copy_example(tmp_path / "platform")
    publish(root, tmp_path / "origin.git")
    return root


def run(cli: Callable[..., Result], root: Path, *args: str) -> Result:
    return cli("diff", "--repo", str(root), *args)


def scale_prod(cli: Callable[..., Result], root: Path, replicas: int) -> None:
    """Edit models.yaml as a person would and re-render, as `kserve-gitops render` writes it."""
    spec = root / "models.yaml"
    spec.write_text(spec.read_text().replace("    maxReplicas: 4\n", f"    maxReplicas: {replicas}\n", 1))
    result = cli("render", "--repo", str(root), *CRDS)
    assert result.code == 0, result.out + result.err


def snapshot(root: Path) -> tuple[str, dict[str, tuple[bytes, int]]]:
    """`git status` and every file's bytes and mtime: what diff must leave exactly as it found it."""
    files = {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
    return git("status", "--porcelain", "--branch", cwd=root), files


def test_nothing_changed_is_an_empty_patch(example: Path, cli: Callable[..., Result]) -> None:
    result = run(cli, example)

    assert (result.code, result.out) == (0, "")
    assert result.err == f"0 of 5 directories differ (base: HEAD = {git('rev-parse', 'HEAD', cwd=example)[:12]})\n"


def test_an_uncommitted_change_shows_exactly_the_changed_inference_service(
    example: Path, cli: Callable[..., Result]
) -> None:
    scale_prod(cli, example, 6)
    before = snapshot(example)

    result = run(cli, example, "-o", "json")

    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["base"] == {"ref": "HEAD", "commit": git("rev-parse", "HEAD", cwd=example).strip()}
    assert [d["directory"] for d in report["directories"]] == list(DIRECTORIES)
    assert {d["directory"]: d["status"] for d in report["directories"]} == dict.fromkeys(DIRECTORIES, "unchanged") | {
        "environments/prod": "changed"
    }
    prod = report["directories"][1]
    assert prod["objects"] == [
        {
            "group": "serving.kserve.io",
            "kind": "InferenceService",
            "namespace": "mlflow-kserve-prod",
            "name": "wine-classifier",
            "change": "changed",
        }
    ]
    assert (prod["added"], prod["removed"]) == (1, 1)
    assert prod["diff"].startswith(f"--- before/{PROD_ISVC}\n+++ after/{PROD_ISVC}\n@@ ")
    assert "-    maxReplicas: 4\n+    maxReplicas: 6\n" in prod["diff"]
    assert snapshot(example) == before, "diff changed the checkout"


def test_a_committed_change_against_an_older_base_as_text_and_markdown(
    example: Path, cli: Callable[..., Result]
) -> None:
    first = git("rev-parse", "HEAD", cwd=example).strip()
    scale_prod(cli, example, 6)
    commit_all(example, "prod: up to 6 replicas")

    assert run(cli, example).out == "", "the default base is HEAD when there is no origin/HEAD"
    text = run(cli, example, "--base", "HEAD~1")
    comment = run(cli, example, "--base", first, "-o", "markdown")

    assert text.code == 0
    assert text.out.startswith(f"--- before/{PROD_ISVC}\n")
    assert text.out.count("\n--- ") == 0, "one object, one header"
    assert comment.code == 0
    assert comment.out.startswith("<!-- kserve-gitops:rendered-diff -->\n### Rendered manifests\n")
    assert f"(`{first[:12]}`) and with this change: 1 of 5 directories differ." in comment.out
    assert "<code>environments/prod</code>: +1 \N{MINUS SIGN}1 lines</summary>" in comment.out
    assert text.out in comment.out


def test_the_default_base_is_where_the_branch_left_origin_head(
    tmp_path: Path, example: Path, cli: Callable[..., Result]
) -> None:
    """Upstream moved on after the branch started: only the branch's own change shows, as after a merge."""
    clone = tmp_path / "clone"
    git("clone", "--quiet", str(tmp_path / "origin.git"), str(clone), cwd=tmp_path)
    git("checkout", "--quiet", "-b", "more-replicas", cwd=clone)
    scale_prod(cli, clone, 6)
    commit_all(clone, "prod: up to 6 replicas")
    # meanwhile, main gets another change, and the clone fetches it
    upstream = example / "environments" / "dev" / "kustomization.yaml"
    upstream.write_text(upstream.read_text() + "commonAnnotations: {team: ml}\n")
    start = commit_all(example, "dev: team annotation")
    git("push", "--quiet", "origin", "main", cwd=example)
    git("fetch", "--quiet", "origin", cwd=clone)

    result = run(cli, clone, "-o", "json")

    report = json.loads(result.out)
    assert report["base"]["ref"] == "merge-base of origin/HEAD and HEAD"
    assert report["base"]["commit"] == git("rev-parse", "HEAD~1", cwd=clone).strip() != start
    assert [d["directory"] for d in report["directories"] if d["status"] != "unchanged"] == ["environments/prod"]
    assert [
        d["directory"]
        for d in json.loads(run(cli, clone, "--base", "origin/HEAD", "-o", "json").out)["directories"]
        if d["status"] != "unchanged"
    ] == ["environments/dev", "environments/prod"]


def test_a_shallow_clone_that_cannot_tell_where_the_branch_left_is_refused_not_compared_with_upstream(
    tmp_path: Path, example: Path, cli: Callable[..., Result]
) -> None:
    """Compared with origin/HEAD as it is, the branch would seem to undo everything merged there since it left."""
    git("checkout", "--quiet", "-b", "more-replicas", cwd=example)
    scale_prod(cli, example, 6)
    commit_all(example, "prod: up to 6 replicas")
    git("push", "--quiet", "origin", "more-replicas", cwd=example)
    git("checkout", "--quiet", "main", cwd=example)
    upstream = example / "environments" / "dev" / "kustomization.yaml"
    upstream.write_text(upstream.read_text() + "commonAnnotations: {team: ml}\n")
    commit_all(example, "dev: team annotation")
    git("push", "--quiet", "origin", "main", cwd=example)
    clone = tmp_path / "shallow"
    origin = (tmp_path / "origin.git").as_uri()
    git("clone", "--quiet", "--depth", "1", "--no-single-branch", origin, str(clone), cwd=tmp_path)
    git("checkout", "--quiet", "more-replicas", cwd=clone)

    result = run(cli, clone)

    assert (result.code, result.out) == (2, "")
    assert f"error: {clone} is a shallow clone: git cannot find where HEAD left origin/HEAD" in result.err
    assert "fix: fetch the history (`git fetch --unshallow`;" in result.err


@pytest.mark.skipif(os.geteuid() != 0, reason="making a checkout another user's needs root")
def test_a_checkout_git_will_not_read_says_git_s_words_not_no_commit(
    tmp_path: Path, example: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    for scope in ("GLOBAL", "SYSTEM"):  # no safe.directory a machine's git configuration may hold
        monkeypatch.setenv(f"GIT_CONFIG_{scope}", os.devnull)
    os.chown(example, 65534, 65534)
    try:
        result = run(cli, example)
    finally:
        os.chown(example, 0, 0)
    assert (result.code, result.out) == (2, "")
    assert f"error: git cannot read the repository {example}: fatal: detected dubious ownership" in result.err
    assert "safe.directory" in result.err and "no commit yet" not in result.err


def test_a_base_that_does_not_build_is_reported_in_its_section(example: Path, cli: Callable[..., Result]) -> None:
    kustomization = example / "environments" / "staging" / "kustomization.yaml"
    good = kustomization.read_text()
    kustomization.write_text(good + "- missing.yaml\n")
    commit_all(example, "staging: a resource that is not there")
    kustomization.write_text(good)

    result = run(cli, example, "-o", "markdown")

    assert result.code == 0, result.err
    assert "<code>environments/staging</code>: ⚠️ kustomize failed on the base</summary>" in result.out
    assert "missing.yaml" in result.out
    assert str(example) not in result.out, "paths are relative to the repository"
    assert "environments/staging: ⚠️ kustomize failed on the base\n" in result.err
    assert "1 of 5 directories differ" in result.err


def test_a_base_that_does_not_exist_is_one_clear_error(example: Path, cli: Callable[..., Result]) -> None:
    before = snapshot(example)

    result = run(cli, example, "--base", "no-such-branch")

    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"error: --base no-such-branch: no such commit, branch or tag in {example}\n"
        "  fix: name an existing ref (`git branch -a`, `git log --oneline`), or fetch it first: "
        "`git fetch origin no-such-branch`\n"
    )
    assert snapshot(example) == before


def test_an_option_taken_for_the_base_is_named_as_one(example: Path, cli: Callable[..., Result]) -> None:
    """`--base --output=x` gives --base the option as its value: no fetch of `--output=x` is suggested, and the
    example the fix gives is a command diff accepts."""
    result = run(cli, example, "--base", "--output=diff.md")

    assert (result.code, result.out) == (2, "")
    assert result.err.startswith("error: --base --output=diff.md: an option where a commit, branch or tag goes\n")
    assert "git fetch" not in result.err
    example_command = result.err.split("`kserve-gitops ", 1)[1].split("`", 1)[0].split()
    assert example_command == ["diff", "--base", "origin/main", "-o", "markdown"]
    assert cli(*example_command, "--repo", str(example)).code == 0


def test_a_base_a_shallow_clone_does_not_reach_says_to_fetch_more_history(
    tmp_path: Path, example: Path, cli: Callable[..., Result]
) -> None:
    """`--base HEAD^1` (the workflow's base) in a clone of depth 1 (actions/checkout's default): git knows no such
    commit because the history stops at HEAD; `git fetch origin HEAD^1` is no refspec git takes."""
    scale_prod(cli, example, 6)
    commit_all(example, "prod: up to 6 replicas")
    git("push", "--quiet", "origin", "main", cwd=example)
    clone = tmp_path / "shallow"
    git("clone", "--quiet", "--depth", "1", (tmp_path / "origin.git").as_uri(), str(clone), cwd=tmp_path)

    result = run(cli, clone, "--base", "HEAD^1")

    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"error: --base HEAD^1: no such commit, branch or tag in {clone}\n"
        "  fix: this clone is shallow and its history may not reach it: fetch more (`git fetch --deepen=N`, "
        "`git fetch --unshallow`; actions/checkout with `fetch-depth: 2` reaches HEAD^1, `0` everything)\n"
    )
    git("fetch", "--quiet", "--deepen=1", cwd=clone)
    assert run(cli, clone, "--base", "HEAD^1").code == 0


def test_outside_a_git_repository_is_one_clear_error(tmp_path: Path, cli: Callable[..., Result]) -> None:
    root = copy_example(tmp_path / "plain")

    result = run(cli, root)

    assert (result.code, result.out) == (2, "")
    assert result.err.startswith(f"error: {root} is not inside a git repository")
    assert "fix: run it in a clone of the platform repository, or point --repo at one" in result.err
    assert "Traceback" not in result.err


def test_without_kustomize_it_says_what_to_install(
    example: Path, cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    result = run(cli, example)

    assert (result.code, result.out) == (2, "")
    assert "neither kustomize nor kubectl is on PATH" in result.err
    assert "fix: install kubectl or kustomize" in result.err


def test_without_git_it_says_what_to_install_even_in_a_new_process(example: Path, tmp_path: Path) -> None:
    """GitPython refuses to be imported where git is missing: the new process shows what a user meets."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kustomize", "kubectl"):
        if (found := shutil.which(tool)) is not None:
            (bin_dir / tool).symlink_to(found)
    env = {**os.environ, "PATH": str(bin_dir)}
    env.pop("GIT_PYTHON_REFRESH", None)
    done = subprocess.run(
        [sys.executable, "-m", "generator", "diff", "--repo", str(example)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO_ROOT,
    )
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr.startswith("error: git cannot be run: ") and "fix: install git, or put it on PATH" in done.stderr


def test_a_platform_repository_in_a_subdirectory_of_a_larger_one(tmp_path: Path, cli: Callable[..., Result]) -> None:
    mono = tmp_path / "mono"
    mono.mkdir()
    root = copy_example(mono / "platform")
    git("init", "--quiet", "-b", "main", cwd=mono)
    commit_all(mono, "monorepo")
    scale_prod(cli, root, 6)

    result = run(cli, root)

    assert result.code == 0, result.err
    assert result.out.startswith(f"--- before/{PROD_ISVC}\n") and "+    maxReplicas: 6\n" in result.out
    assert "1 of 5 directories differ" in result.err


def plumb(root: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> str:
    """git's plumbing, which writes what it is given without the checks a checkout makes."""
    done = subprocess.run(
        ["git", *args],
        cwd=root,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return done.stdout.strip()


def branch_evil(root: Path, tree: str) -> str:
    """A commit of `tree` on branch `evil`, never checked out: what a pull request from a fork can push."""
    commit = plumb(root, "commit-tree", tree, "-p", "HEAD", "-m", "evil")
    plumb(root, "branch", "evil", commit)
    return commit


def with_entries(root: Path, *entries: str) -> str:
    """HEAD's root tree plus `entries` (`mode type sha<TAB>name`), duplicates and all: `git mktree` keeps them."""
    listing = plumb(root, "ls-tree", "HEAD")
    return plumb(root, "mktree", "--missing", stdin="\n".join((listing, *entries)) + "\n")


def with_link(root: Path, tmp_path: Path, path: str, target: str) -> str:
    """HEAD's tree with a symbolic link `path` -> `target` added."""
    env = {"GIT_INDEX_FILE": str(tmp_path / "evil.index")}
    plumb(root, "read-tree", "HEAD", env=env)
    link = plumb(root, "hash-object", "-w", "--stdin", stdin=target)
    plumb(root, "update-index", "--add", "--cacheinfo", f"120000,{link},{path}", env=env)
    return plumb(root, "write-tree", env=env)


def test_a_base_whose_tree_writes_through_a_link_is_refused_and_nothing_is_written_outside(
    tmp_path: Path, example: Path, cli: Callable[..., Result]
) -> None:
    """`x` twice, a link to a directory outside and a tree: written in order, `x/pwned` would land outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    blob = plumb(example, "hash-object", "-w", "--stdin", stdin="written by diff\n")
    subtree = plumb(example, "mktree", stdin=f"100644 blob {blob}\tpwned\n")
    link = plumb(example, "hash-object", "-w", "--stdin", stdin=str(outside))
    commit = branch_evil(example, with_entries(example, f"120000 blob {link}\tx", f"040000 tree {subtree}\tx"))
    before = snapshot(example)

    result = run(cli, example, "--base", "evil")

    assert list(outside.iterdir()) == [], "diff wrote outside its temporary directory"
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"error: base evil (commit {commit[:12]}): its tree is malformed or hostile, no checkout would write it: "
        "x: two entries of this name in one tree (git fsck: duplicateEntries)\n"
        "  fix: compare with another commit (--base REF); `git fsck` names what is wrong with this one\n"
    )
    assert snapshot(example) == before


@pytest.mark.parametrize("name", ["..", ".", ".git"])
def test_a_base_with_an_entry_no_checkout_writes_is_one_clear_error(
    example: Path, cli: Callable[..., Result], name: str
) -> None:
    blob = plumb(example, "hash-object", "-w", "--stdin", stdin="kind: Secret\n")
    subtree = plumb(example, "mktree", stdin=f"100644 blob {blob}\tpwned\n")
    commit = branch_evil(example, with_entries(example, f"040000 tree {subtree}\t{name}"))

    result = run(cli, example, "--base", "evil")

    assert (result.code, result.out) == (2, "")
    assert result.err.startswith(
        f"error: base evil (commit {commit[:12]}): its tree is malformed or hostile, no checkout would write it: "
        f"{name}: not a name git checks out (`.`, `..`, `.git`, empty, or with a `/`)\n"
    )
    assert "Traceback" not in result.err and "bug" not in result.err


def test_a_link_in_the_base_that_leads_out_of_it_is_not_followed_by_kustomize(
    tmp_path: Path, example: Path, cli: Callable[..., Result]
) -> None:
    """The base's `environments/qa` links to a kustomization of the host's: its objects must not show."""
    host = tmp_path / "host-config"
    host.mkdir()
    (host / "kustomization.yaml").write_text("resources:\n- secret.yaml\n")
    (host / "secret.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leaked}\ndata: {token: the-host-secret}\n"
    )
    branch_evil(example, with_link(example, tmp_path, "environments/qa", str(host)))

    result = run(cli, example, "--base", "evil", "-o", "json")

    assert result.code == 0, result.err
    assert "the-host-secret" not in result.out + result.err
    assert "environments/qa" not in [d["directory"] for d in json.loads(result.out)["directories"]]


def test_a_link_in_the_base_that_stays_inside_it_is_followed(
    tmp_path: Path, example: Path, cli: Callable[..., Result]
) -> None:
    """`environments/qa` -> `dev` in the base: qa builds as dev did, and is gone from the working tree."""
    branch_evil(example, with_link(example, tmp_path, "environments/qa", "dev"))

    report = json.loads(run(cli, example, "--base", "evil", "-o", "json").out)

    qa = next(d for d in report["directories"] if d["directory"] == "environments/qa")
    assert qa["status"] == "removed"
    assert qa["removed"] > 0


@pytest.mark.parametrize("ref", ["@{-1}", "HEAD@{1}", "HEAD@{yesterday}", "scaled@{1.minute.ago}"])
def test_every_form_of_revision_git_takes_names_the_base(example: Path, cli: Callable[..., Result], ref: str) -> None:
    """Reflog and previous-checkout forms too: the base is the commit `git rev-parse` names."""
    git("checkout", "--quiet", "-b", "scaled", cwd=example)
    scale_prod(cli, example, 6)
    commit_all(example, "prod: up to 6 replicas")
    git("checkout", "--quiet", "main", cwd=example)

    result = run(cli, example, "--base", ref, "-o", "json")

    assert result.code == 0, result.err
    assert json.loads(result.out)["base"] == {
        "ref": ref,
        "commit": git("rev-parse", "--verify", f"{ref}^{{commit}}", cwd=example).strip(),
    }


@pytest.mark.parametrize("ref", ["@{-1}", "HEAD@{99}", "main@{-1}"])
def test_a_reflog_entry_that_does_not_exist_is_one_clear_error(
    example: Path, cli: Callable[..., Result], ref: str
) -> None:
    result = run(cli, example, "--base", ref)

    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"error: --base {ref}: no such commit, branch or tag in {example}\n"
        "  fix: `git reflog` lists what this clone's HEAD and branches were\n"
    )


def drop_staging(cli: Callable[..., Result], root: Path) -> None:
    """Stop serving anything in staging, and staging itself, as a person would edit models.yaml; then re-render.
    The example's one `method: registry` model is served only there, so cluster/ (its storage container) goes too."""
    spec = root / "models.yaml"
    text = spec.read_text()
    for served in ("  staging:\n    namespace: mlflow-kserve-staging\n", "      staging:\n        alias: challenger\n"):
        assert served in text
        text = text.replace(served, "")
    registry_model = text.index("  wine-classifier-registry:\n")
    text = text[:registry_model] + text[text.index("\n\n", registry_model) + 2 :]
    spec.write_text(text)
    result = cli("render", "--repo", str(root), *CRDS)
    assert result.code == 0, result.out + result.err


def test_a_change_that_drops_an_application_warns_that_merging_deletes_what_it_deployed(
    example: Path, cli: Callable[..., Result]
) -> None:
    """The ApplicationSet's diff shows only elements leaving a list; Argo CD then deletes their Applications and,
    through the resources finalizer, everything they deployed, whatever their sync policy."""
    drop_staging(cli, example)

    report = json.loads(run(cli, example, "-o", "json").out)
    comment = run(cli, example, "-o", "markdown")

    deleted = {(f["rule"], f["severity"], f["file"], f["message"]) for f in report["findings"]}
    assert deleted == {
        (
            "argocd-deletion",
            "warning",
            "argocd/applicationset.yaml",
            f"merging this deletes the Argo CD Application '{name}' ({path}) and every resource it deployed, at "
            "once, whatever its sync policy",
        )
        for name, path in (("kserve-gitops-staging", "environments/staging"), ("kserve-gitops-cluster", "cluster"))
    }
    assert (report["ok"], report["warnings"]) == (True, 2), "a deletion is the reviewer's call, not a failure"
    assert comment.code == 0
    assert (
        "> [!CAUTION]\n> Merging this deletes the Argo CD Application(s) <code>kserve-gitops-cluster</code> (cluster), "
        "<code>kserve-gitops-staging</code> (environments/staging) and every resource they deployed"
    ) in comment.out


def test_a_change_that_keeps_every_application_warns_of_no_deletion(example: Path, cli: Callable[..., Result]) -> None:
    scale_prod(cli, example, 6)

    report = json.loads(run(cli, example, "-o", "json").out)
    comment = run(cli, example, "-o", "markdown")

    assert report["findings"] == []
    assert "[!CAUTION]" not in comment.out
