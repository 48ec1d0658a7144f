"""Statistics of compared metrics: per-task and family-mean differences, intervals, tests, Holm and verdicts."""

from __future__ import annotations

import json
import zlib
from typing import Any, Sequence

import numpy as np
import pandas as pd

from mteval.compare.pairing import MetricData
from mteval.compare.schema import CompareOptions, MetricComparison
from mteval.semantics import Direction
from mteval.stats import Clusters, bootstrap_distribution, drop_pvalue, holm, is_binary, permutation_pvalue

_DIRECTIONS: dict[str, Direction] = {"higher": "higher", "lower": "lower", "neither": "neither"}
"""A recorded direction as the typed value (a manifest is validated, so nothing else occurs)."""


def _seed(seed: int, *parts: str) -> int:
    return (seed + zlib.crc32("\0".join(parts).encode())) % (2**32)


def _clusters(data: MetricData, sign: float = 1.0) -> Clusters:
    rows = data.rows
    return Clusters.from_arrays(
        sign * rows[f"score_{data.base_scorer}_base"].to_numpy(float),
        sign * rows[f"score_{data.cand_scorer}_cand"].to_numpy(float),
        rows["conversation_id"].to_numpy(),
    )


def _verdict(diff: float, ci: tuple[float, float] | None, regression: bool, max_drop: float) -> str:
    if regression:
        return "regression"
    if diff < -max_drop:
        return "worse, not significant"
    if ci is not None and ci[0] > 0:
        return "better"
    return "no significant drop"


def compare_metrics(
    datas: Sequence[MetricData],
    options: CompareOptions,
    directions: dict[tuple[str, str], Direction] | None = None,
    scales: dict[tuple[str, str], str] | None = None,
) -> list[MetricComparison]:
    """Task metrics, then family means, Holm-corrected together.

    Tests run on "improvement" (the score, negated for lower-is-better metrics), so a
    one-sided test of a drop is a test of getting worse either way; the report shows
    values, differences and intervals in the metric's own units."""
    confidence = 1.0 - options.alpha
    metrics: list[MetricComparison] = []
    distributions: dict[tuple[str, str], tuple[Clusters, np.ndarray, bool]] = {}
    directions = directions or {}
    for data in datas:
        direction = directions.get((data.task, data.scorer), "higher")
        grouped = _clusters(data, -1.0 if direction == "lower" else 1.0)
        binary = is_binary(data.rows[f"score_{data.base_scorer}_base"], data.rows[f"score_{data.cand_scorer}_cand"])
        seed = _seed(options.seed, data.task, data.scorer)
        ci, dist = bootstrap_distribution(grouped, n_resamples=options.bootstrap_resamples, seed=seed, confidence=confidence)
        test, p = drop_pvalue(grouped, binary=binary, margin=options.max_drop, test=options.test, n_resamples=options.permutation_resamples, seed=seed)
        distributions[(data.task, data.scorer)] = (grouped, dist, binary)
        metrics.append(
            MetricComparison(
                name=f"{data.task} {data.scorer}",
                task=data.task,
                scorer=data.scorer,
                scale="binary" if binary else "scale",
                direction=direction,
                test=test,
                n_pairs=grouped.n,
                n_conversations=grouped.k,
                excluded=data.excluded,
                excluded_base=data.excluded_base,
                excluded_candidate=data.excluded_cand,
                base=float(grouped.base.sum() / grouped.n),
                candidate=float(grouped.candidate.sum() / grouped.n),
                diff=grouped.mean_diff(),
                ci=ci,
                confidence=confidence,
                p_value=p,
            )
        )
    if options.groups:
        metrics.extend(_family_metrics(metrics, distributions, options, scales))
    gated = [m for m in metrics if m.direction != "neither"]
    reject, adjusted = holm([m.p_value for m in gated], options.alpha)
    for metric, rejected, p_adj in zip(gated, reject, adjusted):
        metric.p_adjusted = p_adj
        metric.regression = bool(rejected and metric.diff < -options.max_drop)
        metric.verdict = _verdict(metric.diff, metric.ci, metric.regression, options.max_drop)
    for metric in metrics:
        if metric.direction == "neither":
            metric.verdict = "descriptive (not gated)"
        if metric.direction == "lower":  # back from improvement to the metric's own units
            # 0.0 - x, not -x: a latency of 0 s must print as 0.000, not -0.000
            metric.base, metric.candidate, metric.diff = 0.0 - metric.base, 0.0 - metric.candidate, 0.0 - metric.diff
            if metric.ci is not None:
                metric.ci = (0.0 - metric.ci[1], 0.0 - metric.ci[0])
    return metrics


def _family_metrics(
    task_metrics: Sequence[MetricComparison], distributions: dict, options: CompareOptions, scales: dict[tuple[str, str], str] | None
) -> list[MetricComparison]:
    """Mean over a family's tasks (equal weight per task) of each scorer that two or
    more of its compared tasks share, when they are of one kind (direction and scale)."""
    by_group: dict[tuple[str, str], list[MetricComparison]] = {}
    scales = scales or {}
    for metric in task_metrics:
        by_group.setdefault((metric.task.split("/", 1)[0], metric.scorer), []).append(metric)
    return [
        _family_metric(family, scorer, members, distributions, options)
        for (family, scorer), members in sorted(by_group.items())
        # a mean over metrics that point different ways, or of different scales (0-1 and 1-10), means nothing
        if len(members) >= 2 and len({(m.direction, scales.get((m.task, m.scorer), "")) for m in members}) == 1
    ]


def _family_metric(
    family: str, scorer: str, members: Sequence[MetricComparison], distributions: dict, options: CompareOptions
) -> MetricComparison:
    """One family mean: a stratified bootstrap interval and a weighted permutation test."""
    parts = [(distributions[(m.task, m.scorer)][0], 1.0 / len(members)) for m in members]
    dists = np.vstack([distributions[(m.task, m.scorer)][1] for m in members])
    pooled = dists.mean(axis=0)
    tail = options.alpha / 2.0
    low, high = np.quantile(pooled, [tail, 1.0 - tail])
    p = permutation_pvalue(parts, margin=options.max_drop, n_resamples=options.permutation_resamples, seed=_seed(options.seed, family, scorer))
    binary = all(distributions[(m.task, m.scorer)][2] for m in members)
    return MetricComparison(
        name=f"{family} {scorer} (mean of {len(members)} tasks)",
        level="family",
        task=family,
        scorer=scorer,
        scale="binary" if binary else "scale",
        direction=members[0].direction,
        test="permutation",
        n_pairs=sum(m.n_pairs for m in members),
        n_conversations=sum(m.n_conversations for m in members),
        excluded=sum(m.excluded for m in members),
        excluded_base=sum(m.excluded_base for m in members),
        excluded_candidate=sum(m.excluded_candidate for m in members),
        base=float(np.mean([m.base for m in members])),
        candidate=float(np.mean([m.candidate for m in members])),
        diff=float(np.mean([m.diff for m in members])),
        ci=(float(low), float(high)),
        confidence=1.0 - options.alpha,
        p_value=p,
    )


def _declared(base_manifest: dict[str, Any], cand_manifest: dict[str, Any], data: MetricData) -> dict[str, Any]:
    """The declared semantics of a compared score: the candidate's record, else the base's ({} if neither)."""
    for manifest in (cand_manifest, base_manifest):
        semantics = (((manifest.get("tasks") or {}).get(data.task) or {}).get("scores") or {}).get(data.base_scorer)
        if semantics:
            return dict(semantics)
    return {}


def score_directions(
    base_manifest: dict[str, Any], cand_manifest: dict[str, Any], datas: Sequence[MetricData]
) -> dict[tuple[str, str], Direction]:
    """Declared direction of each compared score (the candidate's record, else the base's)."""
    return {
        (data.task, data.scorer): _DIRECTIONS.get(_declared(base_manifest, cand_manifest, data).get("direction") or "higher", "higher")
        for data in datas
    }


def score_scales(base_manifest: dict[str, Any], cand_manifest: dict[str, Any], datas: Sequence[MetricData]) -> dict[tuple[str, str], str]:
    """Declared scale of each compared score, as canonical JSON (equal text, same scale); "" when undeclared."""
    return {
        (data.task, data.scorer): json.dumps(_declared(base_manifest, cand_manifest, data).get("scale"), sort_keys=True)
        for data in datas
    }


def own_ci(frame: pd.DataFrame, task: str, scorer: str) -> tuple[float, float] | None:
    """One run's interval of a score's mean, computed exactly as its manifest's (`mteval.stats`)."""
    from mteval.stats import mean_metrics

    rows = frame[frame["task"].astype(str) == task]
    return mean_metrics(rows, [scorer])[scorer].ci if not rows.empty else None
