"""MLflow's webhook signature, checked exactly as MLflow computes it.

MLflow 3.x (`mlflow/webhooks/delivery.py`, `_generate_hmac_signature`) sends
`X-MLflow-Signature: v1,<base64 HMAC-SHA256 of "<delivery id>.<timestamp>.<body>">`,
keyed with the webhook's secret, where body is the exact JSON text it posts.
Anyone who can reach the relay can post JSON; only MLflow knows the secret, so
nothing is dispatched before this check passes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_HEADER = "X-MLflow-Delivery-Id"
VERSION = "v1"


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The header value MLflow sends for these values.

    Signs the raw bytes: MLflow signs its JSON text encoded as UTF-8, which is what arrives.
    """
    content = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), content, hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode()}"


def verify(secret: str, delivery_id: str, timestamp: str, body: bytes, header: str) -> bool:
    """True when one of the space-separated signatures in `header` matches.

    Several signatures are allowed as in Standard Webhooks, which MLflow follows; each
    comparison is constant-time so a forger learns nothing from response times.
    """
    expected = sign(secret, delivery_id, timestamp, body).encode()
    return any(hmac.compare_digest(expected, candidate.encode()) for candidate in header.split())


def fresh(timestamp: str, now: float, max_age: float) -> bool:
    """True when `timestamp` (Unix seconds, as MLflow sends it) is within `max_age` of `now`, either way.

    A captured delivery can be replayed only inside this window; clocks may be skewed
    in both directions, so a timestamp from the future counts as much as one from the past.
    """
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    return now - max_age <= sent <= now + max_age  # compared, not subtracted: an int past any float overflows
