"""What propose proposes, from plain values: changes, grouping, partial locks, titles, labels and bodies."""

from __future__ import annotations

import yaml

from generator.lock.model import Lock
from generator.lock.resolve import Update
from generator.propose import plan
from generator.propose.plan import Change, Group
from generator.registry.runs import RunDetails
from generator.render.tree import generated
from generator.spec.model import Ref
from tests.unit.propose.values import UI
from tests.unit.propose.values import entry as _entry
from tests.unit.propose.values import lock as _lock
from tests.unit.propose.values import spec as _spec


def _moves(changes: list[Change]) -> list[tuple[str, str, str, str]]:
    return [(c.model, c.env, c.old.version if c.old else "", c.new.version) for c in changes]


def _proposals(new: Lock, group: Group = "env", runs: dict[str, RunDetails] | None = None) -> list[plan.Proposal]:
    spec = _spec()
    changes = plan.find_changes(spec, _lock(), new, group)
    return plan.proposals(spec, _lock(), changes, group, runs=runs or {}, ui=UI, base_branch="main")


def test_changes_are_moved_versions_in_models_yaml_order() -> None:
    new = _lock(wine_prod="2", wine_staging="2", churn_staging="5")
    assert _moves(plan.find_changes(_spec(), _lock(), new, "env")) == [
        ("churn", "staging", "1", "5"),
        ("wine", "staging", "1", "2"),
        ("wine", "prod", "1", "2"),
    ]


def test_held_target_is_never_proposed_even_if_the_lock_moved_it() -> None:
    assert plan.find_changes(_spec(", hold: true"), _lock(), _lock(wine_prod="2"), "env") == []


def test_entry_whose_reference_differs_from_base_models_yaml_is_a_person_edit_not_a_promotion() -> None:
    edited = _lock()
    edited.entries[("wine", "staging")] = _entry("wine", "staging", "2", Ref("alias", "candidate"))
    assert plan.find_changes(_spec(), _lock(), edited, "env") == []


def test_new_entry_without_base_entry_is_proposed() -> None:
    base = _lock()
    del base.entries[("churn", "prod")]
    assert _moves(plan.find_changes(_spec(), base, _lock(), "env")) == [("churn", "prod", "", "1")]


def test_unselected_targets_keep_what_their_branch_proposes() -> None:
    only_churn = Update.parse(["churn"])
    new = _lock(churn_staging="5")  # `lock --update churn` left wine at the base version
    on_branch = {"kserve-gitops/promote-staging": _lock(wine_staging="2")}
    kept = plan.find_changes(_spec(), _lock(), new, "env", update=only_churn, proposed=on_branch)
    assert _moves(kept) == [("churn", "staging", "1", "5"), ("wine", "staging", "1", "2")]
    assert _moves(plan.find_changes(_spec(), _lock(), new, "env", update=only_churn)) == [
        ("churn", "staging", "1", "5")
    ]


def test_grouping_gives_one_fixed_branch_per_key_in_a_stable_order() -> None:
    new = _lock(wine_prod="2", wine_staging="2", churn_staging="5")
    assert [(p.key, p.branch) for p in _proposals(new, "env")] == [
        ("staging", "kserve-gitops/promote-staging"),
        ("prod", "kserve-gitops/promote-prod"),
    ]
    assert [p.key for p in _proposals(new, "model")] == ["churn", "wine"]
    assert [(p.key, len(p.changes)) for p in _proposals(new, "all")] == [("all", 3)]


def test_each_branch_carries_only_its_group_changes() -> None:
    staging, prod = _proposals(_lock(wine_prod="2", wine_staging="2", churn_staging="5"))
    assert sorted(staging.writes) == [
        "environments/staging/churn.yaml",
        "environments/staging/wine.yaml",
        "models.lock",
    ]
    locked = yaml.safe_load(staging.writes["models.lock"])["models"]
    assert (locked["wine"]["staging"]["version"], locked["churn"]["staging"]["version"]) == ("2", "5")
    assert locked["wine"]["prod"]["version"] == "1", "prod's move belongs to the prod branch"
    assert sorted(prod.writes) == ["environments/prod/wine.yaml", "models.lock"]
    assert staging.deletes == prod.deletes == ()
    assert staging.files["environments/prod/wine.yaml"] == generated(_spec(), _lock())["environments/prod/wine.yaml"]


def test_titles_name_the_move_or_sum_it_up() -> None:
    def title(**versions: str) -> str:
        return plan.title(_spec(), plan.find_changes(_spec(), _lock(), _lock(**versions), "all"))

    assert title(wine_staging="2") == "Promote wine 1 → 2 in staging"
    assert title(wine_staging="2", wine_prod="2") == "Promote wine 1 → 2 in staging, prod"
    assert title(wine_staging="2", wine_prod="3") == "Promote wine in staging, prod"
    assert title(wine_staging="2", churn_staging="5") == "Promote 2 models in staging"
    assert title(wine_dev="2", churn_prod="5") == "Promote 2 models in dev, prod"
    assert plan.title(_spec(), [Change(None, _entry("wine", "dev", "4"))]) == "Promote wine 4 in dev"


def test_labels_say_automerge_only_when_every_environment_promotes_automatically() -> None:
    def labels(**versions: str) -> tuple[str, ...]:
        return plan.labels(_spec(), plan.find_changes(_spec(), _lock(), _lock(**versions), "all"))

    assert labels(wine_staging="2") == ("promotion", "staging", "automerge")
    assert labels(wine_prod="2") == ("promotion", "prod", "needs-approval")
    assert labels(wine_prod="2", wine_dev="2") == ("promotion", "dev", "prod", "needs-approval")


def test_body_shows_each_change_with_run_metrics_links_and_the_files_per_environment() -> None:
    runs = {
        "run-wine-2": RunDetails(
            {"rmse": 0.31, "r2": 0.912345, "mae": 0.2, "f1": 0.9, "auc": 0.97, "loss": 0.1, "acc": 0.95}, "7"
        )
    }
    (proposal,) = _proposals(_lock(wine_staging="2"), runs=runs)
    assert (
        proposal.body
        == f"""\
Moves 1 model version to what the MLflow registry says now. Once merged, Argo CD deploys it. **staging** merges \
automatically once checks pass (`promotion: auto`).

### wine in staging

| | |
| --- | --- |
| registered model | `Wine Classifier` |
| reference | `alias challenger` |
| version | [1]({UI}/#/models/Wine%20Classifier/versions/1) → **[2]({UI}/#/models/Wine%20Classifier/versions/2)** |
| run | [`run-wine-2`]({UI}/#/experiments/7/runs/run-wine-2) |
| metrics | `acc` 0.95, `auc` 0.97, `f1` 0.9, `loss` 0.1, `mae` 0.2 (first 5 by name; 2 more in MLflow) |

### Rendered changes

| environment | files |
| --- | --- |
| staging | `environments/staging/wine.yaml` (update) |
| (repository) | `models.lock` (update) |

---
This branch belongs to kserve-gitops: every `kserve-gitops propose` rebuilds it from `main` with what the registry \
says then, and edits this pull request to match. If you push to the branch, the bot leaves it alone from then on. \
To keep a version where it is, `kserve-gitops pin MODEL ENV VERSION`.
"""
    )


def test_body_without_run_details_or_ui_has_no_links() -> None:
    spec = _spec()
    changes = plan.find_changes(spec, _lock(), _lock(wine_prod="2"), "env")
    (proposal,) = plan.proposals(spec, _lock(), changes, "env", runs={}, ui="", base_branch="main")
    assert "| version | 1 → **2** |" in proposal.body
    assert "| run | `run-wine-2` |" in proposal.body
    assert "| metrics | not available |" in proposal.body
    assert "**prod** needs a reviewer's approval (`promotion: approval`)" in proposal.body


def test_files_by_environment_orders_environments_then_shared_files() -> None:
    before = {"environments/dev/a.yaml": b"1", "environments/prod/a.yaml": b"1", "models.lock": b"1"}
    writes = {"models.lock": b"2", "environments/prod/a.yaml": b"2", "environments/dev/b.yaml": b"2"}
    assert plan.files_by_environment(_spec(), before, writes, ["environments/dev/a.yaml"]) == {
        "dev": ["delete environments/dev/a.yaml", "create environments/dev/b.yaml"],
        "prod": ["update environments/prod/a.yaml"],
        "": ["update models.lock"],
    }


def test_commit_message_lists_every_change() -> None:
    (proposal,) = _proposals(_lock(wine_staging="2", churn_staging="5"))
    assert proposal.message == (
        "Promote 2 models in staging\n\n"
        "churn/staging: alias challenger 1 -> 5 (run run-churn-5)\n"
        "wine/staging: alias challenger 1 -> 2 (run run-wine-2)\n\n"
        "Generated by kserve-gitops propose.\n"
    )


def test_closing_comment_says_empty_or_superseded() -> None:
    empty = plan.closing_comment("kserve-gitops/promote-staging", _spec(), "env", ["#4"])
    assert empty.startswith("Nothing is left to promote for **staging**")
    superseded = plan.closing_comment("kserve-gitops/promote-staging", _spec(), "all", ["#4"])
    assert superseded.startswith("Superseded by #4:")
