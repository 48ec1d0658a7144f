"""Which conversations of a task a run evaluates: `--ids` first, then `--limit`."""

from __future__ import annotations

import math
from typing import Sequence

from mteval.errors import ConfigurationError


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
