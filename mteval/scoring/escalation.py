"""When may an adaptive jury stop asking? One rule for every aggregation.

The jury has heard some jurors; the others have not spoken. The rule looks at every
verdict the silent jurors could still give and asks how far the full jury's verdict
could then be from the verdict of those already heard:

- labels (`majority`, `max_vote`, and those two on scores): each silent juror may give
  any label already heard, a label nobody gave yet, or no usable verdict. The verdict
  is settled only if every such completion gives the same verdict, so a tie, or a lead
  the silent jurors could overturn, always escalates. Bound 0 or unbounded.
- scores (`mean`, `median`, any aggregation registered with `monotone_score=True`):
  all are monotone in every juror's score, so the extreme
  completions (each silent juror at the bottom or top of its scale, or unusable) give
  the exact range of the full jury's verdict; the bound is the largest distance from
  the verdict heard so far. A scale the judge may leave (`out_of_range: keep`) is
  unbounded.

`possible_difference` returns that bound: 0 means the full jury cannot decide otherwise.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable, Literal, Sequence

from mteval.scoring.aggregations import AGGREGATIONS
from mteval.scoring.judge_spec import Verdict

Result = tuple[float | None, str | None]
Aggregator = Callable[[Sequence[Verdict], str, str], Result]

MAX_COMPLETIONS = 50_000
"""Past this many completions to check the jury does not try: it escalates."""


def possible_difference(
    heard: Sequence[Verdict],
    silent_scales: Sequence[tuple[float, float] | None],
    method: str,
    kind: str,
    aggregate: Aggregator,
) -> float:
    """Largest difference between the verdict of `heard` and of the full jury (0: settled;
    `math.inf`: the label or the presence of a verdict could still change)."""
    if not silent_scales:
        return 0.0
    now = aggregate(heard, method, kind)
    if kind == "score" and AGGREGATIONS.get_entry(method).monotone_score:
        return _score_bound(heard, silent_scales, method, kind, aggregate, now[0])
    return 0.0 if all(r == now for r in _label_outcomes(heard, len(silent_scales), method, kind, aggregate)) else math.inf


def _score_bound(heard, silent_scales, method, kind, aggregate, now: float | None) -> float:
    if AGGREGATIONS.get_entry(method).open_scale_unbounded and any(s is None for s in silent_scales):
        return math.inf
    choices = [(None, s[0], s[1]) if s is not None else (None, -math.inf, math.inf) for s in silent_scales]
    if math.prod(len(c) for c in choices) > MAX_COMPLETIONS:
        return math.inf
    worst = 0.0
    for completion in itertools.product(*choices):
        extra = [_verdict(value=v) if v is not None else _verdict(status="unparsed") for v in completion]
        value = aggregate(list(heard) + extra, method, kind)[0]
        if (value is None) != (now is None):
            return math.inf
        if value is not None and now is not None:
            gap = abs(value - now)
            if math.isnan(gap):
                return math.inf
            worst = max(worst, gap)
    return worst


def _label_outcomes(heard, silent: int, method, kind, aggregate):
    labels = sorted({_label(v) for v in heard if v.ok})
    options: list[str | None] = [None, *labels, *(f"-{i + 1}e+99" for i in range(silent))]  # + labels nobody gave, all different
    if math.comb(len(options) + silent - 1, silent) > MAX_COMPLETIONS:
        yield (math.nan, "unknown")
        return
    for completion in itertools.combinations_with_replacement(options, silent):  # order does not matter to a vote
        extra = [
            _verdict(status="unparsed") if label is None else _verdict(value=float(label)) if kind == "score" else _verdict(label=label)
            for label in completion
        ]
        yield aggregate(list(heard) + extra, method, kind)


def _label(v: Verdict) -> str:
    return v.label if v.label is not None else ("" if v.value is None else f"{v.value:g}")


VerdictStatus = Literal["ok", "unparsed", "error"]


def _verdict(*, value: float | None = None, label: str | None = None, status: VerdictStatus = "ok") -> Verdict:
    return Verdict(judge="?", spec="?", status=status, value=value, label=label)
