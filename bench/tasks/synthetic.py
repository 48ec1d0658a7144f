"""The benches' synthetic task, `bench/synthetic`: conversations of identical shape, each
turn carrying the whole history. A module of its own so that `mteval run --include-path
bench/tasks` finds it as a plugin (the cached re-run times the real command), while the
bench scripts import it through `common`.

The shape is `SHAPE` (set by the scripts that run in process), or the task options
`conversations` and `turns` (`--task-args conversations=2000,turns=5` on the command line).
"""

from __future__ import annotations

from mteval.conversation import Conversation, Turn
from mteval.registry import register_task
from mteval.scoring import rule
from mteval.task import Task

SHAPE = {"conversations": 2000, "turns": 5}
SYSTEM = "You are terse."


def user_text(conversation: int, turn: int) -> str:
    return f"conversation {conversation} turn {turn}: " + "lorem ipsum " * 20


def conversation(i: int, turns: int | None = None) -> Conversation:
    count = SHAPE["turns"] if turns is None else turns
    return Conversation(id=f"c{i}", system=SYSTEM, turns=tuple(Turn(id=str(t), user=user_text(i, t), gold="ok") for t in range(count)))


@rule("nonempty")
def _nonempty(reply, turn):
    return float(bool(reply))


@register_task
class BenchTask(Task):
    """`conversations` x `turns` synthetic turns, each carrying the history."""

    name = "bench/synthetic"
    description = "synthetic conversations for the performance benches"
    option_names = frozenset({"conversations", "turns"})

    def load(self):
        # a generator: the runner reads it lazily, as a large dataset should be read
        conversations = int(self.options.get("conversations", SHAPE["conversations"]))
        turns = int(self.options.get("turns", SHAPE["turns"]))
        return (conversation(i, turns) for i in range(conversations))

    def scorers(self):
        return [_nonempty]
