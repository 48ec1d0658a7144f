"""Pairing two runs: common tasks, compatibility checks, paired frames and each metric's valid pairs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from mteval.compare.schema import KEY, CompareError, RunRef, TaskPairing


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
    _check_history(base_manifest.get("history"), cand_manifest.get("history"))
    _check_task_options(base_manifest.get("task_options") or {}, cand_manifest.get("task_options") or {})
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


def _check_history(base: str | None, candidate: str | None) -> None:
    """Refuse runs whose earlier turns held different things: with gold history every turn
    sees the benchmark's replies, with own history the model's, so a difference measures
    the history mode (error propagation), not the model."""
    if base == candidate:
        return
    if "single" in (base, candidate):
        raise CompareError(
            f"the base run's history is {base} and the candidate's {candidate}: a single-turn rendering against "
            "a multi-turn history measures the multi-turn penalty, not a regression; use `mteval penalty RUN_OWN RUN_SINGLE`"
        )
    raise CompareError(
        f"the base run's history is {base} and the candidate's {candidate}: their earlier turns held different replies, "
        "so a difference measures the history mode, not a regression; run both with the same --history"
    )


def _differences(base: dict[str, Any], candidate: dict[str, Any], unset: str) -> list[str]:
    """`key base (base) vs candidate (candidate)` for each key whose values differ."""
    return [
        f"{key} {base.get(key, unset)} (base) vs {candidate.get(key, unset)} (candidate)"
        for key in sorted(set(base) | set(candidate))
        if base.get(key) != candidate.get(key)
    ]


def _check_task_options(base: dict[str, Any], candidate: dict[str, Any]) -> None:
    """Refuse runs made with different --task-args: the same data and task version scored by
    another rule (mt_eval `cls_match`, mt_bench `rating_rule`, full-duplex thresholds) or shown
    another context measures the setting, not the model."""
    differ = _differences(base, candidate, "unset")
    if differ:
        raise CompareError(
            f"the runs used different task options ({'; '.join(differ)}): scores under different task settings "
            "are not comparable; run both with the same --task-args"
        )


def run_ref(path: str | Path, manifest: dict[str, Any]) -> RunRef:
    return RunRef(
        path=str(path),
        run_id=str(manifest.get("run_id", Path(path).name)),
        model=str((manifest.get("model") or {}).get("id", "")),
        status=str(manifest.get("status", "")),
        history=manifest.get("history"),
    )


def task_sets(
    base_manifest: dict[str, Any], cand_manifest: dict[str, Any], base: pd.DataFrame, cand: pd.DataFrame, only: Sequence[str] | None
) -> tuple[set[str], set[str]]:
    """Each run's tasks (its manifest's and those with scored turns), restricted to `only`."""
    base_tasks = set(base_manifest.get("tasks") or {}) | set(base["task"].astype(str))
    cand_tasks = set(cand_manifest.get("tasks") or {}) | set(cand["task"].astype(str))
    if only:
        unknown = [t for t in only if t not in base_tasks | cand_tasks]
        if unknown:
            raise CompareError(f"--tasks: {', '.join(unknown)} in neither run")
        base_tasks &= set(only)
        cand_tasks &= set(only)
    return base_tasks, cand_tasks


def missing_tasks(
    base_manifest: dict[str, Any], cand_manifest: dict[str, Any], base: pd.DataFrame, cand: pd.DataFrame, only: Sequence[str] | None
) -> list[str]:
    """The base's tasks (restricted to `only`) the candidate has no results for."""
    try:
        base_tasks, cand_tasks = task_sets(base_manifest, cand_manifest, base, cand, only)
    except CompareError:
        return []  # an unknown --tasks name: the comparison itself refuses it
    return sorted(base_tasks - cand_tasks)


def common_tasks(
    base_manifest: dict[str, Any], cand_manifest: dict[str, Any], base: pd.DataFrame, cand: pd.DataFrame, only: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    """Tasks of both runs (restricted to `only`), and a note on the candidate's tasks the
    base lacks (the base's tasks the candidate lacks are a gate failure, `missing_tasks`)."""
    base_tasks, cand_tasks = task_sets(base_manifest, cand_manifest, base, cand, only)
    new = sorted(cand_tasks - base_tasks)
    notes = [f"not compared, missing from the base run: {', '.join(new)}"] if new else []
    common = sorted(base_tasks & cand_tasks)
    if not common:
        raise CompareError("the runs have no task in common")
    return common, notes


def check_base_finished(base_manifest: dict[str, Any]) -> None:
    """Refuse an unfinished baseline: the conversations it never finished pair with
    nothing, so a candidate's regressions there would pass unseen."""
    status = base_manifest.get("status")
    if status not in (None, "complete"):
        raise CompareError(f"the base run is {status}: finish it (re-run its command) before gating against it")


def context_notes(base_manifest: dict[str, Any], cand_manifest: dict[str, Any], judges: bool) -> list[str]:
    notes = []
    for label, manifest in (("base", base_manifest), ("candidate", cand_manifest)):
        if judges and manifest.get("status") not in (None, "complete"):
            notes.append(f"the {label} run is {manifest.get('status')}: only its finished conversations are compared")
    explicit = [((m.get("generation") or {}).get("explicit") or {}) for m in (base_manifest, cand_manifest)]
    differ = _differences(explicit[0], explicit[1], "task default")
    if differ:
        notes.append(f"generation settings differ: {'; '.join(differ)}; a difference may come from the settings, not the model")
    if not judges and base_manifest.get("jury") != cand_manifest.get("jury"):
        notes.append("the runs were judged by different judges: a difference may come from the judge, not the model")
    return notes


def task_pairings(paired: pd.DataFrame, base: pd.DataFrame, cand: pd.DataFrame, tasks: Sequence[str], manifests: tuple[dict, dict]) -> list[TaskPairing]:
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


def check_overlap(pairings: Sequence[TaskPairing], min_pairs: int) -> None:
    for pairing in pairings:
        if pairing.paired_conversations < min_pairs:
            raise CompareError(
                f"task {pairing.task}: only {pairing.paired_conversations} conversations are in both runs "
                f"({pairing.paired_turns} scored turns; {pairing.only_base_turns} only in the base, "
                f"{pairing.only_candidate_turns} only in the candidate), fewer than --min-pairs {min_pairs}: too few to say anything"
            )


@dataclass(frozen=True)
class MetricData:
    task: str
    scorer: str
    base_scorer: str
    cand_scorer: str
    rows: pd.DataFrame
    """Paired rows where both scores are present."""
    excluded_base: int
    excluded_cand: int
    excluded: int


def metric_data(paired: pd.DataFrame, task: str, base_scorer: str, cand_scorer: str) -> MetricData | None:
    rows = paired[paired["task"] == task]
    b_score, c_score = f"score_{base_scorer}_base", f"score_{cand_scorer}_cand"
    b_status, c_status = f"status_{base_scorer}_base", f"status_{cand_scorer}_cand"
    if not {b_score, c_score, b_status, c_status} <= set(rows.columns):
        return None
    scored = rows[rows[b_status].notna() | rows[c_status].notna()]
    if scored.empty:
        return None
    valid = scored[b_score].notna() & scored[c_score].notna()
    return MetricData(
        task=task,
        scorer=base_scorer if base_scorer == cand_scorer else f"{base_scorer} vs {cand_scorer}",
        base_scorer=base_scorer,
        cand_scorer=cand_scorer,
        rows=scored[valid],
        excluded_base=int(scored[b_score].isna().sum()),
        excluded_cand=int(scored[c_score].isna().sum()),
        excluded=int((~valid).sum()),
    )


def check_metric_pairs(data: MetricData, min_pairs: int) -> None:
    k = int(data.rows["conversation_id"].nunique())
    if k < min_pairs:
        raise CompareError(
            f"{data.task} {data.scorer}: only {k} conversations have a valid score in both runs "
            f"({data.excluded_base} unparsed/errored in the base, {data.excluded_cand} in the candidate), "
            f"fewer than --min-pairs {min_pairs}: too few to say anything"
        )



def check_same_replies(paired: pd.DataFrame) -> None:
    differ = paired[paired["reply_base"].astype(str) != paired["reply_cand"].astype(str)]
    if not differ.empty:
        first = differ.iloc[0]
        raise CompareError(
            f"the answers differ, not the judge: {len(differ)} of {len(paired)} paired turns have different replies "
            f"(first: {first['task']} conversation {first['conversation_id']} turn {first['turn_id']}); "
            "a judge comparison needs the same transcripts scored twice"
        )
