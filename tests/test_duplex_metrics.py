"""Full-Duplex-Bench metrics on hand-built timelines, values worked out by hand."""

from __future__ import annotations

import math

import pytest

from mteval.duplex.timeline import Event, Segment, Timeline, Word, words_to_segments
from mteval_tasks.full_duplex.backchannel import (
    backchannel_jsd,
    evaluate_backchannel,
    resample,
    scan_segments,
    window_histogram,
    words_in_segment,
)
from mteval_tasks.full_duplex.metrics import (
    MissingEvent,
    evaluate_interruption,
    evaluate_pause,
    evaluate_turn_taking,
    takeover_code,
    takeover_paper,
)
from mteval_tasks.full_duplex.options import FullDuplexOptions

CODE = FullDuplexOptions()
PAPER = FullDuplexOptions(takeover_rule="paper")


def w(text: str, start: float, end: float | None) -> Word:
    return Word(text=text, timestamp=(start, end))


def seg(*words: Word) -> Segment:
    return Segment(start=words[0].start, end=max(x.end for x in words), text=" ".join(x.text for x in words), words=words)


def timeline(model=(), events=(), duration=10.0, **kw) -> Timeline:
    return Timeline(id="t", model=tuple(model), events=tuple(events), duration_s=duration, **kw)


# --- takeover -------------------------------------------------------------------------------------
def test_takeover_code_rule():
    assert takeover_code([]) == 0  # silent model
    assert takeover_code([w("a", 0, 0.3), w("b", 0.3, 0.6), w("c", 0.6, 0.9)]) == 0  # 3 words in 0.9 s
    assert takeover_code([w("a", 0, 0.2), w("b", 0.2, 0.4), w("c", 0.4, 0.6), w("d", 0.6, 0.9)]) == 1  # 4 words
    assert takeover_code([w("a", 0, 0.5), w("b", 0.5, 1.0)]) == 1  # dur == 1.0 is not < 1.0
    assert takeover_code([w("long", 2.0, 7.0)]) == 1  # a single long segment
    # a null last end falls back to the last start
    assert takeover_code([w("a", 0, 0.2), w("b", 0.3, None)]) == 0
    assert takeover_code([w("a", 0, 0.2), w("b", 1.2, None)]) == 1


def test_takeover_paper_rule_counts_only_non_backchannel_segments():
    assert takeover_paper([]) == 0
    assert takeover_paper([seg(w("mm", 0, 0.5))]) == 0
    assert takeover_paper([seg(w("oh", 0, 0.2), w("yes", 0.2, 0.5))]) == 1  # two words is not "fewer than two"
    assert takeover_paper([seg(w("mm", 0, 1.0))]) == 1  # 1 s is not < 1 s
    # two backchannels 3 s apart: paper TO = 0, code TO = 1 (dur 3.4 s)
    bcs = [w("mm", 1.0, 1.4), w("yeah", 4.0, 4.4)]
    assert takeover_paper(words_to_segments(bcs, 0.2)) == 0
    assert takeover_code(bcs) == 1
    assert evaluate_pause(timeline(words_to_segments(bcs, 0.2)), PAPER).takeover == 0
    assert evaluate_pause(timeline(words_to_segments(bcs, 0.2)), CODE).takeover == 1


def test_pause_handling_uses_the_whole_output():
    out = evaluate_pause(timeline([seg(w("a", 5, 5.5), w("b", 5.5, 6), w("c", 6, 7))]), CODE)
    assert out.takeover == 1 and out.text == "a b c"
    assert evaluate_pause(timeline(), CODE).takeover == 0


# --- latencies --------------------------------------------------------------------------------------
SHIFT = Event(type="TURN_SHIFT", channel="user", time=(2.0, 2.4))


def test_response_latency_from_turn_end():
    out = evaluate_turn_taking(timeline([seg(w("Sure", 2.5, 3.0), w("thing", 3.0, 3.6))], [SHIFT]), CODE)
    assert out.takeover == 1
    assert out.latency == pytest.approx(0.5)


def test_output_starting_before_the_user_ends_gives_negative_latency_clamped_to_zero():
    model = [seg(w("I", 1.5, 1.8), w("think", 1.8, 2.2), w("so", 2.2, 2.6))]  # 1.1 s: TO = 1
    out = evaluate_turn_taking(timeline(model, [SHIFT]), CODE)
    assert out.takeover == 1
    assert out.latency == 0.0
    assert out.details["raw_latency"] == pytest.approx(-0.5)
    unclamped = evaluate_turn_taking(timeline(model, [SHIFT]), FullDuplexOptions(clamp_negative_latency=False))
    assert unclamped.latency == pytest.approx(-0.5)


def test_silent_model_and_backchannel_have_no_latency():
    assert evaluate_turn_taking(timeline([], [SHIFT]), CODE).latency is None
    bc = evaluate_turn_taking(timeline([seg(w("mm-hmm", 2.1, 2.5))], [SHIFT]), CODE)
    assert (bc.takeover, bc.latency) == (0, None)


def test_missing_marker_is_an_error():
    with pytest.raises(MissingEvent):
        evaluate_turn_taking(timeline([seg(w("a", 0, 1))]), CODE)


BARGE = Event(type="BARGE_IN", channel="user", time=(4.0, 6.0), context="tell me a story", text="wait, a short one")


def test_interruption_counts_only_words_from_the_interruption_end():
    before = [w("once", 3.0, 3.5), w("upon", 3.5, 4.0), w("a", 4.0, 4.5), w("time", 4.5, 5.9)]
    after = [w("okay", 6.3, 6.6), w("a", 6.6, 6.8), w("short", 6.8, 7.2), w("one", 7.2, 7.8)]
    out = evaluate_interruption(timeline([seg(*before), seg(*after)], [BARGE]), CODE)
    assert out.takeover == 1
    assert out.latency == pytest.approx(0.3)
    assert out.text == "okay a short one"
    assert out.details["context"] == "tell me a story"
    # talking through the interruption and stopping before its end is no takeover
    through = evaluate_interruption(timeline([seg(*before)], [BARGE]), CODE)
    assert (through.takeover, through.latency, through.text) == (0, None, "")
    # a word starting exactly at the end counts (>=)
    exact = evaluate_interruption(timeline([seg(w("yes", 6.0, 6.5), w("sure", 6.5, 7.2))], [BARGE]), CODE)
    assert exact.latency == 0.0 and exact.takeover == 1


# --- backchannel ----------------------------------------------------------------------------------
def test_words_in_segment_follows_upstream_overlap_test():
    words = [w("in", 1.1, 1.3), w("straddle_end", 1.3, 1.6), w("straddle_start", 0.8, 1.05), w("outside", 2.0, 2.2)]
    assert [x.text for x in words_in_segment(words, 1.0, 1.4)] == ["in", "straddle_end", "straddle_start"]
    # a null end that starts before the segment end is skipped upstream
    assert words_in_segment([w("null", 1.1, None)], 1.0, 1.4) == []


def test_backchannel_scan_last_examined_segment_decides():
    a = Segment(start=1.0, end=1.4, text="mm")  # 0.4 s, 1 word -> 0
    b = Segment(start=3.0, end=4.5, text="oh right")  # 1.5 s -> 1
    c = Segment(start=6.0, end=6.5, text="yeah")  # -> 0
    to, listed = scan_segments([a, b, c], [w for s in (a, b, c) for w in s.timed_words()], CODE)
    assert to == 0 and listed == [(1.0, 1.4), (3.0, 4.5), (6.0, 6.5)]
    to, listed = scan_segments([a, b], [w for s in (a, b) for w in s.timed_words()], CODE)
    assert to == 1 and len(listed) == 2


def test_backchannel_long_segment_stops_the_scan_unlisted():
    a = Segment(start=1.0, end=1.4, text="mm")
    long = Segment(start=2.0, end=5.5, text="let me tell you what I think about that")
    later = Segment(start=7.0, end=7.3, text="mm")
    to, listed = scan_segments([long, a, later], [], CODE)  # scanned in time order
    assert to == 1 and listed == [(1.0, 1.4)]
    many = Segment(start=0.0, end=0.9, text="yes yes yes yes")  # n = 4 > 3
    assert scan_segments([many], many.timed_words(), CODE)[0] == 1


def test_backchannel_frequency_and_silent_model():
    tl = timeline([Segment(start=1.0, end=1.4, text="mm"), Segment(start=6.0, end=6.5, text="yeah")], duration=10.0)
    out = evaluate_backchannel(tl, CODE)
    assert out.frequency == pytest.approx(0.2) and out.takeover == 0 and out.jsd is None
    silent = evaluate_backchannel(timeline([], [Event(type="BC_REFERENCE", window_s=0.2, p=(0.5, 0.5))]), CODE)
    assert (silent.takeover, silent.frequency, silent.jsd) == (0, 0.0, 1.0)


def test_window_histogram():
    # T = 0.4 -> int(0.4 / 0.2) + 1 = 3 windows; (0.1, 0.3) covers windows 0..1
    hist = window_histogram([(0.1, 0.3)], 0.4, epsilon=0.0)
    assert hist.tolist() == [0.5, 0.5, 0.0]
    assert resample([0.0, 1.0], 3).tolist() == [0.0, 0.5, 1.0]


def test_jsd_code_and_paper_by_hand():
    spans = [(0.0, 0.1)]  # P = [1, 0, 0] (+ eps)
    assert backchannel_jsd(spans, 0.4, [0, 0, 1]) == pytest.approx(math.sqrt(math.log(2)), abs=1e-6)
    assert backchannel_jsd(spans, 0.4, [1, 0, 0]) == pytest.approx(0.0, abs=1e-4)
    # ground truth of another length is interpolated: [0.5, 0.5] -> uniform Q on 3 points
    # M = [2/3, 1/6, 1/6]; KL(P||M) = ln 1.5; KL(Q||M) = ln(2) / 3
    jsd = (math.log(1.5) + math.log(2) / 3) / 2
    assert backchannel_jsd(spans, 0.4, [0.5, 0.5]) == pytest.approx(math.sqrt(jsd), abs=1e-6)
    assert backchannel_jsd(spans, 0.4, [0.5, 0.5], variant="paper") == pytest.approx(jsd / math.log(2), abs=1e-6)
    # no backchannel: code 1.0; paper: a uniform P against a uniform Q
    assert backchannel_jsd([], 0.4, [0.5, 0.5]) == 1.0
    assert backchannel_jsd([], 0.4, [0.5, 0.5], variant="paper") == pytest.approx(0.0, abs=1e-9)


def test_backchannel_takeover_rule_option_changes_to_only():
    two_words = Segment(start=1.0, end=1.5, text="oh yes")  # code: dur < 1, n = 2 -> 0; paper: 2 words -> 1
    tl = timeline([two_words], [Event(type="BC_REFERENCE", window_s=0.2, p=(1.0,))])
    code, paper = evaluate_backchannel(tl, CODE), evaluate_backchannel(tl, PAPER)
    assert (code.takeover, paper.takeover) == (0, 1)
    assert code.frequency == paper.frequency and code.jsd == paper.jsd
