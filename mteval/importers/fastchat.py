"""`mteval import fastchat`: FastChat llm_judge answers and single-answer judgments
(MT-Bench layout: `model_answer/<model>.jsonl`, `model_judgment/<judge>_single.jsonl` with
`{"question_id", "model", "judge": [judge, prompt], "score", "turn", "judgment"}`) as runs
of a task whose conversations come from the matching question file (default task
`mt_bench/mt_bench` with its shipped MT-Bench questions). Pairwise judgments are not
imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from mteval.errors import ConfigurationError
from mteval.importers.common import ImportResult, sha256_file
from mteval.importers.flow import ImportSpec, Located, import_published

SOURCE = "FastChat llm_judge model answers and single-answer judgments (https://github.com/lm-sys/FastChat)"
DEFAULT_TASK = "mt_bench/mt_bench"


def fastchat_spec(
    task: str = DEFAULT_TASK,
    questions: str | None = None,
    references: str | None = None,
    task_options: Mapping[str, Any] | None = None,
) -> ImportSpec:
    """The import mapping onto `task`: its conversations (from `questions` if given)."""
    from mteval.registry import resolve

    classes = resolve(task)
    if len(classes) != 1:
        raise ConfigurationError(f"--task {task}: name one task, not a family of {len(classes)}")
    options = dict(task_options or {})
    if questions:
        options["questions"] = questions
    if references:
        options["references"] = references
    instance = classes[0](**options)
    conversations: dict[str, Located] = {c.id: (instance.name, c) for c in instance.load()}
    files = {}
    for given in (questions, references):
        if given:
            files[str(given)] = sha256_file(given)
    return ImportSpec(
        format="fastchat",
        family=instance.family,
        tasks=instance.name,
        source=SOURCE,
        task_options=options,
        conversations=conversations,
        files=files,
        notes=[
            "Generation parameters are the task's documented defaults, not read from the source files.",
            "A judgment score of -1 (no rating in the judge output) is an unparsed judgment: excluded from the means and counted.",
        ],
    )


def import_fastchat(
    answers_dir: str | Path,
    judgments: str | Path | None,
    output_dir: str | Path,
    *,
    task: str = DEFAULT_TASK,
    questions: str | None = None,
    references: str | None = None,
    task_options: Mapping[str, Any] | None = None,
    models: Sequence[str] | None = None,
    command: Sequence[str] = (),
) -> ImportResult:
    """Write `output_dir/imported-<family>-<model>` for every model of `answers_dir`."""
    spec = fastchat_spec(task, questions, references, task_options)
    return import_published(spec, answers_dir, judgments, output_dir, models=models, command=command)
