"""RAD-Bench metrics: the task score, one score per scenario (category) and the family
Average of the 6 category scores, each with a cluster-bootstrap 95% interval.

A category score is the pooled mean over its scored turns (= the mean of its per-turn
means when no judgment is missing). An unparsed judgment (upstream score -1) is left
out and counted in `excluded`, like every unparsed judgment in mteval. Option
`unparsed_as=-1` counts it as -1 instead, which reproduces the published table
(scripts/evaluated_models.csv); it is for comparison with that table only.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from mteval.stats import Metric, metric_from_rows, stratified_mean_ci
from mteval_tasks.rad_bench.questions import CATEGORIES, category_of

SCORER = "score"


def unparsed_value(options: Mapping[str, Any]) -> float | None:
    """The value an unparsed judgment counts as (option `unparsed_as`), or None = excluded."""
    value = options.get("unparsed_as")
    return None if value is None or value == "" else float(value)


def score_values(frame, unparsed_as: float | None = None, scorer: str = SCORER) -> list[float | None]:
    """Per-row values of `score_<scorer>`; unparsed rows become `unparsed_as` if given."""
    column, status = f"score_{scorer}", f"status_{scorer}"
    if frame.empty or column not in frame:
        return [None] * len(frame)
    values = [None if v is None or v != v else float(v) for v in frame[column].tolist()]
    if unparsed_as is not None and status in frame:
        values = [unparsed_as if s == "unparsed" else v for v, s in zip(values, frame[status].tolist())]
    return values


def row_categories(frame) -> list[str | None]:
    if frame.empty:
        return []
    return [category_of(c) for c in frame["conversation_id"].tolist()]


def task_metrics(frame, categories: Sequence[str], unparsed_as: float | None = None) -> dict[str, Metric]:
    """`score` over all rows, then `score/<category>` for each of the task's categories."""
    if frame.empty:
        return {SCORER: Metric(value=None), **{f"{SCORER}/{c}": Metric(value=None) for c in categories}}
    values = score_values(frame, unparsed_as)  # all None if nothing was judged: excluded, counted
    clusters = frame["conversation_id"].tolist()
    metrics = {SCORER: metric_from_rows(values, clusters)}
    cats = row_categories(frame)
    for category in categories:
        picked = [(v, c) for v, c, k in zip(values, clusters, cats) if k == category]
        metrics[f"{SCORER}/{category}"] = metric_from_rows([v for v, _ in picked], [c for _, c in picked]) if picked else Metric(value=None)
    return metrics


def family_average(frame, tasks: Iterable[Any] = ()) -> dict[str, Metric]:
    """Family aggregate `average`: the mean of the 6 category scores (only when every
    category has a score)."""
    options: Mapping[str, Any] = next((t.options for t in tasks if getattr(t, "family", "") == "rad_bench"), {})
    unparsed_as = unparsed_value(options)
    if frame.empty:
        return {}
    cats = row_categories(frame)
    strata = _category_strata(score_values(frame, unparsed_as), frame["conversation_id"].tolist(), cats)
    if strata is None:
        return {}
    category_means = [float(np.mean(vals)) for vals, _ in strata]
    n = sum(len(vals) for vals, _ in strata)
    in_families = [k in CATEGORIES for k in cats]
    return {
        "average": Metric(
            value=float(np.mean(category_means)),
            ci=stratified_mean_ci(strata),
            n=n,
            n_conversations=len({str(c) for _, cl in strata for c in cl}),
            excluded=sum(in_families) - n,
        )
    }


def _category_strata(values: list[float | None], clusters: list[Any], cats: list[str | None]) -> list[tuple[list[float], list[Any]]] | None:
    """(scores, conversation ids) of each category in CATEGORIES order, without unscored
    rows; None when a category has no score (no Average then)."""
    strata = []
    for category in CATEGORIES:
        kept = [(v, c) for v, c, k in zip(values, clusters, cats) if k == category and v is not None]
        if not kept:
            return None
        strata.append(([v for v, _ in kept], [c for _, c in kept]))
    return strata
