"""How a timeline travels through the common runner, and how it is rebuilt for scoring.

A timeline becomes a `Conversation` with one turn (`timeline`, the user transcript)
and the timeline itself in `metadata["timeline"]`. Solvers return turn records: record
0 is the sample's summary (the model's whole output as `reply`; the one scored turn,
so one results row per sample); simulated slices follow as records 1..N, unscored, each
with its simulated times in `metadata`. `sample_timeline` puts the model channel back
together from those records, so scorers need nothing else; `meta.spoken` keeps, for each
spoken piece, what the model had heard when it decided to say it (`heard_until`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from mteval.conversation import Conversation, Turn
from mteval.duplex.timeline import MODEL_META_KEYS, TIME_EPS, Segment, Timeline, Word, words_to_segments
from mteval.transcript import TurnRecord, Usage

if TYPE_CHECKING:
    from mteval.solver import SolveContext

TIMELINE_KEY = "timeline"
SUMMARY_TURN_ID = "timeline"
NO_TRANSCRIPT = "(no user transcript)"


def timeline_conversation(timeline: Timeline, *, keep_model: bool = False) -> Conversation:
    """The runner's view of a timeline. Without `keep_model` the model channel is
    dropped (with what `meta` says about it), so a recorded output never leaks into a
    simulation's stimulus."""
    if keep_model:
        stimulus = timeline
    else:
        meta = {k: v for k, v in timeline.meta.items() if k not in MODEL_META_KEYS}
        stimulus = timeline.model_copy(update={"model": (), "meta": meta})
    reference = stimulus.text("reference") or None
    turn = Turn(id=SUMMARY_TURN_ID, user=stimulus.text("user") or NO_TRANSCRIPT, gold=reference)
    return Conversation(id=timeline.id, turns=(turn,), metadata={TIMELINE_KEY: stimulus.to_json(), "task": timeline.task})


def conversation_timeline(conversation: Conversation) -> Timeline:
    if TIMELINE_KEY not in conversation.metadata:
        raise ValueError(f"conversation {conversation.id!r} carries no timeline")
    return Timeline.model_validate(conversation.metadata[TIMELINE_KEY])


def summary_record(reply: str | None, slices: Sequence[TurnRecord] = (), metadata: dict[str, Any] | None = None) -> TurnRecord:
    """Record 0: the sample's scored turn, with the slices' usage and latency summed."""
    usage = Usage()
    for record in slices:
        usage = usage + record.usage
    return TurnRecord(
        index=0,
        turn_id=SUMMARY_TURN_ID,
        reply=reply,
        generated=False,
        scored=True,
        usage=usage,
        latency_s=sum(r.latency_s for r in slices),
        retries=sum(r.retries for r in slices),
        cached=bool(slices) and all(r.cached for r in slices),
        metadata=dict(metadata or {}),
    )


def slice_records(records: Sequence[TurnRecord]) -> list[TurnRecord]:
    return [r for r in records if r.metadata.get("duplex") == "slice"]


def model_words_from_slices(slices: Sequence[TurnRecord], stream_end: float) -> tuple[list[Word], list[float]]:
    """Replay the slices: spoken pieces become evenly spaced words over their placed
    span; a stop at t cuts all speech at t; nothing is heard after the stream ends.
    Returns the words and the stop times."""
    words: list[Word] = []
    stops: list[float] = []
    for record in slices:
        meta = record.metadata
        if meta.get("action") == "speak":
            tokens = str(meta["piece"]).split()
            start, end = float(meta["start"]), float(meta["end"])
            step = (end - start) / len(tokens)
            words.extend(Word(text=t, timestamp=(start + i * step, start + (i + 1) * step)) for i, t in enumerate(tokens))
        elif meta.get("action") == "stop":
            at = float(meta["at"])
            stops.append(at)
            words = _cut(words, at)
    return _cut(words, stream_end), stops


def _cut(words: list[Word], at: float) -> list[Word]:
    kept = []
    for word in words:
        if word.start >= at:
            continue
        if word.end > at:
            word = Word(text=word.text, timestamp=(word.start, at))
        kept.append(word)
    return kept


def simulated_model(slices: Sequence[TurnRecord], stream_end: float, min_silence_s: float) -> list[Segment]:
    """The model channel of a simulated sample, with `interrupted_at` where it stopped."""
    words, stops = model_words_from_slices(slices, stream_end)
    segments = words_to_segments(words, min_silence_s)
    for at in stops:
        for i, seg in enumerate(segments):
            if seg.start < at <= seg.end + TIME_EPS:
                segments[i] = seg.model_copy(update={"interrupted_at": at})
    return segments


def sample_timeline(conversation: Conversation, records: Sequence[TurnRecord], min_silence_s: float = 0.2) -> Timeline:
    """The scored timeline: the conversation's, with the model channel from the slice
    records when the sample was simulated (else as recorded)."""
    base = conversation_timeline(conversation)
    slices = slice_records(records)
    if not slices:
        return base
    model = simulated_model(slices, base.end_time(), min_silence_s)
    spoken = [
        {
            "start": r.metadata["start"], "end": r.metadata["end"], "text": r.metadata["piece"],
            "heard_until": r.metadata.get("heard_until", r.metadata.get("t1")),
        }
        for r in slices
        if r.metadata.get("action") == "speak"
    ]
    return base.model_copy(update={"model": tuple(model), "meta": {**base.meta, "simulated": True, "spoken": spoken}})


class RecordedSolver:
    """Scores outputs that already exist (FDB folders, timeline files): no model calls.
    The conversation carries the recorded model channel; record 0 gets its text."""

    async def solve(self, ctx: "SolveContext") -> tuple[list[TurnRecord], str | None]:
        timeline = conversation_timeline(ctx.conversation)
        return [summary_record(timeline.text("model"), metadata={"duplex": "recorded"})], None
