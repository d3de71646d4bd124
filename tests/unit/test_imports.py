"""The package's import structure, read from the source: folders form no loop, stages only look back,
and KServe/MLServer/Argo CD facts come from generator/platform alone."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "generator"
STAGES = ("spec", "lock", "render", "validate")  # the pipeline's order: a stage may import earlier ones only
FACT_USERS = ("spec", "lock", "render", "validate", "smoke")


def _imports(path: Path) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(module imported, names taken from it) for every `generator.…` import in `path`, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("generator"):
            yield node.module, tuple(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from ((a.name, ()) for a in node.names if a.name.startswith("generator"))


def _folder(module: str) -> str:
    """The node a module belongs to: its folder under generator/, or the top-level module itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "generator"


def _node(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        source = _node(path)
        for module, _ in _imports(path):
            target = _folder(module)
            if target not in (source, "generator"):
                graph.setdefault(source, set()).add(target)
    return graph


def test_folders_import_each_other_without_a_loop() -> None:
    graph = _edges()
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    loops = []
    for start in sorted(folders):
        seen, todo = set(), [(start, [start])]
        while todo:
            node, trail = todo.pop()
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    loops.append(" → ".join([*trail, start]))
                elif nxt in folders and nxt not in seen:
                    seen.add(nxt)
                    todo.append((nxt, [*trail, nxt]))
    assert loops == []


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_never_imports_a_later_one(stage: str) -> None:
    later = set(STAGES[STAGES.index(stage) + 1 :])
    assert _edges().get(stage, set()) & later == set()


def test_the_platform_layer_imports_nothing_of_the_product() -> None:
    assert {m for p in (PACKAGE / "platform").rglob("*.py") for m, _ in _imports(p)} <= {
        f"generator.platform.{p.stem}" for p in (PACKAGE / "platform").glob("*.py")
    }


def _constants(module: str, names: tuple[str, ...]) -> list[str]:
    return [f"{module}.{n}" for n in names if n.isupper() and len(n) > 1]


def test_facts_are_imported_from_the_platform_layer_only() -> None:
    """Between the stages that use KServe facts, only the product's own constants (file names, the
    lock's and spec's own vocabulary) may cross; any KServe, MLServer or Argo CD fact comes from generator/platform."""
    own = {
        "generator.lock.LOCK_FILE",  # the lock's file name
        "generator.lock.io.IMAGE_DIGEST",  # a lock field
        "generator.spec.SPEC_FILE",  # models.yaml's name
        "generator.spec.model.IN_CLUSTER",  # models.yaml's name for the local cluster
        "generator.spec.model.MANUAL_SYNC",
        "generator.spec.model.PRODUCTION_NAMES",
        "generator.spec.model.PRODUCTION_POLICIES",
        "generator.spec.model.REF_KINDS",
        "generator.smoke.mlmodel.LOG_HINT",
        "generator.smoke.mlmodel.SERVING",
    }
    crossing = sorted(
        constant
        for folder in FACT_USERS
        for path in (PACKAGE / folder).rglob("*.py")
        for module, names in _imports(path)
        if _folder(module) in FACT_USERS and _folder(module) != folder
        for constant in _constants(module, names)
        if constant not in own
    )
    assert crossing == []


def test_no_stage_holds_a_copy_of_a_release_fact() -> None:
    """The values only the layer may spell out: legacy mode names, the mode annotation, storage prefixes
    that are not product policy, CRD paths, the webhook's container name and the ingress-class annotations."""
    from generator.platform.releases import ARGOCD_RELEASES, KSERVE_RELEASES  # noqa: PLC0415

    facts = {
        *(legacy for r in KSERVE_RELEASES for legacy in r.legacy_deployment_modes),
        *(r.deployment_mode_annotation for r in KSERVE_RELEASES),
        *(r.inference_service_container for r in KSERVE_RELEASES),
        *(key for r in KSERVE_RELEASES for key in r.ingress_class_annotations.values()),
        *(p for r in KSERVE_RELEASES for p in r.storage_uri_prefixes if p.startswith(("oci", "hf", "pvc", "webhdfs"))),
        *(path for r in (*KSERVE_RELEASES, *ARGOCD_RELEASES) for path, _ in r.crd_files),
    }
    copies = sorted(
        f"{path.relative_to(PACKAGE)}: {node.value!r}"
        for folder in FACT_USERS
        for path in (PACKAGE / folder).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in facts
    )
    assert copies == []
