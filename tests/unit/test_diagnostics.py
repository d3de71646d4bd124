"""Diagnostics: where a problem is, in the user's words, with credentials removed."""

from __future__ import annotations

from generator.diagnostics import Diagnostic, errors, json_path, warnings


def test_json_path_quotes_keys_that_are_not_identifiers() -> None:
    assert json_path(["metadata", "annotations", "serving.kserve.io/deploymentMode"]) == (
        '$.metadata.annotations["serving.kserve.io/deploymentMode"]'
    )
    assert json_path(["spec", "containers", 0, "env"]) == "$.spec.containers[0].env"
    assert json_path([]) == "$"


def test_message_names_file_line_column_path_and_fix() -> None:
    found = Diagnostic(file="models.yaml", line=3, column=5, path="$.a", message="bad", hint="do x", rule="r")
    assert str(found) == "models.yaml:3:5: $.a: bad [r]\n  fix: do x"


def test_credentials_in_urls_never_reach_the_message() -> None:
    found = Diagnostic(message="cannot reach https://alice:s3cret@mlflow.example.com/api")
    assert "s3cret" not in str(found)
    assert "https://***@mlflow.example.com/api" in str(found)
    assert "s3cret" not in str(found.as_dict())


def test_errors_and_warnings_split_findings_by_severity_in_order() -> None:
    first, second = Diagnostic(message="a"), Diagnostic(message="b")
    note = Diagnostic(message="c", severity="warning")
    found = [first, note, second]
    assert errors(found) == [first, second]
    assert warnings(found) == [note]
