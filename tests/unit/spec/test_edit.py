"""pin/unpin touch one key of models.yaml and nothing else: comments, order and layout survive."""

from __future__ import annotations

import pytest

from generator.errors import SpecError
from generator.spec.edit import pin, unpin
from generator.spec.load import parse_spec

BLOCK = """\
apiVersion: kserve-gitops/v1
environments: {dev: {namespace: d}, prod: {namespace: p, minReplicas: 1}}  # two envs
models:
  wine:
    registeredModel: wine   # the MLflow name
    resources: {limits: {cpu: 1, memory: 1Gi}}
    environments:
      dev:
        latest: true
      prod:
        alias: champion     # moved by the data scientists
        minReplicas: 2
# trailing comment
"""
BLOCK_PROD = "      prod:\n        alias: champion     # moved by the data scientists\n        minReplicas: 2\n"
FLOW = BLOCK.replace(BLOCK_PROD, "      prod: {alias: champion, minReplicas: 2}  # flow style\n")


@pytest.mark.parametrize("text", [BLOCK, FLOW], ids=["block", "flow"])
def test_pin_adds_a_versioned_hold_and_keeps_the_reference(text: str) -> None:
    pinned = pin(text, "wine", "prod", "3")
    target = parse_spec(pinned)[0].target("wine", "prod")
    assert target is not None
    assert (target.hold, target.pinned, str(target.ref), str(target.wanted)) == (True, "3", "alias champion",
                                                                                 "version 3")
    assert _comments(pinned) == _comments(text)


def _comments(text: str) -> list[str]:
    return [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]


@pytest.mark.parametrize("text", [BLOCK, FLOW], ids=["block", "flow"])
def test_unpin_restores_the_file_byte_for_byte(text: str) -> None:
    assert unpin(pin(text, "wine", "prod", "3"), "wine", "prod") == text


def test_pin_replaces_an_existing_hold_value_only() -> None:
    held = FLOW.replace("{alias: champion, minReplicas: 2}", "{alias: champion, hold: true, minReplicas: 2}")
    assert pin(held, "wine", "prod", "4") == held.replace("hold: true", "hold: 4")


def test_unpin_in_the_middle_of_a_flow_mapping() -> None:
    held = FLOW.replace("{alias: champion, minReplicas: 2}", "{alias: champion, hold: 4, minReplicas: 2}")
    assert unpin(held, "wine", "prod") == FLOW


def test_unpin_without_a_hold_changes_nothing() -> None:
    assert unpin(BLOCK, "wine", "dev") == BLOCK


def test_unknown_model_or_environment_is_a_user_error() -> None:
    with pytest.raises(SpecError, match=r"models\.wine\.environments\.qa not found"):
        pin(BLOCK, "wine", "qa", "1")
