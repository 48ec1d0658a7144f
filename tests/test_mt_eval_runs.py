"""MT-Eval end to end through the real runner: every task in every history mode against a
scripted model and a scripted judge, checking the exact messages sent at a chosen turn
(written out here from the raw JSONL), the judge's settings and prompt, the scores, the
family aggregate in the manifest, `mteval run`/`mteval show`, gold replay, and the
analysis helpers (multi-turn penalty, ablation by distance, figure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mteval.cli import main as cli_main
from mteval.client import RetryPolicy
from mteval.data import DataError
from mteval.models.errors import ConfigurationError
from mteval.models.scripted import register_script
from mteval.results import load, load_samples, read_manifest
from mteval.runner import RunConfig, Runner, RunOutcome
from mteval.scoring.jury import JuryConfig

DATA = Path(__file__).resolve().parents[1] / "tasks" / "mt_eval" / "data"
SYSTEM = "You are a helpful, respectful and honest assistant."
VERDICT = '```json\n{"Rationale": "ok", "Score": 7}\n```'
JUDGED: dict[tuple[str, str, str], dict[str, Any]] = {}
MODEL_CALLS: list[str] = []


def probe(messages, params, context, args) -> str:
    MODEL_CALLS.append(context.turn_id)
    return f"probe reply to {context.turn_id}"


def judge(messages, params, context, args) -> str:
    JUDGED[(context.task, context.conversation_id, context.turn_id)] = {"messages": list(messages), "params": params}
    return VERDICT


register_script("mt_eval_probe", probe)
register_script("mt_eval_test_judge", judge)


def raw(file: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / f"{file}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


def run(tmp_path: Path, tasks: str, history: str = "own", model: str = "scripted/mt_eval_probe", **overrides: Any) -> RunOutcome:
    options: dict[str, Any] = dict(
        tasks=tasks,
        model=model,
        history=history,
        limit=1,
        output_dir=tmp_path / "runs",
        use_cache=False,
        progress=False,
        retry=RetryPolicy(max_attempts=1, initial_wait_s=0.0, max_wait_s=0.0, jitter_s=0.0, timeout_s=10.0),
        jury=JuryConfig.from_models(["scripted/mt_eval_test_judge"]),
        command=["pytest"],
    )
    options.update(overrides)
    return Runner(RunConfig(**options)).run()


# task -> (multi-turn file, single-turn file or None, first single-turn id, score name)
TASKS = {
    "recollection_cls": ("recollection_multi_cls", "recollection_single_cls", "1#4", "cls_match"),
    "recollection_global_inst": ("recollection_multi_global-inst", "recollection_single_global-inst", "1_1-212", "instruction"),
    "expansion": ("expansion_multi", "expansion_single", "1#1_trans_1", "judge"),
    "refinement": ("refinement_multi", "refinement_single", "1_sum_1", "judge"),
    "follow_up": ("follow-up_multi", None, "81#3", "judge"),
    "cls_ablation_gold": ("cls_ablation_gold", None, "1_30#30", "cls_match"),
    "cls_ablation_dgc": ("cls_ablation_dgc", None, "1_30#30", "cls_match"),
    "cls_ablation_sgc": ("cls_ablation_sgc", None, "1_30#30", "cls_match"),
    "cls_ablation_rc": ("cls_ablation_rc", None, "1_30#30", "cls_match"),
    "refinement_irrelevant_front": ("refinement_ablation_irrelevant-front", None, "1#1_sum_1", "judge"),
}


def expected_multi(conv: list[dict], index: int, mode: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": SYSTEM}]
    for turn in conv[:index]:
        messages.append({"role": "user", "content": turn["user"]})
        answered = turn["do_inference"] and mode == "own"
        messages.append({"role": "assistant", "content": f"probe reply to {turn['id']}" if answered else turn["sys"]})
    messages.append({"role": "user", "content": conv[index]["user"]})
    return messages


def expected_single(name: str) -> list[dict[str, str]]:
    multi_file, single_file, first_id, _ = TASKS[name]
    if single_file is not None:
        user = next(r for r in raw(single_file) if r["id"] == first_id)["conv"][0]["user"]
    else:  # flattened: transcript of the earlier turns with gold replies, then the request
        conv = raw(multi_file)[0]["conv"]
        index = next(i for i, t in enumerate(conv) if t["do_inference"])
        lines = [f"User: {t['user'].strip()}\nAssistant: {t['sys'].strip()}" for t in conv[:index]]
        user = "\n".join(lines) + f"\nUser: {conv[index]['user'].strip()}\nAssistant:"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


@pytest.mark.parametrize("mode", ["own", "gold", "single"])
@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_in_every_history_mode(tmp_path, name, mode):
    multi_file, _, first_single, score_name = TASKS[name]
    if name == "recollection_global_inst" and mode == "gold":
        with pytest.raises(ConfigurationError, match="has no gold replies"):
            run(tmp_path, f"mt_eval/{name}", mode)
        return
    outcome = run(tmp_path, f"mt_eval/{name}", mode)
    manifest = outcome.manifest
    assert manifest["status"] == "complete" and manifest["totals"]["errored_conversations"] == 0
    assert manifest["tasks"][f"mt_eval/{name}"]["data"]["sha256"]
    samples = {s.conversation.id: s for s in load_samples(outcome.run_dir)}
    if mode == "single":
        sample = samples[first_single]
        index = 0
        expected = expected_single(name)
        assert sample.conversation.metadata["source_conversation"] == raw(multi_file)[0]["id"]
    else:
        conv = raw(multi_file)[0]["conv"]
        index = max(i for i, t in enumerate(conv) if t["do_inference"])
        sample = samples[raw(multi_file)[0]["id"]]
        expected = expected_multi(conv, index, mode)
        assert not any(r.generated for r, t in zip(sample.turns, conv) if not t["do_inference"])
    assert [m.model_dump() for m in sample.messages_sent(index)] == expected
    scored = [r for s in samples.values() for r in s.turns if r.scored]
    assert scored and all(r.scores[score_name].status == "ok" for r in scored)
    values = {r.scores[score_name].value for r in scored}
    assert values <= ({7.0} if score_name == "judge" else {0.0, 10.0})
    frame = load(outcome.run_dir)
    assert len(frame) == len(scored) and f"score_{score_name}" in frame


def test_judge_calls_use_the_benchmark_settings_and_gold_previous_turn(tmp_path):
    JUDGED.clear()
    run(tmp_path, "mt_eval/follow_up", "own")
    conv = raw("follow-up_multi")[0]["conv"]
    call = JUDGED[("mt_eval/follow_up", "81", "4")]
    assert [m.role for m in call["messages"]] == ["user"]  # no system message
    assert call["params"].temperature == 0.0 and call["params"].max_tokens == 1024
    prompt = call["messages"][0].content
    assert f"User: {conv[2]['user'].strip()}\nAssistant: {conv[2]['sys'].strip()}\nUser: {conv[3]['user'].strip()}\nAssistant: probe reply to 4" in prompt
    assert "probe reply to 3" not in prompt
    assert "Number of words in response: 4 \nNumber of sentences in response: 1 \n" in prompt


def test_bad_data_fails_before_any_model_call(tmp_path):
    records = raw("recollection_multi_global-inst")
    records[0]["inst_args"] = {"letter": "o", "colour": "red"}
    (tmp_path / "recollection_multi_global-inst.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    MODEL_CALLS.clear()
    with pytest.raises(DataError, match=r"recollection_multi_global-inst.jsonl:1: field 'inst_args.colour'"):
        run(tmp_path, "mt_eval/recollection_global_inst", task_options={"data_dir": str(tmp_path)})
    assert MODEL_CALLS == []


def test_gold_replay_scores_ten_on_classification(tmp_path):
    outcome = run(tmp_path, "mt_eval/recollection_cls,mt_eval/cls_ablation_rc", model="replay/gold", limit=None, jury=None)
    metrics = outcome.manifest["metrics"]
    assert metrics["mt_eval/recollection_cls"]["cls_match"]["value"] == 10.0
    assert metrics["mt_eval/recollection_cls"]["cls_match"]["n"] == 100
    assert metrics["mt_eval/cls_ablation_rc"]["cls_match"]["value"] == 10.0
    assert outcome.manifest["groups"]["mt_eval"]["Recollection"]["value"] == 10.0
    assert outcome.manifest["groups"]["mt_eval"]["overall"]["value"] is None  # needs all four categories


def test_family_run_show_and_penalty(tmp_path, capsys):
    out = tmp_path / "runs"
    common = ["--tasks", "mt_eval", "--model", "scripted/echo", "--judge", "scripted/mt_eval_judge", "--limit", "2", "--output-dir", str(out), "--no-cache"]
    assert cli_main(["run", *common]) == 0
    assert cli_main(["run", *common, "--history", "single"]) == 0
    own_dir = next(p for p in out.iterdir() if "__own__" in p.name)
    single_dir = next(p for p in out.iterdir() if "__single__" in p.name)
    capsys.readouterr()
    assert cli_main(["show", str(own_dir)]) == 0
    shown = capsys.readouterr().out
    for row in ("Recollection", "Expansion", "Refinement", "Follow-up", "overall"):
        assert row in shown
    groups = read_manifest(own_dir)["groups"]["mt_eval"]
    frame = load(own_dir)
    cls_scores = frame.loc[frame["task"] == "mt_eval/recollection_cls", "score_cls_match"].tolist()
    gi_scores = frame.loc[frame["task"] == "mt_eval/recollection_global_inst", "score_instruction"].tolist()
    assert groups["Recollection"]["n"] == len(cls_scores) + len(gi_scores) == 40  # pooled turns
    assert groups["Recollection"]["value"] == pytest.approx(sum(cls_scores + gi_scores) / 40)
    assert groups["Expansion"]["value"] == 7.0 and groups["Follow-up"]["n"] == 6
    means = [groups[c]["value"] for c in ("Recollection", "Expansion", "Refinement", "Follow-up")]
    assert groups["overall"]["value"] == pytest.approx(sum(means) / 4)
    low, high = groups["overall"]["ci"]
    assert low <= groups["overall"]["value"] <= high

    from mteval_tasks.mt_eval.report import category_scores, multi_turn_penalty

    scores = category_scores(own_dir).set_index("name")
    assert scores.loc["overall", "value"] == pytest.approx(groups["overall"]["value"])
    penalty = multi_turn_penalty(own_dir, single_dir).set_index("name")
    assert set(penalty.index) >= {"Recollection", "Expansion", "Refinement", "Follow-up", "overall", "mt_eval/recollection_cls"}
    row = penalty.loc["mt_eval/recollection_cls"]
    assert row["n_pairs"] == 20 and row["penalty"] == pytest.approx(row["single"] - row["multi"])
    assert row["ci_low"] <= row["penalty"] <= row["ci_high"]
    assert not penalty.loc["Follow-up", "comparable"] and penalty.loc["Refinement", "n_pairs"] == 10
    overall = penalty.loc["overall"]
    assert overall["penalty"] == pytest.approx(penalty.loc[["Recollection", "Expansion", "Refinement"], "penalty"].mean())

    # one definition: the command and the report give the same number, sign and interval
    capsys.readouterr()
    assert cli_main(["penalty", str(own_dir), str(single_dir), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["definition"].startswith("single-turn minus own-history")
    by_task = {(p["name"], p["metric"]): p for p in shown["penalties"]}
    cls = by_task[("mt_eval/recollection_cls", "cls_match")]
    assert cls["penalty"] == pytest.approx(row["penalty"]) and cls["ci"] == pytest.approx([row["ci_low"], row["ci_high"]])
    assert cli_main(["penalty", str(single_dir), str(own_dir)]) == 2
    assert "pass the multi-turn (own-history) run first" in capsys.readouterr().err
    with pytest.raises(ValueError, match="single-turn run"):
        multi_turn_penalty(single_dir, own_dir)


def test_penalty_has_no_overall_row_from_one_category(tmp_path):
    from mteval_tasks.mt_eval.report import multi_turn_penalty

    own = run(tmp_path, "mt_eval/recollection_cls", model="scripted/echo", limit=2, jury=None).run_dir
    single = run(tmp_path, "mt_eval/recollection_cls", history="single", model="scripted/echo", limit=2, jury=None).run_dir
    frame = multi_turn_penalty(own, single)
    assert "overall" not in set(frame["name"]) and list(frame["name"]) == ["Recollection", "mt_eval/recollection_cls"]
    assert any("no overall row" in note and "have Recollection" in note for note in frame.attrs["notes"])
    task = frame.set_index("name").loc["mt_eval/recollection_cls"]
    assert task["penalty"] == pytest.approx(task["single"] - task["multi"]) and task["ci_low"] <= task["penalty"] <= task["ci_high"]
    example_own = run(tmp_path, "example/arithmetic", model="scripted/echo", limit=2, jury=None).run_dir
    example_single = run(tmp_path, "example/arithmetic", history="single", model="scripted/echo", limit=2, jury=None).run_dir
    with pytest.raises(ValueError, match="use `mteval penalty RUN_OWN RUN_SINGLE`"):
        multi_turn_penalty(example_own, example_single)


def test_ablation_by_distance_and_figure(tmp_path):
    outcome = run(
        tmp_path, "mt_eval/cls_ablation_gold,mt_eval/cls_ablation_sgc,mt_eval/refinement_irrelevant_front", model="replay/gold", limit=None
    )
    from mteval_tasks.mt_eval.report import cls_ablation_by_distance, irrelevant_context_by_distractors, plot_by_distance

    frame = cls_ablation_by_distance(outcome.run_dir)
    assert set(zip(frame["variant"], frame["distance"])) == {("gold", 4), ("gold", 9), ("sgc", 4), ("sgc", 9)}
    assert (frame["n"] == 50).all() and (frame["value"] == 10.0).all()
    assert frame["echo_baseline"].between(4.0, 8.0).all()  # the substring rule's floor, well above 0
    front = irrelevant_context_by_distractors(outcome.run_dir)
    assert front["n_distracts"].tolist() == [1, 3, 6] and (front["n"] == 240).all()
    png = plot_by_distance(frame, tmp_path / "fig" / "distance.png")
    svg = plot_by_distance(outcome.run_dir, tmp_path / "distance.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text()[:500]
    assert "echo baseline (no skill)" in svg.read_text()


def test_echo_baseline_is_what_an_echo_model_scores(tmp_path):
    from mteval_tasks.mt_eval.report import cls_ablation_by_distance, echo_baseline

    outcome = run(tmp_path, "mt_eval/cls_ablation_gold", model="scripted/echo", limit=None, jury=None)
    measured = cls_ablation_by_distance(outcome.run_dir).set_index("distance")
    computed = echo_baseline("mt_eval/cls_ablation_gold").set_index("distance")
    assert list(computed.index) == [4, 9]
    assert measured["value"].to_dict() == computed["value"].to_dict() == measured["echo_baseline"].to_dict()
    assert 5.0 <= computed["value"].mean() <= 7.0  # "about 6 of 10" for a model with no skill at all
