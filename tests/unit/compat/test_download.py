"""What the load check downloads: a location MLflow's artifact client cannot read is refused in words, unread."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.compat.load import download
from generator.errors import UserError
from tests.unit.smoke.conftest import RecordingArtifacts, serving


def test_an_http_location_outside_an_mlflow_servers_artifact_api_is_refused_naming_the_model(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        download("https://storage.example.com/models/wine", tmp_path / "model", "", what="wine version 3")
    message = str(caught.value)
    assert message.startswith(
        "wine version 3: cannot download https://storage.example.com/models/wine: MLflow reads an http(s):// "
        "location only at an MLflow server's artifact API (.../api/2.0/mlflow-artifacts/artifacts/...)\n  fix: "
    )
    assert caught.value.exit_code == 1
    assert not (tmp_path / "model").exists()


def test_a_location_on_another_host_than_the_tracking_server_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's client would send the tracking server's credentials to it (a hand-edited models.lock)."""
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-hunter2SECRET")
    RecordingArtifacts.seen.clear()
    with serving(RecordingArtifacts) as other, serving(RecordingArtifacts) as tracking:
        uri = f"{other}/api/2.0/mlflow-artifacts/artifacts/1/m"
        with pytest.raises(UserError) as caught:
            download(uri, tmp_path / "model", tracking, what="wine version 3")
    assert RecordingArtifacts.seen == []
    assert str(caught.value).startswith(
        f"wine version 3: cannot download {uri}: it is read at {other.removeprefix('http://')}, which is not the "
        f"tracking server ({tracking.removeprefix('http://')})"
    )
    assert caught.value.exit_code == 1
    assert not (tmp_path / "model").exists()


def test_a_long_store_error_is_cut_after_redaction_so_no_piece_of_a_credential_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for pad in range(260, 300):  # wherever the cut falls in the URL
        said = "x" * pad + " at https://alice:s3cretPassw0rdValue@store.example.com/bucket/1/m"

        def failing(said: str = said, **_: object) -> str:
            raise OSError(said)

        monkeypatch.setattr("mlflow.artifacts.download_artifacts", failing)
        with pytest.raises(UserError) as caught:
            download("s3://bucket/1/m", tmp_path / "model", "", what="wine version 3")
        assert str(caught.value).startswith("wine version 3: cannot download s3://bucket/1/m: xxx")
        assert "s3cret" not in str(caught.value), pad
