"""FastChat's answer and single-answer judgment files (also RAD-Bench's), read leniently:
every bad line becomes a `Problem` with file and line, and reading goes on.

Answer file `model_answer/<model>.jsonl` (the model name is the file stem):
`{"question_id", "answer_id", "model_id", "choices": [{"index": 0, "turns": [...]}], "tstamp"}`.
Judgment file: `{"question_id", "model", "judge": [judge_model, prompt_name], "score",
"turn", "judgment", "tstamp"}` (+ RAD-Bench's `type`, FastChat's `user_prompt`);
score -1 means the judge output had no rating.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mteval.importers.common import Problem
from mteval.scoring.judge_spec import Verdict
from mteval.scoring.jury import aggregate
from mteval.transcript import Score

UNPARSED_SCORE = -1
SCALE = (1, 10)


@dataclass
class AnswerRecord:
    question_id: str
    turns: list[str]
    line: int
    model_id: str | None = None
    tstamp: float | None = None


@dataclass
class JudgmentRecord:
    question_id: str
    model: str
    turn: int
    judge: str
    prompt: str
    score: float
    judgment: str
    line: int
    path: str
    tstamp: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def unparsed(self) -> bool:
        return self.score == UNPARSED_SCORE


def _lines(path: Path, problems: list[Problem], model: str | None = None):
    """(line number, object) of each non-empty line; bad JSON is a problem."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        problems.append(Problem(str(path), None, f"cannot read ({exc.strerror})", model))
        return
    with handle:
        for line_no, raw in enumerate(handle, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.append(Problem(str(path), line_no, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})", model))
                continue
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                problems.append(Problem(str(path), line_no, f"invalid JSON ({exc.msg})", model))
                continue
            if not isinstance(obj, dict):
                problems.append(Problem(str(path), line_no, "expected a JSON object", model))
                continue
            yield line_no, obj


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def read_answers(path: Path, model: str, problems: list[Problem]) -> dict[str, AnswerRecord]:
    """question_id -> answer of one model's answer file; a repeated id is a problem."""
    answers: dict[str, AnswerRecord] = {}
    for line, obj in _lines(path, problems, model):
        try:
            turns = obj["choices"][0]["turns"]
            qid = obj["question_id"]
        except (KeyError, IndexError, TypeError):
            problems.append(Problem(str(path), line, "expected question_id and choices[0].turns", model))
            continue
        if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
            problems.append(Problem(str(path), line, "field 'choices.0.turns' must be a list of strings", model))
            continue
        qid = str(qid)
        if qid in answers:
            problems.append(Problem(str(path), line, f"duplicate answer to question {qid} (first on line {answers[qid].line})", model))
            continue
        model_id = obj.get("model_id")
        answers[qid] = AnswerRecord(qid, list(turns), line, str(model_id) if model_id is not None else None, _number(obj.get("tstamp")))
    return answers


def read_judgments(path: Path, problems: list[Problem]) -> list[JudgmentRecord]:
    """Every well-formed single-answer judgment; malformed lines are problems."""
    records = []
    for line, obj in _lines(path, problems):
        model = obj.get("model")
        problem = _judgment_problem(obj)
        if problem is not None:
            problems.append(Problem(str(path), line, problem, str(model) if isinstance(model, str) else None))
            continue
        judge = obj["judge"]
        records.append(
            JudgmentRecord(
                question_id=str(obj["question_id"]), model=model, turn=obj["turn"], judge=judge[0], prompt=judge[1],
                score=float(obj["score"]), judgment=obj["judgment"], line=line, path=str(path), tstamp=_number(obj.get("tstamp")),
                extra={k: v for k, v in obj.items() if k in ("type", "score")},
            )
        )
    return records


_JUDGMENT_FIELDS = ("question_id", "model", "judge", "score", "turn", "judgment")


def _judgment_problem(obj: dict[str, Any]) -> str | None:
    """What is wrong with a judgment line, first problem only; None when it is usable."""
    missing = [name for name in _JUDGMENT_FIELDS if name not in obj]
    if missing:
        return f"missing field {missing[0]!r} (single-answer judgments only)"
    judge, turn = obj["judge"], obj["turn"]
    if not (isinstance(judge, list) and len(judge) == 2 and all(isinstance(j, str) for j in judge)):
        return "field 'judge' must be [judge_model, prompt_name]"
    if not isinstance(turn, int) or isinstance(turn, bool):
        return f"field 'turn' must be an integer, got {turn!r}"
    if _number(obj["score"]) is None:
        return f"field 'score' must be a number, got {obj['score']!r}"
    if not isinstance(obj["judgment"], str) or not isinstance(obj["model"], str):
        return "fields 'model' and 'judgment' must be strings"
    return None


def score_problem(record: JudgmentRecord) -> str | None:
    """Why a score is invalid: outside 1-10 and not -1 (unparsed)."""
    low, high = SCALE
    if record.unparsed or low <= record.score <= high:
        return None
    return f"score {record.score:g} is outside {low}-{high} (and not -1, which means unparsed)"


def verdict(record: JudgmentRecord, family: str) -> dict[str, Any]:
    """The judgment as a juror verdict (dict form, as a native run stores it)."""
    spec = f"{family}/{record.prompt}"
    if record.unparsed:
        found = Verdict(
            judge=record.judge, spec=spec, status="unparsed", raw=record.judgment,
            explanation="score -1 in the source: the judge output had no rating",
        )
    else:
        found = Verdict(judge=record.judge, spec=spec, status="ok", value=record.score, raw=record.judgment)
    data = found.model_dump(mode="json")
    data["source"] = {"file": record.path, "line": record.line, "score": record.extra.get("score", record.score), "tstamp": record.tstamp}
    return data


def turn_score(records: list[JudgmentRecord], family: str) -> Score:
    """One turn's score from its judgment(s): the mean of the parsed ones, like a jury;
    unparsed if none parsed. The explanation is the judgment text."""
    verdicts = [verdict(r, family) for r in records]
    value, _ = aggregate([Verdict.model_validate({k: v for k, v in d.items() if k != "source"}) for d in verdicts], "mean")
    details = {"aggregate": "mean", "verdicts": verdicts}
    parsed = [r for r in records if not r.unparsed]
    if value is None:
        raw = "\n\n".join(r.judgment for r in records)
        return Score(value=None, status="unparsed", explanation=records[0].judgment, raw=raw, details=details)
    return Score(value=value, explanation=parsed[0].judgment, details=details)
