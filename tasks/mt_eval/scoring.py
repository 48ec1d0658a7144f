"""MT-Eval's rule scorers: the classification rule and the global-instruction check,
10 for a pass and 0 for a fail. (The judged scorer is `judging.MTEvalJudge`.)"""

from __future__ import annotations

import functools
import json
from typing import Any

from mteval.scoring.base import RuleScorer, TurnState

from .checkers import FAIL, PASS, Checker, build_checker, cls_match


def cls_scorer(mode: str = "substring") -> RuleScorer:
    """10 if the normalised gold label is in the normalised reply, else 0."""

    def score(state: TurnState) -> float:
        return PASS if cls_match(state.reply, state.turn.references["label"], mode) else FAIL

    return RuleScorer("cls_match", score)


@functools.lru_cache(maxsize=256)
def _cached_checker(name: str, args_json: str) -> Checker:
    return build_checker(name, json.loads(args_json))


def checker_for(metadata: dict[str, Any]) -> Checker:
    """The (cached) checker of a dialogue's `inst_name` / `inst_args`."""
    return _cached_checker(metadata["inst_name"], json.dumps(metadata.get("inst_args") or {}, sort_keys=True))


def instruction_scorer() -> RuleScorer:
    """10 if the reply follows the dialogue's global instruction, else 0."""

    def score(state: TurnState) -> float:
        return checker_for(state.conversation.metadata).score(state.reply)

    return RuleScorer("instruction", score)
