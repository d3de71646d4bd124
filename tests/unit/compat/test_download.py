"""What the load check downloads: a location MLflow's artifact client cannot read is refused in words, unread."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.compat.load import download
from generator.errors import UserError


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
