"""The HTTP door against servers that misbehave on purpose: every failure ends, exit 2, and says why.

Limits are small so the suite runs fast; the wall-clock checks are generous safety
nets (a call that never returns would hang the suite), not performance assertions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http import server as http_server

import pytest

from devtools.stack import free_port
from generator.errors import EXIT_ENVIRONMENT, EnvironmentProblem
from generator.util.http import Http, HttpFailure, HttpSettings
from tests.support.faults import Fault, faulty

FAST = HttpSettings(
    connect_timeout=1,
    read_timeout=1,
    deadline=3,
    retries=2,
    backoff=0.01,
    backoff_max=0.05,
    retry_after_max=5,
    max_body=1 << 20,
)
SAFETY = 20.0  # seconds: far beyond any limit above


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(FAST) as client:
        yield client


def fails(http: Http, fault: Fault, method: str = "GET", **kwargs: object) -> HttpFailure:
    """The failure `fault` causes, checked to be an exit-2 problem that came back in bounded time."""
    with faulty(fault) as url:
        began = time.monotonic()
        with pytest.raises(HttpFailure) as caught:
            http.request(method, f"{url}/thing", **kwargs)  # type: ignore[arg-type]
        assert time.monotonic() - began < SAFETY
    assert caught.value.exit_code == EXIT_ENVIRONMENT
    assert str(caught.value).startswith(f"{method} {url}/thing: ")
    return caught.value


def test_server_errors_are_retried_a_bounded_number_of_times_then_fail(http: Http) -> None:
    fault = Fault("status", status=500)
    failure = fails(http, fault)
    assert len(fault.requests) == 3
    assert "HTTP 500 Internal Server Error (3 attempts; KSERVE_GITOPS_HTTP_RETRIES=2)" in str(failure)
    assert failure.status == 500


def test_a_retry_after_over_the_cap_fails_at_once_saying_when_to_retry(http: Http) -> None:
    fault = Fault("status", status=429, headers={"Retry-After": "3600"})
    failure = fails(http, fault)
    assert len(fault.requests) == 1
    assert (
        "HTTP 429 Too Many Requests, asking to retry after 3600 s (at 20" in str(failure)  # a UTC date and time
    )
    assert "more than the 5 s waited for (KSERVE_GITOPS_HTTP_RETRY_AFTER_MAX)" in str(failure)
    assert "try again after 20" in str(failure)  # a UTC date and time


def test_a_retry_after_under_the_cap_is_waited_for(http: Http) -> None:
    fault = Fault("status", status=503, headers={"Retry-After": "0"})
    fails(http, fault)
    assert len(fault.requests) == 3


RATE_LIMITS = {  # GitHub's: docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
    "secondary": {"Retry-After": "0"},
    "primary, exhausted": {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0"},  # reset is past: go at once
}


@pytest.mark.parametrize("headers", RATE_LIMITS.values(), ids=RATE_LIMITS.keys())
def test_a_403_that_is_a_rate_limit_is_retried_like_a_429(http: Http, headers: dict[str, str]) -> None:
    fault = Fault("status", status=403, headers=headers)
    failure = fails(http, fault)
    assert len(fault.requests) == 3
    assert failure.status == 403


def test_a_403_that_is_not_a_rate_limit_is_a_refusal_returned_at_once(http: Http) -> None:
    fault = Fault("status", status=403, headers={"x-ratelimit-remaining": "4999", "x-ratelimit-reset": "0"})
    with faulty(fault) as url:
        assert http.request("GET", f"{url}/x").status == 403
    assert len(fault.requests) == 1


def test_an_exhausted_rate_limit_resetting_past_the_cap_fails_at_once_saying_when(http: Http) -> None:
    reset = int(time.time()) + 3600
    fault = Fault("status", status=403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)})
    failure = fails(http, fault)
    assert len(fault.requests) == 1
    assert "HTTP 403 Forbidden, asking to retry after 3" in str(failure)
    assert "try again after 20" in str(failure)  # a UTC date and time


def test_a_server_that_never_answers_times_out(http: Http) -> None:
    fault = Fault("hang")
    failure = fails(http, fault)
    assert "no answer within 1 s (KSERVE_GITOPS_HTTP_READ_TIMEOUT)" in str(
        failure
    ) or "no complete answer within 3 s (KSERVE_GITOPS_HTTP_DEADLINE)" in str(failure)
    assert 1 < len(fault.requests) <= 3


def test_a_body_dripped_byte_by_byte_is_cut_at_the_deadline(http: Http) -> None:
    failure = fails(http, Fault("drip", interval=0.2))
    assert "answer still incomplete after 3 s" in str(failure)


def test_a_status_line_dripped_byte_by_byte_is_cut_at_the_deadline(http: Http) -> None:
    failure = fails(http, Fault("drip-headers", interval=0.2))
    assert "no complete answer within 3 s (KSERVE_GITOPS_HTTP_DEADLINE)" in str(failure)


def test_a_huge_body_is_refused_past_the_cap(http: Http) -> None:
    fault = Fault("huge")
    failure = fails(http, fault)
    assert "answer larger than 1048576 bytes (1" in str(failure)  # and how much was read before giving up
    assert "raise KSERVE_GITOPS_HTTP_MAX_BODY" in str(failure), "not: check that the server is up"
    assert len(fault.requests) == 1, "a too-large answer is not asked for again"


def test_a_declared_huge_body_is_refused_before_reading_it(http: Http) -> None:
    fault = Fault("status", status=200, headers={"Content-Length": str(10 << 20)})
    failure = str(fails(http, fault))
    assert "answer of 10485760 bytes (its Content-Length), more than the 1048576 allowed" in failure
    assert "not a download or a web page; if the answer is meant to be that large, raise" in failure


def test_https_to_a_server_that_speaks_plain_http_says_so(http: Http) -> None:
    """A plain HTTP server answers the TLS greeting with an HTTP error page: "use http://", not a CA bundle."""
    server = http_server.ThreadingHTTPServer(("127.0.0.1", 0), http_server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(HttpFailure) as caught:
            http.request("GET", f"https://127.0.0.1:{server.server_address[1]}/thing")
    finally:
        server.shutdown()
        server.server_close()
    assert "TLS failed" in str(caught.value)
    assert "the server may speak plain HTTP there: try http:// in the URL" in str(caught.value)
    assert "REQUESTS_CA_BUNDLE" not in str(caught.value)


def test_a_reset_connection_is_retried_for_a_get(http: Http) -> None:
    fault = Fault("reset")
    failure = fails(http, fault)
    assert len(fault.requests) == 3
    assert "Connection reset by peer" in str(failure) or "Connection aborted" in str(failure)


def test_another_service_at_the_port_is_named_as_not_http_on_one_line(http: Http) -> None:
    failure = fails(http, Fault("not-http"))
    message = str(failure).split("\n")[0]
    assert "the server does not answer in HTTP (its first line: 'SSH-2.0-OpenSSH_8.9')" in message
    assert all(("\n" not in d.message and "\r" not in d.message) for d in failure.diagnostics)


def test_a_post_that_may_have_arrived_is_not_sent_again(http: Http) -> None:
    fault = Fault("reset")
    fails(http, fault, "POST", retry="connect", json={})
    assert len(fault.requests) == 1


@pytest.mark.parametrize("headers", RATE_LIMITS.values(), ids=RATE_LIMITS.keys())
def test_a_rate_limited_post_is_sent_again_as_it_was_refused_unread(http: Http, headers: dict[str, str]) -> None:
    limit = Fault("status", status=403, headers=headers)
    fails(http, limit, "POST", retry="connect", json={})
    assert len(limit.requests) == 3
    too_many = Fault("status", status=429, headers={"Retry-After": "0"})
    fails(http, too_many, "POST", retry="connect", json={})
    assert len(too_many.requests) == 3


def test_a_server_error_on_a_post_is_returned_at_once_as_the_post_may_have_acted(http: Http) -> None:
    fault = Fault("status", status=503, headers={"Retry-After": "0"})
    with faulty(fault) as url:
        assert http.request("POST", f"{url}/x", retry="connect", json={}).status == 503
    assert len(fault.requests) == 1


@pytest.mark.parametrize("location", ["http://[::1", "//[zz/x", f"http://{'a' * 70}.example/x"])
def test_a_redirect_to_a_url_that_does_not_parse_fails_with_exit_2(http: Http, location: str) -> None:
    fault = Fault("status", status=302, headers={"Location": location})
    failure = fails(http, fault)
    assert "a URL that does not parse: the request's, its proxy's or a redirect's Location" in str(failure)
    assert len(fault.requests) == 1


def test_a_proxy_url_that_does_not_parse_never_shows_a_piece_of_its_password(
    http: Http, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`/` in an unencoded password ends the authority: the library quotes `puser:pr0xy`, which no pattern can tell."""
    monkeypatch.setenv("HTTP_PROXY", "http://puser:pr0xy/S3cret@127.0.0.1:1")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(HttpFailure) as caught:
        http.request("GET", "http://192.0.2.1/thing")
    assert "InvalidURL: Failed to parse: '…' is not a valid host or port" in str(caught.value)
    assert "pr0xy" not in str(caught.value)


def test_a_post_redirected_to_where_nothing_listens_is_not_sent_again(http: Http) -> None:
    """The first server read it (it answered the redirect): the refused connection is the redirect's, not the POST's."""
    fault = Fault("status", status=307, headers={"Location": f"http://127.0.0.1:{free_port()}/elsewhere"})
    failure = fails(http, fault, "POST", retry="connect", json={})
    assert len(fault.requests) == 1
    assert "Connection refused" in str(failure)


def test_a_refused_connection_is_retried_even_for_a_post_and_credentials_never_show(http: Http) -> None:
    url = f"http://user:secret@127.0.0.1:{free_port()}/thing"
    with pytest.raises(HttpFailure) as caught:
        http.request("POST", url, retry="connect", json={})
    message = str(caught.value)
    assert message.startswith("POST http://***@127.0.0.1:")
    assert "Connection refused (3 attempts" in message
    assert "secret" not in message


def test_an_answer_within_the_limits_is_returned_whatever_its_status(http: Http) -> None:
    fault = Fault("status", status=404, body={"message": "Not Found"})
    with faulty(fault) as url:
        reply = http.request("GET", f"{url}/x")
    assert (reply.status, reply.json()) == (404, {"message": "Not Found"})


def test_settings_come_from_the_environment_and_bad_values_are_named() -> None:
    assert HttpSettings.from_env(
        {"KSERVE_GITOPS_HTTP_DEADLINE": "12.5", "KSERVE_GITOPS_HTTP_RETRIES": "0"}
    ) == HttpSettings(deadline=12.5, retries=0)
    with pytest.raises(EnvironmentProblem) as caught:
        HttpSettings.from_env({"KSERVE_GITOPS_HTTP_RETRIES": "many", "KSERVE_GITOPS_HTTP_DEADLINE": "0"})
    assert "KSERVE_GITOPS_HTTP_RETRIES='many' is not a non-negative whole number" in str(caught.value)
    assert "KSERVE_GITOPS_HTTP_DEADLINE='0'" in str(caught.value)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_setting_that_is_not_a_finite_number_is_refused(value: str) -> None:
    """nan compares false with every bound: a deadline of nan would never end a call."""
    with pytest.raises(EnvironmentProblem, match=f"KSERVE_GITOPS_HTTP_DEADLINE='{value}' is not a finite"):
        HttpSettings.from_env({"KSERVE_GITOPS_HTTP_DEADLINE": value})


def test_the_defaults_end_every_call_within_a_minute() -> None:
    limits = HttpSettings()
    assert limits.deadline + limits.read_timeout <= 60
    assert limits.retry_after_max < limits.deadline
