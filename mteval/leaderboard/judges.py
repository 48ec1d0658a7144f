"""Per-judge scores and jury agreement, from the verdicts kept on every judged turn."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from mteval.leaderboard.util import is_number


@dataclass
class JudgeStats:
    judge: str
    verdicts: int = 0
    ok: int = 0
    unparsed: int = 0
    errors: int = 0
    reasked: int = 0
    mean: float | None = None


@dataclass
class PairAgreement:
    first: str
    second: str
    items: int
    exact: float | None
    """Share of items both judged where they gave the same score or label."""
    mean_abs_diff: float | None


@dataclass
class JuryReport:
    """One metric of one task in one run."""

    task: str
    metric: str
    items: int
    judges: list[JudgeStats]
    pairs: list[PairAgreement] = field(default_factory=list)
    alpha: float | None = None
    alpha_level: str = ""


def _answer(verdict: dict[str, Any]) -> Any:
    """What a usable verdict says: its score, else its label (None if unusable)."""
    if verdict.get("status", "ok") != "ok":
        return None
    value = verdict.get("value")
    if is_number(value):
        return float(value)
    return verdict.get("label")


def jury_report(task: str, metric: str, items: list[dict[str, dict[str, Any]]]) -> JuryReport:
    """Summarise the verdicts of one metric: each judge's counts and mean, pairwise
    agreement, and Krippendorff's alpha (interval for scores, nominal for labels)."""
    judges = sorted({j for item in items for j in item})
    report = JuryReport(task=task, metric=metric, items=len(items), judges=_judge_stats(judges, items))
    if len(judges) < 2:
        return report
    report.pairs = [_pair_agreement(first, second, items) for first, second in itertools.combinations(judges, 2)]
    report.alpha, report.alpha_level = _alpha(judges, items)
    return report


def _judge_stats(judges: list[str], items: list[dict[str, dict[str, Any]]]) -> list[JudgeStats]:
    """Each judge's verdict counts by status, re-asks and mean numeric answer."""
    stats = {j: JudgeStats(judge=j) for j in judges}
    values: dict[str, list[float]] = {j: [] for j in judges}
    for item in items:
        for judge, verdict in item.items():
            s = stats[judge]
            s.verdicts += 1
            status = verdict.get("status", "ok")
            s.ok += status == "ok"
            s.unparsed += status == "unparsed"
            s.errors += status == "error"
            s.reasked += bool(verdict.get("reasked"))
            answer = _answer(verdict)
            if isinstance(answer, float):
                values[judge].append(answer)
    for judge in judges:
        if values[judge]:
            stats[judge].mean = sum(values[judge]) / len(values[judge])
    return [stats[j] for j in judges]


def _pair_agreement(first: str, second: str, items: list[dict[str, dict[str, Any]]]) -> PairAgreement:
    """Exact agreement and mean absolute difference of two judges on the items both answered."""
    both = [(_answer(i[first]), _answer(i[second])) for i in items if first in i and second in i]
    both = [(a, b) for a, b in both if a is not None and b is not None]
    numeric = [(a, b) for a, b in both if isinstance(a, float) and isinstance(b, float)]
    return PairAgreement(
        first=first, second=second, items=len(both),
        exact=(sum(a == b for a, b in both) / len(both)) if both else None,
        mean_abs_diff=(sum(abs(a - b) for a, b in numeric) / len(numeric)) if numeric else None,
    )


def _alpha(judges: list[str], items: list[dict[str, dict[str, Any]]]) -> tuple[float | None, str]:
    answers = [[_answer(item[j]) if j in item else None for item in items] for j in judges]
    flat = [a for row in answers for a in row if a is not None]
    if not flat:
        return None, ""
    matrix, level = _reliability_matrix(answers, flat)
    try:
        import krippendorff
        import numpy as np

        value = float(krippendorff.alpha(reliability_data=np.asarray(matrix, dtype=float), level_of_measurement=level))
    except Exception:  # too few paired values, or no variation at all
        return None, level
    return (value if math.isfinite(value) else None), level


def _reliability_matrix(answers: list[list[Any]], flat: list[Any]) -> tuple[list[list[float]], Literal["interval", "nominal"]]:
    """Judges x items as floats (NaN for missing): scores as they are ("interval"), labels coded ("nominal")."""
    if all(isinstance(a, float) for a in flat):
        return [[math.nan if a is None else a for a in row] for row in answers], "interval"
    codes = {label: i for i, label in enumerate(sorted({str(a) for a in flat}))}
    return [[math.nan if a is None else float(codes[str(a)]) for a in row] for row in answers], "nominal"
