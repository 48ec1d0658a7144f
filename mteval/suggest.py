"""'Did you mean' hints for unknown names. A bottom-layer utility (standard library only)
so that models, parsers and the task registry can all use it without importing each other."""

from __future__ import annotations

import difflib
from typing import Iterable


def close_matches_message(name: str, choices: Iterable[str]) -> str:
    """The close matches of `name` among `choices`, or the full list when none is close."""
    known = sorted(set(choices))
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    if close:
        return "Did you mean: " + ", ".join(close) + "?"
    return "Known: " + ", ".join(known) if known else "None are registered."
