"""The MT-Eval family aggregate on a synthetic frame: Recollection pools its two tasks' turns,
equal dialogue ids of different tasks stay different clusters, overall is the unweighted
mean of the four categories and needs all five main tasks."""

from __future__ import annotations

import pandas as pd
import pytest

from mteval.registry import all_tasks, family_aggregates
from mteval_tasks.mt_eval.aggregate import mt_eval_aggregate, stratified_mean_ci

MAIN = ["recollection_cls", "recollection_global_inst", "expansion", "refinement", "follow_up"]
COLUMN = {"recollection_cls": "score_cls_match", "recollection_global_inst": "score_instruction"}


def frame(scores: dict[str, list[tuple[str, float | None]]]) -> pd.DataFrame:
    rows = []
    for name, values in scores.items():
        for conversation, value in values:
            rows.append({"task": f"mt_eval/{name}", "conversation_id": conversation, "turn_index": 1, COLUMN.get(name, "score_judge"): value})
    return pd.DataFrame(rows)


def tasks(names):
    return [all_tasks()[f"mt_eval/{n}"].cls() for n in names]


def test_registered_for_the_family():
    assert family_aggregates()["mt_eval"] is mt_eval_aggregate


def test_categories_pool_turns_and_overall_is_the_mean_of_four():
    data = frame(
        {
            "recollection_cls": [("1", 10.0), ("1", 0.0), ("2", 10.0)],
            "recollection_global_inst": [("1", 0.0), ("2", 10.0), ("2", None)],
            "expansion": [("1", 8.0), ("2", 6.0)],
            "refinement": [("1", 5.0), ("2", 7.0), ("3", 9.0)],
            "follow_up": [("81", 4.0), ("82", 6.0)],
        }
    )
    metrics = mt_eval_aggregate(data, tasks(MAIN + ["cls_ablation_gold"]))
    assert metrics["Recollection"].value == pytest.approx(30 / 5)
    assert metrics["Recollection"].n == 5 and metrics["Recollection"].excluded == 1
    assert metrics["Recollection"].n_conversations == 4  # cls/1, cls/2, gi/1, gi/2
    assert metrics["Expansion"].value == 7.0 and metrics["Refinement"].value == 7.0 and metrics["Follow-up"].value == 5.0
    overall = metrics["overall"]
    assert overall.value == pytest.approx((6 + 7 + 7 + 5) / 4)
    assert overall.ci[0] <= overall.value <= overall.ci[1]
    assert overall.n == 12 and overall.n_conversations == 11 and overall.excluded == 1


def test_overall_needs_every_main_task():
    data = frame({"recollection_cls": [("1", 10.0)], "expansion": [("1", 8.0)], "refinement": [("1", 5.0)], "follow_up": [("81", 4.0)]})
    metrics = mt_eval_aggregate(data, tasks(["recollection_cls", "expansion", "refinement", "follow_up"]))
    assert metrics["Recollection"].value == 10.0 and metrics["overall"].value is None


def test_ablations_alone_give_no_categories():
    data = pd.DataFrame([{"task": "mt_eval/cls_ablation_gold", "conversation_id": "1_30", "turn_index": 5, "score_cls_match": 10.0}])
    assert mt_eval_aggregate(data, tasks(["cls_ablation_gold"])) == {}


def test_stratified_interval_is_seeded_and_degenerate_when_constant():
    groups = [([1.0, 2.0, 3.0], ["a", "b", "c"]), ([5.0, 5.0], ["x", "y"])]
    assert stratified_mean_ci(groups) == stratified_mean_ci(groups)
    assert stratified_mean_ci([([7.0, 7.0], ["a", "b"])]) == (7.0, 7.0)
