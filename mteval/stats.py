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

from typing import Any, Iterable, Sequence

import numpy as np
from pydantic import BaseModel

# the paired statistics (`mteval compare` and the gate) live in mteval.paired_stats, re-exported here
from mteval.paired_stats import (  # noqa: F401
    DEFAULT_SEED,
    Clusters,
    DiffResult,
    TestName,
    bootstrap_distribution,
    drop_pvalue,
    holm,
    is_binary,
    paired_difference,
    permutation_pvalue,
    sign_pvalue,
    wilcoxon_pvalue,
)

DEFAULT_RESAMPLES = 2000


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
    return ranked_cluster_ci(values_arr, cluster_idx, confidence=confidence, n_resamples=n_resamples, seed=seed)


def ranked_cluster_ci(
    values: np.ndarray,
    cluster_idx: np.ndarray,
    *,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float] | None:
    """`cluster_bootstrap_ci` with each value's cluster given as its dense rank (0..k-1) in
    the sorted order of the cluster ids: the clusters are resampled in that order."""
    if values.size == 0:
        return None
    sums = np.bincount(cluster_idx, weights=values)
    counts = np.bincount(cluster_idx).astype(float)
    k = sums.size
    if k < 2 or _all_close_to_first(values):
        point = float(values.mean())
        return (point, point)
    means = _cluster_means(sums, counts, np.random.default_rng(seed), n_resamples)
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
    return _cluster_means(sums, counts, rng, n_resamples)


_PICKS_PER_CHUNK = 1 << 20


def _cluster_means(sums: np.ndarray, counts: np.ndarray, rng: np.random.Generator, n_resamples: int) -> np.ndarray:
    """Pooled means of `n_resamples` resamples of the clusters (with replacement), drawn a
    chunk of resamples at a time so memory stays ~8 MB at any number of conversations (one
    (n_resamples, k) draw is 320 MB at 20,000). The chunks continue one random stream, so
    the means are the ones a single draw gives."""
    k = sums.size
    step = max(1, _PICKS_PER_CHUNK // k)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, step):
        picks = rng.integers(0, k, size=(min(step, n_resamples - start), k))
        means[start : start + picks.shape[0]] = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    return means


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


def _all_close_to_first(values: np.ndarray) -> bool:
    """`np.allclose(values, values[0])` without its per-value temporaries (~3 arrays the
    size of `values`): |v - first| is largest at the smallest or the largest value."""
    low, high = values.min(), values.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        return bool(np.allclose(values, values[0]))
    return bool(np.allclose(np.array([low, high]), values[0]))


def metric_from_ranks(values: np.ndarray, ranks: np.ndarray) -> Metric:
    """`metric_from_rows` over arrays: `values` with NaN for rows without a value, `ranks`
    integers that sort as the rows' conversation ids do. Same numbers, no per-row objects."""
    keep = ~np.isnan(values)
    everything = bool(keep.all())
    kept = values if everything else values[keep]
    if not kept.size:
        return Metric(value=None, n=0, n_conversations=0, excluded=int(values.size))
    kept_ranks = ranks if everything else ranks[keep]
    dense = _dense_ranks(kept_ranks)
    return Metric(
        value=float(np.mean(kept)),
        ci=ranked_cluster_ci(kept, dense),
        n=int(kept.size),
        n_conversations=int(dense.max()) + 1,
        excluded=int(values.size - kept.size),
    )


def _dense_ranks(ranks: np.ndarray) -> np.ndarray:
    """0..k-1 in the order of the k distinct ranks (`np.unique`'s inverse, without sorting
    every row when the ranks are small non-negative integers)."""
    if ranks.size and ranks.min() >= 0 and ranks.max() < 4 * ranks.size + 1024:
        present = np.zeros(int(ranks.max()) + 1, dtype=bool)
        present[ranks] = True
        dense = np.cumsum(present, dtype=np.int32) - 1
        return dense[ranks]
    return np.unique(ranks, return_inverse=True)[1]


def _id_ranks(ids: Any) -> np.ndarray | None:
    """Ranks of a frame's conversation-id column in string order (None if not all strings)."""
    import pandas as pd

    codes, uniques = pd.factorize(ids, sort=True)
    if (codes < 0).any() or not all(isinstance(u, str) for u in uniques):
        return None
    return np.asarray(codes)


def mean_metrics(frame, score_names: Sequence[str]) -> dict[str, Metric]:
    """Mean of each `score_<name>` column over rows, clustered by conversation."""
    metrics: dict[str, Metric] = {}
    ranks = None
    for name in score_names:
        column = f"score_{name}"
        if column not in frame:
            metrics[name] = Metric(value=None, excluded=len(frame))
            continue
        # rows of errored or unreached turns have no score column value: excluded, counted
        values = frame[column].to_numpy(dtype=float, na_value=np.nan)
        ranks = _id_ranks(frame["conversation_id"]) if ranks is None else ranks
        if ranks is None:  # ids that are not all strings: ranked as their str() sorts
            _, ranks = np.unique(np.asarray([str(c) for c in frame["conversation_id"].tolist()]), return_inverse=True)
        metrics[name] = metric_from_ranks(values, np.asarray(ranks))
    return metrics


def by_turn(frame, score_names: Sequence[str]) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """Mean score per turn position (1-based over the conversation's turns): the
    multi-turn degradation curve."""
    out: dict[str, dict[str, dict[str, float | int | None]]] = {}
    if frame.empty:
        return out
    turns = frame["turn_index"].to_numpy()
    for name in score_names:
        column = f"score_{name}"
        if column in frame:
            out[name] = turn_curve(frame[column].to_numpy(dtype=float, na_value=np.nan), turns)
    return out


def turn_curve(values: np.ndarray, turn_index: np.ndarray) -> dict[str, dict[str, float | int | None]]:
    """Mean and count of the values (NaN: no value) per turn position, positions 1-based."""
    keep = ~np.isnan(values)
    if not keep.all():
        values, turn_index = values[keep], turn_index[keep]
    curve: dict[str, dict[str, float | int | None]] = {}
    for idx in sorted(set(turn_index.tolist())):  # not np.unique: its first call imports numpy.ma (~30 ms)
        at = values[turn_index == idx]
        curve[str(int(idx) + 1)] = {"value": float(np.mean(at)), "n": int(at.size)}
    return curve

