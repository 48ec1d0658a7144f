"""Parsers for judge output. Each reads only the judge's own reply and returns a
`Parsed` verdict or raises `ParseFailure`: a reply that cannot be read is never a 0.

Registered by name so judge definitions (YAML) can refer to them. The engine's
generic parsers live here; a benchmark's own parsers live in its family and register
with `@parser` on import (`mteval_tasks.full_duplex.parsers`, `mteval_judges.amulet`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

from mteval.plugins import Registry, UnknownName


def _same_function(a: Callable, b: Callable) -> bool:
    """A parser module imported again (another package name) is not a conflict."""
    return getattr(a, "__qualname__", a) == getattr(b, "__qualname__", b)


PARSERS: Registry[Callable[[str], "Parsed"]] = Registry("parsers", same=_same_function, complete_on_miss=True)
"""name -> parser; third-party parsers come from the entry-point group `mteval.parsers`. Task
families register parsers too (`fdb_relevance`): a name not yet seen imports them first."""


@dataclass(frozen=True)
class Parsed:
    value: float | None = None
    label: str | None = None
    explanation: str | None = None
    extra: dict | None = None


class ParseFailure(ValueError):
    pass


def parser(name: str):
    def register(fn: Callable[[str], Parsed]) -> Callable[[str], Parsed]:
        PARSERS.register(name, fn)
        return fn

    return register


def get_parser(name: str) -> Callable[[str], Parsed]:
    try:
        return PARSERS.get_entry(name)
    except UnknownName as exc:  # a KeyError, as callers (judge definitions) expect
        raise KeyError(f"unknown judge output parser {name!r}. {str(exc).split('. ', 1)[1]}") from None


_DOUBLE = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_SINGLE = re.compile(r"\[(\d+\.?\d*)\]")
_STRICT = re.compile(r"Rating:\s*\[\[(\d+\.?\d*)\]\]")
_VERDICT = re.compile(r"Rating:\s*\[\[(\d+\.?\d*)\]\]", re.IGNORECASE)


@parser("rating")
def parse_rating(text: str) -> Parsed:
    """MT-Bench default: the judge's own final verdict. The last `Rating: [[x]]`, else the
    last `[[x]]`, else the last `[x]`; the number is not clipped. A judge that quotes the
    candidate's `[[10]]` before its own `Rating: [[3]]` gives 3 (upstream's first match
    gives 10: use `rating_first` to reproduce published numbers exactly)."""
    for pattern in (_VERDICT, _DOUBLE, _SINGLE):
        matches = pattern.findall(text)
        if matches:
            return Parsed(value=float(matches[-1]))
    raise ParseFailure("no [[rating]] in the judge output")


@parser("rating_first")
def parse_rating_first(text: str) -> Parsed:
    """Upstream FastChat rule, for exact reproduction: the first `[[x]]`, else the first `[x]`."""
    match = _DOUBLE.search(text) or _SINGLE.search(text)
    if not match:
        raise ParseFailure("no [[rating]] in the judge output")
    return Parsed(value=float(match.group(1)))


@parser("rating_strict")
def parse_rating_strict(text: str) -> Parsed:
    """Option: only a `Rating: [[x]]` counts (the last one), so bracketed citations cannot."""
    matches = _STRICT.findall(text)
    if not matches:
        raise ParseFailure("no 'Rating: [[x]]' in the judge output")
    return Parsed(value=float(matches[-1]))


_FENCE_START = "```json"
_FENCE_END = "```"


@parser("json_score")
def parse_json_score(text: str) -> Parsed:
    """MT-Eval default: drop an exact leading ```json and trailing ```, json.loads,
    score = int(obj["Score"])."""
    body = text
    if body.startswith(_FENCE_START):
        body = body[len(_FENCE_START):]
    if body.endswith(_FENCE_END):
        body = body[: -len(_FENCE_END)]
    try:
        obj = json.loads(body)
        value = int(obj["Score"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError) as exc:  # Overflow: {"Score": Infinity}
        raise ParseFailure(f"not a JSON object with an integer Score ({type(exc).__name__})") from exc
    rationale = obj.get("Rationale") if isinstance(obj, dict) else None
    return Parsed(value=float(value), explanation=rationale if isinstance(rationale, str) else None)


_SCORE_FIELD = re.compile(r'"Score"\s*:\s*(\d+)')


@parser("json_score_lenient")
def parse_json_score_lenient(text: str) -> Parsed:
    """Option: the first {...} block with a Score, else a `"Score": n` anywhere."""
    try:
        return parse_json_score(text.strip())
    except ParseFailure:
        pass
    block = first_json_object(text)
    if isinstance(block, dict) and "Score" in block:
        try:
            rationale = block.get("Rationale")  # a non-string would fail Verdict validation
            return Parsed(value=float(int(block["Score"])), explanation=rationale if isinstance(rationale, str) else None)
        except (TypeError, ValueError, OverflowError):
            pass
    match = _SCORE_FIELD.search(text)
    if not match:
        raise ParseFailure("no Score in the judge output")
    return Parsed(value=float(match.group(1)))


@parser("pairwise_abc")
def parse_pairwise(text: str) -> Parsed:
    """MT-Bench pairwise: substring test in the order [[A]], [[B]], [[C]] (tie)."""
    for marker, label in (("[[A]]", "A"), ("[[B]]", "B"), ("[[C]]", "tie")):
        if marker in text:
            return Parsed(label=label)
    raise ParseFailure("no [[A]], [[B]] or [[C]] verdict in the judge output")


def first_json_object(text: str) -> object | None:
    """The first balanced {...} block that json.loads accepts, if any."""
    decoder = json.JSONDecoder()
    for start in (i for i, ch in enumerate(text) if ch == "{"):
        try:
            obj, _ = decoder.raw_decode(text[start:])
            return obj
        except json.JSONDecodeError:
            continue
    return None
