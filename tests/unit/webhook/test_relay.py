from __future__ import annotations

from collections.abc import Mapping

import pytest

from generator.webhook.github import GitHubError
from generator.webhook.relay import Relay
from generator.webhook.replay import ReplayGuard
from generator.webhook.signature import sign
from tests.unit.webhook.support import mlflow_body

SECRET = "relay-secret"
NOW = 1_700_000_000
ALIAS_SET = mlflow_body("model_version_alias", "created", name="Wine", alias="champion", version="4")


class Dispatcher:
    def __init__(self, *failures: Exception) -> None:
        self.sent: list[tuple[str, dict[str, str | None]]] = []
        self._failures = list(failures)

    def dispatch(self, event_type: str, client_payload: Mapping[str, str | None]) -> None:
        if self._failures:
            raise self._failures.pop(0)
        self.sent.append((event_type, dict(client_payload)))


def relay(dispatcher: Dispatcher) -> Relay:
    return Relay(SECRET, dispatcher, ReplayGuard(600), max_age=300, clock=lambda: NOW)


def headers(body: bytes, delivery: str = "d-1", timestamp: int = NOW, secret: str = SECRET) -> dict[str, str]:
    return {"X-MLflow-Delivery-Id": delivery, "X-MLflow-Timestamp": str(timestamp),
            "X-MLflow-Signature": sign(secret, delivery, str(timestamp), body), "Content-Type": "application/json"}


def test_signed_alias_event_is_dispatched_once_with_the_payload_the_workflow_reads() -> None:
    github = Dispatcher()

    outcome = relay(github).handle(headers(ALIAS_SET), ALIAS_SET)

    assert (outcome.status, outcome.action) == (200, "dispatched")
    assert github.sent == [("mlflow-model-promoted", {"model": "Wine", "alias": "champion", "version": "4",
                                                      "event": "model_version_alias.created"})]
    assert outcome.fields == {"delivery": "d-1", "event": "model_version_alias.created", "model": "Wine",
                              "alias": "champion", "version": "4"}


def test_header_names_are_case_insensitive() -> None:
    github = Dispatcher()

    outcome = relay(github).handle({k.lower(): v for k, v in headers(ALIAS_SET).items()}, ALIAS_SET)

    assert outcome.action == "dispatched"


def test_replayed_delivery_id_is_refused_and_not_dispatched_again() -> None:
    github = Dispatcher()
    service = relay(github)
    service.handle(headers(ALIAS_SET), ALIAS_SET)

    again = service.handle(headers(ALIAS_SET), ALIAS_SET)

    assert (again.status, again.action) == (409, "replayed")
    assert len(github.sent) == 1


@pytest.mark.parametrize(("request_headers", "status", "action", "detail"), [
    (headers(ALIAS_SET, secret="wrong"), 401, "rejected", "signature does not match"),
    ({k: v for k, v in headers(ALIAS_SET).items() if k != "X-MLflow-Signature"}, 401, "rejected", "unsigned"),
    ({k: v for k, v in headers(ALIAS_SET).items() if k != "X-MLflow-Timestamp"}, 401, "rejected", "Timestamp missing"),
    (headers(ALIAS_SET, timestamp=NOW - 301), 400, "stale", "more than 300 s from now"),
    (headers(ALIAS_SET, timestamp=NOW + 301), 400, "stale", "more than 300 s from now"),
])
def test_unverified_or_stale_deliveries_are_refused_without_dispatch(
    request_headers: dict[str, str], status: int, action: str, detail: str
) -> None:
    github = Dispatcher()

    outcome = relay(github).handle(request_headers, ALIAS_SET)

    assert (outcome.status, outcome.action) == (status, action)
    assert detail in outcome.detail
    assert github.sent == []


def test_refused_delivery_does_not_use_up_its_id() -> None:
    """A forged request carrying a real delivery id must not block the real delivery."""
    github = Dispatcher()
    service = relay(github)
    service.handle(headers(ALIAS_SET, secret="forger"), ALIAS_SET)

    assert service.handle(headers(ALIAS_SET), ALIAS_SET).action == "dispatched"


def test_events_that_cannot_move_a_reference_are_acknowledged_without_dispatch() -> None:
    github = Dispatcher()
    body = mlflow_body("model_version_tag", "set", name="Wine", version="4", key="deployed.prod", value="abc")

    outcome = relay(github).handle(headers(body), body)

    assert (outcome.status, outcome.action) == (200, "ignored")
    assert github.sent == []


def test_signed_garbage_is_malformed() -> None:
    outcome = relay(Dispatcher()).handle(headers(b"[1]"), b"[1]")

    assert (outcome.status, outcome.action) == (400, "malformed")


def test_github_failure_answers_502_and_mlflows_retry_with_the_same_id_is_dispatched() -> None:
    github = Dispatcher(GitHubError("GitHub answered 503", 503))
    service = relay(github)

    first = service.handle(headers(ALIAS_SET), ALIAS_SET)
    retry = service.handle(headers(ALIAS_SET), ALIAS_SET)

    assert (first.status, first.action, first.detail) == (502, "failed", "GitHub answered 503")
    assert retry.action == "dispatched"
    assert len(github.sent) == 1


def test_a_bug_in_dispatch_releases_the_id_and_propagates() -> None:
    github = Dispatcher(RuntimeError("bug"))
    service = relay(github)

    with pytest.raises(RuntimeError):
        service.handle(headers(ALIAS_SET), ALIAS_SET)

    assert service.handle(headers(ALIAS_SET), ALIAS_SET).action == "dispatched"


def test_full_replay_memory_answers_503_so_mlflow_retries() -> None:
    service = Relay(SECRET, Dispatcher(), ReplayGuard(600, capacity=1), max_age=300, clock=lambda: NOW)
    service.handle(headers(ALIAS_SET), ALIAS_SET)

    outcome = service.handle(headers(ALIAS_SET, delivery="d-2"), ALIAS_SET)

    assert (outcome.status, outcome.action) == (503, "busy")
