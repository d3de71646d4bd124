"""The CRD schemas a run will check, parsed in a helper process while the run itself reads its inputs and renders.

Until kustomize starts, a full run of 1,000 models keeps one core busy and the other idle for about half a second;
then two kustomize processes and this one share both. Parsing the InferenceService CRD (2 MB of YAML, ~0.2 s with
its schemas made strict) used to fall in that second part, where it took its time from kustomize. A helper started
with the run parses it on the idle core and leaves the result in the run cache (cache.remembered_parse), where the
run finds it when it needs the schemas.

Only with the cache on, a CRD file the cache lacks, and a second core. The helper says nothing; one still at work
when the run is done is stopped. A helper that fails, or finishes late, costs the run nothing but the parse it
would have saved: the run parses the file itself, as it always has.
"""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from generator.errors import UserError
from generator.validate.crds import parse_schemas, unparsed


@contextlib.contextmanager
def prefetched(crd_dir: Path, kinds: Sequence[str]) -> Iterator[subprocess.Popen[bytes] | None]:
    """Around a run that will check objects of `kinds` against the CRDs under `crd_dir`; gives the helper, if one
    was started."""
    helper = _started(crd_dir, kinds)
    try:
        yield helper
    finally:
        if helper is not None:
            if helper.poll() is None:
                helper.kill()
            helper.wait()


def _started(crd_dir: Path, kinds: Sequence[str]) -> subprocess.Popen[bytes] | None:
    if _cores() < 2 or not sys.executable:  # the helper would take its time from the run; or no Python to start
        return None
    try:
        if not unparsed(crd_dir, kinds):
            return None
        return subprocess.Popen(
            # -P: not the working directory first on the path, which is the repository (in CI, a pull request's):
            # a `generator/` there would run in place of this package.
            [sys.executable, "-P", "-m", __name__, str(crd_dir), *kinds],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except (UserError, OSError):  # no CRDs, an unreadable one: the run's own checks say so
        return None


def _cores() -> int:
    """The cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def main(argv: Sequence[str]) -> int:
    """The helper: `python -m generator.validate.crd_prefetch CRD_DIR KIND...`."""
    if len(argv) < 2:
        print("usage: python -m generator.validate.crd_prefetch CRD_DIR KIND...", file=sys.stderr)
        return 2
    crd_dir, *kinds = argv
    gc.disable()  # a tree of ~100k nodes that lives until the end: the collector would walk it for nothing
    parse_schemas(Path(crd_dir), kinds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
