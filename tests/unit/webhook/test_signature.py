from __future__ import annotations

import json

import pytest
from mlflow.webhooks.delivery import _generate_hmac_signature

from generator.webhook.signature import fresh, sign, verify

SECRET = "s3cret-äöü"
BODY = json.dumps(
    {
        "entity": "model_version_alias",
        "action": "created",
        "data": {"name": "Wine Classifier.v2 ✓", "alias": "champion", "version": "3"},
    },
    ensure_ascii=False,
)


@pytest.mark.parametrize("body", [BODY, json.dumps(json.loads(BODY)), "", "{}"])
def test_signature_is_the_one_mlflow_computes(body: str) -> None:
    """MLflow signs its JSON text; we sign the bytes that arrive, which are that text in UTF-8."""
    expected = _generate_hmac_signature(SECRET, "d-1", "1700000000", body)

    assert sign(SECRET, "d-1", "1700000000", body.encode()) == expected
    assert expected.startswith("v1,")


def test_verify_accepts_mlflows_own_signature() -> None:
    header = _generate_hmac_signature(SECRET, "d-1", "1700000000", BODY)

    assert verify(SECRET, "d-1", "1700000000", BODY.encode(), header)


@pytest.mark.parametrize(
    ("secret", "delivery", "timestamp", "body"),
    [
        ("other secret", "d-1", "1700000000", BODY.encode()),
        (SECRET, "d-2", "1700000000", BODY.encode()),
        (SECRET, "d-1", "1700000001", BODY.encode()),
        (SECRET, "d-1", "1700000000", BODY.encode() + b" "),
    ],
)
def test_verify_rejects_any_change_to_secret_id_timestamp_or_body(
    secret: str, delivery: str, timestamp: str, body: bytes
) -> None:
    header = sign(SECRET, "d-1", "1700000000", BODY.encode())

    assert not verify(secret, delivery, timestamp, body, header)


def test_verify_accepts_a_match_among_several_signatures() -> None:
    good = sign(SECRET, "d-1", "1", b"{}")

    assert verify(SECRET, "d-1", "1", b"{}", f"v1,AAAA {good}")


@pytest.mark.parametrize(
    "header", ["", "v1,", "v2," + sign(SECRET, "d-1", "1", b"{}")[3:], sign(SECRET, "d-1", "1", b"{}")[3:]]
)
def test_verify_rejects_empty_truncated_or_unversioned_signatures(header: str) -> None:
    assert not verify(SECRET, "d-1", "1", b"{}", header)


@pytest.mark.parametrize(
    ("timestamp", "ok"),
    [
        ("1000", True),
        ("700", True),
        ("1300", True),
        ("699", False),
        ("1301", False),
        ("", False),
        ("12.5", False),
        ("soon", False),
        ("1" + "0" * 400, False),  # an int too large for a float
    ],
)
def test_fresh_allows_max_age_either_way(timestamp: str, ok: bool) -> None:
    assert fresh(timestamp, now=1000.0, max_age=300) is ok
