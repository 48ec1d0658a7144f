"""Solvers drive one conversation through a model and return its turn records.

`ChatSolver` is the one used by every turn-based task: turns in order, history built
from the model's own replies, the gold replies, or (for single-turn conversations) not
at all. Tasks with a different shape (e.g. time-sliced duplex simulation) provide their
own solver; the runner, cache and results path stay the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, Sequence

from mteval.conversation import Conversation, Message
from mteval.errors import ModelError
from mteval.models.base import GenerationParams, RequestContext
from mteval.transcript import TurnRecord
from mteval.trusted import trusted

if TYPE_CHECKING:
    from mteval.client import Completion
    from mteval.task import Task

HistoryMode = Literal["own", "gold", "single"]


class ChatClient(Protocol):
    """What a solver calls on its client: one chat completion per request. The runner
    passes a `mteval.client.ModelClient` (cache, retries, rate limits); an importer passes
    one that returns published answers (`mteval.importers.common.RecordedClient`)."""

    async def generate(self, messages: Sequence[Message], params: GenerationParams, context: RequestContext) -> "Completion":
        """The reply to `messages`; raises `ModelError` when there is none."""
        ...


@dataclass(frozen=True)
class SolveContext:
    """Everything a solver gets for one conversation, in one object so that adding a
    field does not change every solver's signature."""

    task: "Task"
    conversation: Conversation
    history: HistoryMode
    client: ChatClient
    params: GenerationParams


class Solver(Protocol):
    """Drives one conversation; a task may provide its own as `Task.solver`."""

    async def solve(self, ctx: SolveContext) -> tuple[list[TurnRecord], str | None]:
        """Return the turn records and the error that stopped the conversation, if any."""
        ...


def request_record(
    index: int,
    turn_id: str,
    previous: list[Message],
    sent: list[Message],
    outcome: "Completion | ModelError",
    *,
    scored: bool,
    metadata: dict[str, Any] | None = None,
) -> TurnRecord:
    """The record of one model request: what was sent (delta-encoded against the
    previous exchange) and the reply, or the error that ended the attempts."""
    prefix = common_prefix(previous, sent)
    common: dict[str, Any] = dict(
        index=index, turn_id=turn_id, prompt_prefix=prefix, prompt_new=sent[prefix:], scored=scored, metadata=metadata or {}
    )
    if isinstance(outcome, ModelError):
        return TurnRecord(
            **common, reply=None, retries=max(0, outcome.attempts - 1), error=f"{type(outcome).__name__}: {outcome}"
        )
    if outcome.cached:  # read back from our own cache, with messages we built: nothing to validate
        return trusted(TurnRecord, _cached_record(common, outcome), _CACHED_FIELDS)
    return TurnRecord(
        **common,
        reply=outcome.text,
        usage=outcome.usage,
        latency_s=outcome.latency_s,
        finish_reason=outcome.finish_reason,
        retries=outcome.retries,
        cached=outcome.cached,
    )


def _cached_record(common: dict[str, Any], outcome: "Completion") -> dict[str, Any]:
    """A TurnRecord's fields in declaration order (the order its dumps write them)."""
    return {
        "index": common["index"], "turn_id": common["turn_id"], "prompt_prefix": common["prompt_prefix"],
        "prompt_new": common["prompt_new"], "reply": outcome.text, "generated": True, "scored": common["scored"],
        "usage": outcome.usage, "latency_s": outcome.latency_s, "finish_reason": outcome.finish_reason,
        "retries": outcome.retries, "cached": True, "error": None, "scores": {}, "metadata": common["metadata"],
    }


_CACHED_FIELDS = (
    "index", "turn_id", "prompt_prefix", "prompt_new", "scored", "metadata",
    "reply", "usage", "latency_s", "finish_reason", "retries", "cached",
)


def _message(role: str, content: str) -> Message:
    """A message from a string that is already validated (a Conversation's field, a reply)."""
    return trusted(Message, {"role": role, "content": content})


def common_prefix(previous: list[Message], current: list[Message]) -> int:
    n = 0
    for a, b in zip(previous, current):
        if a is not b and a != b:
            break
        n += 1
    return n


class ChatSolver:
    """`window`: send only the last N dialogue messages (the current user message
    included; the system prompt always), as some benchmarks do for long dialogues."""

    def __init__(self, window: int | None = None):
        self.window = window

    async def solve(self, ctx: SolveContext) -> tuple[list[TurnRecord], str | None]:
        task, conversation, history, client, params = ctx.task, ctx.conversation, ctx.history, ctx.client, ctx.params
        # messages built from validated strings (the conversation's, the client's reply text) skip validation
        system: list[Message] = [_message("system", conversation.system)] if conversation.system else []
        dialogue: list[Message] = []
        previous_exchange: list[Message] = []
        records: list[TurnRecord] = []
        for index, turn in enumerate(conversation.turns):
            user_message = _message("user", turn.user)
            if not turn.generate:
                records.append(
                    TurnRecord(index=index, turn_id=turn.id, reply=turn.gold, generated=False, scored=turn.scored)
                )
                dialogue.append(user_message)
                dialogue.append(_message("assistant", turn.gold or ""))
                continue
            rendered = task.render_user(conversation, index)
            prompt_message = user_message if rendered == turn.user else Message(role="user", content=rendered)
            shown = dialogue + [prompt_message]
            sent = system + (shown[-self.window:] if self.window else shown)
            context = RequestContext(
                task=task.name, conversation_id=conversation.id, turn_id=turn.id, turn_index=index, gold=turn.gold
            )
            metadata = {"window": self.window} if self.window else {}
            try:
                completion = await client.generate(sent, params, context)
            except ModelError as exc:
                records.append(request_record(index, turn.id, previous_exchange, sent, exc, scored=turn.scored, metadata=metadata))
                return records, f"turn {turn.id!r}: {type(exc).__name__}: {exc}"
            records.append(request_record(index, turn.id, previous_exchange, sent, completion, scored=turn.scored, metadata=metadata))
            reply_message = _message("assistant", completion.text)
            previous_exchange = sent + [reply_message]
            in_history = reply_message if history != "gold" else _message("assistant", turn.gold or "")
            dialogue.append(user_message)
            dialogue.append(in_history)
        return records, None


def missing_gold(conversations: list[Conversation]) -> list[str]:
    """Turns whose gold reply gold-history mode would need but the data lacks."""
    missing = []
    for conversation in conversations:
        for turn in conversation.turns[:-1]:
            if turn.gold is None or (turn.generate and turn.gold == ""):
                missing.append(f"{conversation.id}/{turn.id}")
    return missing
