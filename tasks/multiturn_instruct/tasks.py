"""The nine MultiTurnInstruct tasks, one per category (`multiturn_instruct/<category>`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mteval.conversation import Conversation
from mteval.manifest import higher
from mteval.registry import register_task
from mteval.scoring import Scorer
from mteval.stats import mean_metrics, metric_from_rows
from mteval.task import DataInfo, Task

from .categories import LEVEL_OF, level_label
from .loader import build_conversation, read_dataset, subtask_of, subtasks
from .options import Options
from .scoring import SCORE, make_scorer
from .solver import ContextSolver
from .source import DataSource, file_sha256, resolve_source

if TYPE_CHECKING:
    import pandas as pd

    from mteval.stats import Metric


class MultiTurnInstructTask(Task):
    """One category. Options: data_path, hf_dataset, hf_revision,
    use_ground_truth_context, turn_window, answer_match (see README.md)."""
    option_names = frozenset({"data_path", "hf_dataset", "hf_revision", "use_ground_truth_context", "turn_window", "answer_match"})

    key: ClassVar[str] = ""
    """The benchmark's task key (its category)."""
    version = "1"
    generation = {"max_tokens": 1024}  # upstream --max-tokens-per-turn default
    headline = "score"
    semantics = {"score": higher(0, 1, "fraction")}

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.settings = Options.from_mapping(options)
        self._source: DataSource | None = None

    # --- data ---------------------------------------------------------------------------
    @property
    def source(self) -> DataSource:
        if self._source is None:
            s = self.settings
            self._source = resolve_source(s.data_path, s.hf_dataset, s.hf_revision)
        return self._source

    def data_files(self) -> list[Path]:
        return [self.source.path]

    def data_info(self) -> DataInfo:
        """The file that was read, hashed byte for byte."""
        source = self.source
        return DataInfo(source=source.origin, sha256=file_sha256(source.path), files=(source.path.name,), version=source.revision)

    def load(self) -> list[Conversation]:
        variant = self.settings.variant()
        return [
            build_conversation(record, ground_truth_context=self.settings.use_ground_truth_context, variant=variant)
            for record in read_dataset(self.source.path)
            if record.category == self.key
        ]

    # --- running ------------------------------------------------------------------------
    @property
    def solver(self) -> ContextSolver | None:
        """The engine's ChatSolver unless a context option needs this family's solver."""
        s = self.settings
        if not s.use_ground_truth_context and s.turn_window is None:
            return None
        return ContextSolver(ground_truth_context=s.use_ground_truth_context, turn_window=s.turn_window)

    # --- scoring ------------------------------------------------------------------------
    def scorers(self) -> list[Scorer]:
        return [make_scorer(self.settings.answer_match)]

    def metrics(self, frame: "pd.DataFrame") -> dict[str, "Metric"]:
        """`score`: mean over all scored turns, pooled across conversations, with a
        conversation-level bootstrap interval; `score/<subtask>` when the category has
        several subtasks (subtask from metadata.json)."""
        out = mean_metrics(frame, [SCORE])
        names = subtasks(self.key)
        column = f"score_{SCORE}"
        if len(names) < 2:
            return out
        if frame.empty or column not in frame:
            return {**out, **{f"{SCORE}/{name}": metric_from_rows([], []) for name in names}}
        lookup = subtask_of(self.key)
        ids = [str(cid) for cid in frame["conversation_id"].tolist()]
        owners = [lookup.get(cid.split("#", 1)[0]) for cid in ids]  # '#': --history single ids
        values = [None if v is None or v != v else float(v) for v in frame[column].tolist()]
        for name in names:
            picked = [(v, c) for v, c, owner in zip(values, ids, owners) if owner == name]
            out[f"{SCORE}/{name}"] = metric_from_rows([v for v, _ in picked], [c for _, c in picked])
        return out


@register_task
class Memorization(MultiTurnInstructTask):
    name = "multiturn_instruct/memorization"
    key = "memorization"
    category = level_label(LEVEL_OF["memorization"])
    description = "Memorization (memorization): sentence BLEU."


@register_task
class DynamicInstruction(MultiTurnInstructTask):
    name = "multiturn_instruct/dynamic_instruction"
    key = "dynamic_instruction"
    category = level_label(LEVEL_OF["dynamic_instruction"])
    description = "Dynamic instruction (amazon_reviews): set IoU."


@register_task
class Multitasking(MultiTurnInstructTask):
    name = "multiturn_instruct/multitasking"
    key = "multitasking"
    category = level_label(LEVEL_OF["multitasking"])
    description = "Multitasking (squad: SQuAD F1; amazon_reviews_category, amazon_reviews_index: set IoU)."


@register_task
class DynamicEnvironment(MultiTurnInstructTask):
    name = "multiturn_instruct/dynamic_environment"
    key = "dynamic_environment"
    category = level_label(LEVEL_OF["dynamic_environment"])
    description = "Dynamic environment (amazon_reviews): set IoU."


@register_task
class Triggering(MultiTurnInstructTask):
    name = "multiturn_instruct/triggering"
    key = "triggering"
    category = level_label(LEVEL_OF["triggering"])
    description = "Triggering (triggering): substring match."


@register_task
class RecursiveReasoning(MultiTurnInstructTask):
    name = "multiturn_instruct/recursive_reasoning"
    key = "recursive_reasoning"
    category = level_label(LEVEL_OF["recursive_reasoning"])
    description = "Recursive reasoning (math_functions, math_functions_cot: exact Answer: match; life_scenarios: substring match)."


@register_task
class PrivacyProtection(MultiTurnInstructTask):
    name = "multiturn_instruct/privacy_protection"
    key = "privacy_protection"
    category = level_label(LEVEL_OF["privacy_protection"])
    description = "Privacy protection (email_addresses, phone_numbers, life_scenarios, credit_cards): non-match rate."


@register_task
class Personalization(MultiTurnInstructTask):
    name = "multiturn_instruct/personalization"
    key = "personalization"
    category = level_label(LEVEL_OF["personalization"])
    description = "Personalization (recipes): exact Answer: match."


@register_task
class Prioritization(MultiTurnInstructTask):
    name = "multiturn_instruct/prioritization"
    key = "prioritization"
    category = level_label(LEVEL_OF["prioritization"])
    description = "Prioritization (scheduling: substring match; value_setting: exact Answer: match)."
