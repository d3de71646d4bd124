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


def test_a_long_error_is_cut_after_redaction_so_no_piece_of_a_credential_shows() -> None:
    """Cut first, a URL's password split at the cut no longer looks like one to the redaction, and its head shows."""
    said = "x" * 250 + " at https://alice:s3cretPassw0rdValue@mlflow.example.com/api/2.0/mlflow/model-versions"
    with (
        faulty(Fault("status", status=400, body={"error_code": "INVALID_PARAMETER_VALUE", "message": said})) as url,
        pytest.raises(RegistryUnavailable) as caught,
    ):
        deployments(url, ["Wine"])
    (problem,) = caught.value.diagnostics
    assert problem.message.startswith(f"cannot read deployment tags from {url}: ")
    assert "s3cret" not in problem.message
