"""`mteval import fastchat` (FastChat/MT-Bench answer and single-answer judgment files)
and the minimal native `mt_bench/mt_bench` task it pairs with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mteval.cli import main
from mteval.conversation import Message
from mteval.models.scripted import register_script
from mteval.results import load, load_samples, read_manifest
from mteval.run_source import RunSource
from mteval.runner import RunConfig, Runner
from mteval.scoring.judge_spec import load_spec
from mteval.scoring.jury import JuryConfig
from mteval_tasks.mt_bench import QUESTIONS, REFERENCES, MtBench, prompt_name

UPSTREAM_QUESTIONS = QUESTIONS  # shipped byte for byte from FastChat (tasks/mt_bench/data/SOURCE.md)
PICKED = ("81", "101", "111")  # writing, reasoning, math
RECORDS = {str(r["question_id"]): r for r in map(json.loads, QUESTIONS.read_text().splitlines())}
REFS = {str(r["question_id"]): r["choices"][0]["turns"] for r in map(json.loads, REFERENCES.read_text().splitlines())}
JUDGE_MESSAGES: dict[tuple[str, str], list[Message]] = {}


def _answer(messages, params, context, args) -> str:
    return f"mt answer {context.conversation_id}/{context.turn_id}"


def _judge(messages, params, context, args) -> str:
    JUDGE_MESSAGES[(context.conversation_id, context.turn_id)] = list(messages)
    return "Rating: [[6]]"


register_script("mtbench_answer", _answer)
register_script("mtbench_judge", _judge)


def write_sources(root: Path, scores: dict[str, float | int]) -> tuple[Path, Path]:
    """FastChat layout: model_answer/<model>.jsonl for alpha and beta, judgments for alpha."""
    answers = root / "model_answer"
    answers.mkdir(parents=True)
    lines = []
    for model in ("alpha", "beta"):
        with (answers / f"{model}.jsonl").open("w") as handle:
            for qid in PICKED:
                turns = [f"mt answer {qid}/1", f"mt answer {qid}/2"]
                handle.write(json.dumps({"question_id": int(qid), "answer_id": "x", "model_id": model, "choices": [{"index": 0, "turns": turns}], "tstamp": 1700000000.5}) + "\n")
    for qid in PICKED:
        for turn in (1, 2):
            score = scores.get(f"{qid}/{turn}", 8)
            lines.append({"question_id": int(qid), "model": "alpha", "judge": ["gpt-4", prompt_name(RECORDS[qid]["category"], turn)],
                          "user_prompt": "...", "judgment": f"Judged. Rating: [[{score}]]", "score": score, "turn": turn, "tstamp": 1700000100.0})
    judgments = root / "gpt-4_single.jsonl"
    judgments.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return answers, judgments


def test_prompt_selection_by_category_and_turn():
    assert prompt_name("writing", 1) == "single-v1" and prompt_name("writing", 2) == "single-v1-multi-turn"
    assert prompt_name("math", 1) == "single-math-v1" and prompt_name("coding", 2) == "single-math-v1-multi-turn"
    assert prompt_name("reasoning", 1) == "single-math-v1"


def test_import_fastchat_runs(tmp_path, capsys):
    answers, judgments = write_sources(tmp_path / "src", {"81/2": 7.5, "111/1": -1})
    code = main(["import", "fastchat", "--answers", str(answers), "--judgments", str(judgments), "--questions", str(UPSTREAM_QUESTIONS), "--output-dir", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    alpha, beta = tmp_path / "out" / "imported-mt-bench-alpha", tmp_path / "out" / "imported-mt-bench-beta"
    manifest = read_manifest(alpha)
    assert manifest["imported"]["format"] == "fastchat" and manifest["model"]["id"] == "imported/alpha"
    assert manifest["tasks"]["mt_bench/mt_bench"]["data"]["sha256"] == MtBench().data_info().sha256
    metrics = manifest["metrics"]["mt_bench/mt_bench"]
    assert metrics["score"]["value"] == pytest.approx((8 + 7.5 + 8 + 8 + 8) / 5) and metrics["score"]["excluded"] == 1
    assert metrics["score/writing"]["value"] == pytest.approx(7.75) and metrics["score/math"]["value"] == 8.0
    assert manifest["by_turn"]["mt_bench/mt_bench"]["score"]["2"]["value"] == pytest.approx((7.5 + 8 + 8) / 3)
    sample = next(s for s in load_samples(alpha) if s.conversation.id == "111")
    verdict = sample.turns[0].scores["score"].details["verdicts"][0]
    assert sample.turns[0].scores["score"].status == "unparsed" and verdict["spec"] == "mt_bench/single-math-v1"
    assert sample.turns[1].scores["score"].details["verdicts"][0]["spec"] == "mt_bench/single-math-v1-multi-turn"
    assert sample.messages_sent(1) == [
        Message(role="user", content=RECORDS["111"]["turns"][0]),
        Message(role="assistant", content="mt answer 111/1"),
        Message(role="user", content=RECORDS["111"]["turns"][1]),
    ]
    assert sample.generation["temperature"] == 0.0 and sample.generation["max_tokens"] == 1024
    assert read_manifest(beta)["imported"]["judged"] is False and "score_score" not in load(beta)
    assert main(["show", str(alpha)]) == 0 and "(imported)" in capsys.readouterr().out


def test_fastchat_bad_scores_skip_only_that_model(tmp_path, capsys):
    answers, judgments = write_sources(tmp_path / "src", {"101/2": 11})
    code = main(["import", "fastchat", "--answers", str(answers), "--judgments", str(judgments), "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{judgments}:4: score 11 is outside 1-10" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["imported-mt-bench-beta"]


def test_native_mt_bench_judging_and_pairing_with_an_import(tmp_path):
    task = MtBench()
    conversations = [c for c in task.load() if c.id in PICKED]
    assert len(task.load()) == 80 and [c.generation["temperature"] for c in conversations] == [0.7, 0.0, 0.0]
    config = RunConfig(
        tasks="mt_bench/mt_bench", model="scripted/mtbench_answer", jury=JuryConfig.from_models(["scripted/mtbench_judge"]),
        output_dir=tmp_path / "native", cache_dir=tmp_path / "cache", progress=False, command=["mteval", "run"],
    )
    native = Runner(config, source=RunSource(conversations={"mt_bench/mt_bench": conversations})).run().run_dir
    math_turn2 = JUDGE_MESSAGES[("111", "2")]
    spec = load_spec("mt_bench/single-math-v1-multi-turn")
    assert math_turn2[0].content == spec.system
    assert math_turn2[1].content == spec.template.format(
        question_1=RECORDS["111"]["turns"][0], answer_1="mt answer 111/1", question_2=RECORDS["111"]["turns"][1],
        answer_2="mt answer 111/2", ref_answer_1=REFS["111"][0], ref_answer_2=REFS["111"][1],
    )
    writing_turn1 = JUDGE_MESSAGES[("81", "1")][1].content
    assert writing_turn1 == load_spec("mt_bench/single-v1").template.format(question=RECORDS["81"]["turns"][0], answer="mt answer 81/1")
    answers, judgments = write_sources(tmp_path / "src", {})
    assert main(["import", "fastchat", "--answers", str(answers), "--judgments", str(judgments), "--output-dir", str(tmp_path / "out")]) == 0
    imported = tmp_path / "out" / "imported-mt-bench-alpha"
    native_manifest, imported_manifest = read_manifest(native), read_manifest(imported)
    assert imported_manifest["tasks"]["mt_bench/mt_bench"] == native_manifest["tasks"]["mt_bench/mt_bench"]
    for a, b in zip(load_samples(native), load_samples(imported)):
        assert a.conversation == b.conversation and [a.messages_sent(i) for i in (0, 1)] == [b.messages_sent(i) for i in (0, 1)]
    from mteval.compare import CompareOptions, gate

    _, report = gate(native, imported, CompareOptions(min_pairs=1))
    assert report.error is None and report.tasks[0].paired_turns == 6
