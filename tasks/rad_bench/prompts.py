"""The prompt RAD-Bench sends for turn j (arXiv 2409.12558; upstream `construct_turn_question`, github.com/mtkresearch/RAD-Bench):
`{prefix}\\n\\n{ctx}\\n\\nQuestion: {turns[j]}`, where a list context becomes chunks wrapped
in `<context>` tags joined with a newline, and turn 1 has its own prefix. Only the
current turn is rendered this way; the history holds the raw questions.
"""

from __future__ import annotations

_FIRST_SENTENCE = (
    "Use the following pieces of context (provided within <context></context> XML tags) to answer the question at the end."
)
PREFIX_FIRST_TURN = (
    _FIRST_SENTENCE + " Please strictly follow the given context to answer the question. Do not make up your answer."
)
PREFIX_LATER_TURNS = (
    _FIRST_SENTENCE
    + " You are also provided with conversation history. Please strictly follow the given context and follow"
    " instructions in the conversation history to answer the question at the end. Do not make up your answer."
)


def context_block(context: str | list[str]) -> str:
    """A string as is; list chunks each as `<context>\\n{chunk}\\n</context>`, joined by `\\n`."""
    if isinstance(context, str):
        return context
    return "\n".join(f"<context>\n{chunk}\n</context>" for chunk in context)


def turn_prompt(question: str, context: str | list[str], index: int) -> str:
    """The user message of turn `index` (0-based)."""
    prefix = PREFIX_FIRST_TURN if index == 0 else PREFIX_LATER_TURNS
    return f"{prefix}\n\n{context_block(context)}\n\nQuestion: {question}"
