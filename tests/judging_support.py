"""Shared pieces of the judge and jury tests: scripted judge clients (real `ModelClient`s
over `scripted/<name>` models), turn states built like the runner builds them, and
readers that pull the delimited replies back out of a rendered judge prompt."""

from __future__ import annotations

import re
from typing import Any, Sequence

from mteval.client import ModelClient, RetryPolicy
from mteval.conversation import Conversation, Message, Turn
from mteval.models import create_model
from mteval.models.base import RequestContext
from mteval.scoring.base import ScoreContext, TurnState
from mteval.scoring.judge_spec import Juror
from mteval.scoring.jury import Jury, JuryConfig
from mteval.transcript import TurnRecord

FAST_RETRY = RetryPolicy(max_attempts=1, initial_wait_s=0.0, max_wait_s=0.0, jitter_s=0.0, timeout_s=10.0)

MAXIMS = (
    "Quantity-1", "Quantity-2", "Quality", "Relevance-1", "Relevance-2", "Manner-1",
    "Manner-2", "Benevolence-1", "Benevolence-2", "Transparency-1", "Transparency-2", "Transparency-3",
)


def client(model_id: str, **args: Any) -> ModelClient:
    """A judge client exactly as the runner builds one (no cache: scripted is not cacheable)."""
    adapter = create_model(model_id, args)
    adapter.validate()
    return ModelClient(adapter, retry=FAST_RETRY, role="judge")


def juror(model_id: str, **args: Any) -> Juror:
    return Juror(client(model_id, **args))


def jury(config: JuryConfig) -> Jury:
    return Jury.build(config, [client(j.model, **j.args) for j in config.jurors])


def context(conversation_id: str = "c1", turn_id: str = "t1", task: str = "jtest/unit") -> RequestContext:
    return RequestContext(task=task, conversation_id=conversation_id, turn_id=turn_id, role="judge")


def make_state(
    replies: Sequence[str],
    *,
    users: Sequence[str] | None = None,
    golds: Sequence[str | None] | None = None,
    references: Sequence[dict[str, Any]] | None = None,
    conversation_id: str = "c1",
    task: str = "jtest/unit",
    system: str | None = "Be helpful.",
    index: int = -1,
) -> TurnState:
    """The state of turn `index` after an own-history conversation with these replies,
    delta-encoded the way the chat solver records it."""
    n = len(replies)
    users = list(users or [f"Question {i + 1}?" for i in range(n)])
    golds = list(golds or [None] * n)
    references = list(references or [{} for _ in range(n)])
    turns = tuple(Turn(id=f"t{i + 1}", user=users[i], gold=golds[i], references=references[i]) for i in range(n))
    records = []
    for i in range(n):
        new = [Message(role="user", content=users[i])]
        if i == 0 and system:
            new.insert(0, Message(role="system", content=system))
        prefix = 0 if i == 0 else (2 * i + (1 if system else 0))
        records.append(TurnRecord(index=i, turn_id=f"t{i + 1}", prompt_prefix=prefix, prompt_new=new, reply=replies[i]))
    conversation = Conversation(id=conversation_id, system=system, turns=turns)
    return TurnState(task=task, conversation=conversation, records=records, index=index % n)


def score_context(j: Jury) -> ScoreContext:
    return ScoreContext(jury=j)


# --- reading rendered judge prompts ----------------------------------------------------------
def user_text(messages: Sequence[Message]) -> str:
    """The rendered judge prompt (the first user message; later ones are re-asks)."""
    return next(m.content for m in messages if m.role == "user")


def is_reask(messages: Sequence[Message]) -> bool:
    return sum(1 for m in messages if m.role == "user") > 1


def between(text: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.DOTALL)
    return match.group(1) if match else None


def amulet_candidates(text: str) -> tuple[str, str]:
    match = re.search(r"\nAssistant-1: (.*?)\nAssistant-2: (.*?)\n\n", text, re.DOTALL)
    assert match, text
    return match.group(1), match.group(2)


def maxim_json(final: str, labels: dict[str, str] | None = None) -> str:
    import json

    obj: dict[str, str] = {m: (labels or {}).get(m, "both") for m in MAXIMS}
    obj["Explanation"] = "Judged maxim by maxim."
    obj["Final Answer"] = final
    return json.dumps(obj)
