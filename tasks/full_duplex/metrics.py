"""Full-Duplex-Bench v1 takeover and latency metrics on timelines (arXiv 2503.04721).

Defaults follow the evaluation code, which reads the model's ASR words: a sample is a
takeover (TO = 1) unless the model is silent or says at most 3 words within 1 s. The
paper's segment-based rule is `takeover_rule="paper"`. Latencies are measured from the
task's marker (turn end, interruption end) to the first model word that counts, are
clamped at 0, and exist only for TO = 1 samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from mteval.duplex.timeline import UNPLACED_KEY, Event, Segment, Timeline, Word, words_to_segments
from mteval_tasks.full_duplex.options import FullDuplexOptions


class MissingEvent(ValueError):
    """The timeline lacks the marker its task is measured from."""


@dataclass(frozen=True)
class Outcome:
    """One sample's result: TO, the latency if TO = 1, and the model words that counted."""

    takeover: int
    latency: float | None = None
    words: tuple[Word, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words).strip()


def takeover_code(words: Sequence[Word], *, max_duration_s: float = 1.0, max_words: int = 3, unplaced: int = 0) -> int:
    """Code rule: W empty -> 0; else dur = end(last) - start(first) (a null end falls
    back to its start); TO = 0 iff dur < max_duration_s and len(W) <= max_words.
    `unplaced`: ASR chunks without a start time; they have no place in time but the
    benchmark counts every chunk, so they count in len(W)."""
    if not words and not unplaced:
        return 0
    duration = words[-1].end - words[0].start if words else 0.0
    return 0 if duration < max_duration_s and len(words) + unplaced <= max_words else 1


def is_backchannel_segment(segment: Segment, *, max_duration_s: float = 1.0, max_words: int = 1) -> bool:
    """Paper: a segment shorter than 1 s with fewer than two words."""
    return segment.end - segment.start < max_duration_s and len(segment.timed_words()) <= max_words


def takeover_paper(segments: Sequence[Segment], *, max_duration_s: float = 1.0, max_words: int = 1) -> int:
    """Paper rule: TO = 0 if the model is silent or every segment is a backchannel."""
    return int(any(not is_backchannel_segment(s, max_duration_s=max_duration_s, max_words=max_words) for s in segments))


def takeover(words: Sequence[Word], options: FullDuplexOptions, *, unplaced: int = 0) -> int:
    """TO of these model words under the configured rule (the paper rule segments them
    into IPUs at `ipu_min_silence_s`; `unplaced` words count for the code rule only)."""
    if options.takeover_rule == "paper":
        segments = words_to_segments(words, options.ipu_min_silence_s)
        return takeover_paper(segments, max_duration_s=options.paper_bc_max_duration_s, max_words=options.paper_bc_max_words)
    return takeover_code(words, max_duration_s=options.to_max_duration_s, max_words=options.to_max_words, unplaced=unplaced)


def unplaced_words(timeline: Timeline) -> int:
    """Model ASR chunks the importer could not place in time (no start), from
    `meta["unplaced_model_words"]`."""
    return int(timeline.meta.get(UNPLACED_KEY, 0))


def latency(start: float, reference: float, *, clamp: bool = True) -> float:
    value = start - reference
    return max(value, 0.0) if clamp else value


def required_event(timeline: Timeline, type_: str) -> tuple[Event, tuple[float, float]]:
    """The timeline's `type_` event and its (start, end), or MissingEvent."""
    event = timeline.event(type_)
    if event is None or event.time is None:
        raise MissingEvent(f"timeline {timeline.id!r} has no {type_} event with a time")
    return event, event.time


def evaluate_pause(timeline: Timeline, options: FullDuplexOptions) -> Outcome:
    """Pause handling: TO over the whole output (pause.json is not read upstream);
    unplaceable chunks count as words, as upstream counts every chunk."""
    words = timeline.words("model")
    unplaced = unplaced_words(timeline)
    details: dict[str, Any] = {"unplaced_words": unplaced} if unplaced else {}
    return Outcome(takeover=takeover(words, options, unplaced=unplaced), words=tuple(words), details=details)


def evaluate_turn_taking(timeline: Timeline, options: FullDuplexOptions) -> Outcome:
    """Smooth turn-taking: TO over the whole output; latency from the turn end."""
    _, (turn_end, _) = required_event(timeline, "TURN_SHIFT")
    words = timeline.words("model")
    unplaced = unplaced_words(timeline)
    to = takeover(words, options, unplaced=unplaced)
    details: dict[str, Any] = {"turn_end": turn_end}
    if unplaced:
        details["unplaced_words"] = unplaced
    value = None
    if to == 1 and words:
        details["raw_latency"] = words[0].start - turn_end
        value = latency(words[0].start, turn_end, clamp=options.clamp_negative_latency)
    return Outcome(takeover=to, latency=value, words=tuple(words), details=details)


def evaluate_interruption(timeline: Timeline, options: FullDuplexOptions) -> Outcome:
    """User interruption: only words starting at or after the interruption's end count
    (upstream crops the audio there before ASR); latency from that end."""
    barge, (_, cut) = required_event(timeline, "BARGE_IN")
    words = [w for w in timeline.words("model") if w.start >= cut]
    to = takeover(words, options)
    details: dict[str, Any] = {"interrupt_end": cut, "context": barge.context, "interrupt": barge.text}
    value = None
    if to == 1:
        details["raw_latency"] = words[0].start - cut
        value = latency(words[0].start, cut, clamp=options.clamp_negative_latency)
    return Outcome(takeover=to, latency=value, words=tuple(words), details=details)
