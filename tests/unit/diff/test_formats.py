"""The report as a patch, as JSON, and as the pull-request comment, which always fits GitHub's 65,536 characters."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from generator.diff.compare import Build, DirectoryDiff, RenderedDiff, compare, skipped
from generator.diff.formats import COMMENT_LIMIT, MARKER, fields, findings, markdown, notes, text

SHA = "0123456789abcdef0123456789abcdef01234567"


def configmap(name: str, lines: int = 1, value: str = "a") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "ml"},
        "data": {f"key{i:06}": f"{value}{i}" for i in range(lines)},
    }


def changed(directory: str, lines: int = 1) -> DirectoryDiff:
    return compare(directory, Build((configmap("c", lines),)), Build((configmap("c", lines, value="b"),)))


def report(*directories: DirectoryDiff) -> RenderedDiff:
    return RenderedDiff("origin/HEAD", SHA, directories)


SMALL = report(
    changed("environments/dev"),
    compare("environments/prod", Build(()), Build(())),
    compare("cluster", Build(error="kustomize build failed: no such file"), Build(())),
    skipped("environments/Not_An_Env"),
)


def test_text_is_the_patch_alone_and_empty_when_nothing_changes() -> None:
    assert text(SMALL) == SMALL.directories[0].diff
    assert text(report(compare("environments/prod", Build(()), Build(())))) == ""


def test_notes_name_failed_and_skipped_directories_and_count_the_rest() -> None:
    assert notes(SMALL) == (
        "cluster: ⚠️ kustomize failed on the base\n  kustomize build failed: no such file\n"
        "environments/Not_An_Env: ⚠️ not an environment name, not built\n"
        "2 of 4 directories differ (base: origin/HEAD = 0123456789ab)\n"
    )


def test_json_has_the_documented_shape() -> None:
    document = json.loads(json.dumps(fields(SMALL)))

    assert document["base"] == {"ref": "origin/HEAD", "commit": SHA}
    assert document["changed"] == 2
    dev, prod, cluster, bad = document["directories"]
    assert dev == {
        "directory": "environments/dev",
        "status": "changed",
        "summary": "+1 \N{MINUS SIGN}1 lines",
        "added": 1,
        "removed": 1,
        "objects": [{"group": "", "kind": "ConfigMap", "namespace": "ml", "name": "c", "change": "changed"}],
        "diff": SMALL.directories[0].diff,
        "error": None,
    }
    assert (prod["status"], prod["objects"], prod["diff"]) == ("unchanged", [], "")
    assert cluster["error"] == {"side": "base", "message": "kustomize build failed: no such file"}
    assert bad["status"] == "skipped"


def test_markdown_has_the_marker_first_and_one_section_per_directory() -> None:
    body = markdown(SMALL)

    assert body.startswith(f"{MARKER}\n### Rendered manifests\n")
    assert "at the base (`0123456789ab`) and with this change: 2 of 4 directories differ." in body
    assert (
        "<details><summary><code>environments/dev</code>: +1 \N{MINUS SIGN}1 lines</summary>\n\n`````diff\n"
        f"{SMALL.directories[0].diff}`````\n\n</details>"
    ) in body
    assert "<code>environments/prod</code>: no change\n" in body
    assert (
        "<details><summary><code>cluster</code>: ⚠️ kustomize failed on the base</summary>\n\n`````text\n"
        "kustomize build failed: no such file\n`````"
    ) in body
    assert "<code>environments/Not_An_Env</code>: ⚠️ not an environment name, not built\n" in body
    assert "Cut to fit" not in body


def test_a_long_details_url_still_leaves_the_comment_within_the_limit() -> None:
    """The note a cut comment ends with quotes --details-url: however long, the comment stays under 65,536."""
    url = "https://ci.example/runs/" + "r" * 5_000

    body = markdown(report(changed("environments/dev", 5_000), changed("environments/prod", 5_000)), details_url=url)

    assert len(body) <= COMMENT_LIMIT
    assert f"[the full diffs]({url})" in body


def test_markdown_warns_under_the_heading_when_the_change_does_not_build() -> None:
    """diff exits 0 with a failed build (validate fails the pull request): the comment says at its top that the
    working tree does not build, not only in the failed directory's summary line among the others."""
    broken = compare("environments/dev", Build(()), Build(error="kustomize build failed: bad yaml"))
    body = markdown(report(broken, changed("environments/prod")))

    warning = body.split("2 of 2 directories differ.\n\n", 1)[1]
    assert warning.startswith(
        "> [!WARNING]\n> This change does not build: kustomize failed on the working tree in 1 directory (⚠️ below), "
        "so Argo CD could not sync it. `kserve-gitops validate` fails on it.\n\n<details>"
    )
    assert "[!WARNING]" not in markdown(SMALL)  # a base that did not build is not this change's doing


def test_markdown_escapes_names_and_fences_longer_than_any_backticks_inside() -> None:
    ticks = compare("environments/dev", Build((configmap("c", value="x"),)), Build((configmap("c", value="``````"),)))

    body = markdown(report(ticks, skipped("environments/<b>")))

    assert "```````diff\n" in body  # seven: one more than the six inside
    assert "<code>environments/&lt;b&gt;</code>" in body


def test_a_huge_diff_is_cut_says_so_and_the_comment_stays_under_github_s_limit() -> None:
    huge = report(
        changed("environments/dev", 5_000),
        changed("environments/staging"),
        changed("environments/prod", 5_000),
        compare("argocd", Build(()), Build(())),
    )

    body = markdown(huge, details_url="https://github.com/o/r/actions/runs/1")

    assert len(huge.directories[0].diff) > 3 * COMMENT_LIMIT
    assert len(body) <= COMMENT_LIMIT
    # every directory keeps its summary line, in order
    positions = [body.index(f"<code>{d.directory}</code>") for d in huge.directories]
    assert positions == sorted(positions)
    # the first diff fills the room there is, cut at a line end; the others no longer fit at all
    assert "<code>environments/dev</code>: +5000 \N{MINUS SIGN}5000 lines (cut)</summary>" in body
    dev_shown = body.split("`````diff\n", 1)[1].split("`````", 1)[0]
    assert huge.directories[0].diff.startswith(dev_shown) and dev_shown.endswith("\n")
    assert len(dev_shown) > COMMENT_LIMIT / 2
    assert "<code>environments/staging</code>: +1 \N{MINUS SIGN}1 lines (diff not shown: too long)" in body
    assert "<code>environments/prod</code>: +5000 \N{MINUS SIGN}5000 lines (diff not shown: too long)" in body
    assert "<code>argocd</code>: no change\n" in body
    assert body.endswith(
        "> [!NOTE]\n> Cut to fit GitHub's comment size limit: 3 diff(s) are incomplete or not shown. See "
        f"[the full diffs](https://github.com/o/r/actions/runs/1), or `kserve-gitops diff --base {SHA}`.\n"
    )


def test_so_many_directories_that_their_summaries_alone_overflow_are_listed_as_far_as_they_fit() -> None:
    many = report(*(changed(f"environments/x{i:03d}{'0' * 200}") for i in range(400)))

    body = markdown(many)

    assert len(body) <= COMMENT_LIMIT
    listed = body.count("<code>environments/x")
    assert 200 < listed < 400
    assert f"; {400 - listed} more directories are not listed. See `kserve-gitops diff --base {SHA}`.\n" in body


def test_small_diffs_before_a_huge_one_are_shown_whole() -> None:
    """Room is handed out in order: what comes first is shown whole while it fits."""
    result = markdown(report(changed("environments/dev"), changed("environments/prod", 5_000)))

    assert f"`````diff\n{changed('environments/dev').diff}`````" in result
    assert "<code>environments/prod</code>: +5000 \N{MINUS SIGN}5000 lines (cut)</summary>" in result
    assert "1 diff(s) are incomplete or not shown. See `kserve-gitops diff --base " in result
    assert len(result) <= COMMENT_LIMIT


def test_names_and_kustomize_s_words_from_the_repository_are_printable_in_every_format() -> None:
    """A directory's name and kustomize's error (which quotes the kustomization) are the pull request's text."""
    name = "environments/x\x1b[2J\n::error file=models.yaml::forged\udcff"
    hostile = report(
        skipped(name),
        compare("cluster", Build(error="accumulating resources: 'missing\x1b[2J\n::error::kust'"), Build(())),
    )
    shown = "environments/x\\x1b[2J\\n::error file=models.yaml::forged\\xff"

    said = notes(hostile)
    assert said.splitlines()[0] == f"{shown}: ⚠️ not an environment name, not built"
    assert "  accumulating resources: 'missing\\x1b[2J\n  ::error::kust'\n" in said  # indented: no line of its own
    assert not any(line.startswith("::") for line in said.splitlines())
    comment = markdown(hostile)
    assert f"<code>{shown}</code>" in comment and "\x1b" not in comment
    document = json.dumps(fields(hostile), ensure_ascii=False).encode("utf-8")  # UTF-8: no undecoded byte left
    assert json.loads(document)["directories"][0]["directory"] == shown


def test_the_caution_names_twenty_deleted_applications_and_counts_the_rest_within_the_limit() -> None:
    """A base's argocd/ written by hand could name any number of Applications, of any length: the comment stays
    within GitHub's limit, and the findings (`-o json`) still name every one."""
    deleted = tuple((f"app-{i:03}" + "x" * 1_000, f"environments/e{i}") for i in range(300))
    dropped = replace(SMALL, deleted_applications=deleted)

    comment = markdown(dropped)

    assert len(comment) <= COMMENT_LIMIT
    assert comment.count("<code>app-") == 20
    assert f"<code>app-000{'x' * 246}</code> (environments/e0)" in comment
    assert "and 280 more (`-o json` lists them)" in comment
    assert len(findings(dropped)) == 300
