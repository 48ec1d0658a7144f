"""Run health: errored-conversation and unparsed-verdict rates, unfinished or missing work,
and the candidate's failures on them."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from mteval.compare.schema import ATOL, RunHealth


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
        if c - b > tolerance + ATOL:
            out.append(f"{label} rose from {b:.1%} to {c:.1%} (more than --max-error-rate-increase {tolerance:g})")
    return out


def coverage_failures(cand_manifest: dict[str, Any], candidate: pd.DataFrame, missing_tasks: Sequence[str]) -> list[str]:
    """Reasons the candidate fails for work it did not do: it is not finished (its
    unfinished conversations have no sample, so no error rate counts them), or it has
    no results for tasks the base has (the base's tasks are what the gate vouches for)."""
    out = []
    status = cand_manifest.get("status")
    if status not in (None, "complete"):
        planned = sum(int((info or {}).get("conversations") or 0) for info in (cand_manifest.get("tasks") or {}).values())
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
