"""MT-Eval's family summary (arXiv 2401.16745): one score per category, pooled over all
its scored turns (Recollection pools the cls and global-instruction turns), and the overall
score, the unweighted mean of the four categories.

Intervals resample whole dialogues (cluster bootstrap, as everywhere in mteval); for the
overall score each category is resampled on its own (stratified), then the four means are
averaged.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from mteval.stats import Metric, metric_from_rows, stratified_mean_ci  # noqa: F401  (re-exported)

CATEGORIES = ("Recollection", "Expansion", "Refinement", "Follow-up")
FAMILY = "mt_eval"
MAIN_TASKS = frozenset(
    {"mt_eval/recollection_cls", "mt_eval/recollection_global_inst", "mt_eval/expansion", "mt_eval/refinement", "mt_eval/follow_up"}
)


def scored_column(task: Any) -> str:
    """The score column of an MT-Eval task (its single scorer)."""
    return f"score_{task.scorers()[0].name}"


def category_values(frame: Any, tasks: Iterable[Any]) -> dict[str, tuple[list[float | None], list[str]]]:
    """Per category: the scores of its main tasks' rows and their dialogue clusters
    (`task/conversation_id`, so equal ids in two tasks stay two dialogues)."""
    out: dict[str, tuple[list[float | None], list[str]]] = {}
    if frame is None or frame.empty:
        return out
    for task in tasks:
        if task.family != FAMILY or not task.main or task.category not in CATEGORIES:
            continue
        rows = frame[frame["task"] == task.name]
        column = scored_column(task)
        if rows.empty or column not in rows:
            continue
        values = [None if v is None or v != v else float(v) for v in rows[column].tolist()]
        clusters = [f"{task.name}/{c}" for c in rows["conversation_id"].tolist()]
        bucket = out.setdefault(task.category, ([], []))
        bucket[0].extend(values)
        bucket[1].extend(clusters)
    return {c: out[c] for c in CATEGORIES if c in out}


def overall_metric(per_category: dict[str, tuple[list[float | None], list[str]]], complete: bool = True) -> Metric:
    """Mean of the four category scores; no value unless all four have one and
    `complete` (every main task ran, so Recollection pools both of its tasks)."""
    kept = {
        c: ([float(v) for v in vals if v is not None], [cl for v, cl in zip(vals, clusters) if v is not None])
        for c, (vals, clusters) in per_category.items()
    }
    n = sum(len(v) for v, _ in kept.values())
    n_conv = sum(len(set(cl)) for _, cl in kept.values())
    excluded = sum(len(vals) for vals, _ in per_category.values()) - n
    if not complete or any(not kept.get(c, ([], []))[0] for c in CATEGORIES):
        return Metric(value=None, n=n, n_conversations=n_conv, excluded=excluded)
    value = float(np.mean([np.mean(kept[c][0]) for c in CATEGORIES]))
    return Metric(value=value, ci=stratified_mean_ci([kept[c] for c in CATEGORIES]), n=n, n_conversations=n_conv, excluded=excluded)


def mt_eval_aggregate(frame: Any, tasks: Iterable[Any]) -> dict[str, Metric]:
    """`register_family_aggregate("mt_eval", ...)`: a Metric per category present and
    `overall` (no value unless all five main tasks ran)."""
    tasks = list(tasks)
    per_category = category_values(frame, tasks)
    if not per_category:
        return {}
    ran = set(frame["task"]) if "task" in frame else set()
    complete = MAIN_TASKS <= ran and MAIN_TASKS <= {t.name for t in tasks}
    metrics = {c: metric_from_rows(vals, clusters) for c, (vals, clusters) in per_category.items()}
    metrics["overall"] = overall_metric(per_category, complete)
    return metrics
