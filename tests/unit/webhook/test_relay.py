"""The relay with its real journal (on disk) and dispatcher: answers at once, dispatches each delivery once."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from generator.webhook.app import create_app
from generator.webhook.dispatcher import Dispatcher
from generator.webhook.github import GitHubError
from generator.webhook.journal import Journal
from generator.webhook.relay import Relay
from generator.webhook.signature import sign
from tests.unit.webhook.support import collected_logs, mlflow_body
from tests.unit.webhook.support import running as serving

SECRET = "relay-secret"
NOW = 1_700_000_000
ALIAS_SET = mlflow_body("model_version_alias", "created", name="Wine", alias="champion", version="4")
PAYLOAD = {"model": "Wine", "alias": "champion", "version": "4", "event": "model_version_alias.created"}
WAIT = 10.0  # seconds: a safety net for the background thread, never reached when things work


@dataclass
class RecordingGitHub:
    """Records dispatches; raises the queued failures first; `gate`, when given, holds every dispatch until set."""

    failures: list[Exception] = field(default_factory=list)
    sent: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    gate: threading.Event | None = None

    def dispatch(self, event_type: str, client_payload: Mapping[str, str | None]) -> None:
        if self.gate is not None:
            assert self.gate.wait(WAIT)
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((event_type, dict(client_payload)))


@dataclass
class Service:
    relay: Relay
    journal: Journal
    dispatcher: Dispatcher
    github: RecordingGitHub

    def handle(self, body: bytes = ALIAS_SET, **kwargs: object) -> tuple[int, str]:
        outcome = self.relay.handle(headers(body, **kwargs), body)  # type: ignore[arg-type]
        return outcome.status, outcome.action

    def settle(self) -> None:
        assert self.dispatcher.idle(WAIT)


@dataclass
class TickingClock:
    """Virtual wall-clock time that moves `tick` seconds each time it is read, and never otherwise: how many
    retries fit before a deadline then depends on the order of events, not on how busy the machine is."""

    now: float = NOW
    tick: float = 0.005

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def service(
    state: Path,
    github: RecordingGitHub,
    *,
    deadline: float = 60.0,
    capacity: int = 10_000,
    start: bool = True,
    clock: Callable[[], float] = time.time,
) -> Service:
    journal = Journal(state, 600, capacity=capacity, clock=clock)
    dispatcher = Dispatcher(github, journal, deadline=deadline, first_pause=0.01, clock=clock)
    if start:
        dispatcher.start()
    return Service(Relay(SECRET, journal, dispatcher, max_age=300, clock=lambda: NOW), journal, dispatcher, github)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Service]:
    started = service(tmp_path / "journal", RecordingGitHub())
    yield started
    started.dispatcher.stop()


def headers(body: bytes, delivery: str = "d-1", timestamp: int = NOW, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-MLflow-Delivery-Id": delivery,
        "X-MLflow-Timestamp": str(timestamp),
        "X-MLflow-Signature": sign(secret, delivery, str(timestamp), body),
        "Content-Type": "application/json",
    }


def test_a_signed_alias_event_is_accepted_at_once_and_dispatched_once_with_the_payload(running: Service) -> None:
    outcome = running.relay.handle(headers(ALIAS_SET), ALIAS_SET)
    running.settle()

    assert (outcome.status, outcome.action) == (202, "accepted")
    assert running.github.sent == [("mlflow-model-promoted", PAYLOAD)]
    assert outcome.fields == {"delivery": "d-1", **PAYLOAD}
    entry = running.journal.entry("d-1")
    assert entry is not None
    assert entry.state == "done"


def test_header_names_are_case_insensitive(running: Service) -> None:
    outcome = running.relay.handle({k.lower(): v for k, v in headers(ALIAS_SET).items()}, ALIAS_SET)

    assert outcome.action == "accepted"


def test_a_replayed_delivery_id_is_refused_and_not_dispatched_again(running: Service) -> None:
    running.handle()
    running.settle()

    assert running.handle() == (409, "replayed")
    running.settle()
    assert len(running.github.sent) == 1


@pytest.mark.parametrize(
    ("request_headers", "status", "action", "detail"),
    [
        (headers(ALIAS_SET, secret="wrong"), 401, "rejected", "signature does not match"),
        ({k: v for k, v in headers(ALIAS_SET).items() if k != "X-MLflow-Signature"}, 401, "rejected", "unsigned"),
        (
            {k: v for k, v in headers(ALIAS_SET).items() if k != "X-MLflow-Timestamp"},
            401,
            "rejected",
            "Timestamp missing",
        ),
        (headers(ALIAS_SET, timestamp=NOW - 301), 400, "stale", "more than 300 s from now"),
        (headers(ALIAS_SET, timestamp=NOW + 301), 400, "stale", "more than 300 s from now"),
    ],
)
def test_unverified_or_stale_deliveries_are_refused_without_dispatch(
    running: Service, request_headers: dict[str, str], status: int, action: str, detail: str
) -> None:
    outcome = running.relay.handle(request_headers, ALIAS_SET)
    running.settle()

    assert (outcome.status, outcome.action) == (status, action)
    assert detail in outcome.detail
    assert running.github.sent == []
    assert running.journal.entry("d-1") is None


def test_a_refused_delivery_does_not_use_up_its_id(running: Service) -> None:
    """A forged request carrying a real delivery id must not block the real delivery."""
    running.handle(secret="forger")

    assert running.handle() == (202, "accepted")


def test_events_that_cannot_move_a_reference_are_acknowledged_without_dispatch(running: Service) -> None:
    body = mlflow_body("model_version_tag", "set", name="Wine", version="4", key="deployed.prod", value="abc")

    assert running.handle(body) == (200, "ignored")
    assert running.handle(body) == (409, "replayed")
    running.settle()
    assert running.github.sent == []


def test_signed_garbage_is_malformed(running: Service) -> None:
    assert running.handle(b"[1]") == (400, "malformed")


def test_signed_json_nested_too_deeply_to_parse_is_malformed(running: Service) -> None:
    nested = b'{"entity": "model_version", "action": "created", "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    outcome = running.relay.handle(headers(nested), nested)

    assert (outcome.status, outcome.action) == (400, "malformed")
    assert "nests deeper than" in outcome.detail
    assert running.journal.entry("d-1") is None


def test_mlflows_retry_while_github_is_slow_is_accepted_and_dispatched_once(tmp_path: Path) -> None:
    """The finding: MLflow gave up after 30 s, its retry got 409, and nothing was dispatched."""
    gate = threading.Event()
    slow = service(tmp_path, RecordingGitHub(failures=[GitHubError("GitHub answered 503", 503)], gate=gate))

    first = slow.handle()
    retry = slow.handle()
    gate.set()
    slow.settle()
    slow.dispatcher.stop()

    assert (first, retry) == ((202, "accepted"), (202, "pending"))
    assert slow.github.sent == [("mlflow-model-promoted", PAYLOAD)]
    assert slow.handle() == (409, "replayed")


def test_a_lasting_refusal_is_given_up_logged_and_not_retried(tmp_path: Path) -> None:
    refusing = service(tmp_path, RecordingGitHub(failures=[GitHubError("GitHub answered 401: Bad credentials", 401)]))

    with collected_logs() as records:
        refusing.handle()
        refusing.settle()
    refusing.dispatcher.stop()

    assert refusing.github.sent == []
    entry = refusing.journal.entry("d-1")
    assert entry is not None
    assert entry.state == "failed"
    (abandoned,) = [r for r in records if r.getMessage() == "dispatch abandoned"]
    assert "GitHub refused it: GitHub answered 401: Bad credentials" in abandoned.fields["detail"]  # type: ignore[attr-defined]


def test_momentary_failures_are_retried_until_the_deadline(tmp_path: Path) -> None:
    failures: list[Exception] = [GitHubError("no answer within 10 s") for _ in range(1000)]
    down = service(tmp_path, RecordingGitHub(failures=failures), deadline=0.2, clock=TickingClock())

    down.handle()
    down.settle()
    down.dispatcher.stop()

    entry = down.journal.entry("d-1")
    assert entry is not None
    assert entry.state == "failed"
    assert 1 < 1000 - len(failures) < 1000
    assert down.github.sent == []


def test_a_delivery_accepted_before_a_restart_is_dispatched_once_after_it(tmp_path: Path) -> None:
    before = service(tmp_path, RecordingGitHub(), start=False)  # the process stops before its dispatcher sent anything
    assert before.handle() == (202, "accepted")

    after = service(tmp_path, RecordingGitHub())
    after.settle()
    assert after.handle() == (409, "replayed")
    after.dispatcher.stop()

    assert before.github.sent == []
    assert after.github.sent == [("mlflow-model-promoted", PAYLOAD)]


def test_a_full_journal_answers_503_so_mlflow_retries(tmp_path: Path) -> None:
    full = service(tmp_path, RecordingGitHub(), capacity=1)
    full.handle()

    assert full.handle(delivery="d-2") == (503, "busy")
    full.dispatcher.stop()


def test_a_bug_in_dispatch_is_logged_and_leaves_the_service_running(tmp_path: Path) -> None:
    buggy = service(tmp_path, RecordingGitHub(failures=[RuntimeError("bug")]))

    with collected_logs() as records:
        buggy.handle()
        buggy.settle()
        assert buggy.handle(delivery="d-2") == (202, "accepted")
        buggy.settle()
    buggy.dispatcher.stop()

    assert any(r.getMessage() == "dispatch failed unexpectedly" for r in records)
    assert len(buggy.github.sent) == 1


def test_a_journal_that_cannot_be_written_answers_503_and_logs_one_line_saying_how_to_fix_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "journal"
    broken = service(journal, RecordingGitHub())
    shutil.rmtree(journal)  # the volume went away (or filled up) under the running service
    caplog.set_level(logging.INFO)

    with serving(create_app(mlflow=broken.relay.handle, argocd=None)) as url:
        response = requests.post(f"{url}/mlflow", data=ALIAS_SET, headers=headers(ALIAS_SET), timeout=10)
    broken.dispatcher.stop()

    detail = (
        f"cannot write the delivery journal {journal}: No such file or directory;"
        " check that the --state-dir volume is mounted, writable and not full"
    )
    assert (response.status_code, response.json()) == (503, {"action": "failed", "detail": detail})
    ours = [r for r in caplog.records if r.name == "kserve_gitops.webhook"]
    assert [(r.levelno, r.getMessage(), r.exc_info) for r in ours] == [(logging.ERROR, "mlflow failed", None)]
    assert broken.github.sent == []


def test_a_journal_that_fails_after_a_dispatch_is_one_logged_line_and_the_dispatcher_goes_on(tmp_path: Path) -> None:
    gate = threading.Event()
    journal = tmp_path / "journal"
    flaky = service(journal, RecordingGitHub(gate=gate))

    with collected_logs() as records:
        assert flaky.handle() == (202, "accepted")
        shutil.rmtree(journal)  # while GitHub is being asked
        gate.set()
        flaky.settle()
        journal.mkdir()  # the volume is back
        assert flaky.handle(delivery="d-2") == (202, "accepted")
        flaky.settle()
    flaky.dispatcher.stop()

    assert flaky.github.sent == [("mlflow-model-promoted", PAYLOAD)] * 2
    (unrecorded,) = [r for r in records if r.getMessage() == "dispatch unrecorded"]
    assert unrecorded.fields["detail"].startswith(f"cannot write the delivery journal {journal}")  # type: ignore[attr-defined]
    assert [r.getMessage() for r in records if r.exc_info] == []
    assert flaky.handle() == (409, "replayed"), "finished in memory, so MLflow's retry is not dispatched again"
