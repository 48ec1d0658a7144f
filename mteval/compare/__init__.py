"""Paired comparison of two runs: did the candidate regress? Do two judges agree?

The statistics (paired cluster bootstrap, permutation / Wilcoxon / sign tests, Holm)
live in `mteval.paired_stats` (re-exported by `mteval.stats`); this package pairs the runs, applies each metric's declared
direction, checks error rates and decides.

Scores are paired by (task, conversation_id, turn_id). Turns of one conversation are
correlated, so every statistic treats the conversation as the unit: confidence
intervals come from a paired cluster bootstrap (resample conversations, recompute the
pooled mean difference over their turns) and the tests work on per-conversation sums
or means:

* binary scores: a paired permutation test that swaps base and candidate for whole
  conversations (scipy.stats.permutation_test, permutation_type="samples");
* other scores (1-10 judge scales, fractions): a Wilcoxon signed-rank test on the
  per-conversation mean differences (scipy.stats.wilcoxon);
* family groups (the mean of a scorer over a family's tasks): the permutation test
  with per-conversation weights, and a stratified bootstrap (one per task).

A metric regresses when its drop is larger than `max_drop` with significance: the
one-sided null "difference >= -max_drop" is rejected at `alpha` after a Holm
correction over all metrics (statsmodels), and the observed difference is below
`-max_drop`. Unparsed or errored scores are left out pairwise and counted.

`gate(base_dir, candidate_dir, options)` is the whole decision as an exit code
(0 no regression, 1 regression or judges below the agreement threshold, 2 the runs
cannot be compared) plus a `CompareReport` to render.

The package's modules, one job each: `schema` (options, constants, report model),
`pairing` (common tasks, compatibility, paired frames), `metrics` (statistics and
verdicts), `health` (error rates), `agreement` (judge comparison) and `gate` (the
decision). Rendering lives in `mteval.commands.compare`. Every public name stays
importable from `mteval.compare`.
"""

from __future__ import annotations

from mteval.compare.agreement import agreement, agreement_stats, cohen_kappa
from mteval.compare.gate import compare_frames, compare_runs, gate
from mteval.compare.health import health_failures, run_health
from mteval.compare.pairing import check_compatible, pair_frames, scorer_names
from mteval.compare.schema import (
    DEFAULT_MAX_ERROR_RATE_INCREASE,
    DEFAULT_MIN_AGREEMENT,
    DEFAULT_MIN_PAIRS,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_REGRESSION,
    KEY,
    AgreementMeasure,
    CompareError,
    CompareOptions,
    CompareReport,
    JudgeAgreement,
    MetricComparison,
    RunHealth,
    RunRef,
    TaskPairing,
)

__all__ = [
    "DEFAULT_MAX_ERROR_RATE_INCREASE", "DEFAULT_MIN_AGREEMENT", "DEFAULT_MIN_PAIRS", "EXIT_ERROR", "EXIT_OK",
    "EXIT_REGRESSION", "KEY", "AgreementMeasure", "CompareError", "CompareOptions", "CompareReport", "JudgeAgreement",
    "MetricComparison", "RunHealth", "RunRef", "TaskPairing", "agreement", "agreement_stats", "check_compatible",
    "cohen_kappa", "compare_frames", "compare_runs", "gate", "health_failures", "pair_frames", "run_health", "scorer_names",
]
