"""Jury aggregations: how several jurors' verdicts become one. Adding one is one
`register_aggregation` call (or an entry point in the group `mteval.aggregations` naming
an `Aggregation`); `--aggregate` choices, jury-file validation and the adaptive jury's
escalation bound all follow from the registry.

`combine(usable, kind)` gets only the usable verdicts (at least one) and returns
(value, label). `monotone_score` says the result on score judgments is monotone in every
juror's score, which lets the adaptive jury bound it by the extreme completions
(`mean`, `median`); otherwise any possible change of the verdict escalates.
`sequential` makes the jury ask one juror at a time up to the first usable verdict
(`cascade`).
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

from mteval.errors import ConfigurationError
from mteval.plugins import Registry
from mteval.scoring.judge_spec import Verdict

Result = tuple[float | None, str | None]
Combine = Callable[[Sequence[Verdict], str], Result]


@dataclass(frozen=True)
class Aggregation:
    combine: Combine
    monotone_score: bool = False
    """On score judgments the result is monotone in every juror's score (see escalation)."""
    doc: str = ""
    open_scale_unbounded: bool = False
    """One juror whose scale is open (`out_of_range: keep`) can move the result without
    bound (the mean; not the median), so the adaptive jury escalates without trying the
    completions (which would add -inf and +inf)."""
    sequential: bool = False
    """Ask the jurors one at a time, in order, and stop at the first usable verdict (the
    others are never asked: `cascade`); otherwise the jury asks them together."""


AGGREGATIONS: Registry[Aggregation] = Registry("aggregations")


def register_aggregation(
    name: str,
    combine: Combine,
    *,
    monotone_score: bool = False,
    doc: str = "",
    open_scale_unbounded: bool = False,
    sequential: bool = False,
) -> Aggregation:
    """Make `--aggregate name` and `aggregate: name` in jury files available; the flags
    are what the jury and its escalation rule read (see `Aggregation`)."""
    return AGGREGATIONS.register(name, Aggregation(combine, monotone_score, doc, open_scale_unbounded, sequential))


def aggregation_names() -> list[str]:
    """The `--aggregate` choices."""
    return AGGREGATIONS.names()


def label_aggregation_names() -> list[str]:
    """The aggregations that combine labels (pairwise winners among them): every one but
    the score statistics (`monotone_score`)."""
    return [name for name in AGGREGATIONS.names() if not AGGREGATIONS.get_entry(name).monotone_score]


def score_label(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _statistic(fn: Callable[[list[float]], float], name: str) -> Combine:
    def combine(usable: Sequence[Verdict], kind: str) -> Result:
        if kind != "score":
            return _vote(usable, kind, name)
        values = [v.value for v in usable if v.value is not None]
        return (float(fn(values)), None) if values else (None, None)

    return combine


def _cascade(usable: Sequence[Verdict], kind: str) -> Result:
    return usable[0].value, usable[0].label


def _vote(usable: Sequence[Verdict], kind: str, method: str) -> Result:
    labels = [v.label if v.label is not None else score_label(v.value) for v in usable]
    counts = Counter(labels).most_common()
    top, top_count = counts[0]
    tied = len(counts) > 1 and counts[1][1] == top_count
    if method == "majority":
        label = top if top_count * 2 > len(labels) else "tie"
    elif method == "max_vote":
        label = "tie" if tied else top
    else:
        raise ConfigurationError(f"aggregation {method!r} does not apply to {kind} judgments")
    if kind == "score":
        return (None if label == "tie" else float(label)), label
    return None, label


register_aggregation(
    "mean", _statistic(statistics.fmean, "mean"), monotone_score=True, doc="mean of the scores", open_scale_unbounded=True
)
register_aggregation("median", _statistic(statistics.median, "median"), monotone_score=True, doc="median of the scores")
register_aggregation("majority", lambda usable, kind: _vote(usable, kind, "majority"), doc="strict majority, else tie")
register_aggregation("max_vote", lambda usable, kind: _vote(usable, kind, "max_vote"), doc="plurality (PoLL's max voting)")
register_aggregation("cascade", _cascade, doc="the first juror, in order, with a usable verdict", sequential=True)
