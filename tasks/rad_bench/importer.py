"""`mteval import rad-bench`: RAD-Bench's published model answers and GPT-4o judgments
(`rad_bench/data/model_answer/<model>.jsonl`, `rad_bench/data/model_judgment/gpt-4o.jsonl`)
as runs of `rad_bench/synthesis` + `rad_bench/reasoning`, one run per model.

With `questions` (and optionally `references`) the conversations are the task's own,
so the data sha256 and the messages sent equal a native run's. Without them each user
turn is a placeholder naming the question id and turn, and the manifest says so.

The importer is the family's: it reads RAD-Bench's own file layout through the engine's
generic import flow (`mteval.importers.flow`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from mteval.conversation import Conversation, Turn
from mteval.importers.common import ImportResult, sha256_file
from mteval.importers.flow import ImportSpec, Located, import_published
from mteval.importers.layout import JudgmentRecord

SOURCE = "RAD-Bench published model answers and GPT-4o judgments (https://github.com/mtkresearch/RAD-Bench, Apache-2.0)"


def placeholder_text(question_id: str, turn: int) -> str:
    return f"[RAD-Bench question {question_id}, turn {turn}: text unavailable (imported without --questions)]"


def _placeholder(question_id: str, n_turns: int) -> Located | None:
    from mteval_tasks.rad_bench.questions import JUDGE_TYPES, N_TURNS, category_of

    category = category_of(question_id)
    if category is None:
        return None
    task = "rad_bench/synthesis" if JUDGE_TYPES[category] == "RS" else "rad_bench/reasoning"
    turns = tuple(Turn(id=str(t), user=placeholder_text(question_id, t)) for t in range(1, N_TURNS + 1))
    metadata = {"category": category, "judge_type": JUDGE_TYPES[category], "question_unavailable": True}
    return task, Conversation(id=question_id, turns=turns, metadata=metadata)


def _check_judgment(record: JudgmentRecord, located: Located) -> str | None:
    """RAD-Bench judgments name their judge type and prompt: both must fit the question."""
    from mteval_tasks.rad_bench.judging import prompt_name

    expected = located[1].metadata.get("judge_type")
    found = record.extra.get("type")
    if found is not None and found != expected:
        return f"type {found!r} does not match question {record.question_id} (category {located[1].metadata.get('category')}: {expected})"
    if record.prompt != prompt_name(expected, record.turn):
        return f"judge prompt {record.prompt!r} is not {prompt_name(expected, record.turn)!r} for question {record.question_id} turn {record.turn}"
    return None


def rad_bench_spec(questions: str | None = None, references: str | None = None, task_options: Mapping[str, Any] | None = None) -> ImportSpec:
    """The import mapping; loads the tasks' conversations when `questions` is given."""
    from mteval.registry import resolve

    options = dict(task_options or {})
    if questions:
        options["questions"] = questions
    if references:
        options["references"] = references
    conversations: dict[str, Located] = {}
    files: dict[str, str] = {}
    notes = [
        "Generation parameters are RAD-Bench's documented defaults (temperature 0.7 unless required_temperature, "
        "2048 tokens, no system message), not read from the source files.",
        "A judgment score of -1 (no rating in the judge output) is an unparsed judgment: excluded from the means and counted.",
    ]
    if questions:
        from mteval_tasks.rad_bench.questions import read_questions

        tasks = [cls(**options) for cls in resolve("rad_bench")]
        by_id = {c.id: (task.name, c) for task in tasks for c in task.load()}
        local = tasks[0].data_files()
        for question in read_questions(local[0]):  # the question file's order
            if question.question_id in by_id:
                conversations[question.question_id] = by_id[question.question_id]
        for given, path in zip([questions] + ([references] if references else []), local):
            files[str(given)] = sha256_file(path)
    else:
        notes.append(
            "Questions unavailable: each user turn is a placeholder naming the question id and turn, and the task data "
            "sha256 is that of no data; import with --questions to record the real prompts."
        )
    return ImportSpec(
        format="rad-bench",
        family="rad_bench",
        tasks="rad_bench",
        source=SOURCE,
        task_options=options,
        conversations=conversations,
        placeholder=None if questions else _placeholder,
        check_judgment=_check_judgment,
        files=files,
        notes=notes,
    )


def import_rad_bench(
    answers_dir: str | Path,
    judgments: str | Path | None,
    output_dir: str | Path,
    *,
    questions: str | None = None,
    references: str | None = None,
    task_options: Mapping[str, Any] | None = None,
    models: Sequence[str] | None = None,
    command: Sequence[str] = (),
) -> ImportResult:
    """Write `output_dir/imported-rad-bench-<model>` for every model of `answers_dir`."""
    spec = rad_bench_spec(questions, references, task_options)
    return import_published(spec, answers_dir, judgments, output_dir, models=models, command=command)
