"""Confidence intervals the manifests do not hold: macro averages over several tasks
and own-minus-single differences.

Like `mteval.stats`, they resample whole conversations (a cluster bootstrap), here
within each task separately (stratified), seeded so that a rebuild reproduces them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mteval.stats import DEFAULT_RESAMPLES, DEFAULT_SEED

Group = Sequence[tuple[str, float]]
"""One task's (conversation id, score) pairs."""


def _resampled_means(group: Group, rng: np.random.Generator, n_resamples: int) -> np.ndarray:
    values = np.asarray([v for _, v in group], dtype=float)
    _, idx = np.unique(np.asarray([str(c) for c, _ in group]), return_inverse=True)
    sums = np.bincount(idx, weights=values)
    counts = np.bincount(idx).astype(float)
    if sums.size < 2:
        return np.full(n_resamples, values.mean())
    picks = rng.integers(0, sums.size, size=(n_resamples, sums.size))
    return sums[picks].sum(axis=1) / counts[picks].sum(axis=1)


def macro_resamples(groups: Sequence[Group], *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> np.ndarray | None:
    """Bootstrap distribution of the unweighted mean of per-task means (None if any
    task has no scores)."""
    if not groups or any(len(g) == 0 for g in groups):
        return None
    rng = np.random.default_rng(seed)
    return np.mean([_resampled_means(g, rng, n_resamples) for g in groups], axis=0)


def percentile_ci(resamples: np.ndarray | None, confidence: float = 0.95) -> tuple[float, float] | None:
    if resamples is None:
        return None
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(resamples, [alpha, 1.0 - alpha])
    return (float(low), float(high))


def macro_ci(groups: Sequence[Group]) -> tuple[float, float] | None:
    """95% interval of the macro average of several tasks."""
    return percentile_ci(macro_resamples(groups))


def difference_ci(first: Sequence[Group], second: Sequence[Group]) -> tuple[float, float] | None:
    """95% interval of macro(first) - macro(second), the two resampled independently."""
    a = macro_resamples(first, seed=DEFAULT_SEED)
    b = macro_resamples(second, seed=DEFAULT_SEED + 1)
    if a is None or b is None:
        return None
    return percentile_ci(a - b)
