"""RAD-Bench question records and reference answers, read into conversations.

Question record (one JSON object per line of `questions.jsonl`; RAD-Bench, Kuo et al., arXiv 2409.12558, github.com/mtkresearch/RAD-Bench):
`question_id`, `category` (academic/news/education -> RS, customer/finance -> RR,
travel -> TR), `aspect` (RS/RR/TR), `turns` (3 questions), `contexts` (3 items, each a
string or a list of chunks), `references` (3), `evidence_text` (3, RR only), optional
`required_temperature`. Reference answers use FastChat's answer layout
(`choices[0].turns`).

A turn keeps the raw question as `Turn.user` (what enters the history), its retrieved
chunks as `Turn.context` and, in `Turn.references`, the reference answer and whether the
context was a string or a list, so the prompt and the judge fills can be rebuilt
exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from mteval.conversation import ContextDocument, Conversation, Turn
from mteval.data import DataError, iter_jsonl

SYNTHESIS = ("academic", "news", "education")
REASONING = ("finance", "customer", "travel")
CATEGORIES = SYNTHESIS + REASONING
"""In the order of the published table (scripts/evaluated_models.csv)."""
JUDGE_TYPES = {"academic": "RS", "news": "RS", "education": "RS", "finance": "RR", "customer": "RR", "travel": "TR"}
N_TURNS = 3

Context = str | list[str]


@dataclass(frozen=True)
class Question:
    """One RAD-Bench dialogue as published."""

    question_id: str
    category: str
    turns: tuple[str, ...]
    contexts: tuple[Context, ...]
    references: tuple[str, ...] | None = None
    evidence_text: tuple[Any, ...] | None = None
    aspect: str | None = None
    required_temperature: float | None = None

    @property
    def judge_type(self) -> str:
        return JUDGE_TYPES[self.category]


def category_of(question_id: str) -> str | None:
    """`RS_academic_00` -> `academic` (ids are `{type}_{category}_{nn}`); None if not so."""
    parts = str(question_id).split("#", 1)[0].split("_")
    return parts[1] if len(parts) >= 3 and parts[1] in JUDGE_TYPES else None


def _strings(obj: dict, field: str, path: Path, line: int, *, n: int = N_TURNS) -> list:
    value = obj.get(field)
    if not isinstance(value, list) or len(value) != n:
        raise DataError(f"{path}:{line}: field {field!r}: expected a list of {n} items, got {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return "nothing" if value is None else type(value).__name__


def parse_question(obj: dict, path: Path, line: int) -> Question:
    """Validate one question record; errors name file, line and field."""
    qid, category, aspect = _identity(obj, path, line)
    turns = _turns(obj, path, line)
    contexts = _contexts(obj, path, line)
    references = None
    if obj.get("references") is not None:
        references = tuple(str(r) for r in _strings(obj, "references", path, line))
    evidence = obj.get("evidence_text")
    temperature = obj.get("required_temperature")
    if temperature is not None and not isinstance(temperature, (int, float)):
        raise DataError(f"{path}:{line}: field 'required_temperature': expected a number")
    return Question(
        question_id=qid,
        category=category,
        turns=tuple(turns),
        contexts=tuple(list(c) if isinstance(c, list) else c for c in contexts),
        references=references,
        evidence_text=tuple(evidence) if isinstance(evidence, list) else None,
        aspect=aspect,
        required_temperature=None if temperature is None else float(temperature),
    )


def _identity(obj: dict, path: Path, line: int) -> tuple[str, str, Any]:
    """question_id, category and (optional) aspect, checked against each other."""
    qid = obj.get("question_id")
    if not isinstance(qid, str) or not qid:
        raise DataError(f"{path}:{line}: field 'question_id': expected a non-empty string")
    category = obj.get("category")
    if category not in JUDGE_TYPES:
        raise DataError(f"{path}:{line}: field 'category': {category!r} is not one of {', '.join(CATEGORIES)}")
    aspect = obj.get("aspect")
    if aspect is not None and aspect != JUDGE_TYPES[category]:
        raise DataError(f"{path}:{line}: field 'aspect': {aspect!r} does not match category {category!r} ({JUDGE_TYPES[category]})")
    return qid, category, aspect


def _turns(obj: dict, path: Path, line: int) -> list:
    """The user turns, each a non-empty string."""
    turns = _strings(obj, "turns", path, line)
    for j, text in enumerate(turns):
        if not isinstance(text, str) or not text:
            raise DataError(f"{path}:{line}: field 'turns.{j}': expected a non-empty string")
    return turns


def _contexts(obj: dict, path: Path, line: int) -> list:
    """The per-turn contexts, each a string or a list of strings."""
    contexts = _strings(obj, "contexts", path, line)
    for j, ctx in enumerate(contexts):
        if not (isinstance(ctx, str) or (isinstance(ctx, list) and all(isinstance(c, str) for c in ctx))):
            raise DataError(f"{path}:{line}: field 'contexts.{j}': expected a string or a list of strings")
    return contexts


def read_questions(path: Path) -> list[Question]:
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for line, obj in iter_jsonl(path):
        question = parse_question(obj, path, line)
        if question.question_id in seen:
            raise DataError(f"{path}:{line}: question_id {question.question_id!r} repeats line {seen[question.question_id]}")
        seen[question.question_id] = line
        questions.append(question)
    return questions


def read_answer_turns(path: Path) -> dict[str, list[str]]:
    """FastChat answer file -> {question_id: choices[0].turns} (reference answers)."""
    answers: dict[str, list[str]] = {}
    for line, obj in iter_jsonl(path):
        try:
            turns = obj["choices"][0]["turns"]
            qid = str(obj["question_id"])
        except (KeyError, IndexError, TypeError) as exc:
            raise DataError(f"{path}:{line}: expected question_id and choices[0].turns ({type(exc).__name__}: {exc})") from exc
        if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
            raise DataError(f"{path}:{line}: field 'choices.0.turns': expected a list of strings")
        answers[qid] = turns
    return answers


def context_kind(ctx: Context) -> str:
    return "list" if isinstance(ctx, list) else "str"


def to_conversation(question: Question, references: Sequence[str] | None) -> Conversation:
    """The dialogue as mteval turns: raw question, context chunks, reference (gold)."""
    turns = []
    for j, text in enumerate(question.turns):
        ctx = question.contexts[j]
        chunks = ctx if isinstance(ctx, list) else [ctx]
        refs: dict[str, Any] = {"context_kind": context_kind(ctx)}
        reference = references[j] if references is not None and j < len(references) else None
        if reference is not None:
            refs["reference"] = reference
        if question.evidence_text is not None and j < len(question.evidence_text):
            refs["evidence_text"] = question.evidence_text[j]
        turns.append(
            Turn(id=str(j + 1), user=text, gold=reference, context=tuple(ContextDocument(text=c) for c in chunks), references=refs)
        )
    metadata = {"category": question.category, "judge_type": question.judge_type}
    generation = {"temperature": question.required_temperature} if question.required_temperature is not None else {}
    return Conversation(id=question.question_id, turns=tuple(turns), system=None, metadata=metadata, generation=generation)


def raw_context(turn: Turn) -> Context | None:
    """The turn's context as published (string or list), or None if it has none."""
    kind = turn.references.get("context_kind")
    if kind is None:
        return None
    texts = [doc.text for doc in turn.context]
    return texts if kind == "list" else (texts[0] if texts else "")
