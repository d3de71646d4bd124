from __future__ import annotations

import json
import shutil
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.crds import CRD_LOCK_FILE
from generator.errors import EXIT_ENVIRONMENT, EnvironmentProblem
from generator.spec.model import Platform
from generator.validate.crds import CrdSchemas, load_crd_schemas, unpinned


def messages(found: list[Any]) -> list[tuple[str, str]]:
    return [(d.path, d.message) for d in found]


def test_minimal_mlflow_inference_service_passes(crds: CrdSchemas, isvc: dict[str, Any]) -> None:
    assert crds.validate(isvc) == []


def test_misspelled_field_is_reported_with_the_right_spelling(crds: CrdSchemas, isvc: dict[str, Any]) -> None:
    model = isvc["spec"]["predictor"]["model"]
    model["storageURI"] = model.pop("storageUri")

    [problem] = crds.validate(isvc)

    assert problem.path == "$.spec.predictor.model.storageURI"
    assert problem.message == "unknown field 'storageURI' (did you mean 'storageUri'?)"
    assert problem.rule == "crd-schema"
    assert problem.severity == "error"


def test_an_unknown_field_in_a_list_item_is_reported(crds: CrdSchemas, isvc: dict[str, Any]) -> None:
    """Schemas under `items` are made strict as those under `properties` are."""
    isvc["spec"]["predictor"]["model"]["env"] = [{"name": "A", "valeu": "1"}]

    assert messages(crds.validate(isvc)) == [
        ("$.spec.predictor.model.env[0].valeu", "unknown field 'valeu' (did you mean 'value'?)")
    ]


def test_wrong_type_names_expected_and_actual(crds: CrdSchemas, isvc: dict[str, Any]) -> None:
    isvc["spec"]["predictor"]["minReplicas"] = "two"

    assert messages(crds.validate(isvc)) == [("$.spec.predictor.minReplicas", "expected integer, got string 'two'")]


def test_int_or_string_reads_as_one_alternative(crds: CrdSchemas, isvc: dict[str, Any]) -> None:
    isvc["spec"]["predictor"]["model"]["resources"]["limits"]["cpu"] = [1]

    assert messages(crds.validate(isvc)) == [
        ("$.spec.predictor.model.resources.limits.cpu", "expected integer or string, got array")
    ]


def test_every_problem_is_reported_not_only_the_first(crds: CrdSchemas, isvc: dict[str, Any]) -> None:
    isvc["metadata"]["annotation"] = {}
    isvc["metadata"]["labels"]["version"] = 7
    isvc["spec"]["predictor"]["model"]["modelFormat"] = {"version": "2"}

    assert messages(crds.validate(isvc)) == [
        ("$.metadata.annotation", "unknown field 'annotation' (did you mean 'annotations'?)"),
        ("$.metadata.labels.version", "expected string, got integer 7"),
        ("$.spec.predictor.model.modelFormat", "missing required field 'name'"),
    ]


def test_kind_without_schema_is_an_error_not_a_pass(crds: CrdSchemas) -> None:
    [problem] = crds.validate({"apiVersion": "serving.kserve.io/v1beta1", "kind": "Foo", "metadata": {"name": "x"}})

    assert problem.message.startswith("no schema for serving.kserve.io/v1beta1 Foo: ")
    assert "CRDs" in problem.hint
    assert problem.severity == "error"


def test_misspelled_kind_gets_a_suggestion(crds: CrdSchemas) -> None:
    [problem] = crds.validate({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceSevice"})

    assert "(did you mean 'InferenceService'?)" in problem.message


def test_unknown_group_says_no_crd_serves_it(crds: CrdSchemas, crd_dir: Path) -> None:
    [problem] = crds.validate({"apiVersion": "example.com/v1", "kind": "Widget"})

    assert (
        problem.message == f"no schema for example.com/v1 Widget: no CRD in {crd_dir.resolve()} serves example.com/v1"
    )


def test_file_and_line_come_from_the_callers_mapping(crds: CrdSchemas, isvc: dict[str, Any]) -> None:
    isvc["spec"]["predictor"]["minReplicas"] = -1.5
    lines = {"$.spec.predictor.minReplicas": 12}

    [problem] = crds.validate(isvc, file="envs/prod/fraud.yaml", line_of=lambda path: lines.get(path, 0))

    assert (problem.file, problem.line) == ("envs/prod/fraud.yaml", 12)


def test_argo_cd_kinds_minimal_objects_pass(crds: CrdSchemas) -> None:
    meta = {"name": "models", "namespace": "argocd"}
    app_spec = {
        "project": "models",
        "source": {
            "repoURL": "https://git.example.com/ml/gitops.git",
            "path": "environments/prod",
            "targetRevision": "main",
        },
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "ml-prod"},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, "syncOptions": ["ServerSideApply=true"]},
    }
    objects = [
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": meta, "spec": app_spec},
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": meta,
            "spec": {
                "description": "models",
                "sourceRepos": ["https://git.example.com/ml/gitops.git"],
                "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "ml-*"}],
            },
        },
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ApplicationSet",
            "metadata": meta,
            "spec": {
                "goTemplate": True,
                "generators": [{"list": {"elements": [{"env": "prod"}, {"env": "staging"}]}}],
                "template": {"metadata": {"name": "models-{{.env}}"}, "spec": app_spec},
            },
        },
    ]

    assert [crds.validate(obj) for obj in objects] == [[], [], []]


def test_argo_cd_misspelled_field_fails(crds: CrdSchemas) -> None:
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "fraud"},
        "spec": {"project": "models", "destination": {"server": "https://kubernetes.default.svc", "namesapce": "ml"}},
    }

    assert messages(crds.validate(app)) == [
        ("$.spec.destination.namesapce", "unknown field 'namesapce' (did you mean 'namespace'?)")
    ]


def test_schemas_are_loaded_once_per_directory(crds: CrdSchemas, crd_dir: Path) -> None:
    assert load_crd_schemas(crd_dir / ".." / "crds") is crds
    assert ("serving.kserve.io/v1beta1", "InferenceService") in crds.schemas
    assert ("argoproj.io/v1alpha1", "ApplicationSet") in crds.schemas


def test_missing_directory_is_an_environment_problem(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="does not exist"):
        load_crd_schemas(tmp_path / "absent")


def test_directory_without_crds_is_an_environment_problem(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [a.yaml]\n")

    with pytest.raises(EnvironmentProblem, match="no CustomResourceDefinition found"):
        load_crd_schemas(tmp_path)


WIDGET_CRD = textwrap.dedent(
    """\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: widgets.example.com}
    spec:
      group: example.com
      names: {kind: Widget, plural: widgets}
      scope: Namespaced
      versions:
      - name: v1
        served: true
        storage: true
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                properties:
                  note: {type: string, nullable: true}
                  port: {x-kubernetes-int-or-string: true}
                  template: {type: object, x-kubernetes-embedded-resource: true, properties: {spec: {type: object}}}
                  extra: {type: object, x-kubernetes-preserve-unknown-fields: true, properties: {a: {type: string}}}
      - name: v0
        served: false
        storage: false
        schema: {openAPIV3Schema: {type: object}}
    """
)


@pytest.fixture
def widgets(tmp_path: Path) -> CrdSchemas:
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "widget.yml").write_text(WIDGET_CRD)
    (tmp_path / "kustomization.yaml").write_text("resources: [nested/widget.yml]\n")
    return load_crd_schemas(tmp_path)


def widget(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}


def test_only_served_versions_of_crds_found_recursively_are_loaded(widgets: CrdSchemas) -> None:
    assert list(widgets.schemas) == [("example.com/v1", "Widget")]


def test_kubernetes_extensions_are_honoured(widgets: CrdSchemas) -> None:
    valid = widget(
        note=None,
        port="http",
        template={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}},
        extra={"a": "x", "anything": [1, 2]},
    )

    assert widgets.validate(valid) == []
    assert widgets.validate(widget(port=8080)) == []


def test_embedded_resources_need_api_version_and_kind(widgets: CrdSchemas) -> None:
    assert messages(widgets.validate(widget(template={"spec": {}}))) == [
        ("$.spec.template", "missing required field 'apiVersion'"),
        ("$.spec.template", "missing required field 'kind'"),
    ]


def test_int_or_string_without_any_of_still_rejects_other_types(widgets: CrdSchemas) -> None:
    assert messages(widgets.validate(widget(port=True))) == [
        ("$.spec.port", "expected integer or string, got boolean True")
    ]


def test_a_file_is_parsed_only_when_a_kind_it_may_name_is_asked_for(tmp_path: Path) -> None:
    (tmp_path / "widget.yaml").write_text(WIDGET_CRD)
    (tmp_path / "zz-broken.yaml").write_text("kind: CustomResourceDefinition\nspec: [unclosed\n")
    schemas = load_crd_schemas(tmp_path)

    assert schemas.validate(widget(note="x")) == []
    with pytest.raises(EnvironmentProblem, match="cannot read this CRD file"):
        schemas.validate({"apiVersion": "example.com/v1", "kind": "Gadget"})


def test_a_kind_spelt_with_escapes_is_still_found(tmp_path: Path) -> None:
    (tmp_path / "widget.yaml").write_text(WIDGET_CRD.replace("kind: Widget", 'kind: "W\\x69dget"'))

    assert "Widget" not in (tmp_path / "widget.yaml").read_text()
    assert messages(load_crd_schemas(tmp_path).validate(widget(port=True))) == [
        ("$.spec.port", "expected integer or string, got boolean True")
    ]


def _copy_of(source: Path, target: Path) -> Path:
    """The same CRD bytes in another directory, which a process has not loaded yet."""
    target.mkdir()
    (target / "widget.yaml").write_bytes((source / "widget.yaml").read_bytes())
    return target


def test_served_schemas_of_a_large_crd_are_remembered_by_the_run_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real CRDs are large (the InferenceService one is ~39k lines): what one serves is read back as JSON."""
    monkeypatch.setenv("KSERVE_GITOPS_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "crds").mkdir()
    (tmp_path / "crds" / "widget.yaml").write_text(WIDGET_CRD + "# " + "padding " * 10_000 + "\n")
    assert load_crd_schemas(tmp_path / "crds").validate(widget()) == []

    # A later load of the same bytes reads the remembered schemas, not the YAML: one saying `note` is an integer wins.
    with sqlite3.connect(next((tmp_path / "cache").glob("*.sqlite"))) as db:
        ((value,),) = db.execute("SELECT value FROM fact WHERE kind = 'parse'").fetchall()
        saved = json.loads(value)
        saved[0][2]["properties"]["spec"]["properties"]["note"] = {"type": "integer"}
        db.execute("UPDATE fact SET value = ? WHERE kind = 'parse'", [json.dumps(saved)])
    again = load_crd_schemas(_copy_of(tmp_path / "crds", tmp_path / "again"))
    assert messages(again.validate(widget(note="x"))) == [("$.spec.note", "expected integer, got string 'x'")]


LOOSE_ISVC_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: inferenceservices.serving.kserve.io}
spec:
  group: serving.kserve.io
  names: {kind: InferenceService, plural: inferenceservices}
  scope: Namespaced
  versions:
  - name: v1beta1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""


def test_a_file_the_crd_lock_does_not_list_cannot_serve_a_kind_in_a_locked_files_place(
    crd_dir: Path, tmp_path: Path, isvc: dict[str, Any]
) -> None:
    """A pull request may commit `schemas/crds/zz.yaml` (git add -f): a looser InferenceService schema there would
    switch the strict check off in CI. Only what crds.lock.yaml lists is read."""
    copied = tmp_path / "crds"
    shutil.copytree(crd_dir, copied)
    (copied / "zz-override.yaml").write_text(LOOSE_ISVC_CRD)
    isvc["spec"]["predictor"]["notAKServeField"] = True
    assert messages(load_crd_schemas(copied).validate(isvc)) == [
        ("$.spec.predictor.notAKServeField", "unknown field 'notAKServeField'")
    ]


def test_crds_fetched_for_the_pinned_releases_are_not_unpinned(crd_dir: Path) -> None:
    assert unpinned(crd_dir, Platform(), "error") == []


def test_a_directory_without_a_crd_lock_has_no_release_to_compare(tmp_path: Path) -> None:
    (tmp_path / "widgets.yaml").write_text("kind: CustomResourceDefinition\n")

    assert unpinned(tmp_path, Platform(kserve_version="v0.21.0"), "error") == []


def test_each_release_fetched_for_another_pin_or_not_whole_is_named_once(crd_dir: Path, tmp_path: Path) -> None:
    fetched = Path(shutil.copytree(crd_dir, tmp_path / "crds"))
    lock = yaml.safe_load((fetched / CRD_LOCK_FILE).read_text())
    del lock["argocd/appproject-crd.yaml"]
    (fetched / CRD_LOCK_FILE).write_text(yaml.safe_dump(lock))

    found = unpinned(fetched, Platform(kserve_version="v0.21.0"), "warning")

    assert [(d.severity, d.rule, d.message) for d in found] == [
        (
            "warning",
            "crd-schema",
            f"the KServe CRDs in {fetched} are v0.20.0, but platform.kserveVersion pins v0.21.0: "
            "the manifests would be checked against other schemas than the pinned release's",
        ),
        (
            "warning",
            "crd-schema",
            f"the Argo CD CRDs in {fetched} lack argocd/appproject-crd.yaml (not in crds.lock.yaml), "
            "which v3.5.1 has: the manifests would be checked against other schemas than the pinned "
            "release's",
        ),
    ]
    assert {d.hint for d in found} == {
        "run `kserve-gitops schemas fetch` to download KServe v0.21.0's CRDs",
        "run `kserve-gitops schemas fetch` to download Argo CD v3.5.1's CRDs",
    }


@pytest.mark.parametrize(
    "document",
    [
        "kind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\n",
        "kind: CustomResourceDefinition\nspec: {group: example.com, names: Widget, versions: [{name: v1, served: true,"
        " schema: {openAPIV3Schema: {type: object}}}]}\n",
        "kind: CustomResourceDefinition\nspec: [Widget]\n",
        WIDGET_CRD.replace("note: {type: string, nullable: true}", 'note: {type: string, pattern: "["}'),
        WIDGET_CRD.replace("note: {type: string, nullable: true}", "note: {type: 5}"),
    ],
    ids=["no spec", "names not a mapping", "spec a list", "a pattern that is no regular expression", "a type: 5"],
)
def test_a_crd_without_the_shape_kubernetes_gives_one_is_refused_not_a_crash(tmp_path: Path, document: str) -> None:
    (tmp_path / "widget.yaml").write_text(document)

    with pytest.raises(EnvironmentProblem, match=r"cannot read this CRD file: .*CustomResourceDefinition"):
        load_crd_schemas(tmp_path).validate(widget(note="x"))


@pytest.mark.parametrize(
    ("note", "where", "problem"),
    [
        ("{type: string, maxLength: x}", "note.maxLength", "'x' is not a whole number of 0 or more"),
        ('{type: integer, minimum: "a"}', "note.minimum", "'a' is not a number"),
        ("{type: integer, multipleOf: 0}", "note.multipleOf", "'0' is not a number greater than 0"),
        ("{type: string, enum: 3}", "note.enum", "'3' is not a list of values"),
        ("{type: object, required: 5}", "note.required", "'5' is not a list of field names"),
        ("{type: object, properties: []}", "note.properties", "'[]' is not a mapping of names to schemas"),
        ("{type: array, items: 5}", "note.items", "'5' is not a schema or a list of schemas"),
        ("{type: string, not: x}", "note.not", "'x' is not a schema or true/false"),
        ("{type: string, anyOf: [{}, 5]}", "note.anyOf.1", "'5' is not a schema"),
        ("{type: string, pattern: 5}", "note.pattern", "'5' is not a regular expression (a string)"),
        (
            "{type: object, patternProperties: {'[': {}}}",
            "note.patternProperties",
            "'[' is no regular expression Python can compile (unterminated character set at position 0)",
        ),
        (
            "{$ref: '#/definitions/nowhere'}",
            "note.$ref",
            "'#/definitions/nowhere' is not allowed: Kubernetes refuses $ref in a CRD schema, "
            "and jsonschema would look it up",
        ),
        (
            "{type: object, x-kubernetes-preserve-unknown-fields: 'false'}",
            "note.x-kubernetes-preserve-unknown-fields",
            "'false' is not true or false",
        ),
    ],
    ids=[
        "a length bound that is no count",
        "a minimum that is no number",
        "a multipleOf of 0",
        "an enum that is no list",
        "a required that is no list of names",
        "properties that are no mapping",
        "items that are no schema",
        "a not that is no schema",
        "an anyOf of other than schemas",
        "a pattern that is no string",
        "a patternProperties key that is no regular expression",
        "a $ref",
        "an extension flag that is no boolean",
    ],
)
def test_a_schema_keyword_the_checks_cannot_read_refuses_the_file_naming_where_it_is(
    tmp_path: Path, note: str, where: str, problem: str
) -> None:
    """A CRD edited by hand is refused when its schemas are read (exit 2), not crashed on by the first object that
    reaches the keyword (exit 3); a flag such as `x-kubernetes-preserve-unknown-fields: 'false'` would otherwise be
    read as true and let any field through."""
    (tmp_path / "widget.yaml").write_text(WIDGET_CRD.replace("{type: string, nullable: true}", note))

    with pytest.raises(EnvironmentProblem) as refused:
        load_crd_schemas(tmp_path).validate(widget(note="x"))

    assert refused.value.exit_code == EXIT_ENVIRONMENT
    (diagnostic,) = refused.value.diagnostics
    assert diagnostic.file == str(tmp_path / "widget.yaml")
    assert diagnostic.message == (
        "cannot read this CRD file: the CustomResourceDefinition 'widgets.example.com' is not shaped as Kubernetes "
        f"defines one (example.com/v1 openAPIV3Schema.properties.spec.properties.{where}: {problem})"
    )
    assert "kserve-gitops schemas fetch --refresh" in diagnostic.hint
    assert "kserve-gitops schemas verify" in diagnostic.hint
