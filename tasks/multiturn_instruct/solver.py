"""How MultiTurnInstruct's context options reach the model.

- `use_ground_truth_context`: upstream composes every earlier assistant turn from the
  dataset text, so own-history runs are switched to gold history (the unscored turns
  are already context-only turns; see `loader.build_conversation`).
- `turn_window=N`: upstream sends only the last N messages of the composed context
  (the current user message included, so the window may start with an assistant
  message): the engine's `ChatSolver(window=N)`.
"""

from __future__ import annotations

from dataclasses import replace

from mteval.solver import ChatSolver, SolveContext
from mteval.transcript import TurnRecord


class ContextSolver:
    def __init__(self, *, ground_truth_context: bool = False, turn_window: int | None = None):
        self.ground_truth_context = ground_truth_context
        self.chat = ChatSolver(window=turn_window)

    async def solve(self, ctx: SolveContext) -> tuple[list[TurnRecord], str | None]:
        if self.ground_truth_context and ctx.history == "own":
            ctx = replace(ctx, history="gold")
        return await self.chat.solve(ctx)
