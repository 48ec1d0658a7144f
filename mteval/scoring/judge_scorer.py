"""`JudgeScorer`: a scorer whose verdict comes from the run's judge or jury.

The task decides what the judge sees (its `variables` function, e.g. MT-Eval's
document and accumulated constraints); the run decides who judges (`--judge` /
`--jury`). `standard_variables` is what mteval's own judge definitions expect.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from mteval.errors import ConfigurationError
from mteval.models.base import RequestContext
from mteval.scoring.base import ScoreContext, Scorer, TurnState
from mteval.scoring.judge_spec import JudgeSpec, load_spec
from mteval.transcript import Score, messages_sent

Variables = Callable[[TurnState], Mapping[str, Any]]


# The tags mteval's own judge templates put around material to judge (judges/*.yaml).
DELIMITER_TAGS = ("candidate_reply", "conversation_before_reply", "reference_answer", "reply_a", "reply_b")
_DELIMITER = re.compile(r"<(?=\s*/?\s*(?:" + "|".join(DELIMITER_TAGS) + r")\b)", re.IGNORECASE)


def neutralise_delimiters(text: str) -> str:
    """Escape the `<` of any delimiter tag (opening or closing, any case or spacing) in
    model-written text, so a reply cannot end its block early or open a fake one."""
    return _DELIMITER.sub("&lt;", text)


def format_dialogue(messages: list, reply: str | None = None) -> str:
    lines = [f"{'User' if m.role == 'user' else 'Assistant'}: {m.content.strip()}" for m in messages if m.role != "system"]
    if reply is not None:
        lines.append(f"Assistant: {reply.strip()}")
    return "\n".join(lines)


def standard_variables(state: TurnState) -> dict[str, Any]:
    """question, answer, conversation (as the model saw it, plus its reply), reference,
    turn (1-based)."""
    sent = messages_sent(state.records, state.index)
    question = next((m.content for m in reversed(sent) if m.role == "user"), state.turn.user)
    reference = state.turn.references.get("reference", state.turn.gold)
    return {
        "question": question,
        "answer": neutralise_delimiters(state.reply),
        "conversation": neutralise_delimiters(format_dialogue(sent, state.reply)),
        "history": neutralise_delimiters(format_dialogue(sent[:-1])) if len(sent) > 1 else "",
        "reference": reference if reference is not None else "",
        "turn": state.index + 1,
    }


class JudgeScorer(Scorer):
    """Score a turn with the run's jury, using `spec` and the task's variables."""

    needs_judge = True

    def __init__(self, name: str, spec: JudgeSpec | str, variables: Variables = standard_variables):
        self.name = name
        self._spec = spec
        self.variables = variables

    @property
    def spec(self) -> JudgeSpec:
        if isinstance(self._spec, str):
            self._spec = load_spec(self._spec)
        return self._spec

    def spec_for(self, state: TurnState) -> JudgeSpec:
        """The definition for this turn. Override when a benchmark picks its judge
        prompt by turn or type (MT-Bench, RAD-Bench, MT-Eval)."""
        return self.spec

    async def score(self, state: TurnState, context: ScoreContext) -> Score:
        if context.jury is None:
            raise ConfigurationError(f"{state.task} needs a judge: pass --judge provider/model or --jury FILE")
        request = RequestContext(
            task=state.task, conversation_id=state.conversation.id, turn_id=state.turn.id, turn_index=state.index, role="judge"
        )
        return await context.jury.score(self.spec_for(state), self.variables(state), request)
