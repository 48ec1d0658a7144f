"""The transcript browser: one page per finished conversation of every run, turn by
turn, with each score's rationale and every juror's verdict. Model and judge text is
only ever passed to the autoescaping templates."""

from __future__ import annotations

from typing import Any

from mteval.leaderboard.data import Leaderboard, Run
from mteval.leaderboard.render import Site
from mteval.leaderboard.samples import iter_samples
from mteval.leaderboard.util import is_number, short_hash, slugify, unique_slugs


def task_slug(board: Leaderboard, task: str) -> str:
    meta = board.tasks.get(task)
    return meta.slug if meta else f"{slugify(task)}-{short_hash(task)}"


def assign_slugs(board: Leaderboard) -> None:
    """Give every conversation summary a file name, unique within its run and task."""
    for run in board.runs:
        for conversations in run.samples.conversations.values():
            slugs = unique_slugs((c.conversation_id, c.conversation_id) for c in conversations)
            for conversation in conversations:
                conversation.slug = slugs[conversation.conversation_id]


def transcript_href(board: Leaderboard, run: Run, task: str, slug: str) -> str:
    """Path of a transcript page relative to the site root."""
    return f"runs/{run.sid}/{task_slug(board, task)}/{slug}.html"


def _turn_view(record: dict[str, Any], conversation: dict[str, Any]) -> dict[str, Any]:
    turns = conversation.get("turns") or []
    index = int(record.get("index", 0))
    source = turns[index] if 0 <= index < len(turns) and isinstance(turns[index], dict) else {}
    return {
        "index": index,
        "turn_id": str(record.get("turn_id", "")),
        "sent": _sent(record, source),
        "reply": record.get("reply"),
        "generated": record.get("generated", True),
        "scored": record.get("scored", True),
        "cached": bool(record.get("cached")),
        "error": record.get("error"),
        "usage": _usage_text(record.get("usage") or {}),
        "gold": source.get("gold"),
        "scores": [_score_view(name, score) for name, score in sorted((record.get("scores") or {}).items())],
    }


def _sent(record: dict[str, Any], source: dict[str, Any]) -> list[dict[str, str]]:
    """The messages new at this turn, system prompts left out; a transcript that did not
    record them (an import) shows the conversation's user message."""
    sent = [m for m in record.get("prompt_new") or [] if isinstance(m, dict) and m.get("role") != "system"]
    if not sent and source.get("user"):
        sent = [{"role": "user", "content": source["user"]}]
    return [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))} for m in sent]


def _usage_text(usage: dict[str, Any]) -> str:
    """`N tokens in, M out`, or nothing when the turn used no tokens (cached, not generated)."""
    if not (usage.get("input_tokens") or usage.get("output_tokens")):
        return ""
    return f"{usage.get('input_tokens', 0)} tokens in, {usage.get('output_tokens', 0)} out"


def _score_view(name: str, score: dict[str, Any]) -> dict[str, Any]:
    details = score.get("details") or {}
    verdicts = [v for v in details.get("verdicts") or [] if isinstance(v, dict)]
    value = score.get("value")
    return {
        "name": name,
        "value": float(value) if is_number(value) else None,
        "status": score.get("status", "ok"),
        "label": details.get("label"),
        "aggregate": details.get("aggregate"),
        "explanation": score.get("explanation"),
        "raw": score.get("raw"),
        "verdicts": [
            {
                "judge": str(v.get("judge", "?")),
                "value": float(v["value"]) if is_number(v.get("value")) else None,
                "label": v.get("label"),
                "status": v.get("status", "ok"),
                "explanation": v.get("explanation"),
                "raw": v.get("raw"),
                "reasked": bool(v.get("reasked")),
                "cached": bool(v.get("cached")),
            }
            for v in verdicts
        ],
    }


def write_transcripts(site: Site, board: Leaderboard) -> None:
    """Every conversation of every run, with previous/next links within its task."""
    for run in board.runs:
        slugs = {(c.task, c.conversation_id): c.slug for convs in run.samples.conversations.values() for c in convs}
        by_task: dict[str, list[dict[str, Any]]] = {}
        for sample in iter_samples(run.source):
            by_task.setdefault(str(sample.get("task", "")), []).append(sample)
        for task, samples in sorted(by_task.items()):
            names = [slugs[(task, str((s.get("conversation") or {}).get("id", "")))] for s in samples]
            for position, sample in enumerate(samples):
                conversation = sample.get("conversation") or {}
                site.render(
                    "transcript.html.j2",
                    transcript_href(board, run, task, names[position]),
                    title=f"{conversation.get('id', '')} · {task}",
                    run=run,
                    task=task,
                    task_slug=task_slug(board, task),
                    conversation_id=str(conversation.get("id", "")),
                    sample=sample,
                    system=conversation.get("system"),
                    turns=[_turn_view(r, conversation) for r in sample.get("turns") or [] if isinstance(r, dict)],
                    prev=f"{names[position - 1]}.html" if position > 0 else None,
                    next=f"{names[position + 1]}.html" if position + 1 < len(names) else None,
                )
