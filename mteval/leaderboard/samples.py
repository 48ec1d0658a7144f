"""One pass over a run's samples.jsonl: what the site needs besides the manifest
(per-conversation scores for intervals, jurors' verdicts, conversation summaries)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from mteval.results import iter_sample_dicts

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple:
    """Sort key that puts `c2` before `c10`."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in _DIGITS.split(text))


def turn_position(sample: dict[str, Any], record: dict[str, Any]) -> int:
    """0-based position of a turn in its source conversation (single-turn renderings
    keep the position of the turn they were made from)."""
    metadata = (sample.get("conversation") or {}).get("metadata") or {}
    return int(metadata.get("source_turn_index", record.get("index", 0)))


@dataclass
class ConversationSummary:
    """One finished conversation, as listed in a run's transcript index."""

    task: str
    conversation_id: str
    status: str
    error: str | None
    scored_turns: int
    means: dict[str, float | None]
    unparsed: int = 0
    score_errors: int = 0
    turn_errors: int = 0
    slug: str = ""

    @property
    def has_problem(self) -> bool:
        return self.status != "ok" or bool(self.unparsed or self.score_errors or self.turn_errors)


@dataclass
class RunSamples:
    """Per-run facts read from the samples."""

    scores: dict[str, dict[str, list[tuple[str, int, float]]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    """task -> metric -> (conversation id, turn position, value) of every usable score."""
    verdicts: dict[str, dict[str, list[dict[str, dict[str, Any]]]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    """task -> metric -> one {judge: verdict} dict per judged turn."""
    conversations: dict[str, list[ConversationSummary]] = field(default_factory=lambda: defaultdict(list))

    def groups(self, task: str, metric: str) -> list[tuple[str, float]]:
        """(conversation, value) pairs of one task's metric, for cluster bootstraps."""
        return [(c, v) for c, _, v in self.scores.get(task, {}).get(metric, [])]


def _usable(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def read_run_samples(run_dir: Path) -> RunSamples:
    """Summarise every sample of a run (later lines for a conversation win)."""
    result = RunSamples()
    for sample in iter_sample_dicts(run_dir):
        _add_sample(result, sample)
    for task in result.conversations:
        result.conversations[task].sort(key=lambda c: natural_key(c.conversation_id))
    return result


def _add_sample(result: RunSamples, sample: dict[str, Any]) -> None:
    task = str(sample.get("task", ""))
    conversation_id = str((sample.get("conversation") or {}).get("id", ""))
    per_metric: dict[str, list[float]] = defaultdict(list)
    summary = ConversationSummary(
        task=task, conversation_id=conversation_id, status=str(sample.get("status", "ok")),
        error=sample.get("error"), scored_turns=0, means={},
    )
    for record in sample.get("turns") or []:
        if record.get("error"):
            summary.turn_errors += 1
        if not record.get("scored", True) or record.get("reply") is None:
            continue
        summary.scored_turns += 1
        position = turn_position(sample, record)
        for name, score in sorted((record.get("scores") or {}).items()):
            status = score.get("status", "ok")
            value = score.get("value")
            summary.unparsed += status == "unparsed"
            summary.score_errors += status == "error"
            if status == "ok" and _usable(value):
                result.scores[task][name].append((conversation_id, position, float(value)))
                per_metric[name].append(float(value))
            else:
                per_metric.setdefault(name, [])
            verdicts = (score.get("details") or {}).get("verdicts")
            if verdicts:
                result.verdicts[task][name].append(by_judge(verdicts))
    summary.means = {name: (sum(vs) / len(vs) if vs else None) for name, vs in sorted(per_metric.items())}
    result.conversations[task].append(summary)


def by_judge(verdicts: list[Any]) -> dict[str, dict[str, Any]]:
    """{judge: verdict}; a judge that sits twice on a jury becomes `judge #2`."""
    out: dict[str, dict[str, Any]] = {}
    for verdict in verdicts:
        if not isinstance(verdict, dict):
            continue
        name = str(verdict.get("judge") or "?")
        key, count = name, 2
        while key in out:
            key, count = f"{name} #{count}", count + 1
        out[key] = verdict
    return out


def iter_samples(run_dir: Path) -> Iterator[dict[str, Any]]:
    """The run's samples in the order the transcript browser lists them."""
    samples = list(iter_sample_dicts(run_dir))
    samples.sort(key=lambda s: (str(s.get("task", "")), natural_key(str((s.get("conversation") or {}).get("id", "")))))
    return iter(samples)
