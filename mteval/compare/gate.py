"""The decision: compare two runs (or their frames) and turn the result into an exit code and a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from mteval.compare.agreement import judge_report
from mteval.compare.health import ERRORED, UNPARSED, coverage_failures, health_failures, part_failures, run_health
from mteval.compare.metrics import compare_metrics, own_ci, score_directions, score_scales
from mteval.compare.pairing import (
    MetricData,
    check_base_finished,
    check_compatible,
    check_metric_pairs,
    check_overlap,
    common_tasks,
    context_notes,
    metric_data,
    missing_tasks,
    pair_frames,
    run_ref,
    scorer_names,
    task_pairings,
)
from mteval.compare.schema import EXIT_ERROR, EXIT_OK, EXIT_REGRESSION, CompareError, CompareOptions, CompareReport, RunRef, TaskPairing
from mteval.results import ResultsError, load, read_manifest


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
    failures = [] if options.judges else _failures(base, candidate, base_manifest, cand_manifest, options, health)
    try:
        report = _compare_frames(base, candidate, base_manifest, cand_manifest, options, base_path, candidate_path)
    except CompareError as exc:
        if not failures:
            raise
        report = CompareReport(
            base=run_ref(base_path, base_manifest),
            candidate=run_ref(candidate_path, cand_manifest),
            options=options,
            notes=[f"metrics not compared: {exc}"],
        )
    report.health, report.failures = health, failures
    if failures:
        report.regression = True
        report.exit_code = EXIT_REGRESSION
    return report



def _failures(
    base: pd.DataFrame, candidate: pd.DataFrame, base_manifest: dict[str, Any], cand_manifest: dict[str, Any], options: CompareOptions, health: dict
) -> list[str]:
    """Everything that fails the candidate besides a metric: unfinished or missing work, error rates."""
    missing = missing_tasks(base_manifest, cand_manifest, base, candidate, options.tasks)
    tolerance = options.max_error_rate_increase
    run_wide = health_failures(health["base"], health["candidate"], tolerance)
    failed = [label for label in (ERRORED, UNPARSED) if any(f.startswith(label) for f in run_wide)]
    return coverage_failures(cand_manifest, candidate, missing) + run_wide + part_failures(base, candidate, tolerance, skip=failed)


def _compare_frames(
    base: pd.DataFrame,
    candidate: pd.DataFrame,
    base_manifest: dict[str, Any],
    cand_manifest: dict[str, Any],
    options: CompareOptions,
    base_path: str | Path,
    candidate_path: str | Path,
) -> CompareReport:
    if not options.judges:
        check_base_finished(base_manifest)
    tasks, notes = common_tasks(base_manifest, cand_manifest, base, candidate, options.tasks)
    notes += check_compatible(base_manifest, cand_manifest, tasks)
    notes += context_notes(base_manifest, cand_manifest, options.judges)
    paired = pair_frames(base, candidate)
    paired = paired[paired["task"].isin(tasks)]
    pairings = task_pairings(paired, base, candidate, tasks, (base_manifest, cand_manifest))
    check_overlap(pairings, options.min_pairs)
    notes += _unpaired_notes(pairings)
    report = CompareReport(
        mode="judges" if options.judges else "scores",
        base=run_ref(base_path, base_manifest),
        candidate=run_ref(candidate_path, cand_manifest),
        options=options,
        tasks=pairings,
        notes=notes,
    )
    if options.judges:
        return judge_report(report, paired, base, candidate, tasks, options)
    datas = _score_datas(report, paired, base, candidate, tasks, options.min_pairs)
    if not datas:
        base_names, cand_names = ({s for t in tasks for s in scorer_names(f, t)} for f in (base, candidate))
        raise CompareError(
            "the runs have no scorer in common on their common tasks "
            f"(base: {', '.join(sorted(base_names)) or 'none'}; candidate: {', '.join(sorted(cand_names)) or 'none'})"
        )
    report.metrics = compare_metrics(
        datas, options, score_directions(base_manifest, cand_manifest, datas), score_scales(base_manifest, cand_manifest, datas)
    )
    for metric in report.metrics:
        if metric.level == "task":
            metric.base_ci = own_ci(base, metric.task, metric.scorer)
            metric.candidate_ci = own_ci(candidate, metric.task, metric.scorer)
    report.regression = any(m.regression for m in report.metrics)
    report.exit_code = EXIT_REGRESSION if report.regression else EXIT_OK
    return report



def _unpaired_notes(pairings: Sequence[TaskPairing]) -> list[str]:
    """A note per task with scored turns in only one run."""
    return [
        f"{p.task}: {p.only_base_turns} scored turns only in the base, {p.only_candidate_turns} only in the candidate (not compared)"
        for p in pairings
        if p.only_base_turns or p.only_candidate_turns
    ]


def _score_datas(
    report: CompareReport, paired: pd.DataFrame, base: pd.DataFrame, candidate: pd.DataFrame, tasks: Sequence[str], min_pairs: int
) -> list[MetricData]:
    """Valid pairs of each scorer both runs have on a task; a note on `report` for a scorer only one run has."""
    datas = []
    for task in tasks:
        base_scorers, cand_scorers = scorer_names(base, task), scorer_names(candidate, task)
        for name in sorted(set(base_scorers) ^ set(cand_scorers)):
            where = "base" if name in base_scorers else "candidate"
            report.notes.append(f"{task}: scorer {name} only in the {where} run (not compared)")
        for name in [s for s in base_scorers if s in cand_scorers]:
            data = metric_data(paired, task, name, name)
            if data is not None:
                check_metric_pairs(data, min_pairs)
                datas.append(data)
    return datas


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
