"""Render an overlay with the real kustomize, as Argo CD will, and return its documents.

`kustomize build DIR` when a kustomize binary is on PATH, else the copy built into
kubectl (`kubectl kustomize DIR`). Validating kustomize's output rather than our own
files catches what only the build shows: broken patches, name prefixes, namespaces.

A *plain* kustomization (only `resources:`, each a regular file beside it: what this tool
writes for every environment) transforms nothing: kustomize's build of it is the
accumulation of its files' objects, and fails iff one file fails on its own or two
objects share an id. So what kustomize makes of a file is a fact of the file's bytes,
found by `build_files` for many files in one process (kustomize's cost grows faster than
its input: fewer, smaller builds are cheaper) and remembered by the caller.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from generator import yamlio
from generator.diagnostics import Diagnostic
from generator.errors import EnvironmentProblem, ValidationFailed
from generator.util.files import create_new
from generator.util.proc import CommandError, run_cmd
from generator.yaml_block import KUSTOMIZE, Emitter, Unsimple

# seconds a kustomize build may take: 3,000 objects take 17 s in one build, but a remote base (a URL under
# `resources:`) is fetched over the network, which must not hang a run or a CI job
DEADLINE = 300.0


def kustomize_command() -> list[str]:
    """The build command available here, without the directory."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    raise EnvironmentProblem.simple(
        "neither kustomize nor kubectl is on PATH; both can build a kustomization",
        hint="install kubectl or kustomize (https://kubectl.docs.kubernetes.io/installation/)",
    )


# kubectl's log header (`E1130 05:10:28.576399   26308 run.go:72] `): a time and a process id that would make
# the same mistake read differently on every run.
_KLOG_HEADER = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [\w.-]+:\d+\] ", re.MULTILINE)


def kustomize_build(directory: Path) -> list[dict[str, Any]]:
    """The documents `kustomize build directory` prints, in order; empty documents dropped. Raises ValidationFailed
    when they cannot be read back: kustomize prints a string that is a very long run of digits without quotes (too
    large for its own numbers, so to go-yaml a string), which YAML 1.1 reads as an integer beyond Python's limit."""
    output = kustomize_output(directory)
    try:
        return yamlio.load_all(output)
    except yaml.YAMLError as exc:
        problem = " ".join(p for p in (exc.context, exc.problem) if p) if isinstance(exc, yaml.MarkedYAMLError) else ""
        raise ValidationFailed(
            Diagnostic(
                file=str(directory),
                message=f"kustomize's output cannot be read back: {problem or exc}",
                hint="kustomize prints some text values unquoted (a run of thousands of digits), which then read as "
                "another type; shorten or remove that value in the manifest that holds it",
                rule="kustomize",
            )
        ) from None


def kustomize_output(directory: Path) -> str:
    """What `kustomize build directory` prints; raises ValidationFailed with kustomize's own error."""
    cmd = [*kustomize_command(), str(directory)]
    try:
        output = run_cmd(cmd, timeout=DEADLINE)
    except CommandError as e:
        raise ValidationFailed(
            Diagnostic(
                file=str(directory),
                message=f"kustomize build failed: {_KLOG_HEADER.sub('', e.stderr).strip() or f'exit code {e.rc}'}",
                hint=f"fix the kustomization; `{shlex.join(cmd)}` reproduces this",
                rule="kustomize",
            )
        ) from e
    return output


KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_API_VERSION = "kustomize.config.k8s.io/v1beta1"
# kustomize's own annotations (build metadata such as `config.kubernetes.io/origin`, which `build_files` uses
# to tell which file an object came from): a file that writes them itself is always built as it stands.
BUILD_ANNOTATIONS = b"config.kubernetes.io/"
ORIGIN = "config.kubernetes.io/origin"
Identity = tuple[str, str, str, str]  # an object's apiVersion, kind, namespace and name


def plain_resources(kustomization: Mapping[str, Any]) -> list[str] | None:
    """The file names a plain kustomization lists, in order; None when it is anything more.

    Plain: no key but apiVersion, kind (both kustomize's defaults, or both absent) and `resources`, a list
    of distinct names of files in the kustomization's own directory (no subdirectory, base or URL).
    """
    if set(kustomization) - {"apiVersion", "kind", "resources"}:
        return None
    header = (kustomization.get("apiVersion"), kustomization.get("kind"))
    if header not in ((None, None), (_API_VERSION, "Kustomization")):
        return None
    resources = kustomization.get("resources")
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        return None
    # normalized as kustomize does ("./a.yaml" is "a.yaml"); a bare file name is its own normal form
    names = [str(PurePosixPath(r)) if "/" in r or not r else r for r in resources if not r.endswith("/")]
    if len(set(names)) != len(resources) or any("/" in n or n in (".", "..") or ":" in n for n in names):
        return None
    return names


_MEMORY_DIR = "/dev/shm"  # a memory-backed file system on Linux, used only if it is there


def scratch_root() -> str | None:
    """Where files staged for kustomize go: TMPDIR when it is set, else a memory-backed file system when there
    is one with room (files written and read once need no disk, and on a busy disk each new file waits for the
    journal: staging 3,000 files took from 0.15 to 2 s on one), else the system's default."""
    if "TMPDIR" in os.environ or not os.path.isdir(_MEMORY_DIR) or not os.access(_MEMORY_DIR, os.W_OK | os.X_OK):
        return None
    return _MEMORY_DIR if shutil.disk_usage(_MEMORY_DIR).free > 256 * 2**20 else None


BATCH = 200  # files per kustomize process: ~1.4 ms each at 200-300 (more below: start-up; above: superlinear)
BUILDERS = 2  # kustomize processes at once (~66 MB each at BATCH files)


def batch_count(files: int) -> int:
    """How many batches `files` are built in: about BATCH files each, and a multiple of BUILDERS when there are
    more than one, so that the last ones are built side by side (a batch built alone leaves a core idle)."""
    count = -(-files // BATCH)
    return count if count <= 1 else -(-count // BUILDERS) * BUILDERS


def build_plain(directory: Path) -> list[dict[str, Any]] | None:
    """The objects `kustomize build directory` prints for a plain kustomization (`plain_resources`) of regular
    files, in the order it lists them, its files built in batches side by side (`build_files`): kustomize takes
    ~16 s for one directory of 2,000 objects, where batches of BATCH files cost ~1.4 ms a file. The objects are
    the same: a plain kustomization changes nothing in them. None when the directory is anything else, a file
    writes kustomize's build annotations itself, a batch fails, or two objects may share an id: then only the
    whole build says what it makes of them, or what is wrong."""
    try:
        kustomization = yamlio.load_plain(yamlio.read_text(directory / KUSTOMIZATION_FILES[0], follow=False).encode())
    except (yamlio.NotPlain, yaml.YAMLError, OSError, UnicodeDecodeError):
        return None
    names = plain_resources(kustomization) if isinstance(kustomization, dict) else None
    if not names or any((directory / other).exists() for other in KUSTOMIZATION_FILES[1:]):
        return None  # nothing to build, or two kustomization files (kustomize refuses the directory)
    files: dict[str, bytes] = {}
    for name in names:
        try:
            content = yamlio.read_text(directory / name, follow=False).encode()
        except (OSError, UnicodeDecodeError):
            return None
        if name in (*KUSTOMIZATION_FILES, OUTPUT) or BUILD_ANNOTATIONS in content:
            return None
        files[name] = content
    count = batch_count(len(names))
    with ThreadPoolExecutor(max_workers=BUILDERS) as pool:
        batches = list(pool.map(build_files, [{n: files[n] for n in names[i::count]} for i in range(count)]))
    built = {name: objects for batch in batches if batch is not None for name, objects in batch.items()}
    if any(batch is None for batch in batches) or shared_ids(identity_of(o) for n in names for o in built[n]):
        return None
    return [obj for name in names for obj in built[name]]


def build_files(files: Mapping[str, bytes]) -> dict[str, list[dict[str, Any]]] | None:
    """What kustomize makes of each file (named by the caller, unique, no slash), all built in one process;
    None when that build fails (one of the files fails, or two share an object id). The three steps, for a
    caller that runs the build in another thread: `stage_files`, `build_staged`, `split_by_file`."""
    with tempfile.TemporaryDirectory(prefix="kserve-gitops-files-", dir=scratch_root()) as scratch:
        stage_files(Path(scratch), files)
        return split_by_file(build_staged(Path(scratch)), files)


def stage_files(directory: Path, files: Mapping[str, bytes]) -> None:
    """The files, in an empty directory, under a kustomization that lists them all and asks for origin
    annotations, which say the file each object came from. No file may be named kustomization.yaml or OUTPUT."""
    base = os.fspath(directory)
    for name, content in files.items():
        create_new(f"{base}/{name}", content)
    listing = {"resources": sorted(files), "buildMetadata": ["originAnnotations"]}
    create_new(f"{base}/kustomization.yaml", yamlio.dump([listing]))


OUTPUT = ".kustomize-output"  # where `build_staged` has kustomize print, beside the files (it reads only those listed)


def batch_environment() -> dict[str, str]:
    """The environment of a batch build: this one, with Go's runtime tuned for short builds unless the user chose
    (bench/README.md has the figures):
    - GOMAXPROCS=1: batches run beside each other and beside this process, so a batch's garbage collector gains
      nothing from more threads, and on idle cores Go runs extra collector workers: one thread cost 11-13% less
      CPU for the same builds (4.35 -> 3.86 CPU-seconds for 3,000 files) and 2-3 MiB more at the peak;
    - GOGC=150: the collector runs when the heap has grown by 150% rather than 100%, 5-12% less CPU for ~10 MiB
      more a process. Batches have a fixed size (BATCH files), so that is at most 2 x 10 MiB at any scale."""
    return {"GOMAXPROCS": "1", "GOGC": "150", **os.environ}


def build_staged(directory: Path) -> str | None:
    """What kustomize prints for a directory `stage_files` filled; None when the build fails. Only this step
    waits for kustomize: it may run in a thread while another computes (kustomize prints to a file, so the
    thread needs the interpreter lock only to start it and to learn that it ended)."""
    output = directory / OUTPUT
    try:
        run_cmd([*kustomize_command(), str(directory)], timeout=DEADLINE, output=output, env=batch_environment())
        return output.read_text(encoding="utf-8")
    except (CommandError, OSError, UnicodeDecodeError):
        return None
    finally:
        output.unlink(missing_ok=True)


Expected = Mapping[str, tuple[str, dict[str, Any]]]  # file name -> what kustomize prints for its object, the object


def expected_outputs(objects: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """What kustomize prints for each file `name` staged by `stage_files` that holds exactly the one object
    `objects[name]`: the object with its origin annotation, in kustomize's dialect (yaml_block.KUSTOMIZE), with
    the object. Files whose object that dialect does not say, or that has no metadata map, are left out."""
    emitter = Emitter(KUSTOMIZE)
    found = {}
    for name, document in objects.items():
        if type(document) is not dict or type(metadata := document.get("metadata")) is not dict:
            continue
        annotations = metadata.get("annotations", {})
        if type(annotations) is not dict or ORIGIN in annotations:
            continue
        annotated = {**metadata, "annotations": {**annotations, ORIGIN: f"path: {name}\n"}}
        with contextlib.suppress(Unsimple):
            found[name] = (emitter.documents([{**document, "metadata": annotated}]), document)
    return found


def split_by_file(
    output: str | None, names: Iterable[str], expected: Expected | None = None
) -> dict[str, list[dict[str, Any]]] | None:
    """`build_staged`'s output as the objects of each file, by the origin annotations (removed again, as a
    plain build has none); None when the build failed or an object's origin is not one of `names`.

    `expected`: for files whose one object is known, what kustomize prints for it and the object
    (`expected_outputs`). When the output is exactly those texts, one per file, the objects are those (not
    copies): what the text says, without parsing it (for 3,000 objects, 0.3 s of a run)."""
    if output is None:
        return None
    names = list(names)
    if expected and (matched := _matched(output, names, expected)) is not None:
        return matched
    try:
        documents = yamlio.load_all(output)
    except yaml.YAMLError:
        return None
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    # what kustomize writes for an object of a resource file: its path alone (kyaml's origin), known beforehand
    origins = {f"path: {name}\n": name for name in found}
    for document in documents:
        origin = _pop_origin(document, origins)
        if origin not in found:
            return None
        found[origin].append(document)
    return found


def _matched(output: str, names: list[str], expected: Expected) -> dict[str, list[dict[str, Any]]] | None:
    """Each file's object, when the output is the expected text of every file once, in any order (kustomize
    sorts them); else None."""
    if not names or any(name not in expected for name in names) or not output.endswith("\n"):
        return None
    by_text = {expected[name][0]: name for name in names}
    found: dict[str, list[dict[str, Any]]] = {}
    for document in output[:-1].split("\n---\n"):
        name = by_text.get(document + "\n")
        if name is None or name in found:
            return None
        found[name] = [expected[name][1]]
    return found if len(found) == len(names) else None


def _pop_origin(document: Any, known: Mapping[str, str]) -> str | None:
    """The file named by the object's origin annotation, removed (and `annotations` with it when left empty).
    `known`: annotation texts already understood, by the file they name (parsing 3,000 of them costs 0.2 s)."""
    metadata = document.get("metadata") if isinstance(document, dict) else None
    if not isinstance(metadata, dict) or not isinstance(annotations := metadata.get("annotations"), dict):
        return None
    if not isinstance(origin := annotations.pop(ORIGIN, None), str):
        return None
    if not annotations:
        del metadata["annotations"]
    if origin in known:
        return known[origin]
    try:
        path = yamlio.load(origin).get("path")
    except (yaml.YAMLError, AttributeError):
        return None
    return path if isinstance(path, str) else None


def identity_of(obj: Mapping[str, Any]) -> Identity:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(metadata, Mapping)
    return (
        str(obj.get("apiVersion")),
        str(obj.get("kind")),
        str(metadata.get("namespace", "")),
        str(metadata.get("name", "")),
    )


def shared_ids(identities: Iterable[Identity]) -> bool:
    """Whether two objects might share a kustomize resource id: the same kind and name (kustomize also compares
    group, version and namespace; ignoring them can only send a build the long way, never pass a failing one)."""
    seen: set[tuple[str, str]] = set()
    for _, kind, _, name in identities:
        if (kind, name) in seen:
            return True
        seen.add((kind, name))
    return False
