"""How MultiTurnInstruct's context options reach the model.

- `use_ground_truth_context`: upstream composes every earlier assistant turn from the
  dataset text, so own-history runs are switched to gold history (the unscored turns
  are already context-only turns; see `loader.build_conversation`).
- `turn_window=N`: upstream sends only the last N messages of the composed context
  (the current user message included, so the window may start with an assistant
  message): the engine's `ChatSolver(window=N)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mteval.conversation import Conversation
from mteval.models.base import GenerationParams
from mteval.solver import ChatSolver, HistoryMode
from mteval.transcript import TurnRecord

if TYPE_CHECKING:
    from mteval.client import ModelClient
    from mteval.task import Task


class ContextSolver:
    def __init__(self, *, ground_truth_context: bool = False, turn_window: int | None = None):
        self.ground_truth_context = ground_truth_context
        self.chat = ChatSolver(window=turn_window)

    async def solve(
        self,
        task: "Task",
        conversation: Conversation,
        history: HistoryMode,
        client: "ModelClient",
        params: GenerationParams,
    ) -> tuple[list[TurnRecord], str | None]:
        if self.ground_truth_context and history == "own":
            history = "gold"
        return await self.chat.solve(task, conversation, history, client, params)
