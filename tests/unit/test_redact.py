from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from generator.excerpt import QUOTE_LIMIT, excerpt, quoted, shorten
from generator.redact import credentials_of, install_log_redaction, redact

MB = 1_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://user:pass@mlflow:5000/api", "http://***@mlflow:5000/api"),
        ("https://user:p@ss@w0rd@host/x", "https://***@host/x"),
        ("'http://u:secret@host'", "'http://***@host'"),
        ("http://mlflow.example.com/api/2.0", "http://mlflow.example.com/api/2.0"),
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab12&x=1",
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***&x=1",
        ),
        ("https://a.blob.core.windows.net/c?sv=2020&sig=abc%3D", "https://a.blob.core.windows.net/c?sv=2020&sig=***"),
        ("GET /cb?code=xyz&state=1 HTTP/1.1", "GET /cb?code=***&state=1 HTTP/1.1"),
        ("https://api/x?access_token=tok123#frag", "https://api/x?access_token=***#frag"),
        ("Authorization: Bearer eyJhbGciOi.x.y", "Authorization: Bearer ***"),
        ("authorization: token ghp_abc", "authorization: token ***"),
        (
            "{'Authorization': 'Basic dXNlcjpwYXNz', 'Accept': 'json'}",
            "{'Authorization': 'Basic ***', 'Accept': 'json'}",
        ),
        ('{"X-Api-Key": "k-123", "a": 1}', '{"X-Api-Key": "***", "a": 1}'),
        (
            "MLFLOW_TRACKING_PASSWORD=hunter2 MLFLOW_TRACKING_USERNAME=bob",
            "MLFLOW_TRACKING_PASSWORD=*** MLFLOW_TRACKING_USERNAME=bob",
        ),
        ("AWS_SECRET_ACCESS_KEY=abc/def+ghi", "AWS_SECRET_ACCESS_KEY=***"),
        ("client_secret: s3cr3t\nname: x", "client_secret: ***\nname: x"),
        ("sent bearer abc.def to the server", "sent bearer *** to the server"),
        (  # a token with a line break, as requests quotes it when it refuses the header
            "Invalid return character or leading space in header value: 'Bearer hunter2\\nSECRETTAIL'",
            "Invalid return character or leading space in header value: 'Bearer ***'",
        ),
        ("token is ghp_" + "a" * 36 + " here", "token is *** here"),
        ("github_pat_" + "b" * 40, "***"),
        ("git@github.com:org/repo.git and secretName: x", "git@github.com:org/repo.git and secretName: x"),
        ("GITHUB_TOKEN is not set", "GITHUB_TOKEN is not set"),
        ("at http://bob:hun/ter2@h:5000/x: refused", "at http://***@h:5000/x: refused"),
        ("'http://bob:hunter2#x@127.0.0.1:18140'", "'http://***@127.0.0.1:18140'"),
        ("http://bob:h?x@h", "http://***@h"),
        ("https://registry.npmjs.org/@scope/p", "https://registry.npmjs.org/@scope/p"),
        (
            "MLFLOW_TRACKING_URI=https://bob:my secret@mlflow:5000 refused",
            "MLFLOW_TRACKING_URI=https://***@mlflow:5000 refused",
        ),
        ("'https://u:p@ss w\tord@h/x'", "'https://***@h/x'"),
        ("http://h:5000 is down; see http://u:p q@h/y", "http://h:5000 is down; see http://***@h/y"),
        (
            "cannot reach http://h:5000 (refused)\nasked by bob@example.com",
            "cannot reach http://h:5000 (refused)\nasked by bob@example.com",
        ),
    ],
)
def test_redact_hides_every_credential_form_and_keeps_the_rest(text: str, expected: str) -> None:
    assert redact(text) == expected


_SECRET_FREE = {"a", "ab+", "a://", "@", "&", "a-", "password", " ", "'\"", "\n", "a" * 63 + "_", "://a:b c"}


@pytest.mark.parametrize(
    "unit",
    [
        "a",
        "ab+",
        "a://",
        "@",
        "http://a@",
        "&",
        "?token=",
        "a-",
        "password",
        "token: ",
        " ",
        "bearer ",
        "ghp_",
        "a" * 63 + "_",
        "://a:b c",
        "://a:b " + "c" * 300 + "@",
        "'\"",
        "\n",
        "://u:p@h/?sig=1&token=2 Authorization: Bearer x ",
    ],
)
def test_redact_handles_megabytes_of_adversarial_text(unit: str) -> None:
    """A backtracking pattern takes hours on 2 MB of these; a linear one well under a second."""
    text = unit * (2 * MB // len(unit))
    out = redact(text)
    assert "p@h" not in out and "sig=1" not in out and " x " not in out
    if unit in _SECRET_FREE:
        assert out == text


def test_redact_on_five_megabytes_of_log_keeps_its_size_order_and_hides_each_secret() -> None:
    line = "GET http://user:p@ss@mlflow/api?token=t0k&page=2 Authorization: Bearer abc X-Delivery: " + "x" * 400 + "\n"
    text = line * (5 * MB // len(line))
    out = redact(text)
    assert out.count("\n") == text.count("\n")
    assert "p@ss" not in out and "t0k" not in out and "abc" not in out
    assert out.count("http://***@mlflow/api?token=***&page=2 Authorization: Bearer ***") == text.count("\n")


def test_shorten_keeps_head_and_tail_and_counts_what_it_left_out() -> None:
    assert shorten("abc", 10) == "abc"
    short = shorten("a" * 100 + "b" * 1_000 + "c" * 100, 300)
    assert short.startswith("a" * 100) and short.endswith("c" * 100)
    assert "[900 characters left out]" in short
    assert len(short) < 340


def test_excerpt_is_bounded_and_redacted_even_around_the_cut() -> None:
    secret = "http://user:hunter2@host/"
    text = "x" * 5 * MB + secret + "y" * 100
    shown = excerpt(text)
    assert len(shown) < QUOTE_LIMIT + 60
    assert "hunter2" not in shown


def test_quoted_quotes_strings_and_other_values_within_the_limit() -> None:
    assert quoted("mlflow-dev\n") == "'mlflow-dev\\n'"
    assert len(quoted("z" * 60_000)) < QUOTE_LIMIT + 60
    assert len(quoted(list(range(100_000)))) < QUOTE_LIMIT + 60


def test_log_records_are_redacted_whatever_handler_prints_them(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    install_log_redaction()
    with caplog.at_level(logging.WARNING, logger="some.library"):
        logging.getLogger("some.library").warning("retrying %s", "http://u:pw@mlflow/api?token=abc")
    assert caplog.records[-1].getMessage() == "retrying http://***@mlflow/api?token=***"


def test_records_of_a_library_that_imports_logging_after_the_redaction_is_installed_are_redacted() -> None:
    """A command imports logging only when something logs; the redaction is installed by that import itself."""
    script = (
        "import sys\n"
        "from generator.redact import install_log_redaction\n"
        "install_log_redaction()\n"
        "assert 'logging' not in sys.modules, 'nothing imported logging yet'\n"
        "import logging\n"
        "logging.getLogger('some.library').warning('retrying %s', 'http://u:pw@mlflow/api?token=abc')\n"
        "assert logging.__loader__.get_source('logging'), 'tracebacks still show its source'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "retrying http://***@mlflow/api?token=***\n"


def test_credentials_a_uri_carries_are_masked_where_an_error_repeats_them_without_the_uri() -> None:
    known = credentials_of("s3://k:hunter2SECRET@bucket/x")
    assert known == ("k:hunter2SECRET", "hunter2SECRET")
    said = 'Invalid bucket name "k:hunter2SECRET@bucket"; password hunter2SECRET refused'
    assert redact(said, known) == 'Invalid bucket name "***@bucket"; password *** refused'


def test_a_known_secret_is_masked_only_where_it_stands_apart_from_letters_and_digits() -> None:
    known = credentials_of("https://u:p@host/x")
    assert known == ("u:p", "p")
    assert redact("not enough values to unpack; p refused", known) == "not enough values to unpack; *** refused"


def test_a_uri_without_a_password_carries_no_credentials() -> None:
    assert credentials_of("s3://bucket/key") == ()
    assert credentials_of("https://bob@host/x") == ()


@pytest.mark.parametrize(
    "uri",
    [
        "alice:S3cretPW@127.0.0.1:5077",
        "http:/alice:S3cretPW@127.0.0.1:5077",
        "http:alice:S3cretPW@127.0.0.1:5077",
        "//alice:S3cretPW@127.0.0.1:5077",
        "http://alice:S3cretPW@127.0.0.1:5077",
    ],
)
def test_the_password_of_a_mistyped_tracking_uri_never_shows(uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow repeats the URI as it was given, without `://` no pattern can tell: the configured one is always known."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    said = redact(f"cannot use the MLflow registry at {uri}: got unsupported URI '{uri}'; password S3cretPW")
    assert "S3cretPW" not in said and "127.0.0.1:5077" in said


@pytest.mark.parametrize(
    "name",
    [
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_PASSWORD",
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "KSERVE_GITOPS_MLFLOW_WEBHOOK_SECRET",
        "KSERVE_GITOPS_ARGOCD_TOKEN",
    ],
)
def test_a_secret_the_environment_holds_is_masked_where_a_server_quotes_it_back(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No pattern knows `token X expired` (an MLflow server's), nor a 40-hex GitHub token or S3's session token."""
    monkeypatch.setenv(name, "0123456789abcdef0123456789abcdef01234567")
    said = redact("UNAUTHENTICATED: token 0123456789abcdef0123456789abcdef01234567 expired")
    assert said == "UNAUTHENTICATED: token *** expired"


def test_a_short_value_of_a_secret_variable_is_left_to_the_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Alone, a value of a few characters would hide ordinary words (moto's key "testing", a test's "x")."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert redact("testing the model; password=testing") == "testing the model; password=***"


def test_mlflow_s_user_and_password_are_masked_as_http_basic_sends_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "PWXYZ789")
    assert redact("you sent 'Basic Ym9iOlBXWFlaNzg5'") == "you sent 'Basic ***'"


@pytest.mark.parametrize("name", ["KSERVE_GITOPS_CRD_BASE_URL", "GITHUB_API_URL", "MLFLOW_S3_ENDPOINT_URL"])
def test_the_password_of_a_mistyped_url_the_environment_gives_never_shows(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, "https:/ci-bot:S3cretPW@mirror.example.com/raw")
    said = redact("base URL 'https:/ci-bot:S3cretPW@mirror.example.com/raw' is not an http(s) URL")
    assert "S3cretPW" not in said and "mirror.example.com/raw" in said


def test_the_password_of_a_mistyped_url_given_as_an_option_never_shows(tmp_path: Path) -> None:
    """The option's value, not the environment's: masked from the moment the option is read."""
    url = "https:/ci-bot:S3cretPW@m/r"
    done = subprocess.run(
        [sys.executable, "-m", "generator", "schemas", "fetch", "--dest", str(tmp_path), "--base-url", url],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1, done
    assert "base URL" in done.stderr and "S3cretPW" not in done.stdout + done.stderr, done.stderr


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("?accessToken=QS_SECRET_1", "?accessToken=***"),
        ("?v=1&auth=QS_SECRET_1", "?v=1&auth=***"),
        ("?sessionToken=QS_SECRET_1&v=1", "?sessionToken=***&v=1"),
        ("?subscription-key=QS_SECRET_1", "?subscription-key=***"),
        ("?X-Amz-Security-Token=QS_SECRET_1", "?X-Amz-Security-Token=***"),
        ("?version=3&page=2", "?version=3&page=2"),
    ],
)
def test_a_query_parameter_named_for_a_credential_is_masked(query: str, shown: str) -> None:
    assert redact(f"cannot reach http://127.0.0.1:1/v2/models/m/infer{query} now") == (
        f"cannot reach http://127.0.0.1:1/v2/models/m/infer{shown} now"
    )
