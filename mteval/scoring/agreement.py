"""How far judges can be trusted: inter-judge agreement, position consistency, and
agreement with human labels, computed per scorer over a whole run.

Krippendorff's alpha (the `krippendorff` package; interval level for scores, nominal
for labels) tolerates missing verdicts; Fleiss' kappa (statsmodels) is computed over
items every juror labelled. Both need at least two jurors.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

import numpy as np

#: the measurement levels the `krippendorff` package knows
Level = Literal["nominal", "ordinal", "interval", "ratio"]


def krippendorff_alpha(ratings: Sequence[Sequence[float | str | None]], level: Level = "interval") -> float | None:
    """Alpha over an items x raters table (None = missing)."""
    import krippendorff

    if not ratings or len(ratings[0]) < 2:
        return None
    matrix = _reliability_matrix(ratings, level)
    pairable = np.sum(~np.isnan(matrix), axis=0) >= 2
    if pairable.sum() < 1 or len(np.unique(matrix[~np.isnan(matrix)])) < 2:
        return None  # alpha is undefined without variation
    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level))


def _reliability_matrix(ratings: Sequence[Sequence[float | str | None]], level: Level) -> np.ndarray:
    """Raters x items as floats, NaN for missing; nominal labels coded by their sorted order."""
    if level == "nominal":
        values = sorted({v for row in ratings for v in row if v is not None}, key=str)
        index = {v: float(i) for i, v in enumerate(values)}
        return np.array([[np.nan if v is None else index[v] for v in row] for row in ratings], dtype=float).T
    return np.array([[np.nan if v is None else float(v) for v in row] for row in ratings], dtype=float).T


def fleiss_kappa(labels: Sequence[Sequence[str | None]]) -> float | None:
    """Fleiss' kappa over items x raters labels (complete rows only: a None drops its row)."""
    from statsmodels.stats.inter_rater import aggregate_raters
    from statsmodels.stats.inter_rater import fleiss_kappa as _fleiss

    rows = [[str(v) for v in row] for row in labels if row and all(v is not None for v in row)]
    if not rows or len(rows[0]) < 2:
        return None
    categories = sorted({v for row in rows for v in row})
    if len(categories) < 2:
        return None
    coded = np.array([[categories.index(v) for v in row] for row in rows])
    table, _ = aggregate_raters(coded, n_cat=len(categories))
    value = float(_fleiss(table, method="fleiss"))
    return None if np.isnan(value) else value


@dataclass
class _ScorerTally:
    jurors: list[str] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)  # juror -> value/label
    statuses: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    reasked: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    consistency: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    human: list[tuple[Any, Any]] = field(default_factory=list)
    labels: bool = False


def is_juried(score: dict[str, Any]) -> bool:
    """A score whose details hold juror verdicts or a pairwise game (what `JudgingTally` counts)."""
    details = score.get("details") or {}
    return "verdicts" in details or details.get("kind") == "pairwise"


class JudgingTally:
    """Collects every juror verdict of a run, sample by sample, and summarises them."""

    def __init__(self) -> None:
        self._scorers: dict[str, _ScorerTally] = {}

    def add_sample(self, sample: dict[str, Any]) -> None:
        turns = sample.get("conversation", {}).get("turns", [])
        for record in sample.get("turns", []):
            for name, score in (record.get("scores") or {}).items():
                if is_juried(score):
                    self.add_score(name, score, record, turns)

    def add_score(self, name: str, score: dict[str, Any], record: dict[str, Any], turns: Sequence[dict[str, Any]]) -> None:
        """One juried score (its details hold juror verdicts or a pairwise game) of the turn
        `record`; `turns`: the conversation's turns (their references hold human labels)."""
        details = score["details"]
        tally = self._scorers.setdefault(name, _ScorerTally())
        item = self._item(tally, details)
        tally.items.append(item)
        references = turns[record["index"]].get("references", {}) if record["index"] < len(turns) else {}
        human = references.get("human_label", references.get("human_score"))
        if human is not None:
            tally.human.append((human, details.get("winner") if details.get("kind") == "pairwise" else score.get("value")))

    @staticmethod
    def _item(tally: _ScorerTally, details: dict[str, Any]) -> dict[str, Any]:
        item: dict[str, Any] = {}
        if details.get("kind") == "pairwise":
            return _pairwise_item(tally, details)
        audit = (details.get("adaptive") or {}).get("audit_verdicts", [])  # the audit asked them too: their verdicts count
        for i, verdict in enumerate(list(details.get("verdicts", [])) + list(audit)):
            juror = verdict["judge"] if verdict["judge"] not in item else f"{verdict['judge']}#{i}"
            _remember(tally, juror)
            tally.statuses[juror][verdict.get("status", "ok")] += 1
            tally.reasked[juror] += int(bool(verdict.get("reasked")))
            if verdict.get("status") == "ok":
                if verdict.get("value") is None:
                    tally.labels = True
                    item[juror] = verdict.get("label")
                else:
                    item[juror] = verdict.get("value")
            else:
                item[juror] = None
        return item

    def summary(self) -> dict[str, Any]:
        return {name: _summarise(tally) for name, tally in sorted(self._scorers.items())}


def _pairwise_item(tally: _ScorerTally, details: dict[str, Any]) -> dict[str, Any]:
    """Each juror's winner; position consistency and game statuses counted per juror. An
    adaptive jury's audited jurors count too (as audit verdicts do for scores)."""
    tally.labels = True
    item: dict[str, Any] = {}
    audited = (details.get("adaptive") or {}).get("audit_jurors", {})
    for juror, outcome in {**details.get("jurors", {}), **audited}.items():
        _remember(tally, juror)
        item[juror] = outcome.get("winner")
        counts = tally.consistency[juror]
        if outcome.get("consistent") is not None:
            counts[0] += int(bool(outcome["consistent"]))
            counts[1] += 1
        for game in outcome.get("games", []):
            tally.statuses[juror][game.get("status", "ok")] += 1
            tally.reasked[juror] += int(bool(game.get("reasked")))
    return item


def _remember(tally: _ScorerTally, juror: str) -> None:
    if juror not in tally.jurors:
        tally.jurors.append(juror)


def _summarise(tally: _ScorerTally) -> dict[str, Any]:
    table = [[item.get(j) for j in tally.jurors] for item in tally.items]
    per_juror = {juror: _juror_entry(tally, juror, [row[k] for row in table]) for k, juror in enumerate(tally.jurors)}
    summary: dict[str, Any] = {"items": len(table), "jurors": per_juror}
    if len(tally.jurors) >= 2:
        summary.update(_inter_judge(table, tally.labels))
    if tally.human:
        summary["human_agreement"] = human_agreement(tally.human, tally.labels)
    return summary


def _juror_entry(tally: _ScorerTally, juror: str, answers: Sequence[Any]) -> dict[str, Any]:
    """One juror's verdict counts, re-asks, mean score or label counts, position consistency."""
    column = [v for v in answers if v is not None]
    entry: dict[str, Any] = {
        "verdicts": dict(tally.statuses[juror]),
        "reasked": tally.reasked[juror],
    }
    if column and not tally.labels:
        entry["mean"] = float(np.mean(column))
    if tally.labels and column:
        entry["labels"] = {str(k): int(v) for k, v in sorted(_counts(column).items())}
    consistent, decided = tally.consistency.get(juror, [0, 0])
    if decided:
        entry["position_consistency"] = consistent / decided
    return entry


def _inter_judge(table: list[list[Any]], labels: bool) -> dict[str, Any]:
    """Krippendorff's alpha (nominal for labels, interval for scores) and, for labels, Fleiss' kappa."""
    level: Level = "nominal" if labels else "interval"
    out: dict[str, Any] = {"krippendorff_alpha": krippendorff_alpha(table, level), "krippendorff_level": level}
    if labels:
        out["fleiss_kappa"] = fleiss_kappa([[str(v) if v is not None else None for v in row] for row in table])
    return out


def _counts(values: Sequence[Any]) -> dict[Any, int]:
    out: dict[Any, int] = defaultdict(int)
    for v in values:
        out[v] += 1
    return out


def human_agreement(pairs: Sequence[tuple[Any, Any]], labels: bool) -> dict[str, Any]:
    """Accuracy for labels; Pearson and Spearman correlation for scores."""
    usable = [(h, j) for h, j in pairs if j is not None]
    result: dict[str, Any] = {"n": len(usable), "missing_verdicts": len(pairs) - len(usable)}
    if not usable:
        return result
    if labels:
        result["accuracy"] = sum(str(h) == str(j) for h, j in usable) / len(usable)
        return result
    from scipy.stats import pearsonr, spearmanr

    human = np.array([float(h) for h, _ in usable])
    judge = np.array([float(j) for _, j in usable])
    result["mean_abs_diff"] = float(np.mean(np.abs(human - judge)))
    if len(usable) >= 3 and human.std() > 0 and judge.std() > 0:
        result["pearson"] = float(pearsonr(human, judge)[0])
        result["spearman"] = float(spearmanr(human, judge)[0])
    return result
