"""A loopback stand-in for raw.githubusercontent.com, serving local copies of the pinned CRDs.

    python -m devtools.crd_mirror --from DIR [--repo REPO] [--then CMD...]

Machines without GitHub access (this project's CI among them) still get their CRDs
through the product's own path, `kserve-gitops schemas fetch` with
KSERVE_GITOPS_CRD_BASE_URL, instead of tests reading a directory behind its back.
DIR holds the files in the layout `schemas fetch --dest` writes (`kserve/<file>`,
`argocd/<file>`); only the files of the releases REPO's models.yaml pins are served,
at their upstream `<owner>/<repo>/<tag>/<path>`, so a mirror of the wrong release
answers 404 exactly as GitHub would. The fetched bytes are still checked against the
committed schemas/crds/crds.lock.yaml by the product, never trusted here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from generator.crds import BASE_URL_ENV
from generator.crds.sources import crd_files
from generator.spec import SPEC_FILE
from generator.spec.load import load_spec

LOOPBACK = "127.0.0.1"


def layout(source: Path, repo: Path) -> dict[str, Path]:
    """URL path → local file, for every CRD the repository's pinned releases need."""
    spec, _ = load_spec(repo / SPEC_FILE, SPEC_FILE)
    return {urlsplit(file.url).path: source / file.local for file in crd_files(spec.platform, "http://mirror")}


class Mirror(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files: Mapping[str, Path]) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self.files = dict(files)

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_port}"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        mirror: Mirror = self.server  # type: ignore[assignment]
        path = mirror.files.get(self.path)
        if path is None or not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the fetch reports what it downloaded."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.crd_mirror", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--from", dest="source", type=Path, required=True, help="directory with kserve/ and argocd/ CRD copies"
    )
    parser.add_argument("--repo", type=Path, default=Path(), help="repository whose models.yaml pins the releases")
    parser.add_argument("--then", nargs=argparse.REMAINDER, help=f"command to run with {BASE_URL_ENV} set")
    args = parser.parse_args(argv)
    files = layout(args.source, args.repo)
    missing = sorted(str(path) for path in files.values() if not path.is_file())
    if missing:
        print(f"crd_mirror: not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    with Mirror(files) as mirror:
        threading.Thread(target=mirror.serve_forever, daemon=True).start()
        print(f"export {BASE_URL_ENV}={mirror.base_url}", flush=True)
        if args.then:
            return subprocess.call(args.then, env=os.environ | {BASE_URL_ENV: mirror.base_url})
        threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
