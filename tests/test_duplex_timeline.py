"""The timeline schema and its importers, on fixtures in the published layouts."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from mteval.data import DataError
from mteval.duplex.events import read_event_log, write_event_log
from mteval.duplex.scenarios import read_scenarios
from mteval.duplex.timeline import TIMELINE_SCHEMA, Segment, Timeline, Word, speech_intervals, words_to_segments
from mteval_tasks.full_duplex.fdb import read_fdb_sample, read_fdb_tree
from mteval_tasks.full_duplex.sources import load_timelines, source_files

BENCHMARKS_EXAMPLE = {
    "schema": "mteval.fullduplex.timeline/1",
    "id": "fdb_v1/smooth_turn_taking/1",
    "task": "smooth_turn_taking",
    "duration_s": 7.4,
    "user": [
        {"start": 0.00, "end": 2.01, "text": "Is this your first time doing this", "words": [{"text": "Is", "timestamp": [0.00, 0.54]}]}
    ],
    "events": [{"type": "TURN_SHIFT", "channel": "user", "time": [2.01, 2.40]}],
    "model": [
        {
            "start": 3.36,
            "end": 6.90,
            "text": "Yes, it is my first time ...",
            "words": [{"text": "Yes,", "timestamp": [3.36, 3.90]}],
            "interrupted_at": None,
        }
    ],
    "reference": [],
    "meta": {"source": "Full-Duplex-Bench v1", "license": "CC BY-NC 4.0"},
}


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def chunks(*words: tuple[str, float, float | None]) -> dict:
    return {"text": " ".join(w[0] for w in words), "chunks": [{"text": t, "timestamp": [s, e]} for t, s, e in words]}


# --- schema ------------------------------------------------------------------------------------
def test_benchmarks_example_round_trips(tmp_path):
    timeline = Timeline.model_validate(BENCHMARKS_EXAMPLE)
    assert timeline.event("TURN_SHIFT").time == (2.01, 2.40)
    assert timeline.text("user") == "Is this your first time doing this"
    timeline.save(tmp_path / "t.json")
    again = Timeline.load(tmp_path / "t.json")
    assert again == timeline
    assert json.loads((tmp_path / "t.json").read_text())["schema"] == TIMELINE_SCHEMA


def test_unknown_schema_is_rejected():
    with pytest.raises(ValueError, match="mteval.fullduplex.timeline/1"):
        Timeline.model_validate({**BENCHMARKS_EXAMPLE, "schema": "other/2"})


def test_segment_without_words_spreads_its_text():
    words = Segment(start=1.0, end=2.0, text="a b c d").timed_words()
    assert [x.timestamp for x in words] == [(1.0, 1.25), (1.25, 1.5), (1.5, 1.75), (1.75, 2.0)]


def test_words_to_segments_splits_at_min_silence():
    words = [Word(text="a", timestamp=(0.0, 0.3)), Word(text="b", timestamp=(0.45, 0.8)), Word(text="c", timestamp=(1.0, None))]
    segments = words_to_segments(words, 0.2)
    assert [(s.start, s.end, s.text) for s in segments] == [(0.0, 0.8, "a b"), (1.0, 1.0, "c")]
    assert speech_intervals(segments) == [(0.0, 0.3), (0.45, 0.8), (1.0, 1.0)]


# --- Full-Duplex-Bench folders -------------------------------------------------------------------
def fdb_tree(root: Path) -> Path:
    """One sample per v1 task, in the published layout."""
    write(root / "turn" / "1" / "output.json", chunks(("Yes,", 3.36, 3.9), ("it", 3.9, 4.1), ("is", 4.1, 4.3), ("later", 5.0, None)))
    write(root / "turn" / "1" / "turn_taking.json", [{"text": "[TURN-TAKING]", "timestamp": [2.01, 2.4]}])
    write(
        root / "turn" / "1" / "transcription.json",
        [
            {"speaker": 1, "item": [{"text": "hi", "timestamp": [0.0, 0.3]}]},
            {"speaker": 0, "item": [{"text": "Is", "timestamp": [0.5, 1.0]}, {"text": "this", "timestamp": [1.0, 2.0]}]},
            {"speaker": 1, "item": [{"text": "yes", "timestamp": [2.5, 3.0]}]},
        ],
    )
    write(root / "pause" / "7" / "output.json", chunks())
    write(root / "pause" / "7" / "pause.json", [{"text": "[PAUSE]", "timestamp": [1.5, 2.6]}])
    write(root / "interrupt" / "3" / "output.json", chunks(("Sure", 6.3, 6.6)))
    write(
        root / "interrupt" / "3" / "interrupt.json",
        [{"context": "tell me a story about a dragon", "interrupt": "make it short", "timestamp": [4.0, 6.0]}],
    )
    write(root / "icc" / "12" / "output.json", chunks(("mm", 2.0, 2.3)))
    write(root / "icc_gt_distribution.json", {"12": [0.25, 0.25, 0.5]})
    return root


def test_fdb_tree_import(tmp_path):
    timelines = {t.id: t for t in read_fdb_tree(fdb_tree(tmp_path))}
    assert sorted(timelines) == [
        "fdb/backchannel/icc/12",
        "fdb/pause_handling/pause/7",
        "fdb/smooth_turn_taking/turn/1",
        "fdb/user_interruption/interrupt/3",
    ]
    turn = timelines["fdb/smooth_turn_taking/turn/1"]
    assert turn.task == "smooth_turn_taking"
    assert turn.event("TURN_SHIFT").time == (2.01, 2.4)
    # speaker 0's words end at 2.0, next to the turn-shift onset: the user; speaker 1 is the reference
    assert turn.text("user") == "Is this" and turn.text("reference") == "hi yes"
    # model words split into IPUs at >= 0.2 s of silence; the null end is kept
    assert [(s.start, s.end, s.text) for s in turn.model] == [(3.36, 4.3, "Yes, it is"), (5.0, 5.0, "later")]
    assert turn.model[1].words[0].timestamp == (5.0, None)
    assert turn.duration_s == 5.0  # no WAV: the latest time in the files

    pause = timelines["fdb/pause_handling/pause/7"]
    assert pause.event("TURN_HOLD").time == (1.5, 2.6) and pause.model == ()

    barge = timelines["fdb/user_interruption/interrupt/3"]
    event = barge.event("BARGE_IN")
    assert (event.time, event.context, event.text) == ((4.0, 6.0), "tell me a story about a dragon", "make it short")
    # no transcript: the context from 0 s at 2.5 words/s (7 words -> 2.8 s), the interruption over its span
    assert [(s.start, s.end, s.text) for s in barge.user] == [
        (0.0, 2.8, "tell me a story about a dragon"),
        (4.0, 6.0, "make it short"),
    ]

    icc = timelines["fdb/backchannel/icc/12"]
    assert icc.task == "backchannel"
    assert icc.event("BC_REFERENCE").p == (0.25, 0.25, 0.5)


def test_fdb_duration_from_the_output_wav(tmp_path):
    sample = tmp_path / "s1"
    write(sample / "output.json", chunks(("mm", 0.5, 0.8)))
    with wave.open(str(sample / "output.wav"), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(b"\0\0" * 8000 * 3)
    timeline = read_fdb_sample(sample, task="backchannel")
    assert timeline.duration_s == 3.0 and timeline.task == "backchannel"


def test_fdb_v15_metadata_is_an_overlap_event(tmp_path):
    sample = tmp_path / "user_backchannel" / "user_backchannel_001"
    write(sample / "metadata.json", {"context_text": "so the plan is", "current_turn_text": "uh-huh", "timestamps": [3.0, 3.4]})
    timeline = read_fdb_sample(sample)
    event = timeline.event("OVERLAP")
    assert (event.subtype, event.time, event.text) == ("user_backchannel", (3.0, 3.4), "uh-huh")
    assert timeline.task == "v1_5/user_backchannel"


def test_fdb_malformed_file_names_the_file(tmp_path):
    write(tmp_path / "1" / "turn_taking.json", {"not": "a list"})
    with pytest.raises(DataError, match="turn_taking.json"):
        read_fdb_sample(tmp_path / "1")


# --- event log -------------------------------------------------------------------------------------
EVENT_LOG = [
    {"timeline": "a", "type": "info", "task": "user_interruption", "duration_s": 9.0, "meta": {"system": "x"}},
    {"timeline": "a", "type": "word", "channel": "user", "text": "tell", "start": 0.0, "end": 0.4},
    {"timeline": "b", "type": "speech", "channel": "user", "text": "hello there", "start": 0.0, "end": 1.0},
    {"timeline": "a", "type": "word", "channel": "user", "text": "me", "start": 0.4, "end": 0.8},
    {"timeline": "a", "type": "word", "channel": "model", "text": "once", "start": 1.5, "end": 2.0},
    {"timeline": "a", "type": "word", "channel": "model", "text": "upon", "start": 2.0, "end": None},
    {"timeline": "a", "type": "stop", "channel": "model", "start": 2.3},
    {"timeline": "a", "type": "BARGE_IN", "start": 2.0, "end": 3.0, "context": "tell me", "text": "stop"},
    {"timeline": "a", "type": "word", "channel": "model", "text": "okay", "start": 3.5, "end": 3.9},
    {"timeline": "b", "type": "BC_REFERENCE", "window_s": 0.2, "p": [1.0]},
]


def test_event_log_import_and_round_trip(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in EVENT_LOG) + "\n")
    a, b = read_event_log(path)
    assert (a.id, a.task, a.duration_s, a.meta) == ("a", "user_interruption", 9.0, {"system": "x"})
    assert [(s.start, s.end, s.text) for s in a.user] == [(0.0, 0.8, "tell me")]
    assert [(s.text, s.interrupted_at) for s in a.model] == [("once upon", 2.3), ("okay", None)]
    barge = a.event("BARGE_IN")
    assert (barge.time, barge.context, barge.text) == ((2.0, 3.0), "tell me", "stop")
    assert b.user[0].words == () and b.event("BC_REFERENCE").p == (1.0,)
    write_event_log([a, b], tmp_path / "again.jsonl")
    assert read_event_log(tmp_path / "again.jsonl") == [a, b]


def test_event_log_errors_name_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"timeline": "a", "type": "word", "channel": "robot", "text": "x", "start": 0}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:1: field 'channel'"):
        read_event_log(path)


# --- scenario scripts ------------------------------------------------------------------------------
def test_scenario_script_timing(tmp_path):
    path = tmp_path / "s.jsonl"
    script = [
        {"say": "a b"},
        {"silence": 1.0, "event": "BC"},
        {"say": "c d e f g", "event": "BARGE_IN"},
        {"silence": 0.5, "event": "TURN_SHIFT"},
    ]
    path.write_text(json.dumps({"id": "s1", "task": "user_interruption", "script": script}) + "\n")
    (timeline,) = read_scenarios(path, user_wps=2.5)
    assert timeline.duration_s == pytest.approx(4.3)
    assert [(s.start, s.end) for s in timeline.user] == [(0.0, pytest.approx(0.8)), (pytest.approx(1.8), pytest.approx(3.8))]
    assert timeline.user[0].words[1].timestamp == (0.4, 0.8)
    bc, barge, shift, reference = timeline.events
    assert bc.time == (pytest.approx(0.8), pytest.approx(1.8))
    assert (barge.type, barge.context, barge.text) == ("BARGE_IN", "a b", "c d e f g")
    assert shift.time == (pytest.approx(3.8), pytest.approx(4.3))
    # BC_REFERENCE: int(4.3 / 0.2) + 1 = 22 windows, mass on windows 4..9 (0.8-1.8 s)
    assert reference.type == "BC_REFERENCE" and len(reference.p) == 22
    assert [i for i, p in enumerate(reference.p) if p > 0] == [4, 5, 6, 7, 8, 9]
    assert sum(reference.p) == pytest.approx(1.0)


def test_scenario_script_validation(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"id": "x", "script": [{"say": "a", "silence": 1.0}]}) + "\n")
    with pytest.raises(DataError, match="s.jsonl:1"):
        read_scenarios(path)


# --- one loader --------------------------------------------------------------------------------------
def test_load_timelines_finds_every_layout(tmp_path):
    fdb_root = fdb_tree(tmp_path / "fdb")
    assert len(load_timelines(fdb_root)) == 4
    assert {p.name for p in source_files(fdb_root)} >= {"output.json", "turn_taking.json", "icc_gt_distribution.json"}

    timeline_dir = tmp_path / "timelines"
    write(timeline_dir / "one.json", BENCHMARKS_EXAMPLE)
    (timeline_dir / "more.jsonl").write_text(json.dumps({**BENCHMARKS_EXAMPLE, "id": "x2"}) + "\n")
    assert [t.id for t in load_timelines(timeline_dir)] == ["x2", "fdb_v1/smooth_turn_taking/1"]

    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps(line) for line in EVENT_LOG) + "\n")
    assert [t.id for t in load_timelines(log)] == ["a", "b"]

    shipped = Path(__file__).resolve().parents[1] / "tasks" / "full_duplex" / "data" / "scenarios.jsonl"
    scenarios = load_timelines(shipped)
    assert len(scenarios) == 20
    assert {t.task for t in scenarios} == {"pause_handling", "backchannel", "smooth_turn_taking", "user_interruption"}
    with pytest.raises(DataError, match="no such file"):
        load_timelines(tmp_path / "missing")
