"""The release layer: lookup by pin, refusal of unknown pins, and a source for every fact."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from importlib import resources
from typing import Any, get_args

import pytest

from generator.platform.releases import (
    ARGOCD_DEFAULT_PIN,
    ARGOCD_FEATURE_MINIMUMS,
    ARGOCD_RELEASES,
    FACTS,
    HEALTH_CHECK_MINIMUMS,
    KSERVE_DEFAULT_PIN,
    KSERVE_RELEASES,
    DeploymentMode,
    KServeRelease,
    Release,
    UnknownRelease,
    release,
)
from generator.platform.runtimes import MLSERVER, runtime_release
from generator.registry.uris import STORAGE_SCHEMES

RELEASES: tuple[Release, ...] = (*KSERVE_RELEASES, *ARGOCD_RELEASES)
SCHEMA: dict[str, Any] = json.loads(resources.files("generator.spec").joinpath("models.schema.json").read_text())


def _platform_schema(key: str) -> dict[str, Any]:
    found = [node for node in _walk(SCHEMA) if isinstance(node.get("properties"), dict) and key in node["properties"]]
    return found[0]["properties"][key]  # type: ignore[no-any-return]


def _walk(node: object) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(n for v in node.values() for n in _walk(v))]
    if isinstance(node, list):
        return [n for v in node for n in _walk(v)]
    return []


@pytest.mark.parametrize(
    ("known", "pin", "tag", "confirmed"),
    [
        (KSERVE_RELEASES, "v0.20.0", "v0.20.0", True),
        (KSERVE_RELEASES, "v0.20.7", "v0.20.0", True),  # a patch release shares its line's facts
        (KSERVE_RELEASES, "v0.21.0", "v0.21.0", False),
        (KSERVE_RELEASES, "v0.21.2", "v0.21.0", False),
        (ARGOCD_RELEASES, "v3.5.1", "v3.5.1", True),
        (ARGOCD_RELEASES, "v3.6.3", "v3.6.0", False),
    ],
)
def test_a_pin_finds_the_record_of_its_release_line(
    known: tuple[Release, ...], pin: str, tag: str, confirmed: bool
) -> None:
    found = release(known, pin)
    assert (found.tag, found.confirmed) == (tag, confirmed)


@pytest.mark.parametrize(
    ("known", "pin", "message"),
    [
        (
            KSERVE_RELEASES,
            "v0.19.1",
            "platform.kserveVersion v0.19.1 is not a release kserve-gitops knows (known: v0.20.x, v0.21.x)",
        ),
        (
            ARGOCD_RELEASES,
            "v3.7.0",
            "platform.argocdVersion v3.7.0 is not a release kserve-gitops knows (known: v3.5.x, v3.6.x)",
        ),
        (KSERVE_RELEASES, "v0.20", "platform.kserveVersion v0.20 is not a release kserve-gitops knows"),
        (KSERVE_RELEASES, "v0.20.0-rc1", "platform.kserveVersion v0.20.0-rc1 is not a release kserve-gitops knows"),
    ],
)
def test_an_unknown_pin_is_refused_listing_the_known_releases(
    known: tuple[Release, ...], pin: str, message: str
) -> None:
    with pytest.raises(UnknownRelease) as caught:
        release(known, pin)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("record", RELEASES, ids=lambda r: f"{r.project} {r.tag}")
def test_every_fact_of_every_release_has_a_source(record: Release) -> None:
    facts = {f.name for f in fields(record)} - {f.name for f in fields(Release)} | {"crd_files"}
    assert set(record.sources) == facts
    assert facts <= set(FACTS)
    for source in record.sources.values():
        assert re.match(r"(kserve/kserve|argoproj/argo-cd) (tag v\d|master@[0-9a-f]{40} \(2026-)", source.at)
        assert source.path
        assert source.confirmed == (" tag " in source.at), "only what was read at a tag is confirmed"
        assert str(source).endswith("unconfirmed at the tag") != source.confirmed


@pytest.mark.parametrize("record", KSERVE_RELEASES, ids=lambda r: r.tag)
def test_every_kserve_release_says_what_its_mlflow_runtime_runs_with_a_source(record: Release) -> None:
    shipped = runtime_release(MLSERVER, record.tag)
    assert shipped is not None
    assert shipped.model_formats["mlflow"] == ("1", "2")
    assert set(shipped.images) == {"kustomize", "helm"}
    assert shipped.source.confirmed == record.confirmed


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.lstrip("v").split("."))


def test_no_release_older_than_the_inference_service_health_check_fix_is_listed() -> None:
    for record in RELEASES:
        minimum, source = HEALTH_CHECK_MINIMUMS[record.project]
        assert _version(record.tag) >= _version(minimum), record
        assert source.at and source.path


@pytest.mark.parametrize("feature", sorted(ARGOCD_FEATURE_MINIMUMS))
def test_every_argo_cd_release_has_each_feature_the_rendered_objects_use(feature: str) -> None:
    minimum, source = ARGOCD_FEATURE_MINIMUMS[feature]
    assert re.match(r"argoproj/argo-cd( tag v\d|#\d+ \([0-9a-f]{40}, 20)", source.at)
    assert minimum in source.at or f"{minimum}-rc1" in source.path, "the source shows the minimum"
    for record in ARGOCD_RELEASES:
        assert _version(record.tag) >= _version(minimum), (feature, record.tag)


def test_the_defaults_and_init_pin_the_confirmed_releases() -> None:
    assert release(KSERVE_RELEASES, KSERVE_DEFAULT_PIN).confirmed
    assert release(ARGOCD_RELEASES, ARGOCD_DEFAULT_PIN).confirmed
    assert _platform_schema("kserveVersion")["default"] == KSERVE_DEFAULT_PIN
    assert _platform_schema("argocdVersion")["default"] == ARGOCD_DEFAULT_PIN
    template = resources.files("generator.scaffold").joinpath("templates/models.yaml").read_text()
    assert f"kserveVersion: {KSERVE_DEFAULT_PIN}\n" in template
    assert f"argocdVersion: {ARGOCD_DEFAULT_PIN}\n" in template


@pytest.mark.parametrize("record", RELEASES, ids=lambda r: f"{r.project} {r.tag}")
def test_the_schema_lets_every_known_release_through_to_the_loader(record: Release) -> None:
    """The schema checks only the shape of a pin; which releases exist is the layer's alone (no list to drift)."""
    key = "kserveVersion" if record.project == "KServe" else "argocdVersion"
    assert "enum" not in _platform_schema(key)
    assert re.search(_platform_schema(key)["pattern"], f"{record.line}.9")


def test_the_schema_offers_exactly_the_deployment_modes_of_every_release() -> None:
    enum = _platform_schema("deploymentMode")["enum"]
    assert tuple(enum) == get_args(DeploymentMode)
    for record in KSERVE_RELEASES:
        assert record.deployment_modes == get_args(DeploymentMode)
        assert set(record.legacy_deployment_modes.values()) <= set(enum)


def test_the_registry_only_sends_kserve_to_schemes_every_release_downloads() -> None:
    for record in KSERVE_RELEASES:
        assert {f"{scheme}://" for scheme in STORAGE_SCHEMES} <= set(record.storage_uri_prefixes), record.tag


@pytest.mark.parametrize("record", KSERVE_RELEASES, ids=lambda r: r.tag)
def test_every_kserve_release_says_what_its_webhook_fills_in_and_where_the_ingress_class_goes(
    record: KServeRelease,
) -> None:
    """v0.20 read at the tag, v0.21 on master before it (unchanged there): the renderer writes these itself."""
    assert record.inference_service_container == "kserve-container"
    assert record.container_resource_defaults == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "1", "memory": "2Gi"},
    }
    assert set(record.ingress_class_annotations) == set(record.deployment_modes)
    assert record.ingress_class_annotations["Standard"] == "kubernetes.io/ingress.class"
    assert "no KServe constant" in record.sources["ingress_class_annotations"].path  # said, not hidden
