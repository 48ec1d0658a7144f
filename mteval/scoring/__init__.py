"""Scoring: rule scorers here; judges and juries build on the same `Scorer` protocol."""

from mteval.scoring.base import ScoreContext, Scorer, TurnState, rule

__all__ = ["ScoreContext", "Scorer", "TurnState", "rule"]
