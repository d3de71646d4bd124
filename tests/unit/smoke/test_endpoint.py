"""Where requests go: KServe's predictor Service in the cluster, the V2 path for a model name."""

from __future__ import annotations

import pytest

from generator.cli import main
from generator.cli.smoke import _host_name
from generator.smoke.endpoint import Endpoint, in_cluster_url, invocations, v2_infer


def test_in_cluster_url_is_the_predictor_service_on_port_80() -> None:
    assert in_cluster_url("wine", "ml-dev") == "http://wine-predictor.ml-dev.svc.cluster.local"


def test_v2_infer_appends_the_model_path_to_a_base_url_and_keeps_the_host() -> None:
    assert v2_infer("http://10.0.0.1/", "wine", "wine.ml-dev.example.com") == Endpoint(
        "http://10.0.0.1/v2/models/wine/infer", "wine.ml-dev.example.com"
    )
    assert v2_infer("http://localhost:8080", "a/b").url == "http://localhost:8080/v2/models/a%2Fb/infer"


def test_a_base_url_s_path_and_query_stay_where_they_belong() -> None:
    """A gateway's token in the query: the model's path goes before it, not into it."""
    assert v2_infer("http://gw.example.com/serving/?token=abc", "wine").url == (
        "http://gw.example.com/serving/v2/models/wine/infer?token=abc"
    )
    assert invocations("http://127.0.0.1:18932?token=abc").url == "http://127.0.0.1:18932/invocations?token=abc"


@pytest.mark.parametrize("host", ["a\r\nX-Evil: 1", "wine example", "wine/x"])
def test_a_host_header_that_is_no_host_name_is_refused_before_anything_is_sent(
    host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["smoke-test", "wine", "--env", "dev", "--url", "http://127.0.0.1:9", "--host", host])
    assert code == 2
    assert "Invalid value for '--host': not a host name" in capsys.readouterr().err


def test_a_host_name_with_a_port_or_an_address_is_a_host_header() -> None:
    assert all(map(_host_name, ["wine.ml-dev.example.com", "wine.ml-dev.example.com:8080", "[::1]:8080", "10.0.0.1"]))
