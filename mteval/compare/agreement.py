"""Judge comparison: agreement of two scorings of the same transcripts, gated on a threshold."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd

from mteval.compare.pairing import MetricData, check_metric_pairs, check_same_replies, metric_data, scorer_names
from mteval.compare.schema import ATOL, EXIT_OK, EXIT_REGRESSION, CompareError, CompareOptions, CompareReport, JudgeAgreement
from mteval.stats import is_binary


def _judge_pairs(base: pd.DataFrame, candidate: pd.DataFrame, task: str, options: CompareOptions) -> list[tuple[str, str]]:
    """(base scorer, candidate scorer) pairs to compare on `task`."""
    b = options.base_scorer or options.candidate_scorer
    c = options.candidate_scorer or options.base_scorer
    if b and c:
        return [(b, c)] if b in scorer_names(base, task) and c in scorer_names(candidate, task) else []
    return [(s, s) for s in scorer_names(base, task) if s in scorer_names(candidate, task)]


def judge_report(
    report: CompareReport, paired: pd.DataFrame, base: pd.DataFrame, candidate: pd.DataFrame, tasks: Sequence[str], options: CompareOptions
) -> CompareReport:
    check_same_replies(paired)
    same_run = Path(report.base.path).resolve() == Path(report.candidate.path).resolve()
    if same_run and not (options.base_scorer and options.candidate_scorer and options.base_scorer != options.candidate_scorer):
        raise CompareError("comparing a run's judges with itself: name two scorers with --base-scorer and --candidate-scorer")
    for task in tasks:
        for base_scorer, cand_scorer in _judge_pairs(base, candidate, task, options):
            data = metric_data(paired, task, base_scorer, cand_scorer)
            if data is None:
                continue
            check_metric_pairs(data, options.min_pairs)
            report.agreements.append(agreement(data, options))
    if not report.agreements:
        wanted = f"{options.base_scorer} / {options.candidate_scorer}" if options.base_scorer or options.candidate_scorer else "same-named scorers"
        raise CompareError(f"no scores to compare ({wanted}) on the common tasks")
    report.regression = any(a.below for a in report.agreements)
    report.exit_code = EXIT_REGRESSION if report.regression else EXIT_OK
    return report


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def agreement_stats(a: Sequence[float], b: Sequence[float]) -> dict[str, float | None]:
    """Exact agreement, Pearson, Spearman, Cohen's kappa, Krippendorff's alpha and the
    mean (absolute) difference b - a of two raters' scores of the same items."""
    import krippendorff
    from scipy import stats

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    out: dict[str, float | None] = {k: None for k in ("exact", "pearson", "spearman", "kappa", "alpha", "mean_abs_diff", "mean_diff")}
    if x.size == 0:
        return out
    out["exact"] = float(np.mean(np.isclose(x, y, atol=ATOL, rtol=0.0)))
    out["mean_abs_diff"] = float(np.mean(np.abs(y - x)))
    out["mean_diff"] = float(np.mean(y - x))
    varies = x.size > 1 and np.ptp(x) > 0 and np.ptp(y) > 0
    if varies:
        out["pearson"] = _finite(stats.pearsonr(x, y)[0])
        out["spearman"] = _finite(stats.spearmanr(x, y)[0])
    binary = is_binary(x, y)
    if np.unique(np.concatenate([x, y])).size > 1:
        level: Literal["nominal", "interval"] = "nominal" if binary else "interval"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out["alpha"] = _finite(krippendorff.alpha(reliability_data=np.vstack([x, y]), level_of_measurement=level))
        out["kappa"] = cohen_kappa(x, y, weighted=not binary)
    return out


def cohen_kappa(x: np.ndarray, y: np.ndarray, *, weighted: bool) -> float | None:
    """Cohen's kappa (statsmodels); quadratic weights over the integer range for
    scales, None for non-integer scales."""
    from statsmodels.stats.inter_rater import cohens_kappa

    values = np.concatenate([x, y])
    if weighted:
        if not np.allclose(values, np.round(values)):
            return None
        categories = np.arange(int(values.min()), int(values.max()) + 1)
    else:
        categories = np.unique(values)
    index = {float(v): i for i, v in enumerate(categories)}
    table = np.zeros((categories.size, categories.size))
    for u, v in zip(np.round(x) if weighted else x, np.round(y) if weighted else y):
        table[index[float(u)], index[float(v)]] += 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = cohens_kappa(table, wt="quadratic" if weighted else None, return_results=False)
    return _finite(result)


def agreement(data: MetricData, options: CompareOptions) -> JudgeAgreement:
    """Agreement of one task's two scorings, gated on `options.agreement`."""
    x = data.rows[f"score_{data.base_scorer}_base"].to_numpy(float)
    y = data.rows[f"score_{data.cand_scorer}_cand"].to_numpy(float)
    stats_ = agreement_stats(x, y)
    value = stats_[options.agreement]
    measure = options.agreement
    if value is None:
        value, measure = stats_["exact"], "exact"
    return JudgeAgreement(
        task=data.task,
        base_scorer=data.base_scorer,
        candidate_scorer=data.cand_scorer,
        scale="binary" if is_binary(x, y) else "scale",
        n_pairs=int(x.size),
        n_conversations=int(data.rows["conversation_id"].nunique()),
        excluded_base=data.excluded_base,
        excluded_candidate=data.excluded_cand,
        measure=measure,
        value=value,
        below=value is None or value < options.min_agreement,
        **stats_,
    )
