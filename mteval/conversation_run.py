"""Running one conversation: solve it, score each scored turn, and return its `Sample`.

The runner calls this for every conversation it schedules; anything else that needs a
sample exactly as a run would write it (an importer, a test) can call it too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Sequence

from mteval.conversation import Conversation
from mteval.models.base import GenerationParams
from mteval.redact import Redactor
from mteval.scoring.base import ScoreContext, Scorer, TurnState
from mteval.solver import HistoryMode, SolveContext, Solver
from mteval.transcript import Sample, Score, TurnRecord

if TYPE_CHECKING:
    from mteval.client import ModelClient
    from mteval.task import Task


@dataclass
class ConversationRun:
    """How every conversation of a run is run: history mode, scorers' context, redaction."""

    history: HistoryMode
    score_context: ScoreContext
    redactor: Redactor
    _generation: tuple[GenerationParams | None, dict[str, Any]] = field(default=(None, {}), init=False, repr=False)

    async def run(
        self,
        task: "Task",
        conversation: Conversation,
        *,
        solver: Solver,
        client: "ModelClient",
        params: GenerationParams,
        scorers: Sequence[Scorer],
    ) -> Sample:
        """Solve and score one conversation. A scorer that raises is recorded as a failed
        score (and the sample as errored); the run goes on."""
        started = time.time()
        records, error = await solver.solve(SolveContext(task, conversation, self.history, client, params))
        scored_ok = await self.score(task.name, conversation, records, scorers)
        status: Literal["ok", "error"] = "error" if error or not scored_ok else "ok"
        return Sample(
            task=task.name,
            conversation=conversation,
            history=self.history,
            generation=self._generation_of(params),
            turns=records,
            status=status,
            error=error,
            started_at=started,
            finished_at=time.time(),
        )

    def _generation_of(self, params: GenerationParams) -> dict[str, Any]:
        """`params` as the sample records them; a task's conversations share one params
        object, so it is dumped once, not once per conversation (Sample copies the dict)."""
        last, dumped = self._generation
        if params is not last:
            dumped = params.model_dump(mode="json")
            self._generation = (params, dumped)
        return dumped

    async def score(self, task: str, conversation: Conversation, records: list[TurnRecord], scorers: Sequence[Scorer]) -> bool:
        """Score every scored turn with a reply, in place; False if any score errored."""
        ok = True
        for record in records:
            if not record.scored or record.reply is None:
                continue
            state = TurnState(task=task, conversation=conversation, records=records, index=record.index)
            for scorer in scorers:
                try:
                    score = await scorer.score(state, self.score_context)
                except Exception as exc:  # recorded and counted; the run goes on
                    score = Score.failed(self.redactor(f"{type(exc).__name__}: {exc}"))
                record.scores[scorer.name] = score
                if score.status == "error":
                    ok = False
        return ok
