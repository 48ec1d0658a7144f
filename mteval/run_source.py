"""Where a run's conversations, their solver and their scorers come from.

A normal run takes all three from its tasks (`RunSource()`: `load`, the task's own solver
or the chat solver, `scorers()`). Re-judging a finished run replays its stored transcripts
instead: `RunSource.from_transcripts(samples, scorers)` supplies the stored conversations
(as they are: no --ids, --limit or --history single applies, and no data check is
repeated), a solver that returns the stored turn records, and optionally other scorers.
The run plan carries the source, so the runner has no re-judging-specific arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

from mteval.conversation import Conversation
from mteval.solver import SolveContext, Solver
from mteval.transcript import Sample, TurnRecord

if TYPE_CHECKING:
    from mteval.scoring.base import Scorer
    from mteval.task import Task


class TranscriptSolver:
    """Returns the stored turn records of each conversation (scores cleared)."""

    def __init__(self, samples: Sequence[Sample]):
        self.samples = {(s.task, s.conversation.id): s for s in samples}

    async def solve(self, ctx: SolveContext) -> tuple[list[TurnRecord], str | None]:
        sample = self.samples[(ctx.task.name, ctx.conversation.id)]
        records = [record.model_copy(update={"scores": {}}) for record in sample.turns]
        return records, sample.error


@dataclass(frozen=True)
class RunSource:
    """What replaces the tasks' own conversations (by task name), solver and scorers; None
    keeps the task's."""

    conversations: Mapping[str, Sequence[Conversation]] | None = None
    solver: Solver | None = None
    scorers: Sequence["Scorer"] | None = None

    @classmethod
    def from_transcripts(cls, samples: Sequence[Sample], scorers: Sequence["Scorer"] | None = None) -> "RunSource":
        """Replay these finished samples: their conversations, their stored replies, and
        `scorers` (None: each task's own)."""
        conversations: dict[str, list[Conversation]] = {}
        for sample in samples:
            conversations.setdefault(sample.task, []).append(sample.conversation)
        return cls(conversations=conversations, solver=TranscriptSolver(samples), scorers=scorers)

    @property
    def replays(self) -> bool:
        """The conversations are given as they are (no selection, no data checks)."""
        return self.conversations is not None

    def conversations_of(self, task: "Task") -> Sequence[Conversation]:
        return (self.conversations or {}).get(task.name, [])

    def solver_for(self, task: "Task", default: Solver) -> Solver:
        """This source's solver, else the task's own, else `default` (the chat solver)."""
        return self.solver or task.solver or default

    def scorers_for(self, task: "Task") -> list["Scorer"]:
        return list(self.scorers) if self.scorers is not None else task.scorers()
