"""Random, mostly valid models.yaml files through `kserve-gitops render` and `validate`, offline.

Whatever the input: never a traceback or exit 3, nothing written after an error, and the
same input gives the same output and the same files.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from generator.lock.io import dumps
from generator.lock.model import Lock, LockEntry
from generator.spec.model import REF_KINDS, Ref
from tests.acceptance.conftest import Result


def mostly(valid: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`valid` about nine times in ten (shrinking towards valid): most examples get through to rendering,
    the rest probe the checks. sampled_from draws evenly, where integers() favours its bounds."""
    return st.sampled_from(range(10)).flatmap(lambda n: hostile if n == 9 else valid)


NAMES = mostly(
    st.sampled_from(["dev", "staging", "prod", "wine", "churn", "m-1"]),
    st.one_of(st.just("a" * 54), st.text(alphabet="abz09-_.\nA ", max_size=8)),
)
TEXT = mostly(
    st.sampled_from(["x", "team-a", "Wine Model"]),
    st.one_of(st.sampled_from(["http://u:p@h", "a\nb", ""]), st.text(max_size=12)),
)
KEYS = mostly(
    st.sampled_from(["team", "example.com/team", "a.b/c_d"]),
    st.one_of(st.sampled_from(["a/b/c", "team\n", "-x"]), st.text(max_size=10)),
)
QUANTITIES = mostly(
    st.sampled_from(["500m", "1", "2Gi", "129e6", "0.1", 2, 1.5]),
    st.one_of(
        st.sampled_from(["1e99999999999", "-1", "2GB", "1e64", "9" * 100]),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
    ),
)
REPLICAS = mostly(st.integers(min_value=1, max_value=3), st.sampled_from([-1, 0, 2**31, 10**40]))
REFS = st.one_of(
    st.fixed_dictionaries({"version": mostly(st.integers(min_value=1, max_value=3), st.sampled_from([0, "2\n"]))}),
    st.fixed_dictionaries({"alias": mostly(st.just("champion"), st.sampled_from(["latest", "bad alias", "c\n"]))}),
    st.just({"latest": True}),
)
SERVING = {
    "minReplicas": REPLICAS,
    "resources": st.fixed_dictionaries(
        {},
        optional={
            "requests": st.dictionaries(st.sampled_from(["cpu", "memory"]), QUANTITIES, max_size=2),
            "limits": st.dictionaries(st.sampled_from(["cpu", "memory", "nvidia.com/gpu"]), QUANTITIES, max_size=2),
        },
    ),
    "annotations": st.dictionaries(KEYS, TEXT, max_size=2),
    "nodeSelector": st.dictionaries(KEYS, mostly(st.sampled_from(["gpu", "a.b-c"]), TEXT), max_size=2),
    "env": st.dictionaries(mostly(st.sampled_from(["A", "B_1"]), st.sampled_from(["1X", "x\n"])), TEXT, max_size=2),
}
# A few characters that most often turn valid YAML into something else.
DAMAGE = st.sampled_from([":", "-", "[", "{", "&", "*", "!", "\n", "\t", "'", '"', "%"])


@st.composite
def repositories(draw: st.DrawFn) -> tuple[str, str]:
    """models.yaml text and a models.lock that matches it wherever it can."""
    env_names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    environments = {name: draw(st.fixed_dictionaries({"namespace": NAMES}, optional=SERVING)) for name in env_names}
    models: dict[str, Any] = {}
    for name in draw(st.lists(NAMES, min_size=1, max_size=3, unique=True)):
        served = draw(st.lists(mostly(st.sampled_from(env_names), NAMES), min_size=1, max_size=2, unique=True))
        models[name] = {
            "registeredModel": draw(TEXT),
            **draw(st.fixed_dictionaries({}, optional=SERVING)),
            "environments": {env: draw(REFS) for env in served},
        }
    spec = {
        "apiVersion": "kserve-gitops/v1",
        "registry": {"artifactsDestination": "s3://b"},
        "environments": environments,
        "models": models,
    }
    text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
    if draw(st.sampled_from(range(10))) == 9:
        at = draw(st.integers(min_value=0, max_value=len(text) - 1))
        text = text[:at] + draw(DAMAGE) + text[at + 1 :]
    return text, dumps(
        Lock(
            {
                (m, e): _entry(m, e, models[m]["registeredModel"], ref)
                for m in models
                for e, ref in models[m]["environments"].items()
            }
        )
    ).decode()


def _entry(model: str, env: str, registered: str, ref: dict[str, Any]) -> LockEntry:
    ((kind, value),) = ref.items()
    reference = next(Ref(k, "" if k == "latest" else str(value)) for k in REF_KINDS if k == kind)
    return LockEntry(model, env, registered, reference, "2", "s3://b/1/m", "s3://b/1/m", "r1")


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _run(cli: Callable[..., Result], repo: Path, *args: str) -> Result:
    result = cli(*args, "--repo", str(repo))
    assert result.code in (0, 1), (result.code, result.err)
    assert "Traceback" not in result.err + result.out
    return Result(result.code, result.out.replace(str(repo), "<repo>"), result.err.replace(str(repo), "<repo>"))


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(repository=repositories())
def test_any_models_yaml_renders_or_fails_cleanly_and_deterministically(
    repository: tuple[str, str], tmp_path: Path, cli: Callable[..., Result]
) -> None:
    spec, lock = repository
    base = tmp_path / "case"
    shutil.rmtree(base, ignore_errors=True)
    first, second = base / "first", base / "second"
    for repo in (first, second):
        repo.mkdir(parents=True)
        (repo / "models.yaml").write_text(spec)
        (repo / "models.lock").write_text(lock)
    before = _files(first)

    rendered = _run(cli, first, "render")
    event(f"render exit {rendered.code}")  # --hypothesis-show-statistics: how many examples got through
    if rendered.code:
        assert _files(first) == before, "render wrote files although it failed"
    assert _run(cli, second, "render") == rendered
    assert _files(second) == _files(first)

    checked = _run(cli, first, "validate")
    if rendered.code:
        assert checked.code == 1, "validate passed what render refused"
    assert _files(first) == _files(second), "validate wrote files"
