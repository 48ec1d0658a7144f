"""How MultiTurnInstruct's context options reach the model.

- `use_ground_truth_context`: upstream composes every earlier assistant turn from the
  dataset text, so own-history runs are switched to gold history (the unscored turns
  are already context-only turns; see `loader.build_conversation`).
- `turn_window=N`: upstream sends only the last N messages of the composed context
  (the current user message included, so the window may start with an assistant
  message). mteval's `ChatSolver` has no window, so this solver repeats its loop with
  one change: the messages are cut before they are sent and recorded.

Without either option the task uses the engine's `ChatSolver` unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mteval.conversation import Conversation, Message
from mteval.models.base import GenerationParams, RequestContext
from mteval.models.errors import ModelError
from mteval.solver import ChatSolver, HistoryMode, common_prefix
from mteval.transcript import TurnRecord

if TYPE_CHECKING:
    from mteval.client import ModelClient
    from mteval.task import Task


class ContextSolver:
    def __init__(self, *, ground_truth_context: bool = False, turn_window: int | None = None):
        self.ground_truth_context = ground_truth_context
        self.turn_window = turn_window

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
        if self.turn_window is None:
            return await ChatSolver().solve(task, conversation, history, client, params)
        return await self._windowed(task, conversation, history, client, params, self.turn_window)

    async def _windowed(
        self,
        task: "Task",
        conversation: Conversation,
        history: HistoryMode,
        client: "ModelClient",
        params: GenerationParams,
        window: int,
    ) -> tuple[list[TurnRecord], str | None]:
        system = [Message(role="system", content=conversation.system)] if conversation.system else []
        dialogue: list[Message] = []
        previous_exchange: list[Message] = []
        records: list[TurnRecord] = []
        for index, turn in enumerate(conversation.turns):
            user_message = Message(role="user", content=turn.user)
            if not turn.generate:
                records.append(TurnRecord(index=index, turn_id=turn.id, reply=turn.gold, generated=False, scored=turn.scored))
                dialogue += [user_message, Message(role="assistant", content=turn.gold or "")]
                continue
            rendered = task.render_user(conversation, index)
            prompt_message = user_message if rendered == turn.user else Message(role="user", content=rendered)
            sent = system + (dialogue + [prompt_message])[-window:]
            prefix = common_prefix(previous_exchange, sent)
            context = RequestContext(task=task.name, conversation_id=conversation.id, turn_id=turn.id, turn_index=index, gold=turn.gold)
            try:
                completion = await client.generate(sent, params, context)
            except ModelError as exc:
                records.append(
                    TurnRecord(
                        index=index,
                        turn_id=turn.id,
                        prompt_prefix=prefix,
                        prompt_new=sent[prefix:],
                        reply=None,
                        scored=turn.scored,
                        retries=max(0, getattr(exc, "attempts", 1) - 1),
                        error=f"{type(exc).__name__}: {exc}",
                    )
                )
                return records, f"turn {turn.id!r}: {type(exc).__name__}: {exc}"
            records.append(
                TurnRecord(
                    index=index,
                    turn_id=turn.id,
                    prompt_prefix=prefix,
                    prompt_new=sent[prefix:],
                    reply=completion.text,
                    scored=turn.scored,
                    usage=completion.usage,
                    latency_s=completion.latency_s,
                    finish_reason=completion.finish_reason,
                    retries=completion.retries,
                    cached=completion.cached,
                    metadata={"turn_window": window},
                )
            )
            reply_message = Message(role="assistant", content=completion.text)
            previous_exchange = sent + [reply_message]
            in_history = reply_message if history != "gold" else Message(role="assistant", content=turn.gold or "")
            dialogue += [user_message, in_history]
        return records, None
