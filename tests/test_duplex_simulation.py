"""Time-sliced duplex simulation and recorded outputs, end to end through the runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mteval.duplex.options import SimulationOptions
from mteval.duplex.sample import sample_timeline
from mteval.duplex.simulation import DuplexSolver, Voice, parse_piece, plan_slices
from mteval.models.errors import ConfigurationError
from mteval.models.scripted import ScriptedModel, register_script
from mteval.results import load, load_samples
from mteval.runner import RunConfig, Runner
from mteval.scoring.jury import JuryConfig
from mteval_tasks.full_duplex.sources import load_timelines

# User speech at 2.5 words/s (0.4 s a word). Slices every 2 s before the stream ends.
SCENARIOS = [
    # "one two three four": 0-1.6 s; TURN_SHIFT at 1.6; stream ends at 6.0 (slices at 2, 4)
    {"id": "turn", "task": "smooth_turn_taking", "script": [{"say": "one two three four"}, {"silence": 4.4, "event": "TURN_SHIFT"}]},
    # 0-2.4 s, pause 2.4-4.0, 4.0-6.0 s, silence to 8.0 (slices at 2, 4, 6)
    {
        "id": "pause",
        "task": "pause_handling",
        "script": [
            {"say": "I was thinking that we could"},
            {"silence": 1.6, "event": "TURN_HOLD"},
            {"say": "go to the beach tomorrow"},
            {"silence": 2.0},
        ],
    },
    # context 0-1.6 s; interruption 6.0-8.4 s; stream ends at 14.0 (slices at 2, 4, ..., 12)
    {
        "id": "barge",
        "task": "user_interruption",
        "script": [
            {"say": "tell me a story"},
            {"silence": 4.4},
            {"say": "stop and tell me the time", "event": "BARGE_IN"},
            {"silence": 5.6},
        ],
    },
    # 0-2.0 s, backchannel opportunity 2.0-2.8, 2.8-4.8 s, silence to 6.0 (slices at 2, 4, 6)
    {
        "id": "bc",
        "task": "backchannel",
        "script": [{"say": "a b c d e"}, {"silence": 0.8, "event": "BC"}, {"say": "f g h i j"}, {"silence": 1.2}],
    },
]

SEVEN = "I think that is a lovely idea"  # 7 words at 140 wpm: exactly 3.0 s; 4 of them fit a 2 s slice
FOUR = "I think that is"
W = 60 / 140  # seconds per model word


def heard(messages) -> bool:
    return messages[-1].content != "<silence>"


register_script("duplex_always", lambda messages, params, context, args: SEVEN)
register_script("duplex_never", lambda messages, params, context, args: "<idle>")
register_script("duplex_backchannel", lambda messages, params, context, args: "mm-hmm" if heard(messages) else "<idle>")
# speaks only into silence; any user speech makes it yield (and stop if it is talking)
register_script("duplex_polite", lambda messages, params, context, args: "<idle>" if heard(messages) else SEVEN)
register_script("fdb_judge", lambda messages, params, context, args: "Analysis: on topic.\nI would rate the AI's response as 4")


@pytest.fixture
def scenario_file(tmp_path) -> Path:
    path = tmp_path / "scenarios.jsonl"
    path.write_text("\n".join(json.dumps(s) for s in SCENARIOS) + "\n")
    return path


def run(tmp_path, model: str, options: dict, tasks: str = "full_duplex", **kw):
    config = RunConfig(
        tasks=tasks,
        model=model,
        progress=False,
        output_dir=tmp_path / "runs",
        cache_dir=tmp_path / "c",
        task_options=options,
        **kw,
    )
    outcome = Runner(config).run()
    return outcome, {k: {m: v["value"] for m, v in ms.items()} for k, ms in outcome.manifest["metrics"].items()}


# --- pieces -----------------------------------------------------------------------------------------
def test_plan_slices_by_time_and_by_words(scenario_file):
    timelines = {t.id: t for t in load_timelines(scenario_file)}
    pause = timelines["pause"]
    slices = plan_slices(pause.user, pause.end_time(), SimulationOptions())
    assert [(s.t0, s.t1) for s in slices] == [(0, 2), (2, 4), (4, 6), (6, 8)]  # the stream end (8.0) is one too
    assert [len(s.words) for s in slices] == [5, 1, 5, 0]  # a word is heard in the slice where it ends
    by_words = plan_slices(pause.user, pause.end_time(), SimulationOptions(slice_by="words", slice_words=5))
    # every 5th word and each segment end (2.0, 2.4, 6.0); no decision is more than 2 s
    # after the previous one, so the clock also ticks at 4.4
    assert [round(s.t1, 6) for s in by_words] == [2.0, 2.4, 4.4, 6.0, 8.0]
    assert [s.words for s in by_words][1:3] == [("could",), ("go",)]
    with pytest.raises(ConfigurationError, match="max_slices"):
        plan_slices(pause.user, pause.end_time(), SimulationOptions(slice_s=0.1, max_slices=10))


def test_parse_piece_and_voice():
    assert parse_piece("<idle>") is None and parse_piece("  ") is None and parse_piece("...") is None
    assert parse_piece("<silence>") is None
    assert parse_piece("  Sure,   go on <idle>") == "Sure, go on"
    voice = Voice(140)
    assert voice.say(7, 2.0) == (2.0, 5.0)
    assert voice.fits(2.0) == 4 and voice.fits(3.0) == 7 and voice.fits(0.0) == 0


def test_system_prompt_names_the_protocol():
    prompt = DuplexSolver(SimulationOptions()).system_prompt()
    assert "<idle>" in prompt and "<silence>" in prompt and "2 seconds" in prompt and "at most 4 words" in prompt


# --- end to end ------------------------------------------------------------------------------------
def test_always_speaking_model(tmp_path, scenario_file):
    outcome, metrics = run(tmp_path, "scripted/duplex_always", {"scenarios": str(scenario_file), "relevance": False})
    assert metrics["full_duplex/pause_handling"] == {"tor": 1.0}
    # speaks from the first slice end (2.0) while the turn ended at 1.6; never over the user
    assert metrics["full_duplex/smooth_turn_taking"] == {"tor": 1.0, "latency": pytest.approx(0.4), "overlap_s": 0.0, "barge_ins": 0.0}
    interruption = metrics["full_duplex/user_interruption"]
    # pieces of 4 words at 2, 4, 6, 8, ...: FDB counts the second word of the piece decided at 8.0 (8.43 > 8.4),
    # but the first word decided after hearing the interruption's end is the one at 10.0
    assert interruption["latency"] == pytest.approx(W - 0.4) and interruption["informed_latency"] == pytest.approx(1.6)
    # it talks over the interruption (6.0-8.4) from 6.0 to 6.0 + 4W and again from 8.0: two barge-ins
    assert interruption["overlap_s"] == pytest.approx(4 * W + 0.4) and interruption["barge_ins"] == 2.0
    assert interruption["tor"] == 1.0

    samples = {s.id: s for s in load_samples(outcome.run_dir)}
    turn = samples["turn"]
    assert [r.turn_id for r in turn.turns] == ["timeline", "slice-001", "slice-002", "slice-003"]
    assert [r.metadata["action"] for r in turn.turns[1:]] == ["speak", "speak", "idle"]  # no time left at the stream end
    assert turn.turns[2].metadata == {
        "duplex": "slice", "t0": 2.0, "t1": 4.0, "heard": "", "action": "speak", "heard_until": 4.0,
        "piece": FOUR, "start": 4.0, "end": pytest.approx(4.0 + 4 * W), "unsaid": "a lovely idea",
    }
    assert turn.turns[3].metadata["unsaid"] == SEVEN
    # the model's history holds what it said, not the words that did not fit
    assert turn.messages_sent(2)[-1].content == "<silence>" and turn.messages_sent(2)[-2].content == FOUR
    timeline = sample_timeline(turn.conversation, turn.turns)
    assert [(s.start, round(s.end, 6), len(s.words)) for s in timeline.model] == [(2.0, round(2 + 4 * W, 6), 4), (4.0, round(4 + 4 * W, 6), 4)]
    assert turn.turns[0].reply == timeline.text("model")
    frame = load(outcome.run_dir)
    assert len(frame) == 4 and set(frame["turn_id"]) == {"timeline"}  # one scored row per sample


def test_no_backlog_speech_fits_before_the_next_decision(tmp_path, scenario_file):
    """The issue's 18 s sample whose model channel ran to 52 s: speech now never queues."""
    outcome, _ = run(tmp_path, "scripted/duplex_always", {"scenarios": str(scenario_file), "relevance": False})
    for sample in load_samples(outcome.run_dir):
        slices = sample.turns[1:]
        stream_end = slices[-1].metadata["t1"]
        for record, following in zip(slices, slices[1:]):
            if record.metadata["action"] == "speak":
                assert record.metadata["start"] == record.metadata["t1"] == record.metadata["heard_until"]
                assert record.metadata["end"] <= following.metadata["t1"] + 1e-9
        timeline = sample_timeline(sample.conversation, sample.turns)
        assert timeline.model[-1].end <= stream_end
        assert all(p["heard_until"] == p["start"] for p in timeline.meta["spoken"])  # what it knew when it spoke


def test_the_last_words_are_heard(tmp_path):
    # the user speaks 6.0-7.2 s and the stream ends at 8.0: before, no decision point heard these words
    scenario = {"id": "late", "task": "pause_handling", "script": [{"silence": 6.0}, {"say": "are you there"}, {"silence": 0.8}]}
    path = tmp_path / "late.jsonl"
    path.write_text(json.dumps(scenario) + "\n")
    heard_by_model = []

    def listener(messages, params, context, args):
        heard_by_model.append(messages[-1].content)
        return "<idle>"

    register_script("duplex_listener", listener)
    outcome, _ = run(tmp_path, "scripted/duplex_listener", {"scenarios": str(path)}, tasks="full_duplex/pause_handling")
    assert heard_by_model == ["<silence>", "<silence>", "<silence>", "are you there"]
    (sample,) = load_samples(outcome.run_dir)
    assert sample.turns[-1].metadata["t1"] == 8.0 and sample.turns[-1].metadata["heard"] == "are you there"


def test_talking_over_is_reported_beside_the_clamped_latency(tmp_path):
    # a ten-word question, 0-4.0 s; the turn shifts at 4.0. The eager model answers at 2.0, over the question:
    # the clamped latency is a perfect 0, the overlap and the barge-in say what happened
    scenario = {"id": "long", "task": "smooth_turn_taking", "script": [{"say": "one two three four five six seven eight nine ten"}, {"silence": 4.0, "event": "TURN_SHIFT"}]}
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps(scenario) + "\n")
    tasks = "full_duplex/smooth_turn_taking"
    _, eager = run(tmp_path, "scripted/duplex_always", {"scenarios": str(path)}, tasks=tasks)
    assert eager[tasks] == {"tor": 1.0, "latency": 0.0, "overlap_s": pytest.approx(4 * W), "barge_ins": 1.0}
    _, polite = run(tmp_path, "scripted/duplex_polite", {"scenarios": str(path)}, tasks=tasks)
    assert polite[tasks] == {"tor": 1.0, "latency": pytest.approx(2.0), "overlap_s": 0.0, "barge_ins": 0.0}


def test_never_speaking_model(tmp_path, scenario_file):
    _, metrics = run(tmp_path, "scripted/duplex_never", {"scenarios": str(scenario_file), "relevance": False})
    assert metrics["full_duplex/pause_handling"] == {"tor": 0.0}
    assert metrics["full_duplex/smooth_turn_taking"] == {"tor": 0.0, "latency": None, "overlap_s": 0.0, "barge_ins": 0.0}
    assert metrics["full_duplex/user_interruption"] == {"tor": 0.0, "latency": None, "overlap_s": 0.0, "barge_ins": 0.0, "informed_latency": None}
    assert metrics["full_duplex/backchannel"]["tor"] == 0.0 and metrics["full_duplex/backchannel"]["bc_frequency"] == 0.0
    assert metrics["full_duplex/backchannel"]["jsd"] == 1.0  # no backchannel: the code's 1.0


def test_backchanneling_model_code_and_paper_rules(tmp_path, scenario_file):
    options = {"scenarios": str(scenario_file), "relevance": False}
    outcome, code = run(tmp_path, "scripted/duplex_backchannel", options)
    # "mm-hmm" (0.43 s) at 2, 4 and 6 s: code rule TO = 1 (4.43 s from first to last word)
    assert code["full_duplex/pause_handling"] == {"tor": 1.0}
    assert code["full_duplex/smooth_turn_taking"] == {"tor": 0.0, "latency": None, "overlap_s": 0.0, "barge_ins": 0.0}
    # after the interruption (8.4 s) only the backchannel at 10 s: TO = 0
    assert code["full_duplex/user_interruption"]["tor"] == 0.0
    bc = code["full_duplex/backchannel"]
    assert bc["tor"] == 0.0 and bc["bc_frequency"] == pytest.approx(2 / 6.0)

    from mteval_tasks.full_duplex.backchannel import backchannel_jsd

    sample = next(s for s in load_samples(outcome.run_dir) if s.id == "bc")
    reference = sample_timeline(sample.conversation, sample.turns).event("BC_REFERENCE").p
    expected = backchannel_jsd([(2.0, 2.0 + 3 / 7), (4.0, 4.0 + 3 / 7)], 6.0, reference)
    assert bc["jsd"] == pytest.approx(expected) and 0 < expected < 0.84

    _, paper = run(tmp_path, "scripted/duplex_backchannel", {**options, "takeover_rule": "paper", "jsd": "paper"})
    assert paper["full_duplex/pause_handling"] == {"tor": 0.0}  # every segment is a backchannel


def test_interruption_reply_is_timed_from_when_it_was_heard(tmp_path, scenario_file):
    outcome, metrics = run(
        tmp_path, "scripted/duplex_polite", {"scenarios": str(scenario_file), "relevance": False}, tasks="full_duplex/user_interruption"
    )
    sample = load_samples(outcome.run_dir)[0]
    actions = [r.metadata["action"] for r in sample.turns[1:]]
    # 2: hears the context; 4, 6: talks into silence (4 words each); 8, 10: hears the interruption (6.0-8.4)
    # and yields; 12: answers; 14 (the stream end): no time left
    assert actions == ["idle", "speak", "speak", "idle", "idle", "speak", "idle"]
    timeline = sample_timeline(sample.conversation, sample.turns)
    assert [(s.start, round(s.end, 6)) for s in timeline.model] == [(4.0, round(4 + 4 * W, 6)), (6.0, round(6 + 4 * W, 6)), (12.0, round(12 + 4 * W, 6))]
    reply = timeline.meta["spoken"][-1]
    assert reply["start"] == 12.0 and reply["heard_until"] >= 8.4  # decided after the interruption was heard
    result = metrics["full_duplex/user_interruption"]
    assert result["latency"] == pytest.approx(12.0 - 8.4) == result["informed_latency"]
    # the piece it chose at 6.0, before hearing anyone, ran over the interruption: reported, not hidden
    assert result["overlap_s"] == pytest.approx(4 * W) and result["barge_ins"] == 1.0


def test_relevance_is_judged_for_takeovers_only(tmp_path, scenario_file):
    seen = []

    def judge(messages, params, context, args):
        seen.append(messages)
        return "Analysis: on topic.\nI would rate the AI's response as 4"

    register_script("fdb_judge_recording", judge)
    jury = JuryConfig.from_models(["scripted/fdb_judge_recording"])
    options = {"scenarios": str(scenario_file)}
    _, metrics = run(tmp_path, "scripted/duplex_polite", options, tasks="full_duplex/user_interruption", jury=jury)
    assert metrics["full_duplex/user_interruption"]["relevance"] == 4.0
    (messages,) = seen
    assert messages[0].role == "system" and "0 is worst, 5 is best" in messages[0].content
    assert messages[1].content == (
        "- Contextual user turn: tell me a story\n"
        "- User interrupting turn: stop and tell me the time\n"
        "- AI's response: I think that is\n"
    )
    seen.clear()
    _, never = run(tmp_path, "scripted/duplex_never", options, tasks="full_duplex/user_interruption", jury=jury)
    assert never["full_duplex/user_interruption"]["relevance"] is None and seen == []
    with pytest.raises(ConfigurationError, match="need a judge"):
        run(tmp_path, "scripted/duplex_never", options, tasks="full_duplex/user_interruption")


class CacheableScript(ScriptedModel):
    cacheable = True


def test_runs_are_cached_and_deterministic(tmp_path, scenario_file):
    calls = []

    def counting(messages, params, context, args):
        calls.append(context.turn_id)
        return SEVEN if len(calls) % 3 else "<idle>"

    register_script("duplex_counting", counting)
    options = {"scenarios": str(scenario_file), "relevance": False}

    def once(run_id: str):
        config = RunConfig(
            tasks="full_duplex", model="scripted/duplex_counting", progress=False, output_dir=tmp_path / "runs",
            cache_dir=tmp_path / "c", task_options=options, run_id=run_id,
        )
        outcome = Runner(config, model=CacheableScript("duplex_counting", {})).run()
        return outcome, {s.id: s for s in load_samples(outcome.run_dir)}

    first, samples1 = once("a")
    n_calls = len(calls)
    second, samples2 = once("b")
    assert len(calls) == n_calls  # every slice came from the cache
    assert all(r.cached for s in samples2.values() for r in s.turns[1:])
    for sid, sample in samples1.items():
        assert [r.metadata for r in sample.turns] == [r.metadata for r in samples2[sid].turns]
        assert [r.reply for r in sample.turns] == [r.reply for r in samples2[sid].turns]
    assert first.manifest["metrics"] == second.manifest["metrics"]
    assert second.manifest["totals"]["calls"]["model"]["cache_hits"] == n_calls


# --- recorded outputs ----------------------------------------------------------------------------------
def write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_recorded_fdb_outputs_need_no_model_calls(tmp_path):
    root = tmp_path / "fdb_turn_taking"
    # sample 1: answers 0.5 s after the turn end; sample 2: silent; sample 3: starts early (latency -> 0)
    words = lambda *ws: {"text": " ".join(w for w, _, _ in ws), "chunks": [{"text": w, "timestamp": [s, e]} for w, s, e in ws]}  # noqa: E731
    write(root / "1" / "output.json", words(("Yes", 2.5, 3.0), ("I", 3.0, 3.2), ("am", 3.2, 3.6)))
    write(root / "1" / "turn_taking.json", [{"text": "[TURN-TAKING]", "timestamp": [2.0, 2.5]}])
    write(root / "2" / "output.json", words())
    write(root / "2" / "turn_taking.json", [{"text": "[TURN-TAKING]", "timestamp": [3.0, 3.5]}])
    write(root / "3" / "output.json", words(("so", 0.5, 0.9), ("what", 1.0, 1.3), ("do", 1.3, 1.5), ("you", 1.5, 1.7), ("mean", 1.7, None)))
    write(root / "3" / "turn_taking.json", [{"text": "[TURN-TAKING]", "timestamp": [1.2, 1.6]}])
    outcome, metrics = run(tmp_path, "replay/gold", {"recorded": str(root)}, tasks="full_duplex/smooth_turn_taking")
    assert metrics["full_duplex/smooth_turn_taking"] == {
        "tor": pytest.approx(2 / 3), "latency": pytest.approx(0.25), "overlap_s": None, "barge_ins": None,  # no user words: unknown, not 0
    }
    assert outcome.manifest["totals"]["calls"]["model"]["requests"] == 0
    frame = load(outcome.run_dir).set_index("conversation_id")
    assert frame.loc["fdb/smooth_turn_taking/1", "reply"] == "Yes I am"
    assert frame.loc["fdb/smooth_turn_taking/3", "score_latency"] == 0.0
    task = outcome.manifest["tasks"]["full_duplex/smooth_turn_taking"]
    assert task["data"]["version"] == "recorded/1" and len(task["data"]["files"]) == 6
    assert task["mode"] == "recorded" and task["options"]["to_max_words"] == 3


def test_recorded_timelines_and_unknown_options(tmp_path):
    timeline = {
        "schema": "mteval.fullduplex.timeline/1", "id": "p1", "task": "pause_handling", "duration_s": 5.0,
        "model": [{"start": 1.0, "end": 1.3, "text": "mm"}, {"start": 3.0, "end": 3.3, "text": "yeah"}],
    }
    write(tmp_path / "rec" / "p1.json", timeline)
    _, code = run(tmp_path, "replay/gold", {"recorded": str(tmp_path / "rec")}, tasks="full_duplex/pause_handling")
    _, paper = run(tmp_path, "replay/gold", {"recorded": str(tmp_path / "rec"), "takeover_rule": "paper"}, tasks="full_duplex/pause_handling")
    assert code["full_duplex/pause_handling"]["tor"] == 1.0 and paper["full_duplex/pause_handling"]["tor"] == 0.0
    with pytest.raises(ConfigurationError, match="Did you mean 'takeover_rule'"):
        run(tmp_path, "replay/gold", {"takeover_rul": "paper"}, tasks="full_duplex/pause_handling")


def test_every_duplex_metric_declares_its_direction(tmp_path, scenario_file):
    """Talking over the user and informed latency are lower-is-better: `mteval compare` and
    the leaderboard read the direction from the manifest, and an undeclared metric defaults
    to higher-is-better, so more overlap would have passed as an improvement."""
    outcome, _ = run(tmp_path, "scripted/duplex_always", {"scenarios": str(scenario_file), "relevance": False})
    directions = {(task, name): m["semantics"]["direction"] for task, ms in outcome.manifest["metrics"].items() for name, m in ms.items()}
    for task in ("full_duplex/smooth_turn_taking", "full_duplex/user_interruption"):
        assert directions[(task, "overlap_s")] == directions[(task, "barge_ins")] == "lower"
        assert outcome.manifest["metrics"][task]["overlap_s"]["semantics"]["scale"]["unit"] == "seconds"
    assert directions[("full_duplex/user_interruption", "informed_latency")] == "lower"
    for task_name, ms in outcome.manifest["metrics"].items():
        declared = dict(next(c for c in _duplex_task_classes() if c.name == task_name)().metric_semantics())
        assert set(ms) <= set(declared), f"{task_name}: undeclared {set(ms) - set(declared)}"


def _duplex_task_classes():
    from mteval_tasks.full_duplex import Backchannel, PauseHandling, SmoothTurnTaking, UserInterruption

    return [Backchannel, PauseHandling, SmoothTurnTaking, UserInterruption]
