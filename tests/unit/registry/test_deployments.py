"""Reading the webhook's deployment tags: what no MLflow server answers is refused, not sorted into a crash."""

from __future__ import annotations

import pytest

from generator.errors import RegistryUnavailable
from generator.registry.deployments import deployments
from tests.support.faults import Fault, faulty


@pytest.mark.parametrize("version", ["2a", "9" * 5000])
def test_a_version_that_is_no_number_is_the_servers_fault_naming_it(version: str) -> None:
    tagged = {"name": "Wine", "version": version, "tags": [{"key": "deployed.prod", "value": "abc123"}]}
    with (
        faulty(Fault("status", status=200, body={"model_versions": [tagged]})) as url,
        pytest.raises(RegistryUnavailable) as caught,
    ):
        deployments(url, ["Wine"])
    (problem,) = caught.value.diagnostics
    assert problem.message.startswith(f"cannot read deployment tags from {url}: it gives version '{version[:20]}")
    assert problem.message.endswith("of 'Wine', and MLflow numbers versions")
