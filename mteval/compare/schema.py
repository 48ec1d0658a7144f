"""Options, constants and the report model of a comparison (pydantic, so the CLI can dump them as JSON)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from mteval.results import ResultsError
from mteval.stats import DEFAULT_SEED, TestName

KEY = ["task", "conversation_id", "turn_id"]
EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_ERROR = 2
DEFAULT_MIN_PAIRS = 10
DEFAULT_MIN_AGREEMENT = 0.8
DEFAULT_MAX_ERROR_RATE_INCREASE = 0.02
"""Tolerated rise (absolute, 0-1) of the errored-conversation and unparsed-verdict rates."""

AgreementMeasure = Literal["alpha", "kappa", "exact", "pearson", "spearman"]
ATOL = 1e-9
"""Float tolerance when comparing rates and values (shared by health and agreement)."""


class CompareError(ResultsError):
    """The two runs cannot be compared (exit code 2)."""


class CompareOptions(BaseModel):
    """How `gate` and `mteval compare` decide."""

    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    """Significance level, family-wise over all metrics (Holm)."""
    max_drop: float = Field(default=0.0, ge=0.0)
    """Tolerated absolute drop of a metric's mean (score units)."""
    min_pairs: int = Field(default=DEFAULT_MIN_PAIRS, ge=1)
    """Fewest paired conversations (samples) per task and metric; fewer refuses."""
    test: TestName = "auto"
    """auto: permutation for binary scores, Wilcoxon otherwise."""
    groups: bool = True
    """Also compare family means (a scorer over two or more tasks of a family)."""
    tasks: list[str] | None = None
    """Only these tasks (default: every task both runs have)."""
    bootstrap_resamples: int = Field(default=2000, ge=100)
    permutation_resamples: int = Field(default=9999, ge=99)
    seed: int = DEFAULT_SEED
    judges: bool = False
    """Compare the judges (agreement of two scorings of identical replies)."""
    min_agreement: float = DEFAULT_MIN_AGREEMENT
    agreement: AgreementMeasure = "alpha"
    """Agreement measure that `min_agreement` applies to (alpha = Krippendorff's)."""
    max_error_rate_increase: float = Field(default=DEFAULT_MAX_ERROR_RATE_INCREASE, ge=0.0, le=1.0)
    """The gate fails when the candidate's errored-conversation or unparsed-verdict rate
    exceeds the base's by more than this (absolute share, 0-1)."""
    base_scorer: str | None = None
    candidate_scorer: str | None = None
    """Judge comparison: compare these two scorers instead of same-named ones."""


# --- report model --------------------------------------------------------------------------
class RunRef(BaseModel):
    path: str
    run_id: str = ""
    model: str = ""
    status: str = ""
    history: str | None = None


class TaskPairing(BaseModel):
    """How the two runs' scored turns of one task paired up."""

    task: str
    version: str | None = None
    data_sha256: str | None = None
    paired_turns: int = 0
    paired_conversations: int = 0
    only_base_turns: int = 0
    only_candidate_turns: int = 0


class MetricComparison(BaseModel):
    """One metric's paired difference (candidate - base) and its test."""

    name: str
    level: Literal["task", "family"] = "task"
    task: str
    scorer: str
    scale: Literal["binary", "scale"]
    direction: Literal["higher", "lower", "neither"] = "higher"
    """Which way is better (declared by the task); a lower-is-better metric regresses when it rises."""
    test: str
    n_pairs: int
    n_conversations: int
    excluded: int = 0
    """Paired turns left out because one side's score is unparsed or errored."""
    excluded_base: int = 0
    excluded_candidate: int = 0
    base: float
    candidate: float
    diff: float
    """candidate - base in the metric's own units (positive = it rose)."""
    ci: tuple[float, float] | None = None
    base_ci: tuple[float, float] | None = None
    candidate_ci: tuple[float, float] | None = None
    """Each run's own interval of the metric (`mteval.stats`, the same as `show` and the site)."""
    confidence: float = 0.95
    p_value: float
    p_adjusted: float | None = None
    regression: bool = False
    verdict: str = ""


class JudgeAgreement(BaseModel):
    """Agreement of two scorings of the same replies for one task."""

    task: str
    base_scorer: str
    candidate_scorer: str
    scale: Literal["binary", "scale"]
    n_pairs: int
    n_conversations: int
    excluded_base: int = 0
    excluded_candidate: int = 0
    exact: float | None = None
    pearson: float | None = None
    spearman: float | None = None
    kappa: float | None = None
    """Cohen's kappa (quadratic weights for integer scales)."""
    alpha: float | None = None
    """Krippendorff's alpha (nominal for binary scores, interval otherwise)."""
    mean_abs_diff: float | None = None
    mean_diff: float | None = None
    measure: str = "alpha"
    value: float | None = None
    """The gated measure (exact agreement when the measure is undefined)."""
    below: bool = False


class RunHealth(BaseModel):
    """Error and unparsed-verdict rates of one run, from its manifest totals."""

    conversations: int = 0
    errored_conversations: int = 0
    errored_rate: float = 0.0
    verdicts: int = 0
    unparsed_verdicts: int = 0
    unparsed_rate: float = 0.0
    scored_ok: int = 0


class CompareReport(BaseModel):
    mode: Literal["scores", "judges"] = "scores"
    base: RunRef
    candidate: RunRef
    options: CompareOptions = Field(default_factory=CompareOptions)
    tasks: list[TaskPairing] = Field(default_factory=list)
    metrics: list[MetricComparison] = Field(default_factory=list)
    agreements: list[JudgeAgreement] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    health: dict[str, RunHealth] = Field(default_factory=dict)
    """`base` and `candidate` error rates."""
    failures: list[str] = Field(default_factory=list)
    """Why the gate failed besides metric regressions (error rates, nothing scored)."""
    regression: bool = False
    """Scores: some metric regressed. Judges: some agreement is below the threshold."""
    exit_code: int = EXIT_OK
    error: str | None = None
