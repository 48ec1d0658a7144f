"""Full-Duplex-Bench fidelity: minimal inputs on which mteval once differed from the
benchmark's own evaluation code, asserting the benchmark's result."""

from __future__ import annotations

import json
from pathlib import Path

from mteval.duplex.fdb import read_fdb_sample
from mteval.duplex.metrics import evaluate_pause, evaluate_turn_taking
from mteval.duplex.options import DuplexOptions
from mteval.duplex.sample import conversation_timeline, timeline_conversation
from mteval.duplex.timeline import UNPLACED_KEY

CODE = DuplexOptions()


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def fdb_output(*chunks: tuple[str, float | None, float | None]) -> dict:
    return {"text": " ".join(c[0] for c in chunks), "chunks": [{"text": t, "timestamp": [s, e]} for t, s, e in chunks]}


# --- pause handling: unplaceable chunks still count as words ------------------------------------------
FOUR_IN_A_PAUSE = fdb_output(("So", 5.0, 5.2), ("I", None, 5.4), ("mean", 5.4, 5.6), ("yes", 5.6, 5.8))
"""4 chunks within 0.8 s, one without a start: upstream counts len(chunks) = 4 > 3 -> TO = 1."""


def test_pause_counts_chunks_without_a_start_as_the_benchmark_does(tmp_path):
    sample = tmp_path / "1"
    write(sample / "output.json", FOUR_IN_A_PAUSE)
    write(sample / "pause.json", [{"text": "well", "timestamp": [4.0, 6.0]}])
    timeline = read_fdb_sample(sample)
    assert timeline.task == "pause_handling" and timeline.meta[UNPLACED_KEY] == 1
    # only the placeable words are placed in time ...
    assert [w.text for w in timeline.words("model")] == ["So", "mean", "yes"]
    # ... but all four count: upstream's TO is 1
    outcome = evaluate_pause(timeline, CODE)
    assert outcome.takeover == 1 and outcome.details["unplaced_words"] == 1


def test_turn_taking_counts_unplaced_chunks_too(tmp_path):
    sample = tmp_path / "2"
    write(sample / "output.json", FOUR_IN_A_PAUSE)
    write(sample / "turn_taking.json", [{"text": "right", "timestamp": [4.5, 4.9]}])
    outcome = evaluate_turn_taking(read_fdb_sample(sample), CODE)
    assert outcome.takeover == 1 and outcome.latency is not None and abs(outcome.latency - 0.5) < 1e-9  # from the turn end at 4.5 s


def test_three_chunks_with_one_unplaced_stay_a_non_takeover(tmp_path):
    sample = tmp_path / "3"
    write(sample / "output.json", fdb_output(("mm", 5.0, 5.2), ("hm", None, None), ("yeah", 5.4, 5.6)))
    write(sample / "pause.json", [{"text": "well", "timestamp": [4.0, 6.0]}])
    assert evaluate_pause(read_fdb_sample(sample), CODE).takeover == 0


def test_a_simulation_stimulus_does_not_inherit_the_recorded_models_counts(tmp_path):
    sample = tmp_path / "4"
    write(sample / "output.json", FOUR_IN_A_PAUSE)
    write(sample / "pause.json", [{"text": "well", "timestamp": [4.0, 6.0]}])
    timeline = read_fdb_sample(sample)
    stimulus = conversation_timeline(timeline_conversation(timeline))
    assert not stimulus.model and UNPLACED_KEY not in stimulus.meta
    assert conversation_timeline(timeline_conversation(timeline, keep_model=True)).meta[UNPLACED_KEY] == 1
