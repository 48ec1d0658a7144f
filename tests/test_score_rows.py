"""The run summary's compact rows (`mteval.score_rows`) give the numbers the pandas path
gives: metrics, intervals and per-turn curves of the default metrics computed from arrays
equal `mean_metrics`/`by_turn` over a frame of the same rows, for several tasks, missing
and unparsed scores and conversation ids that sort differently from their order in the
file. The chunked bootstrap draws the resamples a single draw would. A model that never
suspends (scripted, cache hits) does not starve the event loop."""

from __future__ import annotations

import asyncio
import json
import random

import numpy as np
import pytest
import pandas as pd

from mteval.manifest_builder import default_metrics, default_turn_curves
from mteval.results import sample_rows
from mteval.runner import RunConfig, Runner
from mteval.score_rows import ScoreRows
from mteval.stats import _cluster_means, by_turn, mean_metrics


def sample(task: str, cid: str, scores: list[dict | None]) -> dict:
    turns = [{"id": f"t{i}", "user": "u"} for i in range(len(scores))]
    records = []
    for i, score in enumerate(scores):
        record = {"index": i, "scored": True, "reply": "r", "usage": {"input_tokens": 3, "output_tokens": 2}}
        if score is not None:
            record["scores"] = score
        else:
            record["reply"], record["error"] = None, "boom"
        records.append(record)
    return {"task": task, "conversation": {"id": cid, "turns": turns}, "turns": records, "status": "ok"}


def samples(seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(60):
        task = "fam/a" if i % 3 else "fam/b"
        scores: list[dict | None] = []
        for _ in range(rng.randint(1, 6)):
            roll = rng.random()
            if roll < 0.1:
                scores.append(None)  # errored turn: a row without a score
            elif roll < 0.2:
                scores.append({"q": {"value": None, "status": "unparsed"}})
            else:
                extra = {"only_a": {"value": rng.random(), "status": "ok"}} if task == "fam/a" else {}
                scores.append({"q": {"value": rng.choice([0.0, 0.5, 1.0, rng.random() * 10]), "status": "ok"}, **extra})
        out.append(sample(task, f"conv-{rng.randint(0, 10**6)}", scores))  # file order is not id order
    return out


def test_default_metrics_from_arrays_equal_the_pandas_path() -> None:
    rows, dicts = ScoreRows(), []
    for s in samples():
        these = sample_rows(s)
        rows.add_sample(these)
        dicts.extend(these)
    full = pd.DataFrame(dicts)
    for task in ("fam/a", "fam/b"):
        frame = full[full["task"] == task]
        selected = rows.rows_of([task])
        want = {k: v.model_dump() for k, v in mean_metrics(frame, ["q", "only_a", "absent"]).items()}
        got = {k: v.model_dump() for k, v in default_metrics(rows, selected, ["q", "only_a", "absent"]).items()}
        assert json.dumps(got) == json.dumps(want)
        assert want["q"]["ci"] is not None and want["q"]["excluded"] > 0  # the data exercises both paths
        assert json.dumps(default_turn_curves(rows, selected, ["q", "only_a"])) == json.dumps(by_turn(frame, ["q", "only_a"]))
        built = rows.frame(selected)
        assert built["conversation_id"].tolist() == frame["conversation_id"].tolist()
        assert built.index.tolist() == frame.index.tolist()
        assert json.dumps(mean_metrics(built, ["q"])["q"].model_dump()) == json.dumps(want["q"])
    assert rows.rows_of(["fam/a", "fam/b"]) is None  # every row: no selection copied


def test_the_summary_streams_the_rows_sample_rows_gives() -> None:
    from mteval.manifest_builder import Summary
    from mteval.redact import Redactor

    summary, rows, tokens = Summary(Redactor([])), ScoreRows(), 0
    for i, s in enumerate(samples(seed=5)):
        if i % 7 == 0:  # a single-turn rendering: rows carry the source conversation and turn
            s["conversation"]["metadata"] = {"source_conversation": f"src-{i % 3}", "source_turn_index": 4}
        if i % 11 == 0:
            s["conversation"]["turns"][0]["scored"] = False
        summary.add(s)
        these = sample_rows(s)
        rows.add_sample(these)
        tokens += sum(r["input_tokens"] for r in these)
    assert len(summary.rows) == len(rows) > 0
    pd.testing.assert_frame_equal(summary.rows.frame(None), rows.frame(None))
    assert summary.tokens["input"] == tokens


def test_a_run_without_rows_gives_the_empty_frame() -> None:
    rows = ScoreRows()
    assert rows.frame(None).empty and list(rows.frame(None).columns) == []
    assert default_metrics(rows, None, ["q"])["q"].model_dump()["value"] is None
    assert default_turn_curves(rows, None, ["q"]) == {}


def test_chunked_bootstrap_draws_what_one_draw_does(monkeypatch) -> None:
    import mteval.stats as stats

    counts = np.arange(1, 301, dtype=float) % 7 + 1
    sums = counts * np.linspace(0, 1, 300)
    rng = np.random.default_rng(11)
    picks = rng.integers(0, 300, size=(2000, 300))
    want = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    monkeypatch.setattr(stats, "_PICKS_PER_CHUNK", 300 * 7)  # 7 resamples per chunk
    assert np.array_equal(_cluster_means(sums, counts, np.random.default_rng(11), 2000), want)


def test_a_model_that_never_suspends_lets_the_loop_run(tmp_path) -> None:
    """Before: one worker took every conversation without yielding, so a stop (Ctrl-C's
    handler runs on the loop) was only seen once the whole run had finished."""
    import tests.test_runner_lazy as lazy

    lazy.STATE["ids"] = None
    config = RunConfig(tasks="lazyfam/stream", model="scripted/echo", output_dir=tmp_path, use_cache=False, progress=False,
                       max_concurrency=4, command=["t"])
    runner = Runner(config)
    original = runner.run_conversation

    async def first_stops(task, conversation, client):
        if not getattr(runner, "_stop_scheduled", False):
            runner._stop_scheduled = True
            asyncio.get_running_loop().call_soon(runner._stop.set)
        return await original(task, conversation, client)

    runner.run_conversation = first_stops  # type: ignore[method-assign]
    outcome = runner.run()
    assert outcome.interrupted
    assert outcome.manifest["totals"]["conversations"] < lazy.N


def test_superseded_lines_are_found_by_their_keys_even_when_hashes_collide(tmp_path, monkeypatch) -> None:
    """samples.jsonl is scanned keeping a hash per line; lines whose hashes repeat are read
    again and compared by (task, conversation id), so a collision never drops a sample."""
    import mteval.results as results

    lines = [sample("t/a", "c1", [None]), sample("t/a", "c2", [None]), sample("t/b", "c1", [None]),
             {**sample("t/a", "c1", [{"q": {"value": 1.0, "status": "ok"}}]), "status": "ok"}]
    (tmp_path / results.SAMPLES).write_text("".join(json.dumps(line) + "\n" for line in lines))
    want = [("t/a", "c2", None), ("t/b", "c1", None), ("t/a", "c1", 1.0)]

    def read() -> list[tuple]:
        return [(s["task"], s["conversation"]["id"], (s["turns"][0].get("scores") or {}).get("q", {}).get("value"))
                for s in results.iter_sample_dicts(tmp_path)]

    assert read() == want
    monkeypatch.setattr(results, "hash", lambda key: 7, raising=False)  # every line collides
    assert read() == want


def test_text_codes_widen_past_255_values() -> None:
    from mteval.score_rows import TextColumn

    column = TextColumn(count=2)
    values = [f"v{i % 300}" for i in range(900)] + [None]
    for value in values:
        column.append(value)
    assert column.codes.typecode == "i"
    assert column.column(None).tolist() == [None, None, *values]


@pytest.mark.parametrize("extra", [[], ["a\0"], ["x" * 100]])
def test_conversation_ranks_follow_string_order(extra) -> None:
    """Ids are ranked as UTF-8 bytes (no str objects); the order is the strings' order,
    equal ids share a rank, and ids bytes cannot rank (NUL-ended, long) go the str way."""
    from mteval.score_rows import SampleIds

    ids = ["b", "a", "", "é", "\ud800", "\ue000", "\ud7ff", "ab", "a", "🙂", "A", "a b", *extra]
    column = SampleIds()
    for value in ids:
        column.start_sample(value)
    want = np.unique(np.array(ids, dtype=object), return_inverse=True)[1]
    assert column.ranks().tolist() == want.tolist()
    assert column.strings() == ids


def test_turn_indexes_widen() -> None:
    rows = ScoreRows()
    rows.start_sample("c")
    for index in (0, 70000, -1):
        rows.add_turn("t/a", index, {})
    assert rows.turn_indexes(None).tolist() == [0, 70000, -1]
