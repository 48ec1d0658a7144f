"""SyncLLM-style naturalness: do generated turn-taking statistics track the human ones?
(SyncLLM, arXiv 2409.15594)

Per prompt, the mean duration of IPUs, pauses and FTOs in the generated continuation
and in the ground-truth one; Pearson r across prompts for each event type, and the
average of the three. A prompt without an event of some type drops out of that type.
"""

from __future__ import annotations

import math
import statistics
from typing import Mapping, Sequence

from mteval.duplex.timeline import Timeline
from mteval_tasks.full_duplex.turntaking import turn_taking_events

NATURALNESS_KINDS = ("ipu", "pause", "fto")


def mean_durations(
    timeline: Timeline, channels: tuple[str, str], *, from_s: float = 0.0, min_silence_s: float = 0.2
) -> dict[str, float | None]:
    """Mean IPU, pause and FTO of two channels, counting events that start at or after
    `from_s` (the end of the prompt)."""
    events = turn_taking_events(timeline, channels, min_silence_s)
    values = {
        "ipu": [e - s for spans in events.ipus.values() for s, e in spans if s >= from_s],
        "pause": [e - s for s, e in events.pauses if s >= from_s],
        "fto": [offset for t, offset in events.fto if t >= from_s],
    }
    return {k: statistics.fmean(v) if v else None for k, v in values.items()}


def naturalness_correlation(
    generated: Sequence[Mapping[str, float | None]], reference: Sequence[Mapping[str, float | None]]
) -> dict[str, dict[str, float | int | None]]:
    """Pearson r per event type over prompts (paired by position), plus their mean.
    r is None with fewer than two usable prompts or a constant side."""
    if len(generated) != len(reference):
        raise ValueError(f"{len(generated)} generated vs {len(reference)} reference prompts")
    out: dict[str, dict[str, float | int | None]] = {}
    for kind in NATURALNESS_KINDS:
        pairs = [(g.get(kind), r.get(kind)) for g, r in zip(generated, reference)]
        pairs = [(float(g), float(r)) for g, r in pairs if g is not None and r is not None]
        r_value = None
        if len(pairs) >= 2:
            xs, ys = zip(*pairs)
            if len(set(xs)) > 1 and len(set(ys)) > 1:
                from scipy.stats import pearsonr  # lazy: scipy costs ~0.4 s of start-up to every run

                r_value = float(pearsonr(xs, ys)[0])
        out[kind] = {"r": r_value, "n": len(pairs)}
    rs = [r for v in out.values() if (r := v["r"]) is not None and not math.isnan(r)]
    out["mean"] = {"r": statistics.fmean(rs) if rs else None, "n": len(rs)}
    return out


def timeline_naturalness(
    timelines: Sequence[Timeline], *, from_s: float = 0.0, min_silence_s: float = 0.2
) -> dict[str, dict[str, float | int | None]]:
    """Generated = user and model channels; ground truth = user and reference channels
    of the same timelines."""
    generated = [mean_durations(t, ("user", "model"), from_s=from_s, min_silence_s=min_silence_s) for t in timelines]
    reference = [mean_durations(t, ("user", "reference"), from_s=from_s, min_silence_s=min_silence_s) for t in timelines]
    return naturalness_correlation(generated, reference)
