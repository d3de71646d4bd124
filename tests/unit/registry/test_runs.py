"""Links into the MLflow UI and the key metrics a pull request shows (generator/registry/runs.py, pure parts)."""

from __future__ import annotations

import pytest

from generator.registry.runs import RunDetails, run_details, run_url, ui_url, version_url


@pytest.mark.parametrize(
    ("tracking_uri", "ui"),
    [
        ("https://mlflow.example.com/", "https://mlflow.example.com"),
        ("https://user:s3cret@mlflow.example.com:8443/mlflow/?x=1", "https://mlflow.example.com:8443/mlflow"),
        ("http://[::1]:5000", "http://[::1]:5000"),
        ("databricks", ""),
        ("file:///tmp/mlruns", ""),
        ("", ""),
    ],
)
def test_ui_url_is_the_http_address_without_credentials(tracking_uri: str, ui: str) -> None:
    assert ui_url(tracking_uri) == ui


def test_links_follow_the_mlflow_3_ui_routes_and_encode_names_as_the_ui_does() -> None:
    ui = "https://mlflow.example.com"
    assert version_url(ui, "Wine.Classifier v2/eu", "4") == (
        "https://mlflow.example.com/#/models/Wine.Classifier%20v2%2Feu/versions/4"
    )
    assert run_url(ui, "12", "abc") == "https://mlflow.example.com/#/experiments/12/runs/abc"
    assert version_url("", "wine", "4") == run_url("", "12", "abc") == run_url(ui, "", "abc") == ""


def test_key_metrics_are_the_first_five_by_name() -> None:
    details = RunDetails({name: float(i) for i, name in enumerate("gfedcba")}, "1")
    assert details.key_metrics() == [("a", 6.0), ("b", 5.0), ("c", 4.0), ("d", 3.0), ("e", 2.0)]


def test_without_a_tracking_uri_nothing_is_asked() -> None:
    assert run_details(["abc"], "") == {}
