"""The scorer protocol: every scorer sees one scored turn in its conversation.

Rule scorers are plain functions wrapped with `rule`. Judge scorers call judge models
through `ScoreContext.judges`, which are `ModelClient`s: same cache, retries and
concurrency as the model under test, counted separately.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, Protocol, runtime_checkable

from mteval.conversation import Conversation, Turn
from mteval.transcript import Score, TurnRecord
from mteval.trusted import trusted

if TYPE_CHECKING:
    from mteval.scoring.jury import Jury


@dataclass(frozen=True)
class TurnState:
    """One scored turn with everything a scorer may look at."""

    task: str
    conversation: Conversation
    records: list[TurnRecord]
    index: int

    @property
    def turn(self) -> Turn:
        return self.conversation.turns[self.index]

    @property
    def record(self) -> TurnRecord:
        return self.records[self.index]

    @property
    def reply(self) -> str:
        return self.record.reply or ""


@dataclass
class ScoreContext:
    """What a scorer may use besides the turn: the run's jury (judge models) and options."""

    jury: "Jury | None" = None
    options: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Scorer(Protocol):
    """Scores one turn. Subclass it (or declare both attributes) to get the defaults:
    `needs_judge` makes the runner refuse to start without a judge model."""

    name: str
    needs_judge: bool = False

    async def score(self, state: TurnState, context: ScoreContext) -> Score: ...


class RuleScorer(Scorer):
    """A deterministic scorer from a function `(reply, turn) -> float | Score`."""

    def __init__(self, name: str, fn: Callable[..., Any]):
        self.name = name
        self.fn = fn
        self._wants_state = "state" in inspect.signature(fn).parameters

    async def score(self, state: TurnState, context: ScoreContext) -> Score:
        result = self.fn(state=state) if self._wants_state else self.fn(state.reply, state.turn)
        if isinstance(result, Score):
            return result
        if not isinstance(result, (float, int)) and inspect.isawaitable(result):  # a number is the common answer
            result = await result
            if isinstance(result, Score):
                return result
        # what Score(value=...) builds, without validating a float we just made (once per scored turn)
        value = None if result is None else float(result)
        return trusted(Score, {"value": value, "status": "ok", "explanation": None, "raw": None, "details": {}}, _VALUE_ONLY)


_VALUE_ONLY = ("value",)


def rule(name: str) -> Callable[[Callable[..., Any]], RuleScorer]:
    """Decorator: `@rule("accuracy") def check(reply, turn): ...`."""

    def wrap(fn: Callable[..., float | Score | Awaitable[float | Score]]) -> RuleScorer:
        return RuleScorer(name, fn)

    return wrap
