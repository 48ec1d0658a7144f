"""`rad_bench/synthesis` and `rad_bench/reasoning`: RAD-Bench's two abilities.

Task options (`--task-args key=value,...`):
* `questions`: path, URL or `published` of `questions.jsonl` (required to run).
* `references`: path, URL or `published` of `reference_ans_model.jsonl` (default: the
  question records' `references`).
* `tr_context`: `list` (default, the judge sees a list context as Python list text, as
  upstream) or `join` (chunks joined with "\\n").
* `unparsed_as`: e.g. `-1` counts unparsed judgments as that value in the metrics, as the
  published table did (default: excluded and counted).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mteval.conversation import Conversation
from mteval.data import DataError
from mteval.errors import ConfigurationError
from mteval.manifest import higher
from mteval.task import DataInfo, Task, flatten_turn, sha256_files
from mteval_tasks.rad_bench import sources
from mteval_tasks.rad_bench.judging import RadBenchJudge
from mteval_tasks.rad_bench.metrics import task_metrics, unparsed_value
from mteval_tasks.rad_bench.prompts import turn_prompt
from mteval_tasks.rad_bench.questions import (
    REASONING,
    SYNTHESIS,
    Question,
    raw_context,
    read_answer_turns,
    read_questions,
    to_conversation,
)

if TYPE_CHECKING:
    import pandas as pd

    from mteval.scoring.base import Scorer
    from mteval.stats import Metric

NO_QUESTIONS = "unavailable: no RAD-Bench question file given"


class RadBenchTask(Task):
    """Shared behaviour of both abilities; subclasses set `name` and `categories`."""
    option_names = frozenset({"questions", "references", "tr_context", "unparsed_as"})

    version = "1"
    categories: ClassVar[tuple[str, ...]] = ()
    generation = {"temperature": 0.7, "max_tokens": 2048}
    headline = "score"
    semantics = {"score": higher(1, 10, "judge points")}
    """Upstream API defaults; a question's `required_temperature` overrides the temperature."""

    def __init__(self, **options: Any):
        super().__init__(**options)
        self._files: list[Path] | None = None

    # --- data --------------------------------------------------------------------------
    @property
    def has_questions(self) -> bool:
        return bool(self.options.get("questions"))

    def data_files(self) -> list[Path]:
        """The question file and, if given, the reference-answer file (local copies)."""
        if self._files is None:
            if not self.has_questions:
                raise ConfigurationError(
                    f"{self.name}: the RAD-Bench questions are not shipped with mteval; pass "
                    "--task-args questions=PATH_OR_URL[,references=PATH_OR_URL] (or questions=published)"
                )
            files = [sources.resolve(self.options["questions"], "questions")]
            if self.options.get("references"):
                files.append(sources.resolve(self.options["references"], "references"))
            self._files = files
        return self._files

    def data_info(self) -> DataInfo:
        if not self.has_questions:
            return DataInfo(source=NO_QUESTIONS, sha256=sha256_files([]), files=())
        files = self.data_files()
        given = [str(self.options["questions"])] + ([str(self.options["references"])] if self.options.get("references") else [])
        published = "published" in given
        return DataInfo(
            source=", ".join(given),
            sha256=sha256_files(files),
            files=tuple(p.name for p in files),
            version=f"RAD-Bench@{sources.COMMIT}" if published else None,
        )

    def questions(self) -> list[Question]:
        files = self.data_files()
        return [q for q in read_questions(files[0]) if q.category in self.categories]

    def load(self) -> list[Conversation]:
        files = self.data_files()
        references = read_answer_turns(files[1]) if len(files) > 1 else None
        conversations = []
        for question in self.questions():
            refs = question.references
            if references is not None:
                refs = references.get(question.question_id)
                if refs is None:
                    raise DataError(f"{files[1]}: no reference answer for {question.question_id}")
            if refs is None or len(refs) < len(question.turns):
                raise DataError(
                    f"{files[0]}: {question.question_id} has no reference answers for every turn; "
                    "pass references=PATH_OR_URL (the benchmark's reference_ans_model.jsonl)"
                )
            conversations.append(to_conversation(question, refs))
        return conversations

    # --- prompts -----------------------------------------------------------------------
    def render_user(self, conversation: Conversation, index: int) -> str:
        """`{prefix}\\n\\n{context}\\n\\nQuestion: {question}` for the current turn only."""
        turn = conversation.turns[index]
        if "source_turn_index" in conversation.metadata:
            return turn.user  # already rendered by single_turn
        context = raw_context(turn)
        if context is None:
            return turn.user  # imported without questions: placeholder text
        return turn_prompt(turn.user, context, index)

    def single_turn(self, conversations: list[Conversation]) -> list[Conversation]:
        """Not part of RAD-Bench: each turn's prompt after a transcript of the earlier
        questions with their reference answers; the judge fills stay those of the turn."""
        flattened = []
        for conversation in conversations:
            for index in conversation.scored_turns:
                flat = flatten_turn(conversation, index, self.render_user(conversation, index))
                turns = conversation.turns[: index + 1]
                stored = {
                    "turn": index + 1,
                    "questions": [t.user for t in turns],
                    "references": [t.references.get("reference") for t in turns],
                    "context": raw_context(turns[-1]),
                }
                flattened.append(flat.model_copy(update={"metadata": {**flat.metadata, "rad_bench": stored}}))
        return flattened

    # --- scoring -----------------------------------------------------------------------
    def scorers(self) -> list["Scorer"]:
        return [RadBenchJudge("score", tr_context=str(self.options.get("tr_context", "list")))]

    def metrics(self, frame: "pd.DataFrame") -> dict[str, "Metric"]:
        """`score` (pooled over the task's turns) and `score/<category>` per scenario."""
        return task_metrics(frame, self.categories, unparsed_value(self.options))


class RetrievalSynthesis(RadBenchTask):
    name = "rad_bench/synthesis"
    category = "retrieval synthesis"
    description = "RAD-Bench Retrieval Synthesis (academic, news, education): 3-turn dialogues over retrieved context, reference-guided judge."
    categories = SYNTHESIS


class RetrievalReasoning(RadBenchTask):
    name = "rad_bench/reasoning"
    category = "retrieval reasoning"
    description = "RAD-Bench Retrieval Reasoning (finance, customer support, travel): 3-turn dialogues over retrieved context, reference-guided judge."
    categories = REASONING
