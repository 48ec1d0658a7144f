"""The run summary reads each sample in one pass over its turn records and one over its
scored turns, and grows the compact rows a sample at a time (`ScoreRows.add_turns`). What
it gives must equal the plain per-turn reading it replaced: rows (`scored_turns` then
`add_turn` per turn), token and status totals, turn counts, verdict tallies and juror
verdicts (`JudgingTally.add_sample`), over samples with missing, unscored, repeated and
shuffled turns, scores without status, juried and pairwise scores, and scorers that
differ from turn to turn."""

from __future__ import annotations

import json
import random

import pandas as pd

from mteval.manifest_builder import Summary
from mteval.redact import Redactor
from mteval.results import sample_conversation_id, scored_turns
from mteval.score_rows import ScoreRows
from mteval.scoring.agreement import JudgingTally


def juried(name: str, rng: random.Random) -> dict:
    if name == "p":
        outcome = {"winner": rng.choice(["A", "B"]), "consistent": rng.choice([True, False, None]),
                   "games": [{"status": rng.choice(["ok", "unparsed"]), "reasked": rng.random() < 0.3}]}
        return {"kind": "pairwise", "winner": rng.choice(["A", "B", None]), "jurors": {rng.choice(["m1", "m2"]): outcome}}
    verdicts = [{"judge": rng.choice(["m1", "m2"]), "status": rng.choice(["ok", "ok", "unparsed"]),
                 "value": rng.choice([1, 2, 3]) if name == "j" else None, "label": rng.choice(["A", "B"]),
                 "reasked": rng.random() < 0.2} for _ in range(rng.randint(1, 3))]
    return {"verdicts": verdicts}


def random_scores(rng: random.Random) -> dict:
    scores = {}
    for name in rng.sample(["q", "j", "p", "l", f"x{rng.randint(0, 2)}"], rng.randint(0, 3)):
        score = {"value": rng.choice([0.0, 1.0, rng.random(), None, 7]), "raw": rng.choice([None, "a secret raw", 12])}
        status = rng.choice(["ok", "ok", "unparsed", "error", None, "skipped"])
        if status is not None or rng.random() < 0.5:
            score["status"] = status
        if name in ("j", "p", "l"):
            score["details"] = juried(name, rng)
        elif rng.random() < 0.3:
            score["details"] = rng.choice([{}, None, {"other": 1}])
        scores[name] = score
    return scores


def random_record(i: int, t: int, rng: random.Random) -> dict:
    record = {"index": t, "scored": rng.random() > 0.05, "generated": rng.random() > 0.1}
    if rng.random() < 0.8:
        record["usage"] = {"input_tokens": rng.randint(0, 9), "output_tokens": rng.random()}  # float sums keep their order
    if rng.random() < 0.1:
        record["error"] = f"boom {i}"
    if rng.random() < 0.85:
        record["scores"] = random_scores(rng)
    return record


def random_sample(i: int, rng: random.Random) -> dict:
    turns = []
    for t in range(rng.randint(0, 6)):
        turn = {"id": f"t{t}", "user": "u"}
        if rng.random() < 0.1:
            turn["scored"] = False
        if rng.random() < 0.2:
            turn["references"] = {"human_score": rng.choice([1, 3.5])}
        turns.append(turn)
    records = [random_record(i, t, rng) for t in range(len(turns)) if rng.random() >= 0.1]  # some never reached
    if rng.random() < 0.1:
        rng.shuffle(records)
    if records and rng.random() < 0.05:
        records.append(dict(records[0]))  # a repeated index: the later record wins
    conversation: dict = {"id": rng.choice([f"c{rng.randint(0, 99)}", f"é{i}"]), "turns": turns}
    if rng.random() < 0.1:
        conversation["metadata"] = {"source_conversation": f"src{i % 5}", "source_turn_index": rng.choice([0, 3, 70000])}
    status = rng.choice(["ok", "ok", "error"])
    return {"task": rng.choice(["fam/a", "fam/b"]), "conversation": conversation, "turns": records, "status": status,
            **({"error": "sample boom"} if status == "error" and rng.random() < 0.5 else {})}


def uniform_sample(i: int) -> dict:
    """Every turn scored by the same scorers: the path that extends the columns (the
    scorers other samples brought get fills)."""
    turns = [{"id": str(t), "user": "u"} for t in range(5)]
    records = [{"index": t, "scored": True, "generated": True, "usage": {"input_tokens": 2, "output_tokens": 3},
                "scores": {"q": {"value": (i + t) % 3 / 2, "status": "ok" if t else "unparsed"}, "r": {"value": 1.0}}}
               for t in range(5)]
    return {"task": "fam/a", "conversation": {"id": f"u{i}", "turns": turns}, "turns": records, "status": "ok"}


def reference(samples: list[dict], redactor: Redactor) -> dict:
    """The per-turn reading (one loop per total) the summary replaced."""
    rows, judging = ScoreRows(), JudgingTally()
    tokens = {"input": 0, "output": 0}
    statuses: dict = {}
    verdicts: dict = {}
    counts = {"conversations": 0, "errored_conversations": 0, "turns": 0, "errored_turns": 0}
    for sample in samples:
        metadata = sample["conversation"].get("metadata", {})
        rows.start_sample(sample_conversation_id(sample))
        for index, _, record in scored_turns(sample):
            scores = (record.get("scores") or {}) if record else {}
            if record:
                tokens["input"] += record.get("usage", {}).get("input_tokens", 0)
                tokens["output"] += record.get("usage", {}).get("output_tokens", 0)
            rows.add_turn(sample["task"], int(metadata.get("source_turn_index", index)), scores)
            for name, score in scores.items():
                if score.get("status", "ok") is not None:
                    counted = statuses.setdefault((sample["task"], name), {})
                    counted[score.get("status", "ok")] = counted.get(score.get("status", "ok"), 0) + 1
        judging.add_sample(sample)
        counts["conversations"] += 1
        counts["turns"] += sum(1 for t in sample["turns"] if t.get("generated"))
        counts["errored_conversations"] += sample.get("status") != "ok"
        counts["errored_turns"] += sum(1 for t in sample["turns"] if t.get("error"))
        for turn in sample["turns"]:
            for name, score in (turn.get("scores") or {}).items():
                tally = verdicts.setdefault(name, {"total": 0, "unparsed": 0, "example_raw": None})
                tally["total"] += 1
                if score.get("status") == "unparsed":
                    tally["unparsed"] += 1
                    if tally["example_raw"] is None:
                        tally["example_raw"] = redactor(str(score.get("raw") or ""))[:500]
    return {"rows": rows, "tokens": tokens, "statuses": statuses, "counts": counts, "verdicts": verdicts,
            "judging": judging.summary()}


def columns(rows: ScoreRows) -> list:
    """Every buffer of the rows, byte for byte, with its type code."""
    out = [rows.count, rows.task.values, rows.task.codes.typecode, rows.task.codes.tobytes(), rows.conversation.strings(),
           rows.conversation.codes.tobytes(), rows.turn_index.typecode, rows.turn_index.tobytes(), list(rows._pairs)]
    for key, column in rows.scores.items():
        buffer = column.data if hasattr(column, "data") else column.codes
        out += [key, buffer.typecode, buffer.tobytes(), getattr(column, "values", None) if hasattr(column, "codes") else column.any_value]
    return out


def merged(statuses: dict, task: str, names: list[str]) -> dict:
    out: dict = {}
    for name in names:
        for status, count in statuses.get((task, name), {}).items():
            out[status] = out.get(status, 0) + count
    return out


def check(samples: list[dict]) -> Summary:
    redactor = Redactor(["secret"])
    summary = Summary(redactor)
    for sample in samples:
        summary.add(sample)
    want = reference(samples, redactor)
    assert columns(summary.rows) == columns(want["rows"])
    pd.testing.assert_frame_equal(summary.rows.frame(None), want["rows"].frame(None))
    assert summary.tokens == want["tokens"]
    for (task, name), counted in want["statuses"].items():  # counted from the status columns, in first-seen order
        assert list(summary.score_status(task, [name]).items()) == list(counted.items())
    assert list(summary.score_status("fam/a", ["q", "p", "absent"]).items()) == list(merged(want["statuses"], "fam/a", ["q", "p"]).items())
    assert summary.counts == want["counts"]
    assert json.dumps(summary.verdicts) == json.dumps(want["verdicts"])  # key order too
    assert json.dumps(summary.judging.summary()) == json.dumps(want["judging"])
    return summary


def test_the_one_pass_summary_equals_the_per_turn_reading() -> None:
    for seed in range(4):
        rng = random.Random(seed)
        summary = check([random_sample(i, rng) for i in range(200)])
        assert summary.judging.summary() and any(v["unparsed"] for v in summary.verdicts.values())  # the data exercises them
        assert summary.rows.turn_index.typecode == "q"


def test_uniform_samples_extend_the_columns_and_equal_the_per_turn_reading(monkeypatch) -> None:
    rng = random.Random(9)
    samples = [uniform_sample(i) for i in range(30)]
    samples.insert(10, random_sample(3, rng))  # a sample with other scorers in the middle: back to turn by turn
    per_turn: list[int] = []
    original = ScoreRows.add_turn
    monkeypatch.setattr(ScoreRows, "add_turn", lambda self, *a: (per_turn.append(1), original(self, *a))[1])
    summary = Summary(Redactor([]))
    for sample in samples:
        summary.add(sample)
    assert len(per_turn) == 5 + len(samples[10]["turns"])  # only the samples that brought new scorers went turn by turn
    monkeypatch.setattr(ScoreRows, "add_turn", original)
    check(samples)


def test_extended_text_columns_widen_past_255_values() -> None:
    samples = [uniform_sample(i) for i in range(3)]
    for i, sample in enumerate(samples):
        for t, record in enumerate(sample["turns"]):
            record["scores"]["q"]["status"] = f"s{(i * 5 + t) * 20}"  # 300 distinct statuses after a few samples
    samples += [uniform_sample(i) for i in range(3, 80)]
    for i, sample in enumerate(samples[3:], 3):
        for t, record in enumerate(sample["turns"]):
            record["scores"]["q"]["status"] = f"w{i * 5 + t}"
    summary = check(samples)
    assert summary.rows.scores["status_q"].codes.typecode == "i"
