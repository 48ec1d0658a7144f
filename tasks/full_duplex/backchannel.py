"""Backchannel metrics of Full-Duplex-Bench v1 (arXiv 2503.04721): TO, frequency, JSD.

Upstream runs the Silero VAD on the model's audio and scans the speech segments in time
order. mteval scans the same detector's segments when the importer found them in the
model's audio (`meta["model_speech"]`, `mteval_tasks.full_duplex.vad`), else the model's words
grouped at silences of `bc_min_silence_s`; every outcome says which. Each examined
segment is a backchannel candidate; the timing of the candidates, as a histogram over
0.2 s windows, is compared with the human backchannel distribution of the same stimulus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from mteval.duplex.timeline import SPEECH_KEY, Segment, Timeline, Word, words_to_segments
from mteval_tasks.full_duplex.metrics import MissingEvent, takeover
from mteval_tasks.full_duplex.options import FullDuplexOptions

Span = tuple[float, float]


def words_in_segment(words: Sequence[Word], start: float, end: float) -> list[Word]:
    """The upstream overlap test, quirks included: a word without a start is skipped,
    a word without an end is skipped if it starts before the segment end, else its end
    is taken as its start."""
    found = []
    for word in words:
        w_start, w_end = word.timestamp
        if w_start is None or (w_end is None and w_start < end):
            continue
        if w_end is None:
            w_end = w_start
        if (w_start >= start and w_end <= end) or (w_start <= end and w_end > end) or (w_start <= start and w_end > start):
            found.append(word)
    return found


def scan_segments(segments: Sequence[Segment], words: Sequence[Word], options: FullDuplexOptions) -> tuple[int, list[Span]]:
    """Code TO and backchannel list: a segment longer than `bc_long_segment_s` gives
    TO = 1 and ends the scan (not listed); otherwise with n overlapping words, TO = 1 if
    n > bc_max_words, else 0 if dur < bc_short_s and n <= bc_short_max_words, else 1.
    The sample's TO is the last examined segment's; every examined segment is listed."""
    to = 0
    listed: list[Span] = []
    for segment in sorted(segments, key=lambda s: s.start):
        duration = segment.end - segment.start
        if duration > options.bc_long_segment_s:
            to = 1
            break
        n = len(words_in_segment(words, segment.start, segment.end))
        if n > options.bc_max_words:
            to = 1
        elif duration < options.bc_short_s and n <= options.bc_short_max_words:
            to = 0
        else:
            to = 1
        listed.append((segment.start, segment.end))
    return to, listed


def window_histogram(spans: Sequence[Span], duration_s: float, window_s: float = 0.2, epsilon: float = 1e-10) -> np.ndarray:
    """`int(T / w) + 1` windows; each span adds 1 to windows int(s/w)..int(e/w); + eps; normalised."""
    counts = np.zeros(int(duration_s / window_s) + 1)
    for start, end in spans:
        for i in range(int(start / window_s), int(end / window_s) + 1):
            if i < len(counts):
                counts[i] += 1
    counts = counts + epsilon
    return counts / np.sum(counts)


def resample(distribution: Sequence[float], n: int) -> np.ndarray:
    """Linear interpolation of a distribution onto n points over [0, 1] (not renormalised)."""
    values = np.asarray(distribution, dtype=float)
    return np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(values)), values)


def backchannel_jsd(
    spans: Sequence[Span],
    duration_s: float,
    reference: Sequence[float],
    *,
    variant: str = "code",
    window_s: float = 0.2,
    epsilon: float = 1e-10,
) -> float:
    """code: `jensenshannon` distance (natural log); no backchannel -> 1.0.
    paper: JS divergence in bits (range 0-1); no backchannel -> uniform P.
    Both renormalise; rounding can make scipy's sqrt NaN for identical distributions,
    where the answer is 0."""
    if variant == "code" and not spans:
        return 1.0
    predicted = window_histogram(spans, duration_s, window_s, epsilon)
    target = resample(reference, len(predicted))
    if variant == "paper":
        return js_divergence_bits(predicted, target)
    from scipy.spatial.distance import jensenshannon  # lazy: scipy costs ~0.4 s of start-up to every run

    value = float(jensenshannon(predicted, target))
    return 0.0 if math.isnan(value) else value


def js_divergence_bits(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence with log base 2, computed directly (not as a squared
    distance, which loses precision near 0)."""
    p = p / np.sum(p)
    q = q / np.sum(q)
    m = (p + q) / 2
    from scipy.special import rel_entr  # lazy, as above

    value = (np.sum(rel_entr(p, m)) + np.sum(rel_entr(q, m))) / (2 * math.log(2))
    return float(max(value, 0.0))


@dataclass(frozen=True)
class BackchannelOutcome:
    takeover: int
    frequency: float
    jsd: float | None
    backchannels: tuple[Span, ...]
    words: tuple[Word, ...] = ()
    speech: dict[str, Any] | None = None
    """How the model's speech segments were found (method and parameters)."""


def speech_segments(timeline: Timeline, words: Sequence[Word], options: FullDuplexOptions) -> tuple[list[Segment], dict[str, Any]]:
    """The model's speech segments and the method record: the detector's (from the
    model's audio) when the timeline has them and the option allows, else the words
    grouped at `bc_min_silence_s`."""
    found = timeline.meta.get(SPEECH_KEY)
    if found and options.speech_activity != "words":
        method = {k: v for k, v in found.items() if k != "segments"}
        return [Segment(start=float(s), end=float(e)) for s, e in found["segments"]], method
    if options.speech_activity == "vad":
        raise MissingEvent(f"timeline {timeline.id!r} has no detector speech segments (speech_activity=vad needs output.wav)")
    return words_to_segments(words, options.bc_min_silence_s), {"method": "words", "min_silence_s": options.bc_min_silence_s}


def evaluate_backchannel(timeline: Timeline, options: FullDuplexOptions) -> BackchannelOutcome:
    """TO, backchannels per second of stream, and JSD against the BC_REFERENCE event
    (None when the timeline has none). `takeover_rule` changes TO only."""
    words = timeline.words("model")
    segments, speech = speech_segments(timeline, words, options)
    to, listed = scan_segments(segments, words, options)
    if options.takeover_rule == "paper":
        to = takeover(words, options)
    duration = timeline.end_time()
    if duration <= 0:
        raise MissingEvent(f"timeline {timeline.id!r} has no duration")
    frequency = len(listed) / duration
    reference = timeline.event("BC_REFERENCE")
    jsd = None
    if reference is not None and reference.p:
        jsd = backchannel_jsd(
            listed,
            duration,
            reference.p,
            variant=options.jsd,
            window_s=options.bc_window_s,
            epsilon=options.bc_epsilon,
        )
    return BackchannelOutcome(
        takeover=to, frequency=frequency, jsd=jsd, backchannels=tuple(listed), words=tuple(words), speech=speech
    )
