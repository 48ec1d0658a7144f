"""What a run records: per-turn transcripts, scores and the per-conversation sample line.

Messages sent at turn *i* are stored as a delta against turn *i-1* (how many leading
messages were reused, plus the new ones), so a 30-turn conversation costs O(n) bytes on
disk instead of O(n^2), while `Transcript.messages_sent(i)` still gives the exact list.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from mteval.conversation import Conversation, Message

SAMPLE_SCHEMA = "mteval.sample/1"

ScoreStatus = Literal["ok", "unparsed", "error"]


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        # sums of two validated Usages are ints: no validation (this runs once per call)
        return Usage.model_construct(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )


class Score(BaseModel):
    """One scorer's verdict on one turn. `value` is None unless status is "ok"."""

    value: float | None
    status: ScoreStatus = "ok"
    explanation: str | None = None
    raw: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def unparsed(cls, raw: str, explanation: str = "judge output could not be parsed") -> "Score":
        return cls(value=None, status="unparsed", raw=raw, explanation=explanation)

    @classmethod
    def failed(cls, error: str) -> "Score":
        return cls(value=None, status="error", explanation=error)


class TurnRecord(BaseModel):
    index: int
    turn_id: str
    prompt_prefix: int = 0
    """Leading messages reused from the previous turn's (messages sent + reply)."""
    prompt_new: list[Message] = Field(default_factory=list)
    reply: str | None = None
    generated: bool = True
    """False when the turn was filled from the data (context-only turn) instead of asked."""
    scored: bool = True
    usage: Usage = Field(default_factory=Usage)
    latency_s: float = 0.0
    finish_reason: str | None = None
    retries: int = 0
    cached: bool = False
    error: str | None = None
    scores: dict[str, Score] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Solver-specific facts about the turn (e.g. the simulated time of a duplex slice)."""


class Sample(BaseModel):
    """One finished conversation: the line appended to samples.jsonl."""

    schema_: str = Field(default=SAMPLE_SCHEMA, alias="schema")
    task: str
    conversation: Conversation
    history: Literal["own", "gold", "single"]
    generation: dict[str, Any] = Field(default_factory=dict)
    turns: list[TurnRecord]
    status: Literal["ok", "error"] = "ok"
    error: str | None = None
    started_at: float = 0.0
    finished_at: float = 0.0

    model_config = {"populate_by_name": True}

    @property
    def id(self) -> str:
        return self.conversation.id

    def messages_sent(self, index: int) -> list[Message]:
        """The exact message list sent to the model at turn `index`."""
        return messages_sent(self.turns, index)


def messages_sent(turns: list[TurnRecord], index: int) -> list[Message]:
    """Rebuild the messages of turn `index` from the delta-encoded records."""
    chain: list[TurnRecord] = []
    i = index
    while i >= 0:
        record = turns[i]
        if record.generated:
            chain.append(record)
            if record.prompt_prefix == 0:
                break
        i -= 1
    messages: list[Message] = []
    previous_reply: str | None = None
    for record in reversed(chain):
        if previous_reply is not None:
            messages.append(Message(role="assistant", content=previous_reply))
        messages = messages[: record.prompt_prefix] + list(record.prompt_new)
        previous_reply = record.reply or ""
    return messages
