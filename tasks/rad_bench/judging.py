"""Reference-guided RAD-Bench judging through mteval's judges (any --judge / --jury).

One `JudgeSpec` per judge type and turn, built from the shipped `judge_prompts.jsonl`
(`{RS,RR,TR}-{1,2,3}-turn`: system "You are a helpful assistant.", temperature 0,
2048 tokens, MT-Bench rating parse, scale 1-10). Each turn is judged alone; the fills
follow the RAD-Bench repository (github.com/mtkresearch/RAD-Bench, upstream `run_judge_single`):

* RS: question, answer, reference = ref[t-1]; t >= 2 adds question_1/reference_1,
  t = 3 adds question_2/reference_2 (earlier turns show the *reference* answers).
* RR: as RS plus context = the current turn's context (a list joined with "\\n", no tags).
* TR: question, answer, context = contexts[t-1] unchanged (a list appears as its Python
  list text; option `tr_context=join` joins it with "\\n"); t >= 2 adds question_1,
  t = 3 adds question_2 and reference = ref[2].
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from mteval.errors import ConfigurationError
from mteval.scoring.base import TurnState
from mteval.scoring.judge_scorer import JudgeScorer
from mteval.scoring.judge_spec import JudgeSpec
from mteval_tasks.rad_bench.questions import (
    JUDGE_TYPES,
    Context,
    category_of,
    raw_context,
)

PROMPTS_FILE = Path(__file__).parent / "data" / "judge_prompts.jsonl"
JUDGE_MODEL = "gpt-4o"
"""The judge of the published results; mteval judges with whatever --judge/--jury says."""
TR_CONTEXT_MODES = ("list", "join")


@lru_cache(maxsize=1)
def judge_prompts() -> dict[str, dict[str, Any]]:
    """The judge prompt records of the shipped file, by name."""
    lines = PROMPTS_FILE.read_text(encoding="utf-8").splitlines()
    return {record["name"]: record for record in map(json.loads, filter(None, lines))}


def prompt_name(judge_type: str, turn: int) -> str:
    """`RS`, 2 -> `RS-2-turn` (the upstream prompt name)."""
    return f"{judge_type}-{turn}-turn"


@lru_cache(maxsize=None)
def judge_spec(judge_type: str, turn: int) -> JudgeSpec:
    """The judge definition for one type (RS/RR/TR) and turn (1-3)."""
    name = prompt_name(judge_type, turn)
    prompt = judge_prompts().get(name)
    if prompt is None:
        raise ConfigurationError(f"RAD-Bench has no judge prompt {name!r} (types RS/RR/TR, turns 1-3)")
    return JudgeSpec(
        name=f"rad_bench/{name}",
        kind="score",
        description=prompt.get("description", ""),
        system=prompt["system_prompt"],
        template=prompt["prompt_template"],
        template_format="placeholders",
        parser="rating",
        scale=(1, 10),
        out_of_range="unparsed",
        reminder='Reply again and end with your rating in exactly the format "Rating: [[5]]".',
        generation={"temperature": 0.0, "max_tokens": 2048},
        sees="the current turn's question and answer, earlier questions, references and (RR/TR) the context",
        source="RAD-Bench judge_prompts.jsonl (Apache-2.0)",
    )


@dataclass(frozen=True)
class TurnMaterials:
    """What the judge of one turn may be shown."""

    judge_type: str
    turn: int
    """1-based."""
    questions: tuple[str, ...]
    """Raw questions of turns 1..turn."""
    references: tuple[str | None, ...]
    """Reference answers of turns 1..turn."""
    context: Context | None


def materials(state: TurnState) -> TurnMaterials:
    """Gather a turn's materials from the conversation (or, for `--history single`,
    from what `single_turn` stored in the metadata)."""
    conversation = state.conversation
    meta = conversation.metadata
    judge_type = meta.get("judge_type") or JUDGE_TYPES.get(meta.get("category") or category_of(conversation.id) or "")
    if judge_type is None:
        raise ConfigurationError(f"RAD-Bench: cannot tell the judge type of conversation {conversation.id!r}")
    stored = meta.get("rad_bench")
    if stored is not None:
        return TurnMaterials(
            judge_type=judge_type,
            turn=int(stored["turn"]),
            questions=tuple(stored["questions"]),
            references=tuple(stored["references"]),
            context=stored["context"],
        )
    turns = conversation.turns[: state.index + 1]
    return TurnMaterials(
        judge_type=judge_type,
        turn=state.index + 1,
        questions=tuple(t.user for t in turns),
        references=tuple(t.references.get("reference") for t in turns),
        context=raw_context(turns[-1]),
    )


def judge_variables(m: TurnMaterials, answer: str, tr_context: str = "list") -> dict[str, Any]:
    """The placeholder fills of the turn's judge prompt (as upstream `run_judge_single` fills them)."""
    if tr_context not in TR_CONTEXT_MODES:
        raise ConfigurationError(f"RAD-Bench option tr_context must be one of {TR_CONTEXT_MODES}, got {tr_context!r}")
    t = m.turn

    def ref(k: int) -> str:
        value = m.references[k] if k < len(m.references) else None
        if value is None:
            raise ConfigurationError(f"RAD-Bench: no reference answer for turn {k + 1} (pass references=... or a question file with references)")
        return value

    variables: dict[str, Any] = {"question": m.questions[t - 1], "answer": answer}
    context = m.context if m.context is not None else ""
    if m.judge_type == "TR":
        variables["context"] = "\n".join(context) if tr_context == "join" and isinstance(context, list) else str(context)
        if t > 1:
            variables["question_1"] = m.questions[0]
        if t == 3:
            variables["question_2"] = m.questions[1]
            variables["reference"] = ref(2)
        return variables
    variables["reference"] = ref(t - 1)
    if m.judge_type == "RR":
        variables["context"] = "\n".join(context) if isinstance(context, list) else context
    if t > 1:
        variables["question_1"] = m.questions[0]
        variables["reference_1"] = ref(0)
    if t == 3:
        variables["question_2"] = m.questions[1]
        variables["reference_2"] = ref(1)
    return variables


class RadBenchJudge(JudgeScorer):
    """Scorer `score`: the turn's RAD-Bench judge prompt, judged by the run's jury."""

    def __init__(self, name: str = "score", tr_context: str = "list"):
        super().__init__(name, judge_spec("RS", 1), self._variables)
        self.tr_context = tr_context

    def spec_for(self, state: TurnState) -> JudgeSpec:
        m = materials(state)
        return judge_spec(m.judge_type, m.turn)

    def _variables(self, state: TurnState) -> dict[str, Any]:
        return judge_variables(materials(state), state.reply, self.tr_context)
