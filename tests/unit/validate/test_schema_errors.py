from __future__ import annotations

from generator.validate.schema_errors import did_you_mean


def test_did_you_mean_prefers_a_case_slip_over_a_close_spelling() -> None:
    assert did_you_mean("storageURI", ["storageUris", "storageUri"]) == " (did you mean 'storageUri'?)"
    assert did_you_mean("namesapce", ["name", "namespace"]) == " (did you mean 'namespace'?)"
    assert did_you_mean("zzz", ["namespace"]) == ""
