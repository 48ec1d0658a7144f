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

import inspect
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal, Sequence

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


TestName = Literal["auto", "permutation", "wilcoxon", "sign"]
_ATOL = 1e-9


# --- paired statistics (`mteval compare` and the gate) --- ----------------------------------------------------------------
@dataclass(frozen=True)
class Clusters:
    """Per-conversation sums of one metric's paired scores."""

    ids: np.ndarray
    base: np.ndarray
    candidate: np.ndarray
    counts: np.ndarray

    @classmethod
    def from_arrays(cls, base: Sequence[float], candidate: Sequence[float], clusters: Sequence[object]) -> Clusters:
        """Sum paired turn scores per cluster (conversation)."""
        base_arr = np.asarray(base, dtype=float)
        cand_arr = np.asarray(candidate, dtype=float)
        if base_arr.shape != cand_arr.shape or base_arr.ndim != 1:
            raise ValueError("base and candidate must be 1-d arrays of equal length")
        ids, index = np.unique(np.asarray([str(c) for c in clusters]), return_inverse=True)
        return cls(
            ids=ids,
            base=np.bincount(index, weights=base_arr, minlength=ids.size),
            candidate=np.bincount(index, weights=cand_arr, minlength=ids.size),
            counts=np.bincount(index, minlength=ids.size).astype(float),
        )

    @property
    def k(self) -> int:
        return int(self.ids.size)

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def diff_sums(self) -> np.ndarray:
        return self.candidate - self.base

    def mean_diff(self) -> float:
        """Pooled mean over turns of candidate - base."""
        return float(self.diff_sums.sum() / self.counts.sum())

    def cluster_mean_diffs(self, margin: float = 0.0) -> np.ndarray:
        """Per-conversation mean difference plus `margin`, rounded against float noise."""
        return np.round(self.diff_sums / self.counts + margin, 12)


@dataclass(frozen=True)
class DiffResult:
    """A paired difference with its interval and one-sided p-value for a drop."""

    diff: float
    base: float
    candidate: float
    ci: tuple[float, float]
    p_value: float
    test: str
    scale: Literal["binary", "scale"]
    n: int
    k: int


def _rng_kwargs(fn: Callable[..., Any], seed: int) -> dict[str, Any]:
    """`rng=` on SciPy >= 1.15, `random_state=` before."""
    name = "rng" if "rng" in inspect.signature(fn).parameters else "random_state"
    return {name: np.random.default_rng(seed)}


def is_binary(*arrays: Sequence[float] | np.ndarray) -> bool:
    """Whether every value is 0 or 1."""
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays])
    return bool(values.size) and bool(np.all((values == 0.0) | (values == 1.0)))


def _ratio(sums: np.ndarray, counts: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.sum(sums, axis=axis) / np.sum(counts, axis=axis)


def bootstrap_distribution(clusters: Clusters, *, n_resamples: int, seed: int, confidence: float = 0.95) -> tuple[tuple[float, float], np.ndarray]:
    """Paired cluster bootstrap of the pooled mean difference: percentile interval and
    the resampled differences (scipy.stats.bootstrap, conversations resampled)."""
    from scipy import stats

    point = clusters.mean_diff()
    if clusters.k < 2 or np.allclose(clusters.diff_sums / clusters.counts, point):
        return (point, point), np.full(n_resamples, point)
    result = stats.bootstrap(
        (clusters.diff_sums, clusters.counts),
        _ratio,
        paired=True,
        vectorized=True,
        n_resamples=n_resamples,
        batch=max(1, min(n_resamples, 8_000_000 // max(clusters.k, 1))),
        confidence_level=confidence,
        method="percentile",
        **_rng_kwargs(stats.bootstrap, seed),
    )
    low, high = result.confidence_interval
    return (float(low), float(high)), np.asarray(result.bootstrap_distribution, dtype=float)


def permutation_pvalue(parts: Sequence[tuple[Clusters, float]], *, margin: float = 0.0, n_resamples: int = 9999, seed: int = DEFAULT_SEED) -> float:
    """One-sided p-value of "weighted mean difference >= -margin" by swapping base and
    candidate within whole conversations (flipping the sign of a conversation's summed
    difference; scipy.stats.permutation_test, exact for up to log2(n_resamples)
    conversations). `parts` are (clusters, weight) with weights summing to one: one
    part for a task, one per task for a family mean."""
    from scipy import stats

    shifted = np.concatenate([w * (c.diff_sums + margin * c.counts) / c.counts.sum() for c, w in parts])
    if np.allclose(shifted, 0.0, atol=_ATOL, rtol=0.0):
        return 1.0

    def statistic(x: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.sum(x, axis=axis)

    result = stats.permutation_test(
        (shifted,),
        statistic,
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_resamples,
        batch=max(1, min(n_resamples, 8_000_000 // max(shifted.size, 1))),
        alternative="less",
        **_rng_kwargs(stats.permutation_test, seed),
    )
    return float(min(1.0, result.pvalue))


def wilcoxon_pvalue(clusters: Clusters, *, margin: float = 0.0) -> float:
    """One-sided Wilcoxon signed-rank p-value on per-conversation mean differences
    shifted by `margin` (scipy.stats.wilcoxon; zero differences dropped)."""
    from scipy import stats

    shifted = clusters.cluster_mean_diffs(margin)
    if not np.any(shifted != 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        result = stats.wilcoxon(shifted, alternative="less", zero_method="wilcox")
    p = float(result.pvalue)
    return 1.0 if math.isnan(p) else p


def sign_pvalue(clusters: Clusters, *, margin: float = 0.0) -> float:
    """One-sided sign test over conversations (scipy.stats.binomtest)."""
    from scipy import stats

    shifted = clusters.cluster_mean_diffs(margin)
    worse, better = int(np.sum(shifted < 0)), int(np.sum(shifted > 0))
    if worse + better == 0:
        return 1.0
    return float(stats.binomtest(worse, worse + better, 0.5, alternative="greater").pvalue)


def drop_pvalue(clusters: Clusters, *, binary: bool, margin: float, test: TestName, n_resamples: int, seed: int) -> tuple[str, float]:
    """The chosen (or automatic) paired test of "difference >= -margin"."""
    chosen = test if test != "auto" else ("permutation" if binary else "wilcoxon")
    if chosen == "permutation":
        return "permutation", permutation_pvalue([(clusters, 1.0)], margin=margin, n_resamples=n_resamples, seed=seed)
    if chosen == "wilcoxon":
        return "wilcoxon", wilcoxon_pvalue(clusters, margin=margin)
    return "sign", sign_pvalue(clusters, margin=margin)


def paired_difference(
    base: Sequence[float],
    candidate: Sequence[float],
    clusters: Sequence[object],
    *,
    max_drop: float = 0.0,
    confidence: float = 0.95,
    test: TestName = "auto",
    bootstrap_resamples: int = 2000,
    permutation_resamples: int = 9999,
    seed: int = DEFAULT_SEED,
) -> DiffResult:
    """Difference candidate - base of paired turn scores, clustered by conversation:
    bootstrap interval and the one-sided p-value of a drop larger than `max_drop`."""
    grouped = Clusters.from_arrays(base, candidate, clusters)
    if grouped.n == 0:
        raise ValueError("no paired scores")
    binary = is_binary(base, candidate)
    ci, _ = bootstrap_distribution(grouped, n_resamples=bootstrap_resamples, seed=seed, confidence=confidence)
    name, p = drop_pvalue(grouped, binary=binary, margin=max_drop, test=test, n_resamples=permutation_resamples, seed=seed)
    return DiffResult(
        diff=grouped.mean_diff(),
        base=float(grouped.base.sum() / grouped.n),
        candidate=float(grouped.candidate.sum() / grouped.n),
        ci=ci,
        p_value=p,
        test=name,
        scale="binary" if binary else "scale",
        n=grouped.n,
        k=grouped.k,
    )


def holm(p_values: Sequence[float], alpha: float) -> tuple[list[bool], list[float]]:
    """Holm step-down correction (statsmodels.stats.multitest.multipletests)."""
    if not p_values:
        return [], []
    from statsmodels.stats.multitest import multipletests

    reject, adjusted, _, _ = multipletests(np.asarray(p_values, dtype=float), alpha=alpha, method="holm")
    return [bool(r) for r in reject], [float(p) for p in adjusted]
