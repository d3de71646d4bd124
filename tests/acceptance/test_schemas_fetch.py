"""`kserve-gitops schemas fetch|verify` end to end, against a real HTTP server on loopback.

The server plays raw.githubusercontent.com: it serves the CRDs of schemas/crds
(fetched before the run and held to the committed crds.lock.yaml) at their upstream paths, counts
requests, and can be told to fail or to serve other bytes. Everything written goes
to tmp_path; the repository never holds a CRD copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.stack import free_port
from generator.cli import main
from generator.crds.sources import WRITTEN
from generator.validate.crds import load_crd_schemas
from generator.write import session
from tests.support.paths import CRDS

KSERVE = "/kserve/kserve/{tag}/config/crd/full/"
ARGOCD = "/argoproj/argo-cd/{tag}/manifests/crds/"
# upstream path at a tag → the file in schemas/crds (and in the destination directory)
LAYOUT = {
    KSERVE + "serving.kserve.io_inferenceservices.yaml": "kserve/serving.kserve.io_inferenceservices.yaml",
    KSERVE + "serving.kserve.io_servingruntimes.yaml": "kserve/serving.kserve.io_servingruntimes.yaml",
    KSERVE + "serving.kserve.io_clusterservingruntimes.yaml": "kserve/serving.kserve.io_clusterservingruntimes.yaml",
    KSERVE + "clusterstoragecontainer/serving.kserve.io_clusterstoragecontainers.yaml": (
        "kserve/serving.kserve.io_clusterstoragecontainers.yaml"
    ),
    KSERVE + "serving.kserve.io_inferencegraphs.yaml": "kserve/serving.kserve.io_inferencegraphs.yaml",
    ARGOCD + "application-crd.yaml": "argocd/application-crd.yaml",
    ARGOCD + "applicationset-crd.yaml": "argocd/applicationset-crd.yaml",
    ARGOCD + "appproject-crd.yaml": "argocd/appproject-crd.yaml",
}
# v0.21.0 and v3.6.3 stand for releases whose tags could not be read here: they serve the same bytes at the
# same upstream paths, which is what master showed before those tags (the CRD check looks at the kind only).
TAGS = {"kserve": ("v0.20.0", "v0.20.1", "v0.21.0"), "argoproj": ("v3.5.1", "v3.6.3")}
NEXT_RELEASE = b"# v0.20.1\n"  # what the fake v0.20.1 tag adds to each KServe file
ISVC_URL_PATH = KSERVE.format(tag="v0.20.0") + "serving.kserve.io_inferenceservices.yaml"
ISVC = "kserve/serving.kserve.io_inferenceservices.yaml"
APP_PROJECT = "argocd/appproject-crd.yaml"
LOCK = "schemas/crds/crds.lock.yaml"


class Upstream(ThreadingHTTPServer):
    """raw.githubusercontent.com on 127.0.0.1: `files` by URL path; `failures` are statuses answered first."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.released = _released()
        self.files: dict[str, bytes] = dict(self.released)
        self.failures: dict[str, list[int]] = {}
        self.requests: list[str] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def reset(self) -> None:
        self.files = dict(self.released)
        self.failures.clear()
        self.requests.clear()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet when the client hung up mid-answer (a fetch that stops reading past KSERVE_GITOPS_HTTP_MAX_BODY):
        socketserver would print a traceback from this thread into whichever test captures stderr next."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        upstream: Upstream = self.server  # type: ignore[assignment]
        upstream.requests.append(self.path)
        pending = upstream.failures.get(self.path)
        body = upstream.files.get(self.path)
        if pending or body is None:
            self.send_error(pending.pop(0) if pending else 404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on `requests` instead."""


def _released() -> dict[str, bytes]:
    assert CRDS.is_dir(), f"the CRDs must have been fetched to {CRDS}"
    files = {}
    for path, local in LAYOUT.items():
        data = (CRDS / local).read_bytes()
        for tag in TAGS[path.split("/")[1]]:
            files[path.format(tag=tag)] = data + (NEXT_RELEASE if tag == "v0.20.1" else b"")
    return files


@dataclass(frozen=True)
class Fetched:
    repo: Path
    out: str


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def _fresh_upstream(upstream: Upstream, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # a developer's HTTP(S)_PROXY must not catch loopback
    monkeypatch.delenv("KSERVE_GITOPS_CRD_BASE_URL", raising=False)
    yield
    upstream.reset()


@pytest.fixture(scope="module")
def fetched(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Fetched:
    """One real first fetch into <repo>/schemas/crds (the default --dest); tests copy it, never change it."""
    repo = _repo(tmp_path_factory.mktemp("fetched"))
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as env, contextlib.redirect_stdout(out):
        env.setenv("NO_PROXY", "127.0.0.1")
        code = main(["schemas", "fetch", "--repo", str(repo), "--base-url", upstream.base_url])
    assert code == 0, out.getvalue()
    upstream.reset()
    return Fetched(repo, out.getvalue())


@pytest.fixture
def populated(fetched: Fetched, tmp_path: Path) -> Path:
    """A repository whose schemas/crds holds a first fetch (mtimes kept)."""
    return Path(shutil.copytree(fetched.repo, tmp_path / "platform"))


def _repo(path: Path, kserve: str = "v0.20.0", argocd: str = "v3.5.1") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "models.yaml").write_text(
        f"apiVersion: kserve-gitops/v1\nplatform: {{kserveVersion: {kserve}, argocdVersion: {argocd}}}\n"
        "environments: {dev: {namespace: ml-dev}}\nmodels: {}\n"
    )
    return path


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["schemas", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def _tree(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(directory).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_fetch_writes_the_upstream_crds_and_a_lock_that_validate_reads(fetched: Fetched, upstream: Upstream) -> None:
    dest = fetched.repo / "schemas" / "crds"
    files = _tree(dest)
    assert sorted(files) == sorted([*LAYOUT.values(), "crds.lock.yaml"])
    for local in LAYOUT.values():
        assert files[local][0] == (CRDS / local).read_bytes(), local
    assert f"create schemas/crds/{ISVC}" in fetched.out
    assert "schemas/crds: KServe v0.20.0, Argo CD v3.5.1" in fetched.out

    lock = yaml.safe_load(files["crds.lock.yaml"][0])
    assert lock[ISVC] == {
        "version": "v0.20.0",
        "url": "https://raw.githubusercontent.com" + ISVC_URL_PATH,  # the release's URL, not the mirror's
        "sha256": "57c3bf13f77de94678bf2ae3748056ec071ad2b9e88d6a28f44fb4710758fcff",  # KServe v0.20.0, as released
    }
    assert {entry["sha256"] for entry in lock.values()} == {_sha(files[p][0]) for p in LAYOUT.values()}

    kinds = sorted(load_crd_schemas(dest).schemas)  # the lock beside the CRDs is skipped, not misread
    for kind in ("InferenceService", "Application", "ApplicationSet", "AppProject"):
        assert any(k == kind for _, k in kinds), kind


def test_second_fetch_touches_nothing_and_needs_no_network(
    populated: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = populated / "schemas" / "crds"
    before = _tree(dest)
    code, out, _ = _cli(capsys, "fetch", "--repo", str(populated), "--base-url", upstream.base_url)
    assert (code, upstream.requests, _tree(dest)) == (0, [], before)
    assert "up to date with crds.lock.yaml; nothing downloaded (--refresh forces it)" in out

    code, out, _ = _cli(capsys, "fetch", "--repo", str(populated), "--base-url", upstream.base_url, "--refresh")
    assert (code, len(upstream.requests), _tree(dest)) == (0, len(LAYOUT), before)
    assert "downloaded again, identical" in out


def test_changed_bytes_for_a_locked_version_are_refused_and_nothing_is_written(
    populated: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = populated / "schemas" / "crds"
    before = _tree(dest)
    upstream.files[ISVC_URL_PATH] += b"# tampered\n"
    code, _, err = _cli(capsys, "fetch", "--repo", str(populated), "--base-url", upstream.base_url, "--refresh")
    assert code == 1
    assert f"schemas/crds/{ISVC}: {upstream.base_url}{ISVC_URL_PATH} served other bytes" in err
    assert f"sha256 {_sha(upstream.files[ISVC_URL_PATH])}, locked {_sha(before[ISVC][0])}" in err
    assert f"delete the entry '{ISVC}' from {LOCK}" in err
    assert _tree(dest) == before


def test_verify_names_a_hand_edited_file_and_fetch_restores_only_that_file(
    populated: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = populated / "schemas" / "crds"
    code, out, _ = _cli(capsys, "verify", "--repo", str(populated))
    assert (code, out) == (0, "schemas/crds: 8 files match crds.lock.yaml (KServe v0.20.0, Argo CD v3.5.1)\n")

    (dest / APP_PROJECT).write_bytes((dest / APP_PROJECT).read_bytes().replace(b"type: string", b"type: integer", 1))
    before = _tree(dest)
    code, _, err = _cli(capsys, "verify", "--repo", str(populated))
    assert code == 1
    assert f"error: schemas/crds/{APP_PROJECT}: changed on disk: sha256 {_sha(before[APP_PROJECT][0])}" in err
    assert "run `kserve-gitops schemas fetch` to restore the v3.5.1 file" in err
    assert upstream.requests == []

    code, out, _ = _cli(capsys, "fetch", "--repo", str(populated), "--base-url", upstream.base_url)
    assert (code, upstream.requests) == (0, [ARGOCD.format(tag="v3.5.1") + "appproject-crd.yaml"])
    assert out.splitlines()[0] == f"update schemas/crds/{APP_PROJECT}"
    after = _tree(dest)
    assert after[APP_PROJECT][0] == (CRDS / APP_PROJECT).read_bytes()
    assert {p: v for p, v in after.items() if p != APP_PROJECT} == {p: v for p, v in before.items() if p != APP_PROJECT}


def test_verify_names_a_yaml_file_the_lock_does_not_list(populated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """validate reads only the listed files; one beside them was forgotten or put there to loosen a check."""
    (populated / "schemas" / "crds" / "kserve" / "zz-override.yaml").write_text("kind: CustomResourceDefinition\n")
    code, _, err = _cli(capsys, "verify", "--repo", str(populated))
    assert code == 1
    assert "error: schemas/crds/kserve/zz-override.yaml: not in crds.lock.yaml: no fetch wrote it" in err


def test_a_lock_entry_added_with_its_file_fails_verify_and_validate_and_fetch_drops_it(
    populated: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate reads what the lock lists: an entry for a file no pinned release has, committed with a CRD of looser
    schema, must not pass as fetched."""
    monkeypatch.setenv("KSERVE_GITOPS_CACHE_DIR", "off")
    dest = populated / "schemas" / "crds"
    loose = (dest / ISVC).read_bytes()
    (dest / "kserve" / "loose.yaml").write_bytes(loose)
    lock = dest / "crds.lock.yaml"
    pristine = lock.read_bytes()
    entry = f"kserve/loose.yaml:\n  version: v0.20.0\n  url: https://x\n  sha256: {_sha(loose)}\n"
    lock.write_bytes(pristine + entry.encode())

    code, _, err = _cli(capsys, "verify", "--repo", str(populated))
    assert code == 1
    assert "error: schemas/crds/crds.lock.yaml: lists 'kserve/loose.yaml', which the pinned releases do not have" in err
    assert main(["validate", "--repo", str(populated)]) == 1
    assert "lists 'kserve/loose.yaml', which the pinned releases do not have" in capsys.readouterr().out

    code, out, _ = _cli(capsys, "fetch", "--repo", str(populated), "--base-url", upstream.base_url)
    assert (code, out.splitlines()[0], upstream.requests) == (0, "update schemas/crds/crds.lock.yaml", [])
    assert lock.read_bytes() == pristine
    assert (dest / "kserve" / "loose.yaml").read_bytes() == loose, "a file fetch did not write is left alone"


@pytest.mark.parametrize("linked", ["schemas", "schemas/crds"])
def test_a_crd_directory_a_commit_links_elsewhere_is_refused_before_anything_is_written(
    tmp_path: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str], linked: str
) -> None:
    repo = _repo(tmp_path / "platform")
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / linked).parent.mkdir(parents=True, exist_ok=True)
    (repo / linked).symlink_to(outside, target_is_directory=True)
    fetched = _cli(capsys, "fetch", "--repo", str(repo), "--base-url", upstream.base_url)
    verified = _cli(capsys, "verify", "--repo", str(repo))
    for code, _, err in (fetched, verified):
        assert code == 1
        assert err.startswith(f"error: {linked}: is a symbolic link (to {outside}); kserve-gitops never writes")
    assert (list(outside.iterdir()), upstream.requests) == ([], [])


def test_a_new_version_replaces_that_projects_files_and_entries_only(
    populated: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = populated / "schemas" / "crds"
    before = _tree(dest)
    _repo(populated, kserve="v0.20.1")
    code, _, err = _cli(capsys, "verify", "--repo", str(populated))
    assert code == 1
    assert "crds.lock.yaml has v0.20.0, but platform.kserveVersion pins v0.20.1" in err

    code, _, _ = _cli(capsys, "fetch", "--repo", str(populated), "--base-url", upstream.base_url)
    assert code == 0
    assert sorted(upstream.requests) == sorted(p.format(tag="v0.20.1") for p in LAYOUT if p.startswith(KSERVE))
    after = _tree(dest)
    lock = yaml.safe_load(after["crds.lock.yaml"][0])
    for local in LAYOUT.values():
        if local.startswith("kserve/"):
            assert after[local][0] == before[local][0] + NEXT_RELEASE
            assert (lock[local]["version"], lock[local]["sha256"]) == ("v0.20.1", _sha(after[local][0]))
        else:
            assert after[local] == before[local]
            assert lock[local]["version"] == "v3.5.1"


def test_a_tag_that_does_not_exist_exits_1_naming_the_setting_and_writes_nothing(
    tmp_path: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path, kserve="v0.20.9")
    monkeypatch.setenv("KSERVE_GITOPS_CRD_BASE_URL", upstream.base_url)
    code, _, err = _cli(capsys, "fetch", "--repo", str(repo))
    assert code == 1
    assert err.startswith("error: 5 problems\n")
    assert (
        f"{upstream.base_url}/kserve/kserve/v0.20.9/config/crd/full/serving.kserve.io_inferenceservices.yaml: HTTP 404"
    ) in err
    assert "KServe v0.20.9 probably does not exist: check platform.kserveVersion in models.yaml" in err
    assert not (repo / "schemas").exists()


def test_a_release_the_platform_layer_lacks_is_refused_before_any_download(
    tmp_path: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path, kserve="v0.99.0")
    code, _, err = _cli(capsys, "fetch", "--repo", str(repo), "--base-url", upstream.base_url)
    assert code == 1
    assert err.startswith(
        "error: models.yaml:2:12: $.platform.kserveVersion: platform.kserveVersion v0.99.0 is not a release "
        "kserve-gitops knows (known: v0.20.x, v0.21.x)"
    )
    assert upstream.requests == []
    assert not (repo / "schemas").exists()


def test_a_release_known_from_pre_release_sources_fetches_the_files_the_layer_lists_and_says_so(
    tmp_path: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path, kserve="v0.21.0", argocd="v3.6.3")
    code, out, err = _cli(capsys, "fetch", "--repo", str(repo), "--base-url", upstream.base_url)
    assert code == 0, err
    tags = {"kserve": "v0.21.0", "argoproj": "v3.6.3"}
    assert sorted(upstream.requests) == sorted(p.format(tag=tags[p.split("/")[1]]) for p in LAYOUT)
    assert "schemas/crds: KServe v0.21.0, Argo CD v3.6.3" in out
    assert "KServe v0.21.0 is known from pre-release sources only: its CRD file paths" in err
    assert "Argo CD v3.6.3 is known from pre-release sources only: its CRD file paths" in err
    assert err.count("warning:") == 2  # once per release, not per file; no model, so no runtime image is relied on
    lock = yaml.safe_load((repo / LOCK).read_bytes())
    assert lock[ISVC]["url"] == (
        "https://raw.githubusercontent.com/kserve/kserve/v0.21.0/config/crd/full/serving.kserve.io_inferenceservices.yaml"
    )


def test_an_unreachable_host_exits_2_naming_the_url_and_mirrors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing listens there
    repo = _repo(tmp_path)
    code, _, err = _cli(capsys, "fetch", "--repo", str(repo), "--base-url", f"http://127.0.0.1:{port}")
    assert code == 2
    assert f"error: cannot download http://127.0.0.1:{port}{ISVC_URL_PATH}: [Errno 111] Connection refused" in err
    assert "point --base-url (or KSERVE_GITOPS_CRD_BASE_URL) at a mirror" in err
    assert not (repo / "schemas").exists()


def test_a_momentary_server_error_is_retried(
    tmp_path: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream.failures[ISVC_URL_PATH] = [503]
    elsewhere = tmp_path / "cache" / "crds"
    code, out, _ = _cli(
        capsys,
        "fetch",
        "--repo",
        str(_repo(tmp_path / "repo")),
        "--base-url",
        upstream.base_url,
        "--dest",
        str(elsewhere),
    )
    assert code == 0
    assert upstream.requests.count(ISVC_URL_PATH) == 2
    assert f"create {elsewhere}/{ISVC}" in out
    assert (elsewhere / ISVC).read_bytes() == (CRDS / ISVC).read_bytes()


def test_a_server_that_keeps_failing_exits_2(
    tmp_path: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream.failures[ISVC_URL_PATH] = [502] * 10
    code, _, err = _cli(capsys, "fetch", "--repo", str(_repo(tmp_path)), "--base-url", upstream.base_url)
    assert code == 2
    assert f"error: cannot download {upstream.base_url}{ISVC_URL_PATH}: HTTP 502 Bad Gateway (4 attempts" in err
    assert upstream.requests.count(ISVC_URL_PATH) == 4


def test_an_answer_larger_than_allowed_exits_2_saying_how_to_allow_it(
    tmp_path: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KSERVE_GITOPS_HTTP_MAX_BODY", "1000")
    code, _, err = _cli(capsys, "fetch", "--repo", str(_repo(tmp_path)), "--base-url", upstream.base_url)
    assert code == 2
    assert "more than the 1000 allowed (KSERVE_GITOPS_HTTP_MAX_BODY)" in err
    assert "if the answer is meant to be that large, raise KSERVE_GITOPS_HTTP_MAX_BODY" in err
    assert "check the network" not in err


def test_a_mirror_serving_a_login_page_is_refused(
    tmp_path: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream.files[ISVC_URL_PATH] = b"<html><body>Please sign in</body></html>\n"
    repo = _repo(tmp_path)
    code, _, err = _cli(capsys, "fetch", "--repo", str(repo), "--base-url", upstream.base_url)
    assert code == 1
    assert (
        "is not the apiextensions.k8s.io/v1 CustomResourceDefinition of serving.kserve.io InferenceService; "
        "it holds no Kubernetes object"
    ) in err
    assert not (repo / "schemas").exists()


@pytest.mark.parametrize("command", ["fetch", "verify"])
def test_a_fetch_in_progress_holds_back_another_fetch_and_a_verify(
    command: str,
    tmp_path: Path,
    upstream: Upstream,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two fetches at once lost every file (the loser's undo removed the winner's identical files): the CRD
    directory has a session of its own, as the tree has. Here another fetch holds it, and the lock wait is short."""
    repo = _repo(tmp_path / "platform")
    crds = repo / "schemas" / "crds"
    crds.mkdir(parents=True)
    monkeypatch.setenv("KSERVE_GITOPS_LOCK_TIMEOUT", "0.2")
    source = ("--base-url", upstream.base_url) if command == "fetch" else ()
    with session(crds, write_tree=True, lock_timeout=1, outputs=lambda: WRITTEN):
        code, _, err = _cli(capsys, command, "--repo", str(repo), *source)
    assert code == 2
    assert f"the repository {crds} is in use by" in err
    assert list(crds.iterdir()) == []
    assert upstream.requests == []


def test_verify_without_a_lock_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, "verify", "--repo", str(_repo(tmp_path)))
    assert code == 1
    assert err == f"error: {LOCK}: not found\n  fix: run `kserve-gitops schemas fetch` first\n"


def test_a_pin_changed_without_a_fetch_fails_validate_and_warns_render_until_the_fetch(
    populated: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KSERVE_GITOPS_CACHE_DIR", "off")
    assert main(["render", "--repo", str(populated)]) == 0
    _repo(populated, kserve="v0.20.1")
    stale = f"the KServe CRDs in {populated / 'schemas' / 'crds'} are v0.20.0, but platform.kserveVersion pins v0.20.1"

    capsys.readouterr()
    assert main(["validate", "--repo", str(populated)]) == 1
    assert f"{stale}: the manifests would be checked against" in capsys.readouterr().out
    assert main(["render", "--repo", str(populated)]) == 0
    assert f"warning: {stale}" in capsys.readouterr().err

    code, _, _ = _cli(capsys, "fetch", "--repo", str(populated), "--base-url", upstream.base_url)
    assert code == 0
    assert main(["validate", "--repo", str(populated)]) == 0
    assert "CRDs in" not in capsys.readouterr().out
