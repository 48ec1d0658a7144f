"""Family summary: the three level averages and mteval's own overall mean.

A level score is the unweighted mean of its three category scores (each category
score being the pooled mean over its scored turns). Upstream reports no overall score;
`mteval_own/mean_of_9_categories` is mteval's, the unweighted mean of all nine.
Intervals come from a stratified cluster bootstrap: conversations are resampled
within each category, and the mean of the category means is recomputed.
A level (or the overall mean) is reported only when all its categories were run.
"""

from __future__ import annotations

from typing import Any, Sequence

from mteval.stats import Metric
from mteval.stats import mean_of_means as stats_mean_of_means

from .categories import CATEGORIES, FAMILY, LEVELS
from .scoring import SCORE

OVERALL = "mteval_own/mean_of_9_categories"
Group = tuple[list[float], list[str], int]  # values, conversation ids, rows without a value


def family_aggregate(frame: Any, tasks: Sequence[Any]) -> dict[str, Metric]:
    """`register_family_aggregate` hook: `frame` holds this family's scored-turn rows."""
    ran = {task.name.split("/", 1)[1] for task in tasks if task.name.startswith(FAMILY + "/")}
    groups = {category: _group(frame, category) for category in ran}
    out: dict[str, Metric] = {}
    for level, members in LEVELS.items():
        if set(members) <= ran:
            out[f"level/{level}"] = mean_of_means([groups[c] for c in members])
    if set(CATEGORIES) <= ran:
        out[OVERALL] = mean_of_means([groups[c] for c in CATEGORIES])
    return out


def _group(frame: Any, category: str) -> Group:
    column = f"score_{SCORE}"
    if frame is None or frame.empty or column not in frame or "task" not in frame:
        return [], [], 0
    rows = frame[frame["task"] == f"{FAMILY}/{category}"]
    values, clusters, missing = [], [], 0
    for value, cid in zip(rows[column].tolist(), rows["conversation_id"].tolist()):
        if value is None or value != value:
            missing += 1
        else:
            values.append(float(value))
            clusters.append(str(cid))
    return values, clusters, missing


def mean_of_means(groups: Sequence[Group]) -> Metric:
    """Unweighted mean of the groups' pooled means with a stratified cluster bootstrap
    interval (`mteval.stats.mean_of_means`); None when a group has no values."""
    return stats_mean_of_means([(values, clusters) for values, clusters, _ in groups], excluded=sum(m for _, _, m in groups))
