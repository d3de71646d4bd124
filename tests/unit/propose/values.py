"""Plain values for propose's tests: a spec with two models in three environments, and locks of it."""

from __future__ import annotations

from generator.lock.model import Lock, LockEntry
from generator.spec.load import parse_spec
from generator.spec.model import Ref, Spec

SPEC = """\
apiVersion: kserve-gitops/v1
registry: {artifactsDestination: "s3://bucket/mlartifacts"}
defaults: {resources: {limits: {cpu: 1, memory: 1Gi}}}
environments: {dev: {namespace: d}, staging: {namespace: s}, prod: {namespace: p}}
models:
  wine:
    registeredModel: Wine Classifier
    environments:
      dev: {latest: true}
      staging: {alias: challenger}
      prod: {alias: champion%s}
  churn:
    registeredModel: churn
    environments:
      staging: {alias: challenger}
      prod: {alias: champion}
"""
UI = "https://mlflow.example.com"
REFS = {"dev": Ref("latest"), "staging": Ref("alias", "challenger"), "prod": Ref("alias", "champion")}
REGISTERED = {"wine": "Wine Classifier", "churn": "churn"}


def spec(prod_extra: str = "") -> Spec:
    return parse_spec(SPEC % prod_extra)[0]


def entry(model: str, env: str, version: str, ref: Ref | None = None) -> LockEntry:
    where = f"s3://bucket/mlartifacts/1/models/m-{model}-{version}/artifacts"
    return LockEntry(model, env, REGISTERED[model], ref or REFS[env], version, where, where, f"run-{model}-{version}")


def lock(**versions: str) -> Lock:
    """`lock(wine_staging="2")`: every target at version 1 unless named."""
    keys = [("wine", "dev"), ("wine", "staging"), ("wine", "prod"), ("churn", "staging"), ("churn", "prod")]
    entries = [entry(m, e, versions.get(f"{m}_{e}", "1")) for m, e in keys]
    return Lock({e.key: e for e in entries})
