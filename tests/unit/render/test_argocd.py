"""Argo CD manifests: a project limited to what we deploy, one Application per environment and cluster."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from generator.errors import SpecError
from generator.lock.model import Lock, LockEntry
from generator.platform.releases import ARGOCD_FEATURE_MINIMUMS
from generator.render.argocd import generated_applications
from generator.render.tree import render
from generator.spec.load import parse_spec
from generator.validate.crds import load_crd_schemas
from tests.support.paths import CRDS

SPEC = """\
apiVersion: kserve-gitops/v1
registry: {allowedStoragePrefixes: ["s3://b"]}
argocd: {repoURL: "https://git.example.com/ml/platform.git", targetRevision: release}
defaults: {resources: {limits: {cpu: 1, memory: 1Gi}}}
environments:
  dev: {namespace: ml-dev}
  prod:
    namespace: ml-prod
    clusters: [prod-eu, "https://prod-us.example.com:6443"]
  qa: {namespace: ml-qa, sync: {selfHeal: false}}
models:
  wine:
    registeredModel: wine
    environments: {dev: {latest: true}, prod: {alias: champion}, qa: {version: 1}}
"""


def _argocd(spec_text: str = SPEC) -> dict[str, dict[str, Any]]:
    spec, _ = parse_spec(spec_text)
    lock = Lock(
        {
            t.key: LockEntry(t.model, t.env, t.registered_model, t.wanted, "1", "s3://b", "s3://b", "r")
            for t in spec.targets
        }
    )
    files = render(spec, lock)
    return {p.removeprefix("argocd/"): yaml.safe_load(c) for p, c in files.items() if p.startswith("argocd/")}


def test_argocd_directory_holds_project_set_and_kustomization() -> None:
    objects = _argocd()
    assert sorted(objects) == ["applicationset.yaml", "appproject.yaml", "kustomization.yaml"]
    assert objects["kustomization.yaml"]["resources"] == ["applicationset.yaml", "appproject.yaml"]


def test_one_element_per_environment_and_cluster_with_its_sync_policy() -> None:
    (generator,) = _argocd()["applicationset.yaml"]["spec"]["generators"]
    elements = {e["name"]: e for e in generator["list"]["elements"]}
    assert sorted(elements) == [
        "kserve-gitops-dev",
        "kserve-gitops-prod-prod-eu",
        "kserve-gitops-prod-prod-us-example-com",
        "kserve-gitops-qa",
    ]
    assert (elements["kserve-gitops-dev"]["automated"], elements["kserve-gitops-dev"]["selfHeal"]) == (True, True)
    assert elements["kserve-gitops-qa"]["selfHeal"] is False
    assert elements["kserve-gitops-prod-prod-eu"]["automated"] is False, "prod syncs by hand by default"
    assert (
        elements["kserve-gitops-prod-prod-eu"]["clusterName"],
        elements["kserve-gitops-prod-prod-eu"]["server"],
    ) == ("prod-eu", "")
    assert elements["kserve-gitops-prod-prod-us-example-com"]["server"] == "https://prod-us.example.com:6443"


def test_applications_point_at_each_environment_overlay() -> None:
    template = _argocd()["applicationset.yaml"]["spec"]["template"]
    assert template["spec"]["source"] == {
        "repoURL": "https://git.example.com/ml/platform.git",
        "targetRevision": "release",
        "path": "{{ .path }}",
    }
    (generator,) = _argocd()["applicationset.yaml"]["spec"]["generators"]
    assert {e["env"]: e["path"] for e in generator["list"]["elements"]} == {
        "dev": "environments/dev",
        "prod": "environments/prod",
        "qa": "environments/qa",
    }
    assert "ServerSideApply=true" in template["spec"]["syncPolicy"]["syncOptions"]


def test_project_allows_only_our_repo_namespaces_and_kinds() -> None:
    project = _argocd()["appproject.yaml"]["spec"]
    assert project["sourceRepos"] == ["https://git.example.com/ml/platform.git"]
    assert {d["namespace"] for d in project["destinations"]} == {"ml-dev", "ml-prod", "ml-qa"}
    assert project["clusterResourceWhitelist"] == []
    assert project["namespaceResourceWhitelist"] == [{"group": "serving.kserve.io", "kind": "InferenceService"}]


@pytest.mark.parametrize("name", ["appproject.yaml", "applicationset.yaml"])
def test_argocd_objects_pass_the_strict_argo_cd_v3_5_crds(name: str) -> None:
    assert load_crd_schemas(CRDS).validate(_argocd()[name]) == []


def test_no_argocd_section_renders_no_argocd_directory() -> None:
    without = "\n".join(line for line in SPEC.splitlines() if not line.startswith("argocd:"))
    assert _argocd(without) == {}


def test_argocd_needs_a_version_whose_inferenceservice_health_check_works() -> None:
    """Argo CD before 3.3 hangs at Progressing on KServe's `Stopped` condition: no such release is known."""
    with pytest.raises(SpecError, match=r"argocdVersion v3.2.4 is not a release kserve-gitops knows"):
        parse_spec(
            SPEC.replace(
                "apiVersion: kserve-gitops/v1\n", "apiVersion: kserve-gitops/v1\nplatform: {argocdVersion: v3.2.4}\n"
            )
        )


REGISTRY = SPEC.replace(
    'registry: {allowedStoragePrefixes: ["s3://b"]}\n',
    """\
registry: {storageInitializer: {image: "ghcr.io/acme/si:1", configMap: mlflow, secret: mlflow-creds}}
""",
).replace("    registeredModel: wine\n", "    registeredModel: wine\n    method: registry\n")


def test_registry_method_syncs_the_storage_container_once_per_cluster() -> None:
    (generator,) = _argocd(REGISTRY)["applicationset.yaml"]["spec"]["generators"]
    cluster_apps = [e for e in generator["list"]["elements"] if e["path"] == "cluster"]
    assert sorted(e["name"] for e in cluster_apps) == [
        "kserve-gitops-cluster-in-cluster",
        "kserve-gitops-cluster-prod-eu",
        "kserve-gitops-cluster-prod-us-example-com",
    ]
    assert all(e["prune"] is False for e in cluster_apps), "never prune what other namespaces depend on"
    project = _argocd(REGISTRY)["appproject.yaml"]["spec"]
    assert project["clusterResourceWhitelist"] == [{"group": "serving.kserve.io", "kind": "ClusterStorageContainer"}]


def test_every_argo_cd_feature_the_application_set_uses_has_a_recorded_minimum() -> None:
    """A new field or sync option cannot slip in without the first Argo CD release that has it (the layer then
    checks every known release meets it: tests/unit/platform/test_releases.py)."""
    app_set = _argocd()["applicationset.yaml"]
    annotations = app_set["spec"]["template"]["metadata"]["annotations"]
    used = {
        app_set["kind"],
        *(set(app_set["spec"]) - {"generators", "template"}),
        *app_set["spec"]["template"]["spec"]["syncPolicy"]["syncOptions"],
        *(key.rsplit(".", 2)[0] for key in annotations),  # notifications.argoproj.io/subscribe.<trigger>.<service>
    }
    assert used == set(ARGOCD_FEATURE_MINIMUMS)


@pytest.mark.parametrize(
    ("environments", "message"),
    [
        (
            '  dev: {namespace: ml-dev, clusters: ["https://a.example.com", "https://a.example.com:6443"]}\n',
            r"\$\.environments\.dev\.clusters: environment 'dev' on cluster 'https://a\.example\.com:6443' would be "
            r"the Argo CD Application 'kserve-gitops-dev-a-example-com', as environment 'dev' on cluster "
            r"'https://a\.example\.com' is",
        ),
        (
            "  prod-eu: {namespace: ml-dev}\n  prod: {namespace: ml-prod, clusters: [eu, us]}\n",
            r"\$\.environments\.prod\.clusters: environment 'prod' on cluster 'eu' would be the Argo CD Application "
            r"'kserve-gitops-prod-eu', as environment 'prod-eu' on cluster 'https://kubernetes\.default\.svc' is",
        ),
    ],
    ids=["cluster-slugs", "environment-and-cluster"],
)
def test_two_elements_naming_one_application_are_refused(environments: str, message: str) -> None:
    """Argo CD's ApplicationSet creates or updates neither of two Applications with one name (argoproj/argo-cd
    v3.5.1 applicationset_controller.go, validateGeneratedApplications): an environment would silently not deploy."""
    env = environments.split(":", 1)[0].strip()
    spec_text = (
        SPEC.split("environments:\n", maxsplit=1)[0]
        + "environments:\n"
        + environments
        + f"models:\n  wine:\n    registeredModel: wine\n    environments: {{{env}: {{version: 1}}}}\n"
    )
    with pytest.raises(SpecError, match=message):
        _argocd(spec_text)


def _go_template(text: str, params: dict[str, Any]) -> str:
    """What Go's text/template makes of TEMPLATE_PATCH: `{{-` trims the whitespace before it, unnested
    `if`/`else`/`end` on a parameter's truth, `{{ .key }}` prints it (booleans as true/false), `| toJson` as JSON."""
    text = re.sub(r"\s*\{\{-", "{{", text)
    text = re.sub(
        r"\{\{ if \.(\w+) \}\}(.*?)(?:\{\{ else \}\}(.*?))?\{\{ end \}\}",
        lambda m: m.group(2) if params[m.group(1)] else (m.group(3) or ""),
        text,
        flags=re.DOTALL,
    )
    text = re.sub(r"\{\{ \.(\w+) \| toJson \}\}", lambda m: json.dumps(params[m.group(1)]), text)
    return re.sub(r"\{\{ \.(\w+) \}\}", lambda m: json.dumps(params[m.group(1)]).strip('"'), text)


@pytest.mark.parametrize("cluster", ["o'brien", "https://k8s.example.com/o'brien"])
def test_template_patch_is_yaml_for_any_cluster_name(cluster: str) -> None:
    """A cluster's name or URL may hold a quote; the patch Argo CD parses must still be YAML naming that cluster."""
    app_set = _argocd(SPEC.replace("clusters: [prod-eu,", f'clusters: ["{cluster}",'))["applicationset.yaml"]
    (element,) = (e for e in app_set["spec"]["generators"][0]["list"]["elements"] if cluster in e.values())
    patch = yaml.safe_load(_go_template(app_set["spec"]["templatePatch"], element))
    assert patch["spec"]["destination"] == ({"server": cluster} if element["server"] else {"name": cluster})
    assert patch["spec"].get("syncPolicy") is None, "prod syncs by hand"
    (dev,) = (e for e in app_set["spec"]["generators"][0]["list"]["elements"] if e["env"] == "dev")
    assert yaml.safe_load(_go_template(app_set["spec"]["templatePatch"], dev))["spec"] == {
        "destination": {"server": "https://kubernetes.default.svc"},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
    }


def test_the_applications_a_rendered_set_generates_are_its_elements_each_with_its_directory() -> None:
    assert generated_applications(_argocd().values()) == {
        "kserve-gitops-dev": "environments/dev",
        "kserve-gitops-prod-prod-eu": "environments/prod",
        "kserve-gitops-prod-prod-us-example-com": "environments/prod",
        "kserve-gitops-qa": "environments/qa",
    }


@pytest.mark.parametrize(
    "obj",
    [
        None,
        [],
        {"kind": "ApplicationSet"},
        {"kind": "ApplicationSet", "spec": []},
        {"kind": "ApplicationSet", "spec": {"template": {"metadata": {"name": "fixed"}}, "generators": []}},
        {"kind": "ApplicationSet", "spec": {"template": {"metadata": {"name": "{{ .name }}"}}, "generators": {}}},
        {"kind": "ApplicationSet", "spec": {"template": {"metadata": {"name": "{{ .name }}"}}, "generators": [7]}},
        {
            "kind": "ApplicationSet",
            "spec": {
                "template": {"metadata": {"name": "{{ .name }}"}},
                "generators": [{"list": {"elements": [{"name": 3}]}}],
            },
        },
        {
            "kind": "AppProject",
            "spec": {
                "template": {"metadata": {"name": "{{ .name }}"}},
                "generators": [{"list": {"elements": [{"name": "a"}]}}],
            },
        },
    ],
)
def test_objects_that_name_no_application_by_a_list_element_generate_none_and_raise_nothing(obj: Any) -> None:
    """A base's argocd/ may hold anything someone committed: what is not a set naming its Applications after list
    elements says nothing about which Applications exist."""
    assert generated_applications([obj]) == {}
