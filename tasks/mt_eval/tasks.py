"""The MT-Eval tasks: the five main tasks of the `mt_eval` family (Recollection: cls and
global-inst; Expansion; Refinement; Follow-up) and the ablations (`main = False`). Each says
which files it reads, what its scored turns carry for scoring, and how a published
single-turn item maps back to its multi-turn turn; loading lives in `base.MTEvalTask`."""

from __future__ import annotations

from typing import Any

from mteval.conversation import Conversation
from mteval.data import FieldError
from mteval.registry import register_task
from mteval.scoring.base import Scorer

from .base import MTEvalTask, doc_id, judged_inst
from .checkers import InstructionError, build_checker
from .data import Record
from .judging import MTEvalJudge, follow_up_history, numbered
from .scoring import cls_scorer, instruction_scorer


# --- Recollection -------------------------------------------------------------------------------
class ClsTask(MTEvalTask):
    """Document classification with a turn-0 instruction; the cls substring rule."""

    def references(self, record: Record, single: bool) -> dict[int, dict[str, Any]]:
        refs = {}
        for i, raw in enumerate(record.turns):
            if raw.do_inference:
                if not raw.sys.strip():
                    raise FieldError(f"conv[{i}].sys", "empty: a scored classification turn needs its gold label")
                refs[i] = {"label": raw.sys}
        return refs

    def scorers(self) -> list[Scorer]:
        return [cls_scorer(self.cls_mode)]


@register_task
class RecollectionCls(ClsTask):
    name = "mt_eval/recollection_cls"
    category = "Recollection"
    description = (
        "Recollection, document classification: turn 0 sets the task (context only), then 10 documents to classify "
        "(13 topics); scored 10/0 by MT-Eval's substring rule. Gold replies: yes (the labels)."
    )
    multi_config = "recollection_multi_cls"
    single_config = "recollection_single_cls"


@register_task
class RecollectionGlobalInst(MTEvalTask):
    name = "mt_eval/recollection_global_inst"
    category = "Recollection"
    description = (
        "Recollection, global instruction following: turn 0 gives one IFEval-style instruction for the whole dialogue "
        "(context only), then 10 queries; each reply is checked 10/0 (14 instruction types). Gold replies: NONE in the "
        "shipped file (empty sys), so --history gold and replay/gold are refused; source=hf has them."
    )
    multi_config = "recollection_multi_global-inst"
    single_config = "recollection_single_global-inst"

    def source_of(self, single_id: str, multi: list[Conversation]) -> tuple[str, str] | None:
        conversation, sep, turn = single_id.partition("_")
        return (conversation, turn) if sep else None

    def metadata(self, record: Record) -> dict[str, Any]:
        if record.inst_name is None:
            raise FieldError("inst_name", "missing (a global-instruction dialogue names its instruction)")
        try:
            checker = build_checker(record.inst_name, record.inst_args)
        except InstructionError as exc:
            raise FieldError(exc.field, exc.reason) from exc
        return {"inst_name": checker.name, "inst_args": dict(checker.args)}

    def scorers(self) -> list[Scorer]:
        return [instruction_scorer()]


# --- judged tasks ----------------------------------------------------------------------------------
class JudgedTask(MTEvalTask):
    def scorers(self) -> list[Scorer]:
        return [MTEvalJudge("judge")]


@register_task
class Expansion(JudgedTask):
    name = "mt_eval/expansion"
    category = "Expansion"
    description = (
        "Expansion: one document, 7 tasks on it (translation, short QA, summary, relations, NER, POS, classification); "
        "judged 1-10 with MT-Eval's expansion template. Gold replies: yes."
    )
    multi_config = "expansion_multi"
    single_config = "expansion_single"
    templates = ("expansion",)

    def references(self, record: Record, single: bool) -> dict[int, dict[str, Any]]:
        return {
            i: {"judge": "expansion", "doc": doc_id(raw.id, i), "constraints": judged_inst(raw, i)}
            for i, raw in enumerate(record.turns)
            if raw.do_inference
        }


class RefinementTask(JudgedTask):
    """Refinement dialogues: constraints accumulate within a task type and reset when the
    type (second id field) changes; the single-turn file carries merged instructions."""

    templates = ("refinement_multi", "refinement_single")

    def references(self, record: Record, single: bool) -> dict[int, dict[str, Any]]:
        refs: dict[int, dict[str, Any]] = {}
        current: str | None = None
        constraints: list[str] = []
        for i, raw in enumerate(record.turns):
            if not raw.do_inference:
                continue
            doc, inst = doc_id(raw.id, i), judged_inst(raw, i)
            if single:
                refs[i] = {"judge": "refinement_single", "doc": doc, "constraints": inst}
                continue
            parts = raw.id.split("_")
            if len(parts) < 3:
                raise FieldError(f"conv[{i}].id", f"{raw.id!r} is not '{{doc}}_{{task}}_{{k}}'")
            if parts[1] != current:
                current, constraints = parts[1], []
            constraints.append(inst)
            refs[i] = {"judge": "refinement_multi", "doc": doc, "constraints": numbered(constraints), "task_type": current}
        return refs


@register_task
class Refinement(RefinementTask):
    name = "mt_eval/refinement"
    category = "Refinement"
    description = (
        "Refinement: one document, two task types in sequence, each an instruction plus 5 harder constraints (12 turns); "
        "judged 1-10 against the constraints accumulated within the current task type. Gold replies: yes."
    )
    multi_config = "refinement_multi"
    single_config = "refinement_single"

    def source_of(self, single_id: str, multi: list[Conversation]) -> tuple[str, str] | None:
        """`{doc}_{task}_{k}` merges multi-turn turns 1..k+1 of that task: it maps to turn
        `{doc}_{task}_{k+1}` of the dialogue where the task comes first (with the document)."""
        parts = single_id.split("_")
        if len(parts) != 3 or not parts[2].isdigit():
            return None
        prefix = f"{parts[0]}_{parts[1]}_"
        for conversation in multi:
            if conversation.turns[0].id.startswith(prefix):
                return conversation.id, f"{prefix}{int(parts[2]) + 1}"
        return None


@register_task
class FollowUp(JudgedTask):
    name = "mt_eval/follow_up"
    category = "Follow-up"
    description = (
        "Follow-up: 80 MT-Bench questions extended to 5 turns; turns 1-2 (MT-Bench with GPT-4 answers) are context only, "
        "turns 3-5 judged 1-10 seeing the previous turn with its gold reply. Gold replies: yes. Single-turn: rendered "
        "here as a User:/Assistant: transcript (source=hf uses the published follow-up_single)."
    )
    multi_config = "follow-up_multi"
    templates = ("mt-bench",)

    def single_file(self) -> str | None:
        return "follow-up_single" if self.source == "hf" else None

    def references(self, record: Record, single: bool) -> dict[int, dict[str, Any]]:
        refs = {}
        for i, raw in enumerate(record.turns):
            if raw.do_inference:
                history = "" if single or i == 0 else follow_up_history(record.turns[i - 1].user, record.turns[i - 1].sys)
                refs[i] = {"judge": "mt-bench", "history": history}
        return refs

    def adjust_flattened(self, conversation: Conversation) -> Conversation:
        """A flattened turn is judged as `User: {prompt}\\nAssistant: {reply}` (no history)."""
        turns = tuple(t.model_copy(update={"references": {**t.references, "history": ""}}) for t in conversation.turns)
        return conversation.model_copy(update={"turns": turns})


# --- ablations ----------------------------------------------------------------------------------------
def _cls_ablation(variant: str, what: str) -> type[ClsTask]:
    class ClsAblation(ClsTask):
        name = f"mt_eval/cls_ablation_{variant}"
        category = "Recollection ablation"
        main = False
        on_hf = False
        description = (
            f"Ablation, in-context labels ({what}): 4 or 9 labelled documents as context-only turns, then one document "
            "to classify (only the last turn is scored, cls rule). Single-turn: the dialogue flattened into one prompt."
        )
        multi_config = f"cls_ablation_{variant}"

    ClsAblation.__name__ = ClsAblation.__qualname__ = f"ClsAblation_{variant}"
    return register_task(ClsAblation)


CLS_ABLATIONS: dict[str, type[ClsTask]] = {
    variant: _cls_ablation(variant, what)
    for variant, what in (
        ("gold", "random documents with their true labels"),
        ("dgc", "only classes other than the target's"),
        ("sgc", "all context from one random class"),
        ("rc", "gold context with random wrong labels"),
    )
}


@register_task
class RefinementIrrelevantFront(RefinementTask):
    name = "mt_eval/refinement_irrelevant_front"
    category = "Refinement ablation"
    main = False
    on_hf = False
    description = (
        "Ablation, irrelevant context: 1, 3 or 6 unrelated chat turns (context only, gold replies) precede one 6-turn "
        "refinement task; judged like refinement. Single-turn: the dialogue flattened into one prompt per turn."
    )
    multi_config = "refinement_ablation_irrelevant-front"
    templates = ("refinement_multi",)

    def metadata(self, record: Record) -> dict[str, Any]:
        return {"n_distracts": record.n_distracts} if record.n_distracts is not None else {}


MAIN_TASKS: tuple[type[MTEvalTask], ...] = (RecollectionCls, RecollectionGlobalInst, Expansion, Refinement, FollowUp)
