"""The data every task produces: conversations made of ordered turns.

A task never talks to a model. It yields `Conversation`s; the runner decides what is
sent (own / gold / single-turn history) and records what came back in a `Transcript`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    """One chat message, in the role/content shape every provider understands."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str


class ContextDocument(BaseModel):
    """A retrieved or attached document that belongs to one turn only."""

    model_config = ConfigDict(frozen=True)

    text: str
    title: str | None = None


class Turn(BaseModel):
    """One user turn and what the benchmark knows about the reply to it. Unknown fields
    are rejected, so a typo in a data file ("gol") is an error, not a missing gold.

    `user` is the message as it enters the history. The prompt for the *current* turn
    may differ (a task can inject per-turn context or instructions through
    `Task.render_user`), which is how RAD-Bench-style retrieval works.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    user: str
    gold: str | None = None
    context: tuple[ContextDocument, ...] = ()
    scored: bool = True
    generate: bool = True
    """False for context-only turns: never sent for a reply, always filled with `gold`."""
    references: dict[str, Any] = Field(default_factory=dict)

    @field_validator("user")
    @classmethod
    def _user_not_empty(cls, value: str) -> str:
        if not isinstance(value, str) or value == "":
            raise ValueError("a turn needs a non-empty user message")
        return value

    @model_validator(mode="after")
    def _context_only_needs_gold(self) -> "Turn":
        if not self.generate and self.gold is None:
            raise ValueError("a context-only turn (generate=false) needs its gold reply")
        return self


class Conversation(BaseModel):
    """A dialogue to drive a model through: optional system prompt, ordered turns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    turns: tuple[Turn, ...]
    system: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    generation: dict[str, Any] = Field(default_factory=dict)
    """Per-conversation generation defaults from the benchmark (e.g. MT-Bench temperatures).
    Explicit command-line values win over these."""

    @field_validator("turns")
    @classmethod
    def _has_turns(cls, value: tuple[Turn, ...]) -> tuple[Turn, ...]:
        if not value:
            raise ValueError("a conversation needs at least one turn")
        return value

    @property
    def scored_turns(self) -> list[int]:
        return [i for i, turn in enumerate(self.turns) if turn.scored]
