"""RAD-Bench as a native task: prompts per turn (context, prefixes, history) through the
real runner, judge prompt selection and fills, parsing, metrics and data loading.

Everything runs offline on the fixture `tests/fixtures/rad_bench/` (6 dialogues in the
published question-record format, one per category) with scripted models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mteval.conversation import Message
from mteval.data import DataError
from mteval.models.errors import ConfigurationError
from mteval.models.scripted import register_script
from mteval.registry import family_aggregates, resolve
from mteval.results import load, load_samples, read_manifest
from mteval.runner import RunConfig, Runner
from mteval.scoring.base import TurnState
from mteval.scoring.judge_spec import _read
from mteval.scoring.jury import JuryConfig
from mteval.transcript import TurnRecord
from mteval_tasks.rad_bench import sources
from mteval_tasks.rad_bench.judging import (
    judge_prompts,
    judge_spec,
    judge_variables,
    materials,
)
from mteval_tasks.rad_bench.tasks import RetrievalReasoning, RetrievalSynthesis

FIXTURES = Path(__file__).parent / "fixtures" / "rad_bench"
QUESTIONS = FIXTURES / "questions.jsonl"
REFERENCES = FIXTURES / "reference_ans_model.jsonl"
RECORDS = {r["question_id"]: r for r in map(json.loads, QUESTIONS.read_text().splitlines())}
REF_FILE = {r["question_id"]: r["choices"][0]["turns"] for r in map(json.loads, REFERENCES.read_text().splitlines())}

FIRST = (
    "Use the following pieces of context (provided within <context></context> XML tags) to answer the question at the end. "
    "Please strictly follow the given context to answer the question. Do not make up your answer."
)
LATER = (
    "Use the following pieces of context (provided within <context></context> XML tags) to answer the question at the end. "
    "You are also provided with conversation history. Please strictly follow the given context and follow instructions "
    "in the conversation history to answer the question at the end. Do not make up your answer."
)

JUDGE_CALLS: dict[tuple[str, str], dict[str, Any]] = {}
"""The first judge request of each turn."""
JUDGE_COUNT: list[int] = [0]


def _answer(messages, params, context, args) -> str:
    return f"answer to {context.conversation_id} turn {context.turn_id}"


def _judge(messages, params, context, args) -> str:
    JUDGE_COUNT[0] += 1
    JUDGE_CALLS.setdefault((context.conversation_id, context.turn_id), {"messages": list(messages), "params": params})
    if context.conversation_id == "RS_news_00" and context.turn_id == "2":
        return "No rating here."  # unparsed, also after the re-ask
    return f"Fine. Rating: [[{5 + int(context.turn_id)}]]"


register_script("radbench_answer", _answer)
register_script("radbench_judge", _judge)


def _ctx(context) -> str:
    if isinstance(context, str):
        return context
    return "\n".join(f"<context>\n{chunk}\n</context>" for chunk in context)


def expected_prompt(qid: str, j: int) -> str:
    record = RECORDS[qid]
    return f"{FIRST if j == 0 else LATER}\n\n{_ctx(record['contexts'][j])}\n\nQuestion: {record['turns'][j]}"


def expected_fill(qid: str, t: int, answer: str, refs: list[str], tr_join: bool = False) -> str:
    """Upstream `run_judge_single`: str.format of the template with the type's kwargs."""
    record = RECORDS[qid]
    kind = {"RS": "RS", "RR": "RR", "TR": "TR"}[record["aspect"]]
    kwargs: dict[str, Any] = {}
    if kind == "TR":
        ctx = record["contexts"][t - 1]
        kwargs["context"] = "\n".join(ctx) if tr_join and isinstance(ctx, list) else ctx
        if t > 1:
            kwargs["question_1"] = record["turns"][0]
            if t == 3:
                kwargs["question_2"] = record["turns"][1]
                kwargs["reference"] = refs[2]
    else:
        kwargs["reference"] = refs[t - 1]
        if kind == "RR":
            ctx = record["contexts"][t - 1]
            kwargs["context"] = "\n".join(ctx) if isinstance(ctx, list) else ctx
        if t > 1:
            kwargs["question_1"] = record["turns"][0]
            kwargs["reference_1"] = refs[0]
            if t == 3:
                kwargs["question_2"] = record["turns"][1]
                kwargs["reference_2"] = refs[1]
    template = judge_prompts()[f"{kind}-{t}-turn"]["prompt_template"]
    return template.format(question=record["turns"][t - 1], answer=answer, **kwargs)


def native_run(tmp_path: Path, **task_options: Any) -> Path:
    JUDGE_CALLS.clear()
    JUDGE_COUNT[0] = 0
    config = RunConfig(
        tasks="rad_bench",
        model="scripted/radbench_answer",
        jury=JuryConfig.from_models(["scripted/radbench_judge"]),
        task_options={"questions": str(QUESTIONS), **task_options},
        output_dir=tmp_path / "results",
        cache_dir=tmp_path / "cache",
        progress=False,
        command=["mteval", "run"],
    )
    return Runner(config).run().run_dir


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return native_run(tmp_path_factory.mktemp("radbench"))


def test_family_has_two_main_tasks():
    assert [c.name for c in resolve("rad_bench")] == ["rad_bench/reasoning", "rad_bench/synthesis"]
    assert "rad_bench" in family_aggregates()


def test_prompts_context_prefixes_and_history(run_dir):
    samples = {s.conversation.id: s for s in load_samples(run_dir)}
    assert sorted(samples) == sorted(RECORDS)
    for qid, sample in samples.items():
        answers = [f"answer to {qid} turn {t}" for t in (1, 2, 3)]
        raw = RECORDS[qid]["turns"]
        for j in range(3):
            sent = sample.messages_sent(j)
            history: list[Message] = []
            for k in range(j):  # raw earlier questions (no prefix, no context) + own answers
                history += [Message(role="user", content=raw[k]), Message(role="assistant", content=answers[k])]
            assert sent == history + [Message(role="user", content=expected_prompt(qid, j))], (qid, j)
            assert sample.turns[j].reply == answers[j]
        assert all(m.role != "system" for m in sample.messages_sent(2))  # empty system message = none sent


def test_prompt_literal_for_list_and_string_contexts(run_dir):
    samples = {s.conversation.id: s for s in load_samples(run_dir)}
    academic = samples["RS_academic_00"].messages_sent(0)[-1].content
    assert academic == (
        FIRST + "\n\n<context>\nFlamingo bridges a frozen vision encoder and a language model with gated cross-attention.\n</context>\n"
        "<context>\nBLIP-2 uses a Q-Former between a frozen image encoder and an LLM.\n</context>\n\n"
        "Question: Write a related-work paragraph on vision encoders for multimodal LLMs."
    )
    news = samples["RS_news_00"].messages_sent(1)[-1].content
    assert news == LATER + "\n\nThe mayor said power would be restored by Friday.\n\nQuestion: What did officials say about the recovery?"
    empty = samples["RS_education_00"].messages_sent(2)[-1].content  # an empty list of chunks
    assert empty == LATER + "\n\n\n\nQuestion: Turn it into three quiz questions."


def test_generation_defaults_and_required_temperature(run_dir):
    samples = {s.conversation.id: s for s in load_samples(run_dir)}
    assert samples["RS_academic_00"].generation["temperature"] == 0.7
    assert samples["RS_academic_00"].generation["max_tokens"] == 2048
    assert samples["RR_finance_00"].generation["temperature"] == 0.0  # required_temperature


def test_judge_requests_use_the_turns_prompt_and_fills(run_dir):
    assert len(JUDGE_CALLS) == 18 and JUDGE_COUNT[0] == 19  # RS_news_00 turn 2 is re-asked once
    for (qid, turn_id), call in JUDGE_CALLS.items():
        messages, params = call["messages"], call["params"]
        t = int(turn_id)
        assert len(messages) == 2 and messages[0] == Message(role="system", content="You are a helpful assistant.")
        expected = expected_fill(qid, t, f"answer to {qid} turn {t}", RECORDS[qid]["references"])
        assert messages[1].content == expected, (qid, t)
        assert params.temperature == 0.0 and params.max_tokens == 2048


def test_scores_metrics_and_groups(run_dir):
    manifest = read_manifest(run_dir)
    synthesis = manifest["metrics"]["rad_bench/synthesis"]
    assert list(synthesis) == ["score", "score/academic", "score/news", "score/education"]
    assert list(manifest["metrics"]["rad_bench/reasoning"]) == ["score", "score/finance", "score/customer", "score/travel"]
    assert synthesis["score/academic"]["value"] == pytest.approx(7.0)  # ratings 6, 7, 8
    assert synthesis["score/news"]["value"] == pytest.approx(7.0) and synthesis["score/news"]["excluded"] == 1
    assert synthesis["score"]["ci"] is not None
    assert manifest["by_turn"]["rad_bench/synthesis"]["score"] == {
        "1": {"value": 6.0, "n": 3}, "2": {"value": 7.0, "n": 2}, "3": {"value": 8.0, "n": 3}
    }
    assert manifest["groups"]["rad_bench"]["average"]["value"] == pytest.approx(7.0)
    assert manifest["totals"]["scores"] == {"ok": 17, "unparsed": 1, "error": 0}
    frame = load(run_dir)
    assert len(frame) == 18


def test_unparsed_as_minus_one_counts_the_value(run_dir):
    frame = load(run_dir)
    task = RetrievalSynthesis(questions=str(QUESTIONS), unparsed_as=-1)
    news = task.metrics(frame[frame.task == "rad_bench/synthesis"])["score/news"]
    assert news.value == pytest.approx((6 - 1 + 8) / 3) and news.excluded == 0
    default = RetrievalSynthesis(questions=str(QUESTIONS)).metrics(frame[frame.task == "rad_bench/synthesis"])["score/news"]
    assert default.value == pytest.approx((6 + 8) / 2) and default.excluded == 1


# --- judge prompt selection and fills, directly ---------------------------------------------------
@pytest.mark.parametrize("kind", ["RS", "RR", "TR"])
@pytest.mark.parametrize("turn", [1, 2, 3])
def test_judge_spec_per_type_and_turn(kind, turn):
    spec = judge_spec(kind, turn)
    record = judge_prompts()[f"{kind}-{turn}-turn"]
    assert spec.name == f"rad_bench/{kind}-{turn}-turn"
    assert spec.template == record["prompt_template"] and spec.system == "You are a helpful assistant."
    assert (spec.parser, spec.scale, spec.template_format) == ("rating", (1, 10), "placeholders")
    assert spec.generation == {"temperature": 0.0, "max_tokens": 2048}


def test_unknown_judge_prompt():
    with pytest.raises(ConfigurationError):
        judge_spec("RS", 4)


def _state(task, qid: str, index: int) -> TurnState:
    conversation = next(c for c in task.load() if c.id == qid)
    records = [TurnRecord(index=i, turn_id=str(i + 1), reply=f"A{i + 1}") for i in range(3)]
    return TurnState(task=task.name, conversation=conversation, records=records, index=index)


def test_fills_with_reference_file_and_tr_context_option():
    task = RetrievalReasoning(questions=str(QUESTIONS), references=str(REFERENCES))
    for qid in ("RR_customer_00", "RR_finance_00", "TR_travel_00"):
        for index in range(3):
            state = _state(task, qid, index)
            spec = judge_spec(materials(state).judge_type, index + 1)
            text = spec.render(judge_variables(materials(state), state.reply))[-1].content
            assert text == expected_fill(qid, index + 1, f"A{index + 1}", REF_FILE[qid]), (qid, index)
    travel = _state(task, "TR_travel_00", 2)
    listed = judge_variables(materials(travel), "x")["context"]
    assert listed == str(["Hostel 40 USD/night.", "Day pass 11 USD.", "Museum 12 USD."])  # Python list text
    assert judge_variables(materials(travel), "x", tr_context="join")["context"] == "Hostel 40 USD/night.\nDay pass 11 USD.\nMuseum 12 USD."
    rr = judge_variables(materials(_state(task, "RR_finance_00", 2)), "x")
    assert rr["context"] == "Operating margin 2022: 12%.\nOperating margin 2023: 15%."  # joined, no tags
    assert rr["reference_1"] == REF_FILE["RR_finance_00"][0] and rr["reference_2"] == REF_FILE["RR_finance_00"][1]
    assert "reference" not in judge_variables(materials(_state(task, "TR_travel_00", 1)), "x")


def test_reply_with_placeholder_text_is_not_expanded():
    task = RetrievalSynthesis(questions=str(QUESTIONS))
    state = _state(task, "RS_news_00", 0)
    variables = judge_variables(materials(state), "I mention {reference} literally")
    text = judge_spec("RS", 1).render(variables)[-1].content
    assert "I mention {reference} literally" in text


@pytest.mark.parametrize(
    "output, value, status",
    [("Rating: [[7]]", 7.0, "ok"), ("score [8] overall", 8.0, "ok"), ("Rating: [[8.5]]", 8.5, "ok"), ("no rating", None, None), ("Rating: [[11]]", None, "unparsed")],
)
def test_rating_parse(output, value, status):
    verdict = _read(judge_spec("RS", 1), output)
    if status is None:
        assert verdict is None  # unparsed: re-asked once, then recorded as unparsed
    else:
        assert verdict.status == status and verdict.value == value


# --- single-turn rendering keeps the judge fills ----------------------------------------------------
def test_single_turn_keeps_turn_materials():
    task = RetrievalReasoning(questions=str(QUESTIONS))
    flat = task.single_turn(task.load())
    assert len(flat) == 9
    third = next(c for c in flat if c.id == "TR_travel_00#3")
    assert task.render_user(third, 0) == third.turns[0].user
    assert third.turns[0].user.startswith("User: Plan a 2-day trip to Kyoto.\nAssistant: Day 1 Fushimi Inari")
    state = TurnState(task=task.name, conversation=third, records=[TurnRecord(index=0, turn_id="3", reply="R")], index=0)
    assert judge_variables(materials(state), "R") == judge_variables(materials(_state(task, "TR_travel_00", 2)), "R")


# --- loading ------------------------------------------------------------------------------------------
def test_questions_are_required_to_load():
    task = RetrievalSynthesis()
    with pytest.raises(ConfigurationError, match="questions=PATH_OR_URL"):
        task.load()
    assert task.data_info().source.startswith("unavailable")


def test_bad_question_records_name_file_line_and_field(tmp_path):
    lines = QUESTIONS.read_text().splitlines()
    bad = json.loads(lines[1])
    bad["category"] = "sports"
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join([lines[0], json.dumps(bad)]) + "\n")
    with pytest.raises(DataError, match=r"questions.jsonl:2: field 'category'"):
        RetrievalSynthesis(questions=str(path)).load()
    bad = json.loads(lines[0])
    bad["turns"] = bad["turns"][:2]
    path.write_text(json.dumps(bad) + "\n")
    with pytest.raises(DataError, match=r":1: field 'turns'"):
        RetrievalSynthesis(questions=str(path)).load()
    del bad["references"]
    bad["turns"] = RECORDS["RS_academic_00"]["turns"]
    path.write_text(json.dumps(bad) + "\n")
    with pytest.raises(DataError, match="no reference answers"):
        RetrievalSynthesis(questions=str(path)).load()
    RetrievalSynthesis(questions=str(path), references=str(REFERENCES)).load()  # the reference file fills them


def test_url_is_fetched_only_when_given(tmp_path, monkeypatch):
    monkeypatch.setenv("MTEVAL_CACHE_DIR", str(tmp_path))
    fetched: list[str] = []

    def fake_fetch(url: str, target: Path) -> None:
        fetched.append(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(QUESTIONS.read_bytes())

    monkeypatch.setattr(sources, "httpx_fetch", fake_fetch)
    task = RetrievalSynthesis(questions="published")
    assert len(task.load()) == 3
    assert fetched == [sources.PUBLISHED["questions"]]
    info = task.data_info()
    local = RetrievalSynthesis(questions=str(QUESTIONS)).data_info()
    assert info.sha256 == local.sha256 and info.files == ("questions.jsonl",) and info.version.startswith("RAD-Bench@")
    RetrievalSynthesis(questions="published").load()  # cached: no second download
    assert len(fetched) == 1


def test_data_sha_covers_the_reference_file():
    plain = RetrievalSynthesis(questions=str(QUESTIONS)).data_info()
    with_refs = RetrievalSynthesis(questions=str(QUESTIONS), references=str(REFERENCES)).data_info()
    assert plain.sha256 != with_refs.sha256 and with_refs.files == ("questions.jsonl", "reference_ans_model.jsonl")


def test_metrics_of_an_empty_frame():
    metrics = RetrievalReasoning(questions=str(QUESTIONS)).metrics(pd.DataFrame(columns=["conversation_id"]))
    assert set(metrics) == {"score", "score/finance", "score/customer", "score/travel"}
    assert all(m.value is None and m.excluded == 0 for m in metrics.values())
