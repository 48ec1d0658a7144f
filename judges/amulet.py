"""Amulet's judge output parsers (`amulet_dialog_act`, `amulet_maxim`) and its cascade
(`--judge-def amulet`: dialog acts -> maxims -> the `pairwise` fallback judge, the default
of `mteval judge --against`), kept next to their judge definitions and registered by
name when `mteval_judges` is imported (which `mteval.scoring.judge_spec` does to find
the shipped definitions)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from mteval.scoring.cascades import register_cascade
from mteval.scoring.parsers import Parsed, ParseFailure, parser

if TYPE_CHECKING:
    from mteval.scoring.judge_spec import JudgeSpec

MAXIMS = (
    "Quantity-1", "Quantity-2", "Quality", "Relevance-1", "Relevance-2", "Manner-1",
    "Manner-2", "Benevolence-1", "Benevolence-2", "Transparency-1", "Transparency-2", "Transparency-3",
)
MAXIM_LABELS = ("1", "2", "both", "neither")
STAGES = ("amulet_dialog_act", "amulet_maxim")
"""Amulet's own stages, before the fallback judge."""


def amulet_cascade(fallback: JudgeSpec | str = "pairwise") -> list[JudgeSpec | str]:
    """Amulet's default order: dialog acts, then maxims, then a fallback judge."""
    return [*STAGES, fallback]


register_cascade("amulet", [*STAGES, "pairwise"], default=True)


def _choice(value: object, field: str) -> str:
    text = str(value).strip().strip('"').lower()
    if text not in ("1", "2"):
        raise ParseFailure(f'{field} must be "1" or "2", got {value!r}')
    return text


@parser("amulet_dialog_act")
def parse_amulet_dialog_act(text: str) -> Parsed:
    """Amulet-DA: the first JSON object with "Answer": "1"|"2" (acts are free text before it)."""
    obj = _first_object_with(text, "Answer")
    label = _choice(obj["Answer"], "Answer")
    return Parsed(label=label, explanation=obj.get("Explanation") if isinstance(obj.get("Explanation"), str) else None)


@parser("amulet_maxim")
def parse_amulet_maxim(text: str) -> Parsed:
    """Amulet-Maxim: 12 maxim labels in {1, 2, both, neither} and "Final Answer": "1"|"2"."""
    obj = _first_object_with(text, "Final Answer")
    labels = {}
    for maxim in MAXIMS:
        if maxim not in obj:
            raise ParseFailure(f"maxim {maxim!r} missing")
        label = str(obj[maxim]).strip().lower()
        if label not in MAXIM_LABELS:
            raise ParseFailure(f"maxim {maxim!r} has label {obj[maxim]!r}, not one of {MAXIM_LABELS}")
        labels[maxim] = label
    explanation = obj.get("Explanation")
    return Parsed(
        label=_choice(obj["Final Answer"], "Final Answer"),
        explanation=explanation if isinstance(explanation, str) else None,
        extra={"maxims": labels},
    )


def _first_object_with(text: str, key: str) -> dict:
    decoder = json.JSONDecoder()
    for start in (i for i, ch in enumerate(text) if ch == "{"):
        try:
            obj, _ = decoder.raw_decode(text[start:])
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and key in obj:
            return obj
    raise ParseFailure(f"no JSON object with {key!r} in the judge output")
