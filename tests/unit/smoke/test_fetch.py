"""What smoke-test reads of a model's own files, from a local directory as MLflow's artifact reader copies them: files
whoever logged the model wrote, refused as findings about the model (exit 1), never read whole past the YAML limit."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from generator.errors import SmokeFailed, UserError
from generator.smoke.fetch import _error, fetch_example
from tests.unit.smoke.conftest import RecordingArtifacts, serving
from tests.unit.smoke.test_mlmodel import WINE_COLUMNS, wine_mlmodel

EXAMPLE = {"dataframe_split": {"columns": WINE_COLUMNS, "data": [[1.0] * 13]}}


def _model(root: Path, mlmodel: str, example: object = EXAMPLE) -> str:
    root.mkdir()
    (root / "MLmodel").write_text(mlmodel)
    (root / "serving_input_example.json").write_text(json.dumps(example))
    return str(root)


def test_a_model_directory_gives_its_signature_and_example(tmp_path: Path) -> None:
    model, example = fetch_example(_model(tmp_path / "m", wine_mlmodel()), "")
    assert [i.name for i in model.signature.inputs] == WINE_COLUMNS
    assert example == EXAMPLE


@pytest.mark.parametrize(
    ("make", "said"),
    [
        ("huge", "MLmodel: larger than 16 MiB, more than MLflow writes"),
        ("directory", "serving_input_example.json: cannot read it: Is a directory"),
        ("signature a string", "the model's MLmodel or input example is not as MLflow writes it (AttributeError"),
    ],
)
def test_model_files_that_cannot_be_what_mlflow_writes_are_a_finding(tmp_path: Path, make: str, said: str) -> None:
    mlmodel = wine_mlmodel(signature="hello") if make == "signature a string" else wine_mlmodel()
    source = _model(tmp_path / "m", mlmodel + ("\n#" + "x" * 16 * 2**20 if make == "huge" else ""))
    if make == "directory":
        (tmp_path / "m" / "serving_input_example.json").unlink()
        (tmp_path / "m" / "serving_input_example.json").mkdir()
    with pytest.raises(SmokeFailed) as caught:
        fetch_example(source, "")
    assert said in str(caught.value)
    assert caught.value.exit_code == 1


STREAM = 4 << 30  # bytes the endless store below sends at most: far past the 16 MiB cap, and seconds of reading


@dataclass
class EndlessStore:
    """An MLflow tracking server's artifact endpoints whose files never end: listing says "a file", then the file
    streams until the client stops reading, STREAM bytes at most, or the test is over."""

    url: str = ""
    sent: int = 0
    over: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def endless() -> Iterator[EndlessStore]:
    store = EndlessStore()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if "?" in self.path:  # a listing: nothing below the path, so it is a file
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                return
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"%x\r\n%s\r\n" % (1 << 20, b"#" * (1 << 20))
            with contextlib.suppress(OSError):
                while store.sent < STREAM and not store.over.is_set():
                    self.wfile.write(chunk)
                    store.sent += 1 << 20

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest shows what matters."""

    with serving(Handler) as store.url:
        try:
            yield store
        finally:
            store.over.set()  # before the server stops: it waits for the handler streaming


def test_a_file_the_store_never_ends_is_refused_once_past_the_cap_not_at_the_deadline(
    endless: EndlessStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KSERVE_GITOPS_HTTP_DEADLINE", "600")
    with pytest.raises(SmokeFailed) as caught:
        fetch_example("mlflow-artifacts:/1/models/m-abc/artifacts", endless.url)
    read = endless.sent  # what the download had read when it was refused (it reads on until the store stops)
    assert str(caught.value).startswith("MLmodel: larger than 16 MiB, more than MLflow writes")
    assert caught.value.exit_code == 1
    assert read < STREAM // 4, f"{read >> 20} MiB read before the refusal"


def test_an_http_location_mlflow_cannot_read_is_refused_in_words_not_with_mlflows_python_error() -> None:
    with pytest.raises(UserError) as caught:
        fetch_example("https://u:hunter2SECRET@storage.example.com/models/wine", "")
    assert str(caught.value) == (
        "cannot read https://***@storage.example.com/models/wine: MLflow reads an http(s):// location only at an "
        "MLflow server's artifact API (.../api/2.0/mlflow-artifacts/artifacts/...)\n"
        "  fix: give --source as s3://..., mlflow-artifacts:/... or models:/NAME/VERSION"
    )
    assert caught.value.exit_code == 1


@pytest.mark.parametrize("form", ["mlflow-artifacts://{host}/1/models/m-abc/artifacts", "http://{host}{api}/1/m"])
def test_a_source_on_another_host_than_the_tracking_server_gets_no_request_and_no_credentials(
    form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's client sends MLFLOW_TRACKING_TOKEN to the host of the location it reads: a source in models.lock
    naming another host would hand the token to it."""
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-hunter2SECRET")
    RecordingArtifacts.seen.clear()
    with serving(RecordingArtifacts) as other, serving(RecordingArtifacts) as tracking:
        source = form.format(host=other.removeprefix("http://"), api="/api/2.0/mlflow-artifacts/artifacts")
        with pytest.raises(UserError) as caught:
            fetch_example(source, tracking)
    assert RecordingArtifacts.seen == []
    assert "which is not the tracking server (127.0.0.1:" in str(caught.value)
    assert caught.value.exit_code == 1


@pytest.mark.parametrize("source", ["models:/Wine/1", "Models:/Wine/1", "RUNS:/abc/model", "MLflow-Artifacts:/1/m"])
def test_a_source_read_through_a_tracking_server_needs_one_and_leaves_no_database_behind(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a tracking URI MLflow falls back to sqlite:///mlflow.db in the working directory, and creates it; a URI
    scheme is case-insensitive, so `Models:/` is read through the registry as `models:/` is."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as caught:
        fetch_example(source, "")
    assert f"reading {source} needs an MLflow tracking server, and none is configured" in str(caught.value)
    assert caught.value.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_a_long_store_error_is_cut_after_redaction_so_no_piece_of_a_credential_shows() -> None:
    for pad in range(260, 300):  # wherever the cut falls in the URL
        said = (
            "x" * pad + " at https://alice:s3cretPassw0rdValue@mlflow.example.com/api/2.0/mlflow-artifacts/artifacts/1"
        )
        message = str(_error("mlflow-artifacts:/1/m", said))
        assert message.startswith("cannot read mlflow-artifacts:/1/m: xxx")
        assert "s3cret" not in message, pad
