"""MT-Eval's judge setups (arXiv 2401.16745, github.com/KwanWaiChung/MT-Eval): the four upstream templates as
`JudgeSpec`s and the fields each one is filled with.

What a turn's judge sees is decided when the data is loaded and stored in the turn's
`references` (`judge` = template key, `doc`, `constraints`, `history`), so re-judging a
stored run, single-turn flattening and gold history all see exactly the same fields. Only
the reply-dependent fields (`{response}`, counts, the last line of `{conversation}`) are
filled at scoring time. Who judges is the run's `--judge` / `--jury`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Sequence

from mteval.scoring.base import TurnState
from mteval.scoring.judge_scorer import JudgeScorer
from mteval.scoring.judge_spec import JudgeSpec

from .data import documents
from .sentences import count_sentences

PROMPTS = Path(__file__).resolve().parent / "prompts"
TEMPLATES: dict[str, str] = {
    "refinement_multi": "refinement_multi_evaluation.txt",
    "refinement_single": "refinement_single_evaluation.txt",
    "expansion": "expansion_evaluation.txt",
    "mt-bench": "mt-bench_evaluation.txt",
}
SEES = {
    "refinement_multi": "the document, the reply, its word and sentence counts, and the constraints of the current task type so far",
    "refinement_single": "the document, the reply, its word and sentence counts, and the merged instruction",
    "expansion": "the document, the instruction and the stripped reply",
    "mt-bench": "the previous user turn with its gold reply, the current request and the reply, with word and sentence counts",
}
REMINDER = (
    "Your previous reply could not be parsed. Reply again with only the evaluation in the required format:\n"
    '```json\n{\n  "Rationale": "<Explain the rationale of your score.>",\n  "Score": <An integer score from 1 to 10.>\n}\n```'
)


@functools.lru_cache(maxsize=None)
def judge_spec(key: str) -> JudgeSpec:
    """The upstream template `key` as a judge definition: one user message, no system
    prompt, temperature 0, 1024 tokens, `json_score` parser, 1-10 (out-of-range scores
    kept, as upstream's `int(obj["Score"])` keeps them)."""
    if key not in TEMPLATES:
        raise KeyError(f"unknown MT-Eval judge template {key!r}; known: {', '.join(TEMPLATES)}")
    return JudgeSpec(
        name=f"mt_eval/{key}",
        kind="score",
        description=f"MT-Eval {key} judge (upstream prompts/{TEMPLATES[key]})",
        system=None,
        template=(PROMPTS / TEMPLATES[key]).read_text(encoding="utf-8"),
        template_format="placeholders",
        parser="json_score",
        scale=(1, 10),
        out_of_range="keep",
        reminder=REMINDER,
        generation={"temperature": 0.0, "max_tokens": 1024},
        sees=SEES[key],
        source=f"MT-Eval prompts/{TEMPLATES[key]} (MIT, Copyright (c) 2024 Wai-Chung Kwan)",
    )


def template_files(keys: Sequence[str]) -> list[Path]:
    return [PROMPTS / TEMPLATES[key] for key in keys]


def numbered(constraints: Sequence[str]) -> str:
    """`1. {inst}\\n2. {inst}...`, the refinement judge's `{constraints}`."""
    return "\n".join(f"{n}. {inst}" for n, inst in enumerate(constraints, 1))


def follow_up_history(previous_user: str, previous_gold: str) -> str:
    """The `{conversation}` prefix: the previous turn with its GOLD reply, parts stripped."""
    return f"User: {previous_user.strip()}\nAssistant: {previous_gold.strip()}\n"


def judge_variables(state: TurnState) -> dict[str, Any]:
    """The template fields for one scored turn (reply-dependent ones computed here)."""
    refs = state.turn.references
    key = refs["judge"]
    reply = state.reply
    if key == "mt-bench":
        conversation = refs.get("history", "") + f"User: {state.turn.user.strip()}\nAssistant: {reply.strip()}"
        return {"conversation": conversation, "num_words": len(reply.split()), "num_sent": count_sentences(reply)}
    content = documents()[int(refs["doc"])]
    if key == "expansion":
        return {"response": reply.strip(), "content": content, "constraints": refs["constraints"]}
    return {
        "response": reply,
        "content": content,
        "num_words": len(reply.split()),
        "num_sent": count_sentences(reply),
        "constraints": refs["constraints"],
    }


def render_judge_prompt(state: TurnState) -> str:
    """The exact user message the judge receives for this turn (for tests and inspection)."""
    spec = judge_spec(state.turn.references["judge"])
    return spec.render(judge_variables(state))[-1].content


class MTEvalJudge(JudgeScorer):
    """Scores a turn with the template its references name, through the run's jury."""

    def __init__(self, name: str = "judge"):
        super().__init__(name, judge_spec("expansion"), judge_variables)

    def spec_for(self, state: TurnState) -> JudgeSpec:
        return judge_spec(state.turn.references["judge"])
