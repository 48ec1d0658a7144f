"""Which conversations of a task a run evaluates: `--ids` first, then `--limit`."""

from __future__ import annotations

import math
from typing import Sequence, TypeVar

from mteval.conversation import Conversation
from mteval.models.errors import ConfigurationError

C = TypeVar("C", bound=Conversation)


def select(conversations: Sequence[C], limit: int | float | None = None, ids: Sequence[str] | None = None) -> list[C]:
    """The conversations named in `ids` (in the task's order), then the first `limit` of
    them: a whole number N >= 1, or a fraction 0 < x < 1 of them rounded up (lm-eval's
    rule, so `--limit 0.1` of 5 conversations is 1, never 0)."""
    chosen = list(conversations)
    if ids is not None:
        wanted = set(ids)
        chosen = [c for c in chosen if c.id in wanted]
    count = limit_count(len(chosen), limit)
    return chosen if count is None else chosen[:count]


def limit_count(total: int, limit: int | float | None) -> int | None:
    """How many conversations `--limit` keeps of `total` (None: all). A fraction needs the
    total; a whole number does not (pass any total)."""
    if limit is None:
        return None
    if isinstance(limit, bool) or limit <= 0 or (limit >= 1 and limit != int(limit)):
        raise ConfigurationError(f"--limit must be a whole number >= 1 or a fraction between 0 and 1, got {limit}")
    return math.ceil(total * limit) if limit < 1 else int(limit)


def check_ids_found(ids: Sequence[str] | None, loaded: dict[str, Sequence[str]]) -> None:
    """Refuse `--ids` that name no conversation of any selected task (a typo would
    otherwise make an empty or partial run that looks finished). `loaded`: task name ->
    the ids its load() returned."""
    if not ids:
        return
    present = {i for task_ids in loaded.values() for i in task_ids}
    missing = [i for i in ids if i not in present]
    if missing:
        example = sorted(present)[:3]
        raise ConfigurationError(
            f"--ids: no conversation {', '.join(repr(m) for m in missing[:5])} in task(s) {', '.join(loaded)}"
            + (f" (ids look like {', '.join(example)})" if example else "")
        )
