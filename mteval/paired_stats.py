"""Paired statistics of `mteval compare` and the gate: per-conversation sums of paired
scores, the paired cluster bootstrap of a difference and the one-sided tests of a drop.
Part of the statistics module (`mteval.stats` re-exports every name), kept apart so each
file stays small.
"""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

import numpy as np

DEFAULT_SEED = 20240501
"""The seed of every bootstrap and permutation test (`mteval.stats` uses this one too)."""

TestName = Literal["auto", "permutation", "wilcoxon", "sign"]
_ATOL = 1e-9


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
