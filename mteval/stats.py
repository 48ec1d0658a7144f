"""Metrics with bootstrap confidence intervals: THE statistics module of mteval.

Turns of one conversation are not independent (a model that loses the thread loses it
for every later turn), so intervals resample whole conversations (a cluster bootstrap)
and recompute the pooled mean over their turns. Seeded, so a re-run reproduces them.
Means of several groups (MT-Eval's overall, RAD-Bench's average, MultiTurnInstruct's
levels, the leaderboard's macro averages) resample conversations within each group
(`stratified_mean_ci`). The task metrics, family aggregates, `show`, the leaderboard
and `compare` all call these functions, so the same data gives the same interval.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from pydantic import BaseModel

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20240501


class Metric(BaseModel):
    value: float | None
    ci: tuple[float, float] | None = None
    n: int = 0
    n_conversations: int = 0
    excluded: int = 0
    """Rows without a value (unparsed or errored scores), left out of `value`."""


def cluster_bootstrap_ci(
    values: Sequence[float],
    clusters: Sequence[object],
    *,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float] | None:
    """Percentile interval of the pooled mean, resampling clusters with replacement."""
    values_arr = np.asarray(values, dtype=float)
    if values_arr.size == 0:
        return None
    _, cluster_idx = np.unique(np.asarray([str(c) for c in clusters]), return_inverse=True)
    sums = np.bincount(cluster_idx, weights=values_arr)
    counts = np.bincount(cluster_idx).astype(float)
    k = sums.size
    if k < 2 or np.allclose(values_arr, values_arr[0]):
        point = float(values_arr.mean())
        return (point, point)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, k, size=(n_resamples, k))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return (float(low), float(high))


def _cluster_sums(values: Sequence[float], clusters: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
    _, index = np.unique(np.asarray([str(c) for c in clusters]), return_inverse=True)
    return np.bincount(index, weights=np.asarray(values, dtype=float)), np.bincount(index).astype(float)


def resampled_means(values: Sequence[float], clusters: Sequence[object], rng: np.random.Generator, n_resamples: int) -> np.ndarray:
    """Bootstrap distribution of the pooled mean of one group, resampling its clusters."""
    sums, counts = _cluster_sums(values, clusters)
    if sums.size < 2:
        return np.full(n_resamples, float(np.mean(np.asarray(values, dtype=float))))
    picks = rng.integers(0, sums.size, size=(n_resamples, sums.size))
    return sums[picks].sum(axis=1) / counts[picks].sum(axis=1)


def stratified_resamples(
    strata: Sequence[tuple[Sequence[float], Sequence[object]]], *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> np.ndarray | None:
    """Bootstrap distribution of the unweighted mean of the strata's pooled means, each
    stratum's clusters resampled on their own. None if a stratum is empty."""
    if not strata or any(len(values) == 0 for values, _ in strata):
        return None
    rng = np.random.default_rng(seed)
    total = np.zeros(n_resamples)
    for values, clusters in strata:
        total += resampled_means(values, clusters, rng, n_resamples)
    return total / len(strata)


def percentile_ci(resamples: np.ndarray | None, confidence: float = 0.95) -> tuple[float, float] | None:
    if resamples is None:
        return None
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(resamples, [alpha, 1.0 - alpha])
    return (float(low), float(high))


def stratified_mean_ci(
    strata: Sequence[tuple[Sequence[float], Sequence[object]]],
    *,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float] | None:
    """Percentile interval of the unweighted mean of group means (stratified cluster bootstrap)."""
    return percentile_ci(stratified_resamples(strata, n_resamples=n_resamples, seed=seed), confidence)


def difference_ci(
    first: Sequence[tuple[Sequence[float], Sequence[object]]], second: Sequence[tuple[Sequence[float], Sequence[object]]]
) -> tuple[float, float] | None:
    """95% interval of mean-of-means(first) - mean-of-means(second), the two resampled
    independently (unpaired, e.g. own-history vs single-turn runs)."""
    a = stratified_resamples(first, seed=DEFAULT_SEED)
    b = stratified_resamples(second, seed=DEFAULT_SEED + 1)
    if a is None or b is None:
        return None
    return percentile_ci(a - b)


def mean_of_means(strata: Sequence[tuple[Sequence[float], Sequence[object]]], excluded: int = 0) -> Metric:
    """Metric for the unweighted mean of the strata's pooled means (no value if a stratum is empty)."""
    n = sum(len(values) for values, _ in strata)
    n_conversations = sum(len({str(c) for c in clusters}) for _, clusters in strata)
    if not strata or any(len(values) == 0 for values, _ in strata):
        return Metric(value=None, n=n, n_conversations=n_conversations, excluded=excluded)
    point = float(np.mean([np.mean(np.asarray(values, dtype=float)) for values, _ in strata]))
    return Metric(value=point, ci=stratified_mean_ci(strata), n=n, n_conversations=n_conversations, excluded=excluded)


def metric_from_rows(values: Iterable[float | None], clusters: Iterable[object]) -> Metric:
    pairs = [(v, c) for v, c in zip(values, clusters)]
    kept = [(float(v), c) for v, c in pairs if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if not kept:
        return Metric(value=None, n=0, n_conversations=0, excluded=len(pairs))
    vals = [v for v, _ in kept]
    cl = [c for _, c in kept]
    return Metric(
        value=float(np.mean(vals)),
        ci=cluster_bootstrap_ci(vals, cl),
        n=len(vals),
        n_conversations=len(set(map(str, cl))),
        excluded=len(pairs) - len(kept),
    )


def mean_metrics(frame, score_names: Sequence[str]) -> dict[str, Metric]:
    """Mean of each `score_<name>` column over rows, clustered by conversation."""
    metrics: dict[str, Metric] = {}
    for name in score_names:
        column = f"score_{name}"
        if column not in frame:
            metrics[name] = Metric(value=None, excluded=len(frame))
            continue
        values = [None if v is None or v != v else float(v) for v in frame[column].tolist()]
        # rows of errored or unreached turns have no score column value: excluded, counted
        metrics[name] = metric_from_rows(values, frame["conversation_id"].tolist())
    return metrics


def by_turn(frame, score_names: Sequence[str]) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """Mean score per turn position (1-based over the conversation's turns): the
    multi-turn degradation curve."""
    out: dict[str, dict[str, dict[str, float | int | None]]] = {}
    if frame.empty:
        return out
    for name in score_names:
        column = f"score_{name}"
        if column not in frame:
            continue
        grouped = frame.dropna(subset=[column]).groupby("turn_index")[column]
        out[name] = {
            str(int(idx) + 1): {"value": float(series.mean()), "n": int(series.size)} for idx, series in grouped
        }
    return out
