"""pin/unpin touch one key of models.yaml and nothing else: comments, order and layout survive."""

from __future__ import annotations

import pytest

from generator.errors import SpecError
from generator.spec.edit import pin, unpin
from generator.spec.load import parse_spec

BLOCK = """\
apiVersion: kserve-gitops/v1
environments: {dev: {namespace: d}, prod: {namespace: p, minReplicas: 1}}  # two envs
models:
  wine:
    registeredModel: wine   # the MLflow name
    resources: {limits: {cpu: 1, memory: 1Gi}}
    environments:
      dev:
        latest: true
      prod:
        alias: champion     # moved by the data scientists
        minReplicas: 2
# trailing comment
"""
BLOCK_PROD = "      prod:\n        alias: champion     # moved by the data scientists\n        minReplicas: 2\n"
FLOW = BLOCK.replace(BLOCK_PROD, "      prod: {alias: champion, minReplicas: 2}  # flow style\n")
FLOW_TRAILING_COMMA = BLOCK.replace(BLOCK_PROD, "      prod: {alias: champion, minReplicas: 2, }\n")
FLOW_COMMENTED = BLOCK.replace(
    BLOCK_PROD, "      prod: {alias: champion,  # moved\n        minReplicas: 2  # two\n      }\n"
)
FLOWS = [BLOCK, FLOW, FLOW_TRAILING_COMMA, FLOW_COMMENTED]
FLOW_IDS = ["block", "flow", "flow-trailing-comma", "flow-comment-before-the-brace"]


@pytest.mark.parametrize("text", FLOWS, ids=FLOW_IDS)
def test_pin_adds_a_versioned_hold_and_keeps_the_reference(text: str) -> None:
    pinned = pin(text, "wine", "prod", "3")
    target = parse_spec(pinned)[0].target("wine", "prod")
    assert target is not None
    assert (target.hold, target.pinned, str(target.ref), str(target.wanted)) == (
        True,
        "3",
        "alias champion",
        "version 3",
    )
    assert _comments(pinned) == _comments(text)


def _comments(text: str) -> list[str]:
    return [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]


@pytest.mark.parametrize("text", FLOWS, ids=FLOW_IDS)
def test_unpin_restores_the_file_byte_for_byte(text: str) -> None:
    assert unpin(pin(text, "wine", "prod", "3"), "wine", "prod") == text


def test_pin_replaces_an_existing_hold_value_only() -> None:
    held = FLOW.replace("{alias: champion, minReplicas: 2}", "{alias: champion, hold: true, minReplicas: 2}")
    assert pin(held, "wine", "prod", "4") == held.replace("hold: true", "hold: 4")


def test_unpin_in_the_middle_of_a_flow_mapping() -> None:
    held = FLOW.replace("{alias: champion, minReplicas: 2}", "{alias: champion, hold: 4, minReplicas: 2}")
    assert unpin(held, "wine", "prod") == FLOW


def test_unpin_without_a_hold_changes_nothing() -> None:
    assert unpin(BLOCK, "wine", "dev") == BLOCK


def test_unknown_model_or_environment_is_a_user_error() -> None:
    with pytest.raises(SpecError, match=r"models\.wine\.environments\.qa not found"):
        pin(BLOCK, "wine", "qa", "1")


SHARED = """\
apiVersion: kserve-gitops/v1
environments: {dev: {namespace: d}, staging: {namespace: s}, live: {namespace: p}}
models:
  wine:
    registeredModel: wine
    environments:
      staging: &same {alias: champion}   # live serves what staging serves
      live: *same
"""


def _pinned(text: str, model: str, env: str) -> str:
    target = parse_spec(text)[0].target(model, env)
    assert target is not None
    return target.pinned


def test_pin_of_the_anchored_environment_leaves_its_alias_alone() -> None:
    pinned = pin(SHARED, "wine", "staging", "3")
    assert pinned == SHARED.replace("{alias: champion}   #", "{alias: champion, hold: 3}   #").replace(
        "live: *same", "live: {alias: champion}"
    )
    assert (_pinned(pinned, "wine", "staging"), _pinned(pinned, "wine", "live")) == ("3", "")


def test_pin_through_an_alias_materialises_that_environment_only() -> None:
    pinned = pin(SHARED, "wine", "live", "3")
    assert pinned == SHARED.replace("live: *same", "live: {alias: champion, hold: 3}")
    assert (_pinned(pinned, "wine", "staging"), _pinned(pinned, "wine", "live")) == ("", "3")


def test_unpin_through_an_alias_releases_that_environment_only() -> None:
    held = SHARED.replace("{alias: champion}", "{alias: champion, hold: 2}")
    released = unpin(held, "wine", "live")
    assert released == held.replace("live: *same", "live: {alias: champion}")
    assert (_pinned(released, "wine", "staging"), _pinned(released, "wine", "live")) == ("2", "")


def test_a_shared_ancestor_is_unshared_too() -> None:
    text = (
        SHARED.replace("  wine:\n", "  wine: &wine\n").replace(
            "      staging: &same {alias: champion}   # live serves what staging serves\n      live: *same\n",
            "      live: {alias: champion}\n",
        )
        + "  wine-copy: *wine\n"
    )
    pinned = pin(text, "wine", "live", "3")
    assert pinned.endswith("  wine-copy: {registeredModel: wine, environments: {live: {alias: champion}}}\n")
    assert (_pinned(pinned, "wine", "live"), _pinned(pinned, "wine-copy", "live")) == ("3", "")


NESTED_LAST = """\
apiVersion: kserve-gitops/v1
environments: {live: {namespace: p}}
models:
  wine:
    registeredModel: wine
    environments:
      live:
        alias: champion
        resources:
          limits:
            cpu: "1"   # one core

        # about the next model
  beer:
    registeredModel: beer
    environments:
      live: {alias: champion}
"""


def test_pin_after_a_nested_map_goes_after_its_last_line() -> None:
    pinned = pin(NESTED_LAST, "wine", "live", "3")
    assert pinned == NESTED_LAST.replace('cpu: "1"   # one core\n', 'cpu: "1"   # one core\n        hold: 3\n')
    assert _pinned(pinned, "wine", "live") == "3"
    assert unpin(pinned, "wine", "live") == NESTED_LAST


@pytest.mark.parametrize(
    ("text", "env"),
    [(BLOCK, "prod"), (FLOW, "prod"), (NESTED_LAST, "live"), (SHARED, "live")],
    ids=["block", "flow", "nested", "shared"],
)
def test_crlf_files_keep_crlf_byte_for_byte(text: str, env: str) -> None:
    crlf = text.replace("\n", "\r\n")
    pinned = pin(crlf, "wine", env, "3")
    assert pinned == pin(text, "wine", env, "3").replace("\n", "\r\n")
    assert unpin(pinned, "wine", env) == unpin(pin(text, "wine", env, "3"), "wine", env).replace("\n", "\r\n")


HOLD_ALIASED = """\
apiVersion: kserve-gitops/v1
environments: {staging: {namespace: s}, live: {namespace: p}}
models:
  wine:
    registeredModel: wine
    environments:
      staging: {alias: champion, hold: &held 2}
      live: {alias: champion, hold: *held}   # live holds what staging holds
"""


def test_pin_of_a_hold_written_as_an_alias_replaces_that_alias_only() -> None:
    pinned = pin(HOLD_ALIASED, "wine", "live", "3")
    assert pinned == HOLD_ALIASED.replace("hold: *held}", "hold: 3}")
    assert (_pinned(pinned, "wine", "staging"), _pinned(pinned, "wine", "live")) == ("2", "3")


def test_unpin_of_a_hold_written_as_an_alias_removes_that_alias_only() -> None:
    released = unpin(HOLD_ALIASED, "wine", "live")
    assert released == HOLD_ALIASED.replace("{alias: champion, hold: *held}", "{alias: champion}")
    assert (_pinned(released, "wine", "staging"), _pinned(released, "wine", "live")) == ("2", "")


OVERRIDE_LAST = """\
apiVersion: kserve-gitops/v1
environments: {live: {namespace: p}}
models:
  wine:
    registeredModel: wine
    environments:
      live:
        alias: champion
        gates:
          override: >
            accuracy drop accepted:
            new labels (JIRA-123)

  beer:
    registeredModel: beer
    environments:
      live: {alias: champion}
"""


def test_pin_after_a_block_scalar_stays_in_its_environment() -> None:
    """A block scalar's token ends past its line breaks: the hold goes after its last line, not the next key's."""
    pinned = pin(OVERRIDE_LAST, "wine", "live", "3")
    assert pinned == OVERRIDE_LAST.replace("(JIRA-123)\n", "(JIRA-123)\n        hold: 3\n")
    assert (_pinned(pinned, "wine", "live"), _pinned(pinned, "beer", "live")) == ("3", "")
    assert unpin(pinned, "wine", "live") == OVERRIDE_LAST


@pytest.mark.parametrize("ending", ["", "   # last line"], ids=["value", "comment"])
def test_a_file_without_a_final_line_break_round_trips(ending: str) -> None:
    """The environment ends the file and no line break ends the file: unpin takes the one pin added."""
    unterminated = BLOCK.replace("# trailing comment\n", "").rstrip("\n") + ending
    pinned = pin(unterminated, "wine", "prod", "3")
    assert pinned == unterminated + "\n        hold: 3"
    assert unpin(pinned, "wine", "prod") == unterminated


@pytest.mark.parametrize(
    ("between", "kept"),
    [
        (",  # two, not one\n        ", "  # two, not one\n        "),
        ("  # two, not one\n        , ", "  # two, not one\n         "),
    ],
    ids=["comma-before-the-comment", "comma-after-the-comment"],
)
def test_unpin_of_the_last_pair_of_a_flow_mapping_keeps_the_comment_before_it(between: str, kept: str) -> None:
    held = FLOW_COMMENTED.replace("minReplicas: 2  # two\n      }", f"minReplicas: 2{between}hold: 4}}")
    assert unpin(held, "wine", "prod") == held.replace(f"{between}hold: 4}}", f"{kept}}}")


def test_pin_after_an_explicit_key_is_indented_as_the_mapping() -> None:
    explicit = BLOCK.replace("        minReplicas: 2\n", "        ? minReplicas\n        : 2\n")
    pinned = pin(explicit, "wine", "prod", "3")
    assert pinned == explicit.replace("        : 2\n", "        : 2\n        hold: 3\n")
    assert unpin(pinned, "wine", "prod") == explicit


def test_pin_and_unpin_of_a_hold_another_environment_aliases_keep_that_environment_held() -> None:
    """`hold: &held 2` is what live's `*held` reads: it is copied there before it changes or goes."""
    pinned = pin(HOLD_ALIASED, "wine", "staging", "3")
    assert pinned == HOLD_ALIASED.replace("hold: &held 2}", "hold: 3}").replace("hold: *held}", "hold: 2}")
    assert (_pinned(pinned, "wine", "staging"), _pinned(pinned, "wine", "live")) == ("3", "2")
    released = unpin(HOLD_ALIASED, "wine", "staging")
    assert released == HOLD_ALIASED.replace(", hold: &held 2}", "}").replace("hold: *held}", "hold: 2}")
    assert (_pinned(released, "wine", "staging"), _pinned(released, "wine", "live")) == ("", "2")


def test_pin_of_a_flow_mapping_ending_in_an_alias_adds_the_hold_there() -> None:
    text = SHARED.replace("staging: &same {alias: champion}", "staging: {alias: &same champion}").replace(
        "live: *same", "live: {alias: *same}"
    )
    pinned = pin(text, "wine", "live", "3")
    assert pinned == text.replace("live: {alias: *same}", "live: {alias: *same, hold: 3}")
    assert (_pinned(pinned, "wine", "staging"), _pinned(pinned, "wine", "live")) == ("", "3")
    assert unpin(pinned, "wine", "live") == text
