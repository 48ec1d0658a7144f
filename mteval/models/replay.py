"""`replay/<file>`: play back recorded replies keyed by (task, conversation, turn).

The file is either a JSONL of `{"conversation_id", "turn_id", "reply"[, "task"]}` records,
or an earlier mteval run (its directory or its samples.jsonl). `replay/gold` plays the
task's own gold replies. A missing entry is an error, never an empty reply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from mteval.conversation import Message
from mteval.errors import ConfigurationError, ReplayMissing
from mteval.models.base import GenerationParams, ModelAdapter, ModelOutput, RequestContext


class ReplayModel(ModelAdapter):
    provider = "replay"
    cacheable = False

    def __init__(self, model: str, args: Mapping[str, Any]):
        super().__init__(model, args)
        self._replies: dict[tuple[str, str, str], str] | None = None

    @property
    def is_gold(self) -> bool:
        return self.model == "gold"

    def validate(self) -> None:
        if not self.is_gold:
            self._load()

    def _load(self) -> dict[tuple[str, str, str], str]:
        if self._replies is not None:
            return self._replies
        path = Path(self.model)
        if path.is_dir():
            path = path / "samples.jsonl"
        if not path.is_file():
            raise ConfigurationError(f"replay: no such file: {path}")
        replies: dict[tuple[str, str, str], str] = {}
        from mteval.data import DataError, iter_jsonl

        try:
            for line_no, record in iter_jsonl(path):  # bad bytes, JSON or a non-object: file:line
                # A record that names its task answers that task only; one that names
                # none (key task "") answers any task without a record of its own.
                for task, conv, turn, reply in _records(record, path, line_no):
                    replies[(task, conv, turn)] = reply
        except DataError as exc:
            raise ConfigurationError(f"replay: {exc}") from None
        self._replies = replies
        return replies

    async def generate(self, messages: Sequence[Message], params: GenerationParams, context: RequestContext) -> ModelOutput:
        if self.is_gold:
            if context.gold is None:
                raise ReplayMissing(
                    f"replay/gold: task {context.task!r} has no gold reply for conversation "
                    f"{context.conversation_id!r} turn {context.turn_id!r}"
                )
            return ModelOutput(text=context.gold, finish_reason="replay")
        replies = self._load()
        reply = replies.get((context.task, context.conversation_id, context.turn_id))
        if reply is None:
            reply = replies.get(("", context.conversation_id, context.turn_id))
        if reply is None:
            raise ReplayMissing(
                f"replay file {self.model} has no reply for task {context.task!r}, conversation "
                f"{context.conversation_id!r}, turn {context.turn_id!r}"
            )
        return ModelOutput(text=reply, finish_reason="replay")


def _records(record: dict, path: Path, line_no: int):
    """Yield (task, conversation_id, turn_id, reply) from one line of either layout."""
    if "turns" in record and "conversation" in record:  # an mteval sample
        try:
            task = str(record.get("task", ""))
            conv = str(record["conversation"]["id"])
            found = [
                (task, conv, str(turn["turn_id"]), turn["reply"])
                for turn in record["turns"]
                if turn.get("generated") and turn.get("reply") is not None
            ]
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConfigurationError(f"replay: {path}:{line_no}: not a valid mteval sample ({type(exc).__name__}: {exc})") from exc
        yield from found
        return
    missing = [name for name in ("conversation_id", "turn_id", "reply") if name not in record]
    if missing:
        raise ConfigurationError(f"replay: {path}:{line_no}: missing field {missing[0]!r}")
    if not isinstance(record["reply"], str):
        raise ConfigurationError(f"replay: {path}:{line_no}: field 'reply' must be a string")
    yield str(record.get("task", "")), str(record["conversation_id"]), str(record["turn_id"]), record["reply"]
