"""Turn-taking statistics (Heldner & Edlund) and the SyncLLM correlation, by hand."""

from __future__ import annotations

import pytest

from mteval.duplex.timeline import Segment, Timeline
from mteval_tasks.full_duplex.naturalness import mean_durations, naturalness_correlation, timeline_naturalness
from mteval_tasks.full_duplex.turntaking import classify, ipus, summarize, timeline_stats

# A: 0-2, 2.5-4, 5.5-8        B: 4.3-6, 6.5-6.8, 7.8-9
#  0-2 A | 2-2.5 pause (A..A) | 2.5-4 A | 4-4.3 gap (A->B, FTO +0.3) | 4.3-5.5 B |
#  5.5-6 AB (B->A: between, FTO -0.5) | 6-6.5 A | 6.5-6.8 AB (A..A: within) | 6.8-7.8 A |
#  7.8-8 AB (A->B: between, FTO -0.2) | 8-9 B
A = [(0.0, 1.0), (1.1, 2.0), (2.5, 4.0), (5.5, 8.0)]  # 1.0-1.1 is shorter than 0.2 s: one IPU
B = [(4.3, 6.0), (6.5, 6.8), (7.8, 9.0)]


def test_ipus_merge_short_silences():
    assert ipus(A, 0.2) == [(0.0, 2.0), (2.5, 4.0), (5.5, 8.0)]
    assert ipus([(0.0, 0.8), (1.0, 1.5)], 0.2) == [(0.0, 0.8), (1.0, 1.5)]  # exactly 0.2 s splits


def test_classification_by_hand():
    events = classify(A, B, 0.2)
    assert events.pauses == [(2.0, 2.5)]
    assert events.gaps == [(4.0, 4.3)]
    assert events.overlaps_between == [(5.5, 6.0), (7.8, 8.0)]
    assert events.overlaps_within == [(6.5, 6.8)]
    assert [round(o, 6) for _, o in events.fto] == [0.3, -0.5, -0.2]
    assert events.unclassified == 0


def test_summary_counts_per_minute_and_durations():
    summary = summarize(classify(A, B, 0.2), duration_s=9.0)
    assert summary["ipu"]["count"] == 6
    assert summary["ipu"]["per_minute"] == pytest.approx(40.0)
    assert summary["ipu"]["mean"] == pytest.approx((2 + 1.5 + 2.5 + 1.7 + 0.3 + 1.2) / 6)
    assert summary["fto"]["mean"] == pytest.approx((0.3 - 0.5 - 0.2) / 3)
    assert summary["fto"]["median"] == pytest.approx(-0.2)
    assert summary["pause"]["count"] == 1 and summary["pause"]["mean"] == pytest.approx(0.5)
    assert summary["overlap_within"]["per_minute"] == pytest.approx(60 / 9)


def test_simultaneous_start_is_unclassified_and_silent_party_has_no_events():
    events = classify([(0.0, 1.0)], [(0.0, 1.0)])
    assert (events.overlaps_between, events.overlaps_within, events.unclassified) == ([], [], 1)
    alone = classify([(0.0, 1.0), (2.0, 3.0)], [])
    assert alone.pauses == [(1.0, 2.0)] and alone.gaps == [] and alone.fto == []


def timeline(user, model, reference=()) -> Timeline:
    segments = lambda spans: tuple(Segment(start=s, end=e, text="x") for s, e in spans)  # noqa: E731
    return Timeline(id="t", user=segments(user), model=segments(model), reference=segments(reference), duration_s=9.0)


def test_timeline_stats_reads_two_channels():
    stats = timeline_stats(timeline(A, B))
    assert stats["gap"]["count"] == 1 and stats["overlap_between"]["count"] == 2
    stats = timeline_stats(timeline(A, [], B), channels=("user", "reference"))
    assert stats["gap"]["count"] == 1


def test_naturalness_correlation_by_hand():
    generated = [{"ipu": 1.0, "pause": 1.0, "fto": 0.1}, {"ipu": 2.0, "pause": 2.0, "fto": None}, {"ipu": 3.0, "pause": 3.0, "fto": 0.3}]
    reference = [{"ipu": 2.0, "pause": 3.0, "fto": 0.2}, {"ipu": 4.0, "pause": 2.0, "fto": 0.5}, {"ipu": 6.0, "pause": 1.0, "fto": 0.1}]
    result = naturalness_correlation(generated, reference)
    assert result["ipu"] == {"r": pytest.approx(1.0), "n": 3}
    assert result["pause"]["r"] == pytest.approx(-1.0)
    assert result["fto"] == {"r": pytest.approx(-1.0), "n": 2}  # the prompt without an FTO drops out
    assert result["mean"]["r"] == pytest.approx(-1 / 3)
    constant = naturalness_correlation([{"ipu": 1.0}, {"ipu": 1.0}], [{"ipu": 1.0}, {"ipu": 2.0}])
    assert constant["ipu"]["r"] is None and constant["mean"]["r"] is None
    with pytest.raises(ValueError):
        naturalness_correlation(generated, reference[:2])


def test_naturalness_on_timelines_and_prompt_cut():
    # model = reference in every prompt: r = 1 for the event types that vary
    prompts = [timeline([(0, 1)], [(1.0 + k, 2.0 + 2 * k)], [(1.0 + k, 2.0 + 2 * k)]) for k in (0.1, 0.5, 0.9)]
    result = timeline_naturalness(prompts)
    assert result["ipu"]["r"] == pytest.approx(1.0) and result["fto"]["r"] == pytest.approx(1.0)
    assert result["pause"]["n"] == 0
    # events before `from_s` (the prompt) are left out
    late = mean_durations(timeline([(0, 1), (3, 4)], []), ("user", "model"), from_s=2.0)
    assert late == {"ipu": 1.0, "pause": None, "fto": None}
