"""The rule scorer: each scored turn is scored with the metric its data names."""

from __future__ import annotations

from mteval.scoring.base import RuleScorer, TurnState
from mteval.transcript import Score

from .metrics import metric_function

SCORE = "score"


def make_scorer(answer_match: str = "first") -> RuleScorer:
    """A scorer named `score` that applies the turn's `evaluation_metric` to the reply."""

    def score(state: TurnState) -> Score:
        references = state.turn.references
        metric = references.get("metric")
        value = metric_function(metric, answer_match)(state.reply, references.get("references"))
        return Score(value=value, details={"metric": metric})

    return RuleScorer(SCORE, score)
