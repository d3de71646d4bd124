"""A plain kustomization assembled from what kustomize makes of each file equals the real `kubectl kustomize DIR`.

Seeded random trees mix valid files with every way a file or a pair of files can break a build; each tree is
built the product's way (files in batches, facts remembered, then read back from the store) and by the real
kustomize on the directory. Where the product assembled a build, kustomize must succeed with the same objects;
where kustomize fails, the product must show kustomize's own error.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.cache import Store
from generator.errors import UserError
from generator.spec.model import Platform
from generator.validate.kustomize import BATCH, build_plain, kustomize_build
from generator.validate.manifests import Built, build_kustomizations, check_tree

PLATFORM = Platform(kubernetes_version="1.33")  # what these trees are checked against

KINDS = [("v1", "ConfigMap"), ("v1", "Namespace"), ("apps/v1", "Deployment"), ("example.com/v1", "Widget")]
NAMES = ["a", "b", "c", "d", "e", "f", "g", "h"]
BROKEN = {
    "unparsable": "kind: [unclosed\n",
    "a list": "- a\n- b\n",
    "no kind": "apiVersion: v1\nmetadata: {name: nokind}\n",
    "no name": "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
    "no metadata": "apiVersion: v1\nkind: ConfigMap\ndata: {x: y}\n",
    "a scalar": "just text\n",
}
ODD = {
    "empty": "",
    "comments only": "# nothing here\n",
    "separator only": "---\n",
    "empty maps": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: empty-maps\n  annotations: {}\n  labels: {}\n",
    "yaml 1.1 scalars": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: scalars}\ndata: {x: yes, y: 1.0}\n",
    "a List": "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ServiceAccount, metadata: {name: l1}}\n"
    "- {apiVersion: v1, kind: ServiceAccount, metadata: {name: l2, namespace: x}}\n",
}
NOT_PLAIN = ["namePrefix: p-\n", "namespace: other\n", "commonLabels: {team: ml}\n"]


def _object(chooser: random.Random) -> dict[str, Any]:
    api_version, kind = chooser.choice(KINDS)
    metadata: dict[str, Any] = {"name": chooser.choice(NAMES)}
    if kind != "Namespace" and chooser.random() < 0.6:
        metadata["namespace"] = chooser.choice(["default", "ml-dev", "ml-prod"])
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    if kind == "ConfigMap":
        obj["data"] = {"value": str(chooser.randint(0, 9))}
    return obj


def _file(chooser: random.Random, bad: float) -> str:
    roll = chooser.random()
    if roll < bad:
        return chooser.choice(list(BROKEN.values()))
    if roll < 2 * bad:
        return chooser.choice(list(ODD.values()))
    docs = [_object(chooser) for _ in range(2 if chooser.random() < 0.15 else 1)]
    return yaml.safe_dump_all(docs)


def _kustomization(directory: Path, chooser: random.Random, bad: float) -> None:
    directory.mkdir(parents=True)
    names = [f"r{i}.yaml" for i in range(chooser.randint(0, 6))]
    for name in names:
        (directory / name).write_text(_file(chooser, bad))
    listed = list(names)
    if chooser.random() < bad:
        listed.append("missing.yaml")
    if listed and chooser.random() < bad / 2:
        listed.append(f"./{listed[0]}")
    header = "" if chooser.random() < 0.2 else "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    extra = chooser.choice(NOT_PLAIN) if chooser.random() < bad / 2 else ""
    (directory / "kustomization.yaml").write_text(header + extra + yaml.safe_dump({"resources": listed}))


def _real(directory: Path, root: Path) -> Built:
    """What kustomize itself makes of `directory`; its words with the paths relative to `root`, as the checks
    show them."""
    try:
        return Built.whole(kustomize_build(directory))
    except UserError as exc:
        return Built((), [replace(d, message=d.message.replace(f"{root}/", "")) for d in exc.diagnostics])


def _multiset(objects: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(o, sort_keys=True) for o in objects)


def _assert_equivalent(root: Path, results: dict[str, Built]) -> int:
    assembled = 0
    for name, result in results.items():
        real = _real(root / name, root)
        assert bool(result.problems) == bool(real.problems), name
        assert _multiset(result.objects) == _multiset(real.objects), name
        assert [d.message for d in result.problems] == [d.message for d in real.problems], name
        assembled += result.assembled
    return assembled


@pytest.mark.parametrize("seed", range(8))
def test_plain_builds_assembled_from_files_equal_real_kustomize(seed: int, tmp_path: Path) -> None:
    chooser = random.Random(seed)
    root = tmp_path / "tree"
    names = [f"k{i}" for i in range(6)]
    for name in names:
        _kustomization(root / name, chooser, bad=chooser.choice([0.0, 0.05, 0.15]))
    store = Store.open(tmp_path / "cache")
    assembled = 0
    for batch in ([n] for n in names):  # each alone: a failing file spoils only its own batch
        assembled += _assert_equivalent(root, build_kustomizations(root, batch))
    together = build_kustomizations(root, names, store)
    remembered = build_kustomizations(root, names, store)
    assert together == remembered, "facts read back from the store give the same builds"
    _assert_equivalent(root, together)
    assert assembled, "some builds were assembled from their files"


@pytest.mark.parametrize("seed", range(8))
def test_a_plain_kustomization_built_by_file_gives_what_kustomize_gives_or_nothing(seed: int, tmp_path: Path) -> None:
    """`build_plain` (what `diff` builds an environment with): the real build's objects, or None when the
    directory must be built whole (not plain, a file kustomize refuses, two objects with one id)."""
    chooser = random.Random(seed)
    built = 0
    for index in range(6):
        directory = tmp_path / f"k{index}"
        _kustomization(directory, chooser, bad=chooser.choice([0.0, 0.05, 0.15]))
        objects = build_plain(directory)
        if objects is not None:
            real = _real(directory, tmp_path)
            assert real.problems == [], directory.name
            assert _multiset(objects) == _multiset(real.objects), directory.name
            built += bool(objects)
    assert built, "some were built file by file"


def test_a_directory_of_more_files_than_a_batch_is_built_in_several_with_the_objects_of_one_build(
    tmp_path: Path,
) -> None:
    names = [f"m{i:03d}.yaml" for i in range(2 * BATCH + 1)]
    for name in names:
        (tmp_path / name).write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name[:-5]}}}\n")
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({"resources": list(reversed(names))}))
    objects = build_plain(tmp_path)
    assert objects is not None
    assert [o["metadata"]["name"] for o in objects] == [name[:-5] for name in reversed(names)], "in listed order"
    assert _multiset(objects) == _multiset(_real(tmp_path, tmp_path).objects)


def test_two_objects_with_one_id_in_different_batches_send_the_directory_to_kustomize_whole(tmp_path: Path) -> None:
    names = [f"m{i:03d}.yaml" for i in range(2 * BATCH + 1)]
    for name in names:  # the first two, in different batches, hold one ConfigMap
        (tmp_path / name).write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {max(name[:-5], 'm001')}}}\n")
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({"resources": names}))
    assert build_plain(tmp_path) is None
    assert "already registered id" in _real(tmp_path, tmp_path).problems[0].message


def test_a_file_kustomize_refuses_shows_kustomizes_own_error(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n")
    (tmp_path / "bad.yaml").write_text(BROKEN["no name"])
    (tmp_path / "kustomization.yaml").write_text("resources: [ok.yaml, bad.yaml]\n")
    found = check_tree(
        tmp_path, ["kustomization.yaml", "ok.yaml", "bad.yaml"], None, Platform(kubernetes_version="1.33")
    )
    (finding,) = [d for d in found if d.file == "kustomization.yaml"]
    assert finding.message == _real(tmp_path, tmp_path).problems[0].message
    assert "missing metadata.name" in finding.message


def test_two_files_with_one_object_show_kustomizes_own_error(tmp_path: Path) -> None:
    for name in ("one.yaml", "two.yaml"):
        (tmp_path / name).write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same}\n")
    (tmp_path / "kustomization.yaml").write_text("resources: [one.yaml, two.yaml]\n")
    (result,) = build_kustomizations(tmp_path, ["."]).values()
    assert not result.assembled
    assert "already registered id" in result.problems[0].message
    assert build_plain(tmp_path) is None, "diff builds it whole, for kustomize's words"
