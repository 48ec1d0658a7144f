"""The Full-Duplex-Bench interruption-relevance judge (arXiv 2503.04721; github.com/DanielLin94144/Full-Duplex-Bench) as a JudgeSpec.

Same structure as the benchmark's judge: a system prompt with the 0-5 scale
(totally unrelated / not related / slightly related / related / highly related /
perfectly related to the interrupting turn), a user message with the three lines
(contextual user turn, interrupting turn, the AI's response) and the required
"Analysis: ... / I would rate the AI's response as N." output. The wording is
mteval's own: no license could be confirmed for the benchmark's evaluation code, so
its prompt text is not copied. Scores should be close to, not identical with,
published ones. Parsed by `fdb_relevance` (last match wins); an unreadable reply gets
one re-ask, then counts as unparsed (upstream re-queried without limit).
"""

from __future__ import annotations

from mteval.scoring.judge_spec import JudgeSpec
from mteval_tasks.full_duplex import parsers as _parsers  # noqa: F401  registers fdb_relevance

SYSTEM = """You are rating a spoken conversation between a user and an AI. The user spoke first and the AI
began to answer; while the AI was still speaking, the user interrupted it. Rate how well the AI's
response after the interruption addresses the user's interrupting turn.

Rating scale (0 is worst, 5 is best):
- 0: totally unrelated to the user's interrupting turn.
- 1: not related to the user's interrupting turn.
- 2: slightly related to the user's interrupting turn.
- 3: related to the user's interrupting turn.
- 4: highly related to the user's interrupting turn.
- 5: perfectly related to the user's interrupting turn.

First analyse the interrupting turn and the AI's response briefly. Then answer in exactly this format:
Analysis: [Your analysis].
I would rate the AI's response as [Rating].
"""

USER = """- Contextual user turn: {context}
- User interrupting turn: {interrupt}
- AI's response: {output}
"""

REMINDER = (
    "Your previous reply could not be parsed. Reply again in exactly this format:\n"
    "Analysis: [Your analysis].\nI would rate the AI's response as [Rating]."
)


def relevance_spec(temperature: float = 1.0) -> JudgeSpec:
    """Upstream sends `seed=0` and no temperature (the API default, 1.0)."""
    return JudgeSpec(
        name="full_duplex/interruption_relevance",
        kind="score",
        description="Full-Duplex-Bench v1: relevance (0-5) of the model's response to the user's interruption",
        system=SYSTEM,
        template=USER,
        template_format="placeholders",
        parser="fdb_relevance",
        scale=(0, 5),
        out_of_range="unparsed",
        reminder=REMINDER,
        generation={"temperature": temperature, "seed": 0, "max_tokens": 1024},
        sees="the earlier user turn, the interruption and the model's words after it",
        source="mteval's wording of the Full-Duplex-Bench v1 relevance judge (arXiv 2503.04721)",
    )
