"""The import flow shared by every FastChat-layout format: read all answer files and the
judgment file, check them against the benchmark's conversations, and write one run per
model whose input has no problems. Problems are collected, never fatal to other models.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from mteval.conversation import Conversation
from mteval.errors import ConfigurationError
from mteval.importers.common import (
    API_ERROR_OUTPUT,
    ImportedConversation,
    ImportedRun,
    ImportResult,
    Problem,
    sha256_file,
    write_run,
)
from mteval.importers.layout import (
    AnswerRecord,
    JudgmentRecord,
    read_answers,
    read_judgments,
    score_problem,
    turn_score,
)

Located = tuple[str, Conversation]
"""(task name, conversation) of one question id."""


@dataclass
class ImportSpec:
    """How one published format maps onto mteval tasks."""

    format: str
    """`rad-bench`, `fastchat`."""
    family: str
    """Task family: judge spec names are `<family>/<prompt>`, run ids `imported-<family>-<model>`."""
    tasks: str
    """What the runs evaluate (`--tasks` syntax)."""
    source: str
    task_options: dict[str, Any]
    conversations: dict[str, Located]
    """Question id -> task and conversation, in benchmark order (empty: questions unavailable)."""
    placeholder: Callable[[str, int], Located | None] | None = None
    """For a question id without a question record: a placeholder conversation, or None if the id is unknown."""
    check_judgment: Callable[[JudgmentRecord, Located], str | None] | None = None
    scorer: str = "score"
    files: dict[str, str] = field(default_factory=dict)
    """Input files other than answers/judgments (questions, references): path -> sha256."""
    notes: list[str] = field(default_factory=list)


def run_id_for(family: str, model: str) -> str:
    return "imported-" + re.sub(r"[^A-Za-z0-9._-]+", "-", f"{family.replace('_', '-')}-{model}").strip("-")


def _locate(spec: ImportSpec, qid: str, n_turns: int) -> Located | None:
    if qid in spec.conversations:
        return spec.conversations[qid]
    if spec.conversations or spec.placeholder is None:
        return None
    return spec.placeholder(qid, n_turns)


def _check_answers(spec: ImportSpec, path: Path, model: str, answers: dict[str, AnswerRecord], problems: list[Problem]) -> dict[str, Located]:
    located: dict[str, Located] = {}
    for qid, answer in answers.items():
        found = _locate(spec, qid, len(answer.turns))
        if found is None:
            where = "the question file" if spec.conversations else "the benchmark"
            problems.append(Problem(str(path), answer.line, f"question {qid} does not exist in {where}", model))
            continue
        expected = len(found[1].turns)
        if len(answer.turns) != expected:
            problems.append(Problem(str(path), answer.line, f"question {qid} has {expected} turns but the answer has {len(answer.turns)}", model))
            continue
        located[qid] = found
    return located


def _check_judgments(
    spec: ImportSpec,
    judgments: list[JudgmentRecord],
    answers: dict[str, dict[str, AnswerRecord]],
    located: dict[str, dict[str, Located]],
    problems: list[Problem],
) -> dict[str, dict[tuple[str, int], list[JudgmentRecord]]]:
    """model -> (question id, turn) -> judgments, for judgments that pass every check."""
    kept: dict[str, dict[tuple[str, int], list[JudgmentRecord]]] = defaultdict(lambda: defaultdict(list))
    seen: dict[tuple[str, str, int, str], int] = {}
    for record in judgments:
        def bad(message: str, record: JudgmentRecord = record) -> None:
            problems.append(Problem(record.path, record.line, message, record.model))

        if record.model not in answers:
            bad(f"judgment for model {record.model!r}, which has no answer file")
            continue
        answer = answers[record.model].get(record.question_id)
        found = located[record.model].get(record.question_id)
        if answer is None or found is None:
            bad(f"judgment for question {record.question_id}, which does not exist in {record.model}'s answers")
            continue
        n_turns = len(found[1].turns)
        if not 1 <= record.turn <= n_turns:
            bad(f"judgment for turn {record.turn} of question {record.question_id}, which has turns 1-{n_turns}")
            continue
        key = (record.model, record.question_id, record.turn, record.judge)
        if key in seen:
            bad(f"duplicate judgment of {record.model} on question {record.question_id} turn {record.turn} by {record.judge} (first on line {seen[key]})")
            continue
        seen[key] = record.line
        message = score_problem(record) or (spec.check_judgment(record, found) if spec.check_judgment else None)
        if message:
            bad(message)
            continue
        kept[record.model][(record.question_id, record.turn)].append(record)
    return kept


def import_published(
    spec: ImportSpec,
    answers_dir: str | Path,
    judgments_path: str | Path | None,
    output_dir: str | Path,
    *,
    models: Sequence[str] | None = None,
    command: Sequence[str] = (),
) -> ImportResult:
    """Import every model of `answers_dir` (or only `models`) into `output_dir`."""
    result = ImportResult()
    problems = result.problems
    files = _answer_files(Path(answers_dir), judgments_path, models, problems)
    answers = {name: read_answers(path, name, problems) for name, path in files.items()}
    located = {name: _check_answers(spec, files[name], name, answers[name], problems) for name in files}
    judgments = _selected_judgments(judgments_path, models, problems)
    kept = _check_judgments(spec, judgments, answers, located, problems)
    judgments_sha = sha256_file(judgments_path) if judgments_path is not None else None
    bad_models = {p.model for p in problems if p.model}
    for name, path in files.items():
        if name in bad_models:
            result.skipped.append(name)
            continue
        result.runs.append(
            _write_model(spec, name, path, answers[name], located[name], kept.get(name, {}), judgments_path, judgments_sha, output_dir, command)
        )
    return result


def _answer_files(
    answers_dir: Path, judgments_path: str | Path | None, models: Sequence[str] | None, problems: list[Problem]
) -> dict[str, Path]:
    """The answer file of each model to import (a problem for each --models name without one)."""
    if not answers_dir.is_dir():
        raise ConfigurationError(f"--answers {answers_dir}: not a directory")
    if judgments_path is not None and not Path(judgments_path).is_file():
        raise ConfigurationError(f"--judgments {judgments_path}: no such file")
    files = {p.stem: p for p in sorted(answers_dir.glob("*.jsonl"))}
    if not files:
        raise ConfigurationError(f"--answers {answers_dir}: no *.jsonl answer files")
    if not models:
        return files
    for name in models:
        if name not in files:
            problems.append(Problem(str(answers_dir), None, f"no answer file {name}.jsonl for --models {name}", name))
    return {name: path for name, path in files.items() if name in models}


def _selected_judgments(judgments_path: str | Path | None, models: Sequence[str] | None, problems: list[Problem]) -> list[JudgmentRecord]:
    """The published judgments (of `models` only, when given); none without a judgments file."""
    if judgments_path is None:
        return []
    judgments = read_judgments(Path(judgments_path), problems)
    return [j for j in judgments if j.model in models] if models else judgments


def _order(spec: ImportSpec, located: dict[str, Located]) -> list[str]:
    if spec.conversations:
        position = {qid: i for i, qid in enumerate(spec.conversations)}
        return sorted(located, key=lambda q: position[q])
    return list(located)  # the answer file's order


def _write_model(
    spec: ImportSpec,
    model: str,
    path: Path,
    answers: dict[str, AnswerRecord],
    located: dict[str, Located],
    judged: dict[tuple[str, int], list[JudgmentRecord]],
    judgments_path: str | Path | None,
    judgments_sha: str | None,
    output_dir: str | Path,
    command: Sequence[str],
) -> ImportedRun:
    items = []
    judges: set[str] = set()
    unparsed = 0
    for qid in _order(spec, located):
        item, records = _imported_conversation(spec, qid, located[qid], answers[qid], judged)
        judges.update(r.judge for r in records)
        unparsed += sum(r.unparsed for r in records)
        items.append(item)
    n_turns = sum(len(i.replies) for i in items)
    judged_turns = sum(len(i.scores) for i in items)
    files = _source_files(spec, path, judgments_path, judgments_sha)
    errors = sum(reply == API_ERROR_OUTPUT for i in items for reply in i.replies)
    notes = _import_notes(spec, judged_turns, n_turns, errors)
    missing = [qid for qid in spec.conversations if qid not in located] if spec.conversations else []
    imported = {
        "format": spec.format,
        "source": spec.source,
        "files": files,
        "model": model,
        "model_ids": sorted({a.model_id for a in answers.values() if a.model_id}),
        "questions": "given" if spec.conversations else "unavailable",
        "judged": bool(judged_turns),
        "judges": sorted(judges),
        "turns": n_turns,
        "judged_turns": judged_turns,
        "unparsed_judgments": unparsed,
        "api_error_answers": errors,
        "missing_conversations": missing,
        "notes": notes,
    }
    run_dir, _ = write_run(
        output_dir=Path(output_dir),
        run_id=run_id_for(spec.family, model),
        tasks=spec.tasks,
        task_options=spec.task_options,
        model=model,
        conversations=items,
        imported=imported,
        judges=sorted(judges),
        command=command,
    )
    return ImportedRun(model=model, run_dir=run_dir, conversations=len(items), scored_turns=n_turns, judged_turns=judged_turns)


def _imported_conversation(
    spec: ImportSpec, qid: str, where: Located, answer: AnswerRecord, judged: dict[tuple[str, int], list[JudgmentRecord]]
) -> tuple[ImportedConversation, list[JudgmentRecord]]:
    """One answered conversation with its judged turns' scores, and the judgment records used."""
    task, conversation = where
    item = ImportedConversation(task=task, conversation=conversation, replies=list(answer.turns))
    stamps = [answer.tstamp or 0.0]
    used: list[JudgmentRecord] = []
    for index in range(len(conversation.turns)):
        records = judged.get((qid, index + 1))
        if not records:
            continue
        item.scores[index] = {spec.scorer: turn_score(records, spec.family)}
        used.extend(records)
        stamps.extend(r.tstamp or 0.0 for r in records)
    item.started_at, item.finished_at = stamps[0], max(stamps)
    return item, used


def _import_notes(spec: ImportSpec, judged_turns: int, n_turns: int, errors: int) -> list[str]:
    """The spec's notes plus what the run lacks: judgments for some or all turns, answers that errored upstream."""
    notes = list(spec.notes)
    if not judged_turns:
        notes.append("No published judgments for this model: the run holds its replies and no scores.")
    elif judged_turns < n_turns:
        notes.append(f"Published judgments cover {judged_turns} of {n_turns} turns; the other turns have no score.")
    if errors:
        notes.append(f"{errors} answers are {API_ERROR_OUTPUT} (the API call failed upstream): kept as replies, marked as errored turns.")
    return notes


def _source_files(spec: ImportSpec, path: Path, judgments_path: str | Path | None, judgments_sha: str | None) -> dict[str, str]:
    """sha256 of every imported file: the answers, the judgments (if any) and the spec's own."""
    files = {str(path): sha256_file(path)}
    if judgments_path is not None and judgments_sha is not None:
        files[str(judgments_path)] = judgments_sha
    files.update(spec.files)
    return files
