"""Talking over the user, as its own figure beside the benchmark's latency.

FDB clamps a negative latency to 0, so a model that starts before the user has finished
(or talks through the whole question) gets the best possible latency. These two numbers
show what the clamp hides, per sample and over the whole stream:

- `overlap_s`: seconds in which the model speaks while the user speaks (word spans
  where known, so pauses inside a segment do not count);
- `barge_ins`: model speech segments (IPUs) that start while the user is speaking
  (or at the moment the user starts);
- `informed_latency` (simulated samples only): from the interruption's end to the first
  word of a piece the model decided on after hearing that end, the reply's real latency
  (FDB's latency also counts words decided before).

Backchannels count too: this is a measure of overlap, not a verdict on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from mteval.duplex.timeline import TIME_EPS, Timeline, speech_intervals, words_to_segments
from mteval_tasks.full_duplex.options import FullDuplexOptions


@dataclass(frozen=True)
class TalkOver:
    overlap_s: float
    barge_ins: int


def overlap_seconds(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> float:
    """Total length of the intersection of two sets of merged, sorted intervals."""
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        low, high = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        total += max(0.0, high - low)
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def talk_over(timeline: Timeline, options: FullDuplexOptions) -> TalkOver | None:
    """None when the timeline has no user speech to overlap with (e.g. FDB's recorded
    outputs, which hold the model's words only): unknown, not zero."""
    if not timeline.user:
        return None
    user = speech_intervals(timeline.user)
    model_segments = words_to_segments(timeline.words("model"), options.ipu_min_silence_s)
    model = speech_intervals(model_segments)
    starts = [s.start for s in model_segments]
    barge_ins = sum(any(lo - TIME_EPS <= t < hi - TIME_EPS for lo, hi in user) for t in starts)
    return TalkOver(overlap_s=round(overlap_seconds(user, model), 9), barge_ins=barge_ins)


def informed_latency(timeline: Timeline, options: FullDuplexOptions) -> float | None:
    """Seconds from the BARGE_IN end to the first model word decided after hearing it;
    None if the timeline was not simulated, has no BARGE_IN, or no such word is heard."""
    barge = timeline.event("BARGE_IN")
    spoken = timeline.meta.get("spoken")
    if barge is None or barge.time is None or spoken is None:
        return None
    cut = barge.time[1]
    starts = [w.start for w in timeline.words("model")]
    informed = [p for p in spoken if p["heard_until"] >= cut - TIME_EPS]
    heard = [t for p in informed for t in starts if p["start"] - TIME_EPS <= t < p["end"] - TIME_EPS]
    return min(heard) - cut if heard else None
