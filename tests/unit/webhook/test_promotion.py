from __future__ import annotations

import json

import pytest

from generator.webhook.answer import Malformed
from generator.webhook.promotion import RegistryEvent, parse
from tests.unit.webhook.support import mlflow_body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            mlflow_body("model_version_alias", "created", name="Wine", alias="champion", version="4"),
            RegistryEvent("model_version_alias.created", "Wine", "champion", "4"),
        ),
        (
            mlflow_body("model_version_alias", "deleted", name="Wine", alias="champion"),
            RegistryEvent("model_version_alias.deleted", "Wine", "champion", None),
        ),
        (
            mlflow_body(
                "model_version",
                "created",
                name="Wine",
                version="5",
                source="models:/m-1",
                run_id=None,
                tags={},
                description=None,
            ),
            RegistryEvent("model_version.created", "Wine", None, "5"),
        ),
    ],
)
def test_events_that_move_references_are_followed(body: bytes, expected: RegistryEvent) -> None:
    event = parse(body)

    assert event == expected
    assert event.followed


@pytest.mark.parametrize(
    "body",
    [
        mlflow_body("model_version_tag", "set", name="Wine", version="4", key="deployed.prod", value="abc"),
        mlflow_body("model_version_tag", "deleted", name="Wine", version="4", key="k"),
        mlflow_body("registered_model", "created", name="Wine", tags={}, description=None),
        mlflow_body("prompt_alias", "created", name="greeting", alias="prod", version="2"),
        mlflow_body("budget_policy", "exceeded", budget_policy_id="bp-1"),
    ],
)
def test_other_events_are_parsed_but_not_followed(body: bytes) -> None:
    assert not parse(body).followed


def test_client_payload_is_what_the_promotion_workflow_reads() -> None:
    event = RegistryEvent("model_version_alias.deleted", "Wine", "champion", None)

    assert event.client_payload() == {
        "model": "Wine",
        "alias": "champion",
        "version": None,
        "event": "model_version_alias.deleted",
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "body is not JSON"),
        (b"[]", "body is not a JSON object"),
        (json.dumps({"entity": "model_version", "data": {}}).encode(), "'action' is missing"),
        (
            json.dumps({"entity": "model_version", "action": "created", "data": []}).encode(),
            "data is not a JSON object",
        ),
        (mlflow_body("model_version_alias", "created", alias="champion", version="1"), "'name' is missing"),
    ],
)
def test_bodies_that_are_not_mlflows_envelope_are_malformed(body: bytes, message: str) -> None:
    with pytest.raises(Malformed, match=message):
        parse(body)
