"""POSTing to a real loopback server: headers, answers, and the errors a user sees."""

from __future__ import annotations

import time

import pytest

from devtools.stack import free_port
from generator.errors import EXIT_ENVIRONMENT, EXIT_INVALID, EndpointUnreachable, SmokeFailed
from generator.smoke.client import post_json
from generator.smoke.endpoint import Endpoint
from generator.util.http import HttpSettings
from tests.unit.smoke.conftest import FakeServer


def test_posts_json_with_the_host_header_an_ingress_routes_on(server: FakeServer) -> None:
    server.answer_json({"outputs": []})
    reply = post_json(Endpoint(f"{server.url}/v2/models/wine/infer", "wine.ml-dev.example.com"), {"inputs": [1]})
    assert (reply.status, reply.body) == (200, {"outputs": []})
    assert reply.seconds > 0
    (seen,) = server.seen
    assert (seen.path, seen.body) == ("/v2/models/wine/infer", {"inputs": [1]})
    assert seen.headers["Host"] == "wine.ml-dev.example.com"
    assert seen.headers["Content-Type"] == "application/json"


def test_without_host_the_url_decides_the_host_header(server: FakeServer) -> None:
    post_json(Endpoint(server.url), {})
    assert server.seen[0].headers["Host"] == server.url.removeprefix("http://")


def test_an_error_status_fails_with_the_status_and_the_start_of_the_body(server: FakeServer) -> None:
    server.answer_json({"error": "Model wine not found " + "x" * 600}, status=404)
    with pytest.raises(SmokeFailed) as caught:
        post_json(Endpoint(f"{server.url}/v2/models/wine/infer"), {})
    message = str(caught.value)
    assert message.startswith(
        f'POST {server.url}/v2/models/wine/infer answered 404 Not Found: {{"error": "Model wine not found xxx'
    )
    assert message.endswith("…")
    assert len(message) < 600
    assert caught.value.exit_code == EXIT_INVALID


def test_a_body_that_is_not_json_fails(server: FakeServer) -> None:
    server.answer = b"<html>gateway</html>"
    with pytest.raises(SmokeFailed, match="answered 200 with a body that is not JSON: <html>gateway</html>"):
        post_json(Endpoint(server.url), {})


def test_connection_refused_exits_2_naming_the_url_after_brief_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}/v2/models/wine/infer"
    began = time.monotonic()
    with pytest.raises(EndpointUnreachable) as caught:
        post_json(Endpoint(url, "wine.example.com"), {}, settings=HttpSettings(retries=2))
    assert time.monotonic() - began >= 1.4, "retried after 0.5 s, then after 1 s"
    assert str(caught.value).splitlines()[0] == (
        f"cannot reach {url} (Host: wine.example.com): [Errno 111] "
        "Connection refused (3 attempts; KSERVE_GITOPS_HTTP_RETRIES=2)"
    )
    assert "kubectl port-forward" in str(caught.value)
    assert caught.value.exit_code == EXIT_ENVIRONMENT


def test_credentials_in_the_url_are_never_printed() -> None:
    with pytest.raises(EndpointUnreachable) as caught:
        post_json(Endpoint(f"http://user:secret@127.0.0.1:{free_port()}/"), {}, settings=HttpSettings(retries=0))
    assert "secret" not in str(caught.value)
    assert "http://***@127.0.0.1" in str(caught.value)


def test_a_password_the_server_echoes_in_its_error_is_masked(server: FakeServer) -> None:
    server.answer_json({"error": "user/pass was alice:s3cretpw"}, status=401)
    url = server.url.replace("http://", "http://alice:s3cretpw@")
    with pytest.raises(SmokeFailed) as caught:
        post_json(Endpoint(f"{url}/v2/models/wine/infer"), {})
    assert "s3cretpw" not in str(caught.value) and "user/pass was ***" in str(caught.value)


def test_json_nested_deeper_than_python_s_stack_is_a_body_that_is_not_json(server: FakeServer) -> None:
    server.answer = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(SmokeFailed, match="answered 200 with a body that is not JSON"):
        post_json(Endpoint(server.url), {})
