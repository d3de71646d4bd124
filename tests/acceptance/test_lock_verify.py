"""A hand-forged models.lock is refused wherever it could do harm: `lock --check`, `generate --check`,
`render`, `validate` and (tests/acceptance/test_propose.py) `propose`, against a real MLflow server."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import yaml

from tests.acceptance.conftest import CRDS, Platform

ATTACKER_BUCKET = "s3://attacker-bucket/mlartifacts/1/models/m-0123/artifacts"
FILE = "file:///etc/passwd"
METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


@dataclass(frozen=True)
class Forgery:
    """Fields of the prod entry as someone edited them by hand, and the field the refusal names."""

    fields: dict[str, str]
    names: str

    @property
    def location(self) -> bool:
        """Whether the forgery moves the artifact location (caught offline, too)."""
        return "artifactUri" in self.fields


FORGERIES = {
    "wrong version": Forgery({"version": "999"}, "version"),
    "wrong run id": Forgery({"runId": "0123456789abcdef0123456789abcdef"}, "runId"),
    "another bucket": Forgery({"source": ATTACKER_BUCKET, "artifactUri": ATTACKER_BUCKET}, "artifactUri"),
    "file": Forgery({"source": FILE, "artifactUri": FILE}, "artifactUri"),
    "metadata endpoint": Forgery({"source": METADATA, "artifactUri": METADATA}, "artifactUri"),
}
LOCATIONS = {name: f for name, f in FORGERIES.items() if f.location}


def forge(platform: Platform, forgery: Forgery) -> str:
    """Edit the prod entry of models.lock in place, as a person would; returns where the named field now is."""
    text = platform.read("models.lock")
    lines = text.splitlines(keepends=True)
    start = lines.index("    prod:\n")
    for i in range(start + 1, len(lines)):
        key = lines[i].strip().split(":", 1)[0]
        if lines[i].startswith("      ") and not lines[i].startswith("       ") and key in forgery.fields:
            lines[i] = f"      {key}: {yaml.safe_dump(forgery.fields[key], default_style=chr(39)).strip()}\n"
        if lines[i].startswith("    ") and not lines[i].startswith("     ") and i > start:
            break
    (platform.root / "models.lock").write_text("".join(lines))
    line = next(i for i in range(start, len(lines)) if lines[i].startswith(f"      {forgery.names}:")) + 1
    return f"models.lock:{line}: $.models.wine.prod.{forgery.names}: wine/prod: "


@pytest.fixture
def generated(platform: Platform) -> Platform:
    assert platform.run("generate", *CRDS).code == 0
    return platform


def test_an_untouched_lock_verifies_against_the_registry(generated: Platform) -> None:
    assert generated.run("lock", "--check").out == "up to date\n"
    assert generated.run("generate", "--check", *CRDS).out == "up to date\n"


@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
def test_lock_check_refuses_every_forged_entry_naming_line_values_and_fix(
    generated: Platform, forgery: Forgery
) -> None:
    where = forge(generated, forgery)
    before = generated.files()
    result = generated.run("lock", "--check")
    assert result.code == 1, result.out
    assert where in result.err
    assert "revert the hand edit of models.lock" in result.err
    assert "run `kserve-gitops lock --update wine/prod`" in result.err
    assert "Traceback" not in result.err
    assert generated.files() == before


def test_lock_check_says_what_the_registry_has(generated: Platform) -> None:
    locked = yaml.safe_load(generated.read("models.lock"))["models"]["wine"]["prod"]
    where = forge(generated, FORGERIES["wrong run id"])
    result = generated.run("lock", "--check")
    assert (
        f"{where}runId is locked as '0123456789abcdef0123456789abcdef' but the registry has "
        f"'{locked['runId']}' for '{generated.name}' version 2"
    ) in result.err
    where = forge(generated, FORGERIES["wrong version"])
    assert (
        f"{where}version 999 of registered model '{generated.name}' is not in the registry"
        in generated.run("lock", "--check").err
    )


def test_lock_check_refuses_an_entry_whose_mlmodel_facts_were_removed_beside_a_forged_verdict(
    generated: Platform,
) -> None:
    """Without its MLmodel facts the compat rules find nothing to fail, and `compat` skips a version that has a
    verdict: removing `mlmodel:` and writing `loadCheck: loads` would let any version through unloaded."""
    text = generated.read("models.lock")
    locked = yaml.safe_load(text)["models"]["wine"]["prod"]
    start = text.index("    prod:\n")
    block = text.index("      mlmodel:\n", start)
    end = block + len("      mlmodel:\n")
    while text[end:].startswith("        "):
        end = text.index("\n", end) + 1
    forged = (
        "      loadCheck:\n        image: docker.io/seldonio/mlserver:1.7.1\n        verdict: loads\n"
        "        environment: virtualenv (Python 3.10.13)\n"
    )
    (generated.root / "models.lock").write_text(text[:block] + forged + text[end:])
    result = generated.run("lock", "--check")
    assert result.code == 1, result.out
    assert (
        f'$.models.wine.prod.version: wine/prod: mlmodel is not recorded but the registry has "flavors: '
        f"{locked['mlmodel']['flavors']}, serializationFormat: cloudpickle" in result.err
    ), result.err
    assert "run `kserve-gitops lock --update wine/prod`" in result.err


def test_generate_check_verifies_too(generated: Platform) -> None:
    where = forge(generated, FORGERIES["wrong run id"])
    result = generated.run("generate", "--check", *CRDS)
    assert result.code == 1
    assert where in result.err


@pytest.mark.parametrize("forgery", LOCATIONS.values(), ids=LOCATIONS.keys())
def test_render_and_validate_refuse_a_location_outside_the_declared_prefixes_offline(
    generated: Platform, forgery: Forgery, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing there: these never ask the registry
    where = forge(generated, forgery)
    uri = forgery.fields["artifactUri"]
    before = generated.files()
    rendered = generated.run("render", *CRDS)
    assert rendered.code == 1
    assert f"{where}artifactUri '{uri}' " in rendered.err
    assert "(allowed prefixes: s3://mlflow-artifacts/mlartifacts)" in rendered.err
    assert generated.files() == before, "nothing written"
    validated = generated.run("validate", *CRDS)
    assert validated.code == 1
    assert validated.out.startswith("models.lock\n"), "grouped by file"
    assert f"  {where.removeprefix('models.lock:')}artifactUri '{uri}' " in validated.out
    assert "[lock-storage-uri]" in validated.out


def test_a_declared_extra_prefix_admits_its_bucket(generated: Platform) -> None:
    forge(generated, FORGERIES["another bucket"])
    spec = generated.read("models.yaml").replace(
        'registry: {artifactsDestination: "',
        'registry: {allowedStoragePrefixes: ["s3://attacker-bucket"], artifactsDestination: "',
    )
    (generated.root / "models.yaml").write_text(spec)
    assert generated.run("render", "--check", *CRDS).code == 1, "renders (differs), no longer refused"
    result = generated.run("lock", "--check")
    assert "artifactUri is locked as" in result.err, "the registry still disagrees"
