"""Rendered InferenceServices are what KServe's webhook would store: Argo CD sees no permanent drift."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from generator.lock.model import Lock, LockEntry
from generator.render.tree import render
from generator.spec.load import load_spec, parse_spec
from tests.support.admission import (
    KSERVE_V020_DEFAULTS,
    InferenceServiceConfig,
    apply_crd_defaults,
    apply_webhook_defaults,
)
from tests.support.paths import CRDS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "spec" / "valid"
CLUSTER_CONFIGS = {
    "kserve-v0.20-defaults": KSERVE_V020_DEFAULTS,
    "standard-by-default": InferenceServiceConfig(default_deployment_mode="Standard"),
    "raw-deployment-by-default": InferenceServiceConfig(default_deployment_mode="RawDeployment"),
}


def _rendered_services() -> list[tuple[str, dict[str, object]]]:
    services = []
    for example in sorted(EXAMPLES.glob("*.yaml")):
        spec, _ = load_spec(example)
        where = f"{spec.storage_prefixes[0]}/m"
        lock = Lock(
            {
                t.key: LockEntry(
                    t.model,
                    t.env,
                    t.registered_model,
                    t.ref,
                    t.wanted.value if t.wanted.kind == "version" else "1",
                    where,
                    where,
                    "r",
                )
                for t in spec.targets
            }
        )
        for path, content in render(spec, lock).items():
            document = yaml.safe_load(content)
            if document["kind"] == "InferenceService":
                services.append((f"{example.stem}:{path}", document))
    return services


SERVICES = _rendered_services()


def test_there_are_services_to_check() -> None:
    assert len(SERVICES) >= 5


@pytest.mark.parametrize("config", CLUSTER_CONFIGS.values(), ids=CLUSTER_CONFIGS.keys())
@pytest.mark.parametrize(("name", "isvc"), SERVICES, ids=[n for n, _ in SERVICES])
def test_rendered_service_is_a_fixed_point_of_the_webhook(
    name: str, isvc: dict[str, object], config: InferenceServiceConfig
) -> None:
    assert apply_webhook_defaults(isvc, deployment_config=config) == isvc


@pytest.mark.parametrize(("name", "isvc"), SERVICES, ids=[n for n, _ in SERVICES])
def test_rendered_service_is_a_fixed_point_of_the_crd_defaults(name: str, isvc: dict[str, object]) -> None:
    """The API server fills in the CRD's `default`s (e.g. ports[].protocol) before the webhook runs."""
    assert apply_crd_defaults(CRDS, isvc) == isvc


def _prod_service(spec_text: str) -> dict[str, object]:
    spec, _ = parse_spec(spec_text)
    where = f"{spec.artifacts_destination}/m"
    lock = Lock(
        {t.key: LockEntry(t.model, t.env, t.registered_model, t.ref, "1", where, where, "r") for t in spec.targets}
    )
    document = yaml.safe_load(render(spec, lock)["environments/prod/wine-classifier.yaml"])
    assert isinstance(document, dict)
    return document


def test_a_cluster_that_disables_token_automount_needs_the_setting_in_models_yaml() -> None:
    no_automount = InferenceServiceConfig(auto_mount_service_account_token=False)
    text = (EXAMPLES / "example.yaml").read_text()
    plain = _prod_service(text)
    assert apply_webhook_defaults(plain, deployment_config=no_automount) != plain
    declared = _prod_service(text.replace("defaults:\n", "defaults:\n  automountServiceAccountToken: false\n"))
    assert apply_webhook_defaults(declared, deployment_config=no_automount) == declared
