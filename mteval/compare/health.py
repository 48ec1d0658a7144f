"""Run health: errored-conversation and unparsed-verdict rates, unfinished or missing work,
and the candidate's failures on them."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from mteval.compare.schema import ATOL, RunHealth
from mteval.results import planned_conversations


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
        (ERRORED, base.errored_rate, candidate.errored_rate),
        (UNPARSED, base.unparsed_rate, candidate.unparsed_rate),
    ):
        if c - b > tolerance + ATOL:
            out.append(_rose(label, b, c, tolerance))
    return out


ERRORED = "errored-conversation rate"
UNPARSED = "unparsed-verdict rate"


def _rose(label: str, base: float, candidate: float, tolerance: float) -> str:
    return f"{label} rose from {base:.1%} to {candidate:.1%} (more than --max-error-rate-increase {tolerance:g})"


def part_failures(base: pd.DataFrame, candidate: pd.DataFrame, tolerance: float, skip: Sequence[str] = ()) -> list[str]:
    """The same rates per task (errored conversations) and per task and scorer (unparsed
    verdicts), for tasks both runs have: pooled over a run, a judge that fails to parse a
    third of one small task's verdicts stays under the tolerance, and the pairs it drops
    are the ones it could not judge. `skip`: rates already failed run-wide."""
    if base.empty or candidate.empty:
        return []
    out = []
    for task in sorted(set(base["task"].astype(str)) & set(candidate["task"].astype(str))):
        b_rows, c_rows = base[base["task"].astype(str) == task], candidate[candidate["task"].astype(str) == task]
        if ERRORED not in skip:
            b, c = run_health(b_rows).errored_rate, run_health(c_rows).errored_rate
            if c - b > tolerance + ATOL:
                out.append(f"{task}: {_rose(ERRORED, b, c, tolerance)}")
        if UNPARSED not in skip:
            out += [f"{task} {scorer}: {_rose(UNPARSED, b, c, tolerance)}" for scorer, b, c in _unparsed_rates(b_rows, c_rows) if c - b > tolerance + ATOL]
    return out


def _unparsed_rates(base: pd.DataFrame, candidate: pd.DataFrame) -> list[tuple[str, float, float]]:
    """(scorer, base rate, candidate rate) of each scorer with verdicts in the candidate."""
    out = []
    for column in sorted(c for c in candidate.columns if c.startswith("status_") and candidate[c].notna().any()):
        rates = []
        for rows in (base, candidate):
            statuses = rows[column].dropna() if column in rows else pd.Series(dtype=object)
            rates.append(float((statuses == "unparsed").sum()) / len(statuses) if len(statuses) else 0.0)
        out.append((column[len("status_"):], rates[0], rates[1]))
    return out


def coverage_failures(cand_manifest: dict[str, Any], candidate: pd.DataFrame, missing_tasks: Sequence[str]) -> list[str]:
    """Reasons the candidate fails for work it did not do: it is not finished (its
    unfinished conversations have no sample, so no error rate counts them), or it has
    no results for tasks the base has (the base's tasks are what the gate vouches for)."""
    out = []
    status = cand_manifest.get("status")
    if status not in (None, "complete"):
        planned = planned_conversations(cand_manifest)
        done = int((candidate["task"].astype(str) + "\0" + candidate["conversation_id"].astype(str)).nunique()) if not candidate.empty else 0
        of = f" of {planned}" if planned else ""
        out.append(
            f"the candidate run is {status}: {done}{of} conversations finished; an unfinished run cannot pass the gate "
            "(re-run the same command to finish it)"
        )
    if missing_tasks:
        out.append(
            f"the candidate has no results for {', '.join(missing_tasks)}, which the base run has "
            "(pass --tasks to gate on the other tasks only)"
        )
    return out
