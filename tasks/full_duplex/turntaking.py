"""Turn-taking statistics of a two-party timeline (Heldner & Edlund 2010).

Each channel's speech is cut into inter-pausal units (IPUs: no internal silence of
`min_silence_s` or more). Merging both channels gives a sequence of states (silence,
one speaker, both); each silence or overlap is classified by who spoke on either side:

- pause: silence between two IPUs of the same speaker
- gap: silence between different speakers (a floor change)
- between-speaker overlap: both speak and the floor changes (A, AB, B)
- within-speaker overlap: the other's speech lies wholly inside the current stretch (A, AB, A)
- FTO (floor transfer offset): next speaker's start - previous end at every floor change
  (gap duration, or minus the overlap duration)

Silences and overlaps at the edges, or next to a simultaneous start or stop of both
speakers, have no single speaker on one side and are counted as `unclassified`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Sequence

from mteval.duplex.timeline import TIME_EPS, Timeline, speech_intervals

Span = tuple[float, float]
KINDS = ("ipu", "pause", "gap", "overlap_between", "overlap_within", "fto")


def ipus(intervals: Sequence[Span], min_silence_s: float = 0.2) -> list[Span]:
    """Merge speech intervals separated by less than `min_silence_s`."""
    merged: list[Span] = []
    for start, end in sorted(intervals):
        if merged and start - merged[-1][1] < min_silence_s - TIME_EPS:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass
class TurnTakingEvents:
    ipus: dict[str, list[Span]]
    pauses: list[Span] = field(default_factory=list)
    gaps: list[Span] = field(default_factory=list)
    overlaps_between: list[Span] = field(default_factory=list)
    overlaps_within: list[Span] = field(default_factory=list)
    fto: list[tuple[float, float]] = field(default_factory=list)
    """(time of the floor change, offset in seconds)."""
    unclassified: int = 0

    def durations(self, kind: str) -> list[float]:
        if kind == "ipu":
            return [e - s for spans in self.ipus.values() for s, e in spans]
        if kind == "fto":
            return [offset for _, offset in self.fto]
        spans = {"pause": self.pauses, "gap": self.gaps, "overlap_between": self.overlaps_between, "overlap_within": self.overlaps_within}[kind]
        return [e - s for s, e in spans]


def _states(a: Sequence[Span], b: Sequence[Span]) -> list[tuple[float, float, str]]:
    """Maximal stretches labelled "", "A", "B" or "AB" between the first and last speech."""
    cuts = sorted({t for span in (*a, *b) for t in span})
    states: list[tuple[float, float, str]] = []
    for start, end in zip(cuts, cuts[1:]):
        mid = (start + end) / 2
        label = ("A" if any(s <= mid < e for s, e in a) else "") + ("B" if any(s <= mid < e for s, e in b) else "")
        if states and states[-1][2] == label:
            states[-1] = (states[-1][0], end, label)
        else:
            states.append((start, end, label))
    return states


def classify(a: Sequence[Span], b: Sequence[Span], min_silence_s: float = 0.2) -> TurnTakingEvents:
    """Pauses, gaps, overlaps and FTOs between speaker A's and speaker B's speech."""
    a_ipus, b_ipus = ipus(a, min_silence_s), ipus(b, min_silence_s)
    out = TurnTakingEvents(ipus={"A": a_ipus, "B": b_ipus})
    states = _states(a_ipus, b_ipus)
    for i, (start, end, label) in enumerate(states):
        if label in ("A", "B"):
            continue
        before = states[i - 1][2] if i > 0 else None
        after = states[i + 1][2] if i + 1 < len(states) else None
        if before not in ("A", "B") or after not in ("A", "B"):
            out.unclassified += 1
            continue
        if label == "":
            if before == after:
                out.pauses.append((start, end))
            else:
                out.gaps.append((start, end))
                out.fto.append((start, end - start))
        elif before == after:
            out.overlaps_within.append((start, end))
        else:
            out.overlaps_between.append((start, end))
            out.fto.append((start, start - end))
    return out


def summarize(events: TurnTakingEvents, duration_s: float) -> dict[str, dict[str, float | int | None]]:
    """Count, count per minute, mean and median duration of every event kind."""
    minutes = duration_s / 60.0 if duration_s > 0 else None
    summary: dict[str, dict[str, float | int | None]] = {}
    for kind in KINDS:
        values = events.durations(kind)
        summary[kind] = {
            "count": len(values),
            "per_minute": len(values) / minutes if minutes else None,
            "mean": statistics.fmean(values) if values else None,
            "median": statistics.median(values) if values else None,
        }
    return summary


def turn_taking_events(timeline: Timeline, channels: tuple[str, str] = ("user", "model"), min_silence_s: float = 0.2) -> TurnTakingEvents:
    """Turn-taking events between two channels of a timeline (A = first, B = second)."""
    a, b = (speech_intervals(timeline.channel(c)) for c in channels)
    return classify(a, b, min_silence_s)


def timeline_stats(
    timeline: Timeline, channels: tuple[str, str] = ("user", "model"), min_silence_s: float = 0.2
) -> dict[str, dict[str, float | int | None]]:
    """`summarize` over the timeline's duration."""
    return summarize(turn_taking_events(timeline, channels, min_silence_s), timeline.end_time())
