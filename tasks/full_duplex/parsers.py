"""Full-Duplex-Bench's judge output parser, registered by name on import (the family's
`judge.py` imports it, so a spec naming `fdb_relevance` always finds it)."""

from __future__ import annotations

import re

from mteval.scoring.parsers import Parsed, ParseFailure, parser

_FDB = re.compile(r"Analysis:\s*(.*?)\nI would rate the AI's response as (\d+)", re.DOTALL)


@parser("fdb_relevance")
def parse_fdb_relevance(text: str) -> Parsed:
    """Full-Duplex-Bench interruption relevance: the last 'Analysis ... I would rate
    the AI's response as N' (0-5)."""
    matches = list(_FDB.finditer(text + "\n"))
    if not matches:
        raise ParseFailure("no 'I would rate the AI's response as N' in the judge output")
    last = matches[-1]
    return Parsed(value=float(last.group(2)), explanation=last.group(1).strip())
