"""Paired comparison of two runs: did the candidate regress? Do two judges agree?

The statistics (paired cluster bootstrap, permutation / Wilcoxon / sign tests, Holm)
live in `mteval.stats`; this module pairs the runs, applies each metric's declared
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
"""

from __future__ import annotations

import math
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from mteval.results import ResultsError, load, read_manifest
from mteval.stats import (  # noqa: F401  (the paired statistics live in mteval.stats; re-exported)
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

KEY = ["task", "conversation_id", "turn_id"]
EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_ERROR = 2
DEFAULT_MIN_PAIRS = 10
DEFAULT_MIN_AGREEMENT = 0.8
DEFAULT_MAX_ERROR_RATE_INCREASE = 0.02
"""Tolerated rise (absolute, 0-1) of the errored-conversation and unparsed-verdict rates."""

AgreementMeasure = Literal["alpha", "kappa", "exact", "pearson", "spearman"]
_ATOL = 1e-9


class CompareError(ResultsError):
    """The two runs cannot be compared (exit code 2)."""


class CompareOptions(BaseModel):
    """How `gate` and `mteval compare` decide."""

    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    """Significance level, family-wise over all metrics (Holm)."""
    max_drop: float = Field(0.0, ge=0.0)
    """Tolerated absolute drop of a metric's mean (score units)."""
    min_pairs: int = Field(DEFAULT_MIN_PAIRS, ge=1)
    """Fewest paired conversations (samples) per task and metric; fewer refuses."""
    test: TestName = "auto"
    """auto: permutation for binary scores, Wilcoxon otherwise."""
    groups: bool = True
    """Also compare family means (a scorer over two or more tasks of a family)."""
    tasks: list[str] | None = None
    """Only these tasks (default: every task both runs have)."""
    bootstrap_resamples: int = Field(2000, ge=100)
    permutation_resamples: int = Field(9999, ge=99)
    seed: int = DEFAULT_SEED
    judges: bool = False
    """Compare the judges (agreement of two scorings of identical replies)."""
    min_agreement: float = DEFAULT_MIN_AGREEMENT
    agreement: AgreementMeasure = "alpha"
    """Agreement measure that `min_agreement` applies to (alpha = Krippendorff's)."""
    max_error_rate_increase: float = Field(DEFAULT_MAX_ERROR_RATE_INCREASE, ge=0.0, le=1.0)
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


# --- pairing -------------------------------------------------------------------------------
def scorer_names(frame: pd.DataFrame, task: str | None = None) -> list[str]:
    """Scorers with at least one score (any status) in `frame` (for one task)."""
    rows = frame if task is None else frame[frame["task"] == task]
    return [c[len("status_"):] for c in rows.columns if c.startswith("status_") and rows[c].notna().any()]


def _suffixed(frame: pd.DataFrame, suffix: str) -> pd.DataFrame:
    keep = [c for c in frame.columns if c in KEY or c == "reply" or c.startswith(("score_", "status_"))]
    out = frame[keep].copy()
    for column in KEY:
        out[column] = out[column].astype(str)
    duplicated = out.duplicated(KEY)
    if duplicated.any():
        first = out[duplicated].iloc[0]
        raise CompareError(f"duplicate scored turn {first['task']}/{first['conversation_id']}/{first['turn_id']} in one run")
    for column in out.columns:
        if column.startswith("score_"):
            out[column] = pd.to_numeric(out[column], errors="coerce")
    return out.rename(columns={c: f"{c}{suffix}" for c in keep if c not in KEY})


def pair_frames(base: pd.DataFrame, candidate: pd.DataFrame) -> pd.DataFrame:
    """Scored turns present in both runs, columns suffixed `_base` / `_cand`."""
    return _suffixed(base, "_base").merge(_suffixed(candidate, "_cand"), on=KEY, how="inner")


def _task_info(manifest: dict[str, Any], task: str) -> tuple[str | None, str | None]:
    info = (manifest.get("tasks") or {}).get(task) or {}
    version = info.get("version")
    sha = (info.get("data") or {}).get("sha256")
    return (None if version is None else str(version)), sha


def check_compatible(base_manifest: dict[str, Any], cand_manifest: dict[str, Any], tasks: Sequence[str]) -> list[str]:
    """Refuse differing task versions or data hashes; notes for what cannot be checked."""
    notes: list[str] = []
    histories = (base_manifest.get("history"), cand_manifest.get("history"))
    if histories[0] != histories[1] and "single" in histories:
        raise CompareError(
            f"the base run's history is {histories[0]} and the candidate's {histories[1]}: a single-turn rendering against "
            "a multi-turn history measures the multi-turn penalty, not a regression; use `mteval penalty RUN_OWN RUN_SINGLE`"
        )
    for task in tasks:
        base_version, base_sha = _task_info(base_manifest, task)
        cand_version, cand_sha = _task_info(cand_manifest, task)
        if base_version is not None and cand_version is not None and base_version != cand_version:
            raise CompareError(
                f"task {task}: version {base_version} in the base run but {cand_version} in the candidate; "
                "scores of different task versions are not comparable (re-run the baseline)"
            )
        if base_sha and cand_sha and base_sha != cand_sha:
            raise CompareError(
                f"task {task}: data differ (sha256 {base_sha[:12]}... in the base run, {cand_sha[:12]}... in the candidate); "
                "re-run the baseline on the same data"
            )
        if not (base_sha and cand_sha):
            notes.append(f"{task}: a run records no data hash, so the data could not be checked")
    return notes


def _run_ref(path: str | Path, manifest: dict[str, Any]) -> RunRef:
    return RunRef(
        path=str(path),
        run_id=str(manifest.get("run_id", Path(path).name)),
        model=str((manifest.get("model") or {}).get("id", "")),
        status=str(manifest.get("status", "")),
        history=manifest.get("history"),
    )


def _common_tasks(base_manifest: dict[str, Any], cand_manifest: dict[str, Any], base: pd.DataFrame, cand: pd.DataFrame, only: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """Tasks of both runs (restricted to `only`), and notes on the others."""
    base_tasks = set(base_manifest.get("tasks") or {}) | set(base["task"].astype(str))
    cand_tasks = set(cand_manifest.get("tasks") or {}) | set(cand["task"].astype(str))
    notes = []
    if only:
        unknown = [t for t in only if t not in base_tasks | cand_tasks]
        if unknown:
            raise CompareError(f"--tasks: {', '.join(unknown)} in neither run")
        base_tasks &= set(only)
        cand_tasks &= set(only)
    for label, missing in (("base", sorted(cand_tasks - base_tasks)), ("candidate", sorted(base_tasks - cand_tasks))):
        if missing:
            notes.append(f"not compared, missing from the {label} run: {', '.join(missing)}")
    common = sorted(base_tasks & cand_tasks)
    if not common:
        raise CompareError("the runs have no task in common")
    return common, notes


def _context_notes(base_manifest: dict[str, Any], cand_manifest: dict[str, Any], judges: bool) -> list[str]:
    notes = []
    for label, manifest in (("base", base_manifest), ("candidate", cand_manifest)):
        if manifest.get("status") not in (None, "complete"):
            notes.append(f"the {label} run is {manifest.get('status')}: only its finished conversations are compared")
    if base_manifest.get("history") != cand_manifest.get("history"):
        notes.append(f"history differs: {base_manifest.get('history')} (base) vs {cand_manifest.get('history')} (candidate)")
    if not judges and base_manifest.get("jury") != cand_manifest.get("jury"):
        notes.append("the runs were judged by different judges: a difference may come from the judge, not the model")
    return notes


def _pairings(paired: pd.DataFrame, base: pd.DataFrame, cand: pd.DataFrame, tasks: Sequence[str], manifests: tuple[dict, dict]) -> list[TaskPairing]:
    out = []
    for task in tasks:
        rows = paired[paired["task"] == task]
        version, sha = _task_info(manifests[0], task)
        n_base = int((base["task"].astype(str) == task).sum())
        n_cand = int((cand["task"].astype(str) == task).sum())
        out.append(
            TaskPairing(
                task=task,
                version=version,
                data_sha256=sha,
                paired_turns=len(rows),
                paired_conversations=int(rows["conversation_id"].nunique()),
                only_base_turns=n_base - len(rows),
                only_candidate_turns=n_cand - len(rows),
            )
        )
    return out


def _check_overlap(pairings: Sequence[TaskPairing], min_pairs: int) -> None:
    for pairing in pairings:
        if pairing.paired_conversations < min_pairs:
            raise CompareError(
                f"task {pairing.task}: only {pairing.paired_conversations} conversations are in both runs "
                f"({pairing.paired_turns} scored turns; {pairing.only_base_turns} only in the base, "
                f"{pairing.only_candidate_turns} only in the candidate), fewer than --min-pairs {min_pairs}: too few to say anything"
            )


@dataclass(frozen=True)
class _MetricData:
    task: str
    scorer: str
    base_scorer: str
    cand_scorer: str
    rows: pd.DataFrame
    """Paired rows where both scores are present."""
    excluded_base: int
    excluded_cand: int
    excluded: int


def _metric_data(paired: pd.DataFrame, task: str, base_scorer: str, cand_scorer: str) -> _MetricData | None:
    rows = paired[paired["task"] == task]
    b_score, c_score = f"score_{base_scorer}_base", f"score_{cand_scorer}_cand"
    b_status, c_status = f"status_{base_scorer}_base", f"status_{cand_scorer}_cand"
    if not {b_score, c_score, b_status, c_status} <= set(rows.columns):
        return None
    scored = rows[rows[b_status].notna() | rows[c_status].notna()]
    if scored.empty:
        return None
    valid = scored[b_score].notna() & scored[c_score].notna()
    return _MetricData(
        task=task,
        scorer=base_scorer if base_scorer == cand_scorer else f"{base_scorer} vs {cand_scorer}",
        base_scorer=base_scorer,
        cand_scorer=cand_scorer,
        rows=scored[valid],
        excluded_base=int(scored[b_score].isna().sum()),
        excluded_cand=int(scored[c_score].isna().sum()),
        excluded=int((~valid).sum()),
    )


def _check_metric_pairs(data: _MetricData, min_pairs: int) -> None:
    k = int(data.rows["conversation_id"].nunique())
    if k < min_pairs:
        raise CompareError(
            f"{data.task} {data.scorer}: only {k} conversations have a valid score in both runs "
            f"({data.excluded_base} unparsed/errored in the base, {data.excluded_cand} in the candidate), "
            f"fewer than --min-pairs {min_pairs}: too few to say anything"
        )


def _seed(seed: int, *parts: str) -> int:
    return (seed + zlib.crc32("\0".join(parts).encode())) % (2**32)


def _clusters(data: _MetricData, sign: float = 1.0) -> Clusters:
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


def _compare_metrics(
    datas: Sequence[_MetricData], options: CompareOptions, directions: dict[tuple[str, str], str] | None = None
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
                direction=direction,  # type: ignore[arg-type]
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
        metrics.extend(_family_metrics(metrics, distributions, options))
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


def _family_metrics(task_metrics: Sequence[MetricComparison], distributions: dict, options: CompareOptions) -> list[MetricComparison]:
    """Mean over a family's tasks (equal weight per task) of each scorer that two or
    more of its compared tasks share."""
    by_group: dict[tuple[str, str], list[MetricComparison]] = {}
    for metric in task_metrics:
        by_group.setdefault((metric.task.split("/", 1)[0], metric.scorer), []).append(metric)
    out = []
    for (family, scorer), members in sorted(by_group.items()):
        if len(members) < 2 or len({m.direction for m in members}) > 1:
            continue  # a mean over metrics that point different ways means nothing
        parts = [(distributions[(m.task, m.scorer)][0], 1.0 / len(members)) for m in members]
        dists = np.vstack([distributions[(m.task, m.scorer)][1] for m in members])
        pooled = dists.mean(axis=0)
        tail = options.alpha / 2.0
        low, high = np.quantile(pooled, [tail, 1.0 - tail])
        p = permutation_pvalue(parts, margin=options.max_drop, n_resamples=options.permutation_resamples, seed=_seed(options.seed, family, scorer))
        binary = all(distributions[(m.task, m.scorer)][2] for m in members)
        out.append(
            MetricComparison(
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
        )
    return out


# --- whole runs ----------------------------------------------------------------------------
def compare_frames(
    base: pd.DataFrame,
    candidate: pd.DataFrame,
    base_manifest: dict[str, Any],
    cand_manifest: dict[str, Any],
    options: CompareOptions | None = None,
    *,
    base_path: str | Path = "base",
    candidate_path: str | Path = "candidate",
) -> CompareReport:
    """Compare two runs given as `mteval.results.load` frames and their manifests.
    Raises CompareError when they cannot be compared, unless the candidate already
    fails on its error rates (then the report says so, exit 1)."""
    options = options or CompareOptions()
    health = {"base": run_health(base), "candidate": run_health(candidate)}
    failures = [] if options.judges else health_failures(health["base"], health["candidate"], options.max_error_rate_increase)
    try:
        report = _compare_frames(base, candidate, base_manifest, cand_manifest, options, base_path, candidate_path)
    except CompareError as exc:
        if not failures:
            raise
        report = CompareReport(
            base=_run_ref(base_path, base_manifest),
            candidate=_run_ref(candidate_path, cand_manifest),
            options=options,
            notes=[f"metrics not compared: {exc}"],
        )
    report.health, report.failures = health, failures
    if failures:
        report.regression = True
        report.exit_code = EXIT_REGRESSION
    return report


def run_health(frame: pd.DataFrame) -> RunHealth:
    """Error and unparsed-verdict rates of a run's scored-turn rows: a conversation
    errored if any of its scored turns has an error (or was never reached) or a
    scorer failed; a verdict is one scorer's status on one turn."""
    if frame.empty:
        return RunHealth()
    status_columns = [c for c in frame.columns if c.startswith("status_")]
    statuses = frame[status_columns].stack() if status_columns else pd.Series(dtype=object)
    bad_row = frame["error"].notna() if "error" in frame else pd.Series(False, index=frame.index)
    for column in status_columns:
        bad_row = bad_row | (frame[column] == "error")
    conv = frame["task"].astype(str) + "\0" + frame["conversation_id"].astype(str)
    errored = conv[bad_row].nunique()
    conversations = conv.nunique()
    verdicts = int(statuses.size)
    unparsed = int((statuses == "unparsed").sum())
    ok_rows = pd.Series(False, index=frame.index)
    for column in status_columns:
        ok_rows = ok_rows | (frame[column] == "ok")
    return RunHealth(
        conversations=int(conversations),
        errored_conversations=int(errored),
        errored_rate=errored / conversations if conversations else 0.0,
        verdicts=verdicts,
        unparsed_verdicts=unparsed,
        unparsed_rate=unparsed / verdicts if verdicts else 0.0,
        scored_ok=int(ok_rows.sum()),
    )


def health_failures(base: RunHealth, candidate: RunHealth, tolerance: float) -> list[str]:
    """Reasons the candidate fails regardless of its scores: nothing scored, or more
    errored conversations / unparsed verdicts than the base beyond `tolerance`."""
    out = []
    if candidate.scored_ok == 0:
        out.append(
            f"the candidate has no scored turns ({candidate.errored_conversations} of {candidate.conversations} conversations errored)"
        )
    for label, b, c in (
        ("errored-conversation rate", base.errored_rate, candidate.errored_rate),
        ("unparsed-verdict rate", base.unparsed_rate, candidate.unparsed_rate),
    ):
        if c - b > tolerance + _ATOL:
            out.append(f"{label} rose from {b:.1%} to {c:.1%} (more than --max-error-rate-increase {tolerance:g})")
    return out


def _compare_frames(
    base: pd.DataFrame,
    candidate: pd.DataFrame,
    base_manifest: dict[str, Any],
    cand_manifest: dict[str, Any],
    options: CompareOptions,
    base_path: str | Path,
    candidate_path: str | Path,
) -> CompareReport:
    tasks, notes = _common_tasks(base_manifest, cand_manifest, base, candidate, options.tasks)
    notes += check_compatible(base_manifest, cand_manifest, tasks)
    notes += _context_notes(base_manifest, cand_manifest, options.judges)
    paired = pair_frames(base, candidate)
    paired = paired[paired["task"].isin(tasks)]
    pairings = _pairings(paired, base, candidate, tasks, (base_manifest, cand_manifest))
    _check_overlap(pairings, options.min_pairs)
    for pairing in pairings:
        if pairing.only_base_turns or pairing.only_candidate_turns:
            notes.append(
                f"{pairing.task}: {pairing.only_base_turns} scored turns only in the base, "
                f"{pairing.only_candidate_turns} only in the candidate (not compared)"
            )
    report = CompareReport(
        mode="judges" if options.judges else "scores",
        base=_run_ref(base_path, base_manifest),
        candidate=_run_ref(candidate_path, cand_manifest),
        options=options,
        tasks=pairings,
        notes=notes,
    )
    if options.judges:
        return _judge_report(report, paired, base, candidate, tasks, options)
    datas = []
    for task in tasks:
        base_scorers, cand_scorers = scorer_names(base, task), scorer_names(candidate, task)
        for name in sorted(set(base_scorers) ^ set(cand_scorers)):
            where = "base" if name in base_scorers else "candidate"
            report.notes.append(f"{task}: scorer {name} only in the {where} run (not compared)")
        for name in [s for s in base_scorers if s in cand_scorers]:
            data = _metric_data(paired, task, name, name)
            if data is not None:
                _check_metric_pairs(data, options.min_pairs)
                datas.append(data)
    if not datas:
        base_names, cand_names = ({s for t in tasks for s in scorer_names(f, t)} for f in (base, candidate))
        raise CompareError(
            "the runs have no scorer in common on their common tasks "
            f"(base: {', '.join(sorted(base_names)) or 'none'}; candidate: {', '.join(sorted(cand_names)) or 'none'})"
        )
    report.metrics = _compare_metrics(datas, options, _directions(base_manifest, cand_manifest, datas))
    for metric in report.metrics:
        if metric.level == "task":
            metric.base_ci = _own_ci(base, metric.task, metric.scorer)
            metric.candidate_ci = _own_ci(candidate, metric.task, metric.scorer)
    report.regression = any(m.regression for m in report.metrics)
    report.exit_code = EXIT_REGRESSION if report.regression else EXIT_OK
    return report


def _directions(base_manifest: dict[str, Any], cand_manifest: dict[str, Any], datas: Sequence[_MetricData]) -> dict[tuple[str, str], str]:
    """Declared direction of each compared score (the candidate's record, else the base's)."""
    out = {}
    for data in datas:
        found = None
        for manifest in (cand_manifest, base_manifest):
            semantics = (((manifest.get("tasks") or {}).get(data.task) or {}).get("scores") or {}).get(data.base_scorer)
            if semantics:
                found = semantics.get("direction")
                break
        out[(data.task, data.scorer)] = found or "higher"
    return out


def _own_ci(frame: pd.DataFrame, task: str, scorer: str) -> tuple[float, float] | None:
    """One run's interval of a score's mean, computed exactly as its manifest's (`mteval.stats`)."""
    from mteval.stats import mean_metrics

    rows = frame[frame["task"].astype(str) == task]
    return mean_metrics(rows, [scorer])[scorer].ci if not rows.empty else None


def compare_runs(base_dir: str | Path, candidate_dir: str | Path, options: CompareOptions | None = None) -> CompareReport:
    """Load two run directories and compare them (CompareError / ResultsError when they
    cannot be compared)."""
    base_manifest, cand_manifest = read_manifest(base_dir), read_manifest(candidate_dir)
    return compare_frames(
        load(base_dir), load(candidate_dir), base_manifest, cand_manifest, options, base_path=base_dir, candidate_path=candidate_dir
    )


def gate(base_dir: str | Path, candidate_dir: str | Path, options: CompareOptions | None = None) -> tuple[int, CompareReport]:
    """The CI gate: (0 no regression | 1 regression | 2 cannot compare, report)."""
    options = options or CompareOptions()
    try:
        report = compare_runs(base_dir, candidate_dir, options)
    except (ResultsError, ValueError) as exc:
        report = CompareReport(
            mode="judges" if options.judges else "scores",
            base=RunRef(path=str(base_dir)),
            candidate=RunRef(path=str(candidate_dir)),
            options=options,
            exit_code=EXIT_ERROR,
            error=str(exc),
        )
    return report.exit_code, report


# --- judges --------------------------------------------------------------------------------
def _check_same_replies(paired: pd.DataFrame) -> None:
    differ = paired[paired["reply_base"].astype(str) != paired["reply_cand"].astype(str)]
    if not differ.empty:
        first = differ.iloc[0]
        raise CompareError(
            f"the answers differ, not the judge: {len(differ)} of {len(paired)} paired turns have different replies "
            f"(first: {first['task']} conversation {first['conversation_id']} turn {first['turn_id']}); "
            "a judge comparison needs the same transcripts scored twice"
        )


def _judge_pairs(base: pd.DataFrame, candidate: pd.DataFrame, task: str, options: CompareOptions) -> list[tuple[str, str]]:
    """(base scorer, candidate scorer) pairs to compare on `task`."""
    b = options.base_scorer or options.candidate_scorer
    c = options.candidate_scorer or options.base_scorer
    if b and c:
        return [(b, c)] if b in scorer_names(base, task) and c in scorer_names(candidate, task) else []
    return [(s, s) for s in scorer_names(base, task) if s in scorer_names(candidate, task)]


def _judge_report(report: CompareReport, paired: pd.DataFrame, base: pd.DataFrame, candidate: pd.DataFrame, tasks: Sequence[str], options: CompareOptions) -> CompareReport:
    _check_same_replies(paired)
    same_run = Path(report.base.path).resolve() == Path(report.candidate.path).resolve()
    if same_run and not (options.base_scorer and options.candidate_scorer and options.base_scorer != options.candidate_scorer):
        raise CompareError("comparing a run's judges with itself: name two scorers with --base-scorer and --candidate-scorer")
    for task in tasks:
        for base_scorer, cand_scorer in _judge_pairs(base, candidate, task, options):
            data = _metric_data(paired, task, base_scorer, cand_scorer)
            if data is None:
                continue
            _check_metric_pairs(data, options.min_pairs)
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
    out["exact"] = float(np.mean(np.isclose(x, y, atol=_ATOL, rtol=0.0)))
    out["mean_abs_diff"] = float(np.mean(np.abs(y - x)))
    out["mean_diff"] = float(np.mean(y - x))
    varies = x.size > 1 and np.ptp(x) > 0 and np.ptp(y) > 0
    if varies:
        out["pearson"] = _finite(stats.pearsonr(x, y)[0])
        out["spearman"] = _finite(stats.spearmanr(x, y)[0])
    binary = is_binary(x, y)
    if np.unique(np.concatenate([x, y])).size > 1:
        level = "nominal" if binary else "interval"
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


def agreement(data: _MetricData, options: CompareOptions) -> JudgeAgreement:
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
