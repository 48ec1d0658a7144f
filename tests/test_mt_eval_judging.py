"""MT-Eval judge prompts rendered against the upstream templates: accumulated constraints
that reset with the task type, word and sentence counts, the gold previous turn for
Follow-up, the stripped Expansion reply, and the judge definition's settings.

Expected prompts are built here from the raw JSONL and the template text with upstream's
sequential `str.replace`, independently of the task code."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mteval.conversation import Conversation
from mteval.registry import all_tasks
from mteval.scoring.base import TurnState
from mteval.scoring.parsers import get_parser
from mteval.transcript import TurnRecord
from mteval_tasks.mt_eval.judging import TEMPLATES, judge_spec, judge_variables, render_judge_prompt

ROOT = Path(__file__).resolve().parents[1] / "tasks" / "mt_eval"
REPLY = "  Dr. Smith arrived at 5 p.m. today.  It rained!\nThen it stopped.  "  # 12 words, 3 sentences


def raw(file: str) -> list[dict]:
    return [json.loads(line) for line in (ROOT / "data" / f"{file}.jsonl").read_text(encoding="utf-8").splitlines()]


def content(doc: int) -> str:
    gen = json.loads((ROOT / "data" / "raw_data" / "documents.jsonl").read_text(encoding="utf-8").splitlines()[doc - 1])["gen_resp"]
    return gen[gen.index("\n\n") + 2 :]


def upstream_fill(template: str, **values) -> str:
    """Upstream's plain sequential replacement, in its order."""
    text = (ROOT / "prompts" / TEMPLATES[template]).read_text(encoding="utf-8")
    for key in ("response", "content", "num_words", "num_sent", "constraints", "conversation"):
        if key in values:
            text = text.replace("{" + key + "}", str(values[key]))
    return text


def state(conversation: Conversation, index: int, reply: str = REPLY) -> TurnState:
    records = [
        TurnRecord(index=i, turn_id=t.id, reply=reply if t.generate else t.gold, generated=t.generate, scored=t.scored)
        for i, t in enumerate(conversation.turns)
    ]
    return TurnState(task="mt_eval/x", conversation=conversation, records=records, index=index)


def task(name: str):
    return all_tasks()[f"mt_eval/{name}"].cls()


def test_templates_are_upstreams():
    """Byte for byte the upstream files: their sha256 as recorded in SOURCE.md when copied."""
    from tests.test_mt_eval_data import source_hashes

    recorded = source_hashes()
    for name in TEMPLATES.values():
        data = (ROOT / "prompts" / name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == recorded[f"prompts/{name}"], name


def test_judge_definition_settings():
    for key in TEMPLATES:
        spec = judge_spec(key)
        assert spec.system is None and spec.template_format == "placeholders" and spec.parser == "json_score"
        assert spec.scale == (1, 10) and spec.generation == {"temperature": 0.0, "max_tokens": 1024}
        messages = spec.render({"response": "r", "content": "c", "constraints": "k", "num_words": 1, "num_sent": 1, "conversation": "v"})
        assert [m.role for m in messages] == ["user"]
    verdict = get_parser("json_score")('```json\n{"Rationale": "ok", "Score": 7}\n```')
    assert verdict.value == 7.0 and verdict.explanation == "ok"


def test_refinement_constraints_accumulate_and_reset_with_the_task_type():
    record = raw("refinement_multi")[0]
    conversation = task("refinement").load()[0]
    insts = [t["inst"] for t in record["conv"]]
    assert [t["id"] for t in record["conv"]][5:8] == ["1_sum_6", "1_ner_1", "1_ner_2"]
    for index, expected in ((0, insts[:1]), (5, insts[:6]), (6, insts[6:7]), (7, insts[6:8]), (11, insts[6:12])):
        constraints = "\n".join(f"{n}. {inst}" for n, inst in enumerate(expected, 1))
        assert render_judge_prompt(state(conversation, index)) == upstream_fill(
            "refinement_multi", response=REPLY, content=content(1), num_words=12, num_sent=3, constraints=constraints
        )


def test_refinement_single_uses_the_merged_instruction():
    t = task("refinement")
    item = next(c for c in t.single_turn(t.load()) if c.id == "3_qa_4")
    record = next(r for r in raw("refinement_single") if r["id"] == "3_qa_4")
    assert render_judge_prompt(state(item, 0)) == upstream_fill(
        "refinement_single", response=REPLY, content=content(3), num_words=12, num_sent=3, constraints=record["conv"][0]["inst"]
    )


def test_irrelevant_front_skips_distractors_and_reads_the_document_from_scored_turns():
    conversation = task("refinement_irrelevant_front").load()[40]  # 3 distractors with hex ids
    record = raw("refinement_ablation_irrelevant-front")[40]
    first = next(i for i, t in enumerate(record["conv"]) if t["do_inference"])
    assert first == 3 and "_" not in record["conv"][0]["id"]
    doc = int(record["conv"][first]["id"].split("_")[0])
    insts = [t["inst"] for t in record["conv"][first:]]
    constraints = "\n".join(f"{n}. {inst}" for n, inst in enumerate(insts[:3], 1))
    assert render_judge_prompt(state(conversation, first + 2)) == upstream_fill(
        "refinement_multi", response=REPLY, content=content(doc), num_words=12, num_sent=3, constraints=constraints
    )


@pytest.mark.parametrize("single", [False, True])
def test_expansion_strips_the_reply_and_shows_the_turn_instruction(single):
    t = task("expansion")
    conversations = t.load()
    conversation = t.single_turn(conversations)[3] if single else conversations[0]
    index = 0 if single else 3
    record = raw("expansion_single")[3]["conv"][0] if single else raw("expansion_multi")[0]["conv"][3]
    prompt = render_judge_prompt(state(conversation, index))
    assert prompt == upstream_fill("expansion", response=REPLY.strip(), content=content(1), constraints=record["inst"])
    assert "Number of words" not in prompt


def test_follow_up_shows_the_previous_gold_turn_not_the_models_reply():
    conversation = task("follow_up").load()[0]
    conv = raw("follow-up_multi")[0]["conv"]
    s = state(conversation, 3, reply="My own answer. Short.")
    s.records[2] = s.records[2].model_copy(update={"reply": "THE MODEL'S OWN TURN-3 REPLY"})
    expected = (
        f"User: {conv[2]['user'].strip()}\nAssistant: {conv[2]['sys'].strip()}\n"
        f"User: {conv[3]['user'].strip()}\nAssistant: My own answer. Short."
    )
    prompt = render_judge_prompt(s)
    assert prompt == upstream_fill("mt-bench", conversation=expected, num_words=4, num_sent=2)
    assert "THE MODEL'S OWN" not in prompt


def test_follow_up_single_turn_judge_sees_the_one_message():
    t = task("follow_up")
    item = t.single_turn(t.load()[:1])[0]
    variables = judge_variables(state(item, 0, reply=" Fine. "))
    assert variables == {"conversation": f"User: {item.turns[0].user.strip()}\nAssistant: Fine.", "num_words": 1, "num_sent": 1}


def test_reply_with_braces_is_not_expanded():
    conversation = task("refinement").load()[0]
    prompt = render_judge_prompt(state(conversation, 1, reply="Keep {constraints} and {content} literally."))
    assert "Keep {constraints} and {content} literally." in prompt
