"""Pairwise judging: both orders with the replies swapped, consistent verdicts give the
winner, inconsistent ones a tie, an unreadable game leaves the pair unparsed (never a
loss); jurors' winners are voted; the Amulet cascade (dialog acts -> maxims -> fallback)
stops at the first consistent stage. Judges are scripted models that read the rendered
prompt and decide by content, by length, or by position."""

from __future__ import annotations

from typing import Any

import pytest

from mteval.conversation import Conversation, Turn
from mteval.models.scripted import register_script
from mteval.registry import register_task
from mteval.runner import RunConfig, Runner
from mteval.scoring.agreement import fleiss_kappa, krippendorff_alpha
from mteval.scoring.jury import JurorConfig, JuryConfig
from mteval.scoring.pairwise import PairwiseScorer, position_consistency, vote
from mteval.task import Task
from mteval_judges.amulet import amulet_cascade
from tests.judging_support import FAST_RETRY, amulet_candidates, between, is_reask, jury, make_state, maxim_json, score_context, user_text

CALLS: list[dict[str, Any]] = []


def _stage(text: str) -> tuple[str, str, str]:
    if "<reply_a>" in text:
        return "pairwise", between(text, "reply_a"), between(text, "reply_b")
    if "maxim by" in text:
        return "maxim", *amulet_candidates(text)
    assert "dialog act" in text, text
    return "da", *amulet_candidates(text)


def _pair_judge(messages, params, ctx, args) -> str:
    """Behaviour per stage (`da`, `maxim`, `pairwise`, or `all`): good (the reply that
    contains GOOD), longer, first, second, tie, garbled, garbled_if_good_first."""
    prompt = user_text(messages)
    stage, a, b = _stage(prompt)
    CALLS.append({"stage": stage, "a": a, "b": b, "reask": is_reask(messages), "judge": args.get("name"), "prompt": prompt})
    behaviour = args.get(stage, args.get("all"))
    if behaviour == "garbled_if_good_first":
        behaviour = "garbled" if "GOOD" in a else "good"
    if behaviour == "garbled":
        return "Both replies have merits; it is hard to say."
    if behaviour == "tie":
        return "Equally good. [[C]]"
    pick = {"first": 1, "second": 2, "longer": 1 if len(a) >= len(b) else 2, "good": 1 if "GOOD" in a else 2}[behaviour]
    if stage == "pairwise":
        return f"Reply {'AB'[pick - 1]} is better.\n[[{'AB'[pick - 1]}]]"
    if stage == "maxim":
        return maxim_json(str(pick), {"Relevance-1": str(pick)})
    return f'Assistant-1: ... <SEP> {{"Dim": "Task", "Func": "Answer"}}\n{{"Answer": "{pick}", "Explanation": "acts"}}'


def _register(name: str, **behaviour: str) -> None:
    register_script(f"pw_{name}", lambda m, p, c, a: _pair_judge(m, p, c, {"name": name, **behaviour, **a}))


for _name in ("good", "longer", "first", "second", "tie", "garbled", "garbled_if_good_first"):
    _register(_name, all=_name)
_register("stages")  # behaviour from model args

GOOD = "GOOD: Rome has been the capital of Italy since 1871."
PLAIN = "Rome."


def state(candidate: str, baseline: str | None):
    return make_state(["Paris.", candidate], users=["Capital of France?", "And of Italy?"], golds=["Paris.", baseline])


async def play(candidate: str, baseline: str | None, *judges: str, specs: Any = "pairwise", vote_method: str = "max_vote", **args: Any):
    CALLS.clear()
    config = JuryConfig(jurors=[JurorConfig(model=f"scripted/pw_{j}", args=args) for j in judges])
    j = jury(config)
    score = await PairwiseScorer("pairwise", specs, vote=vote_method).score(state(candidate, baseline), score_context(j))
    return score, j


async def test_both_orders_are_sent_with_the_replies_swapped():
    score, j = await play(GOOD, PLAIN, "good")
    assert [(c["a"], c["b"]) for c in CALLS] == [(GOOD, PLAIN), (PLAIN, GOOD)]
    assert j.jurors[0].client.stats.requests == 2
    outcome = score.details["jurors"]["scripted/pw_good"]
    assert score.value == 1.0 and score.details["winner"] == "candidate"
    assert outcome["consistent"] is True and [g["label"] for g in outcome["games"]] == ["A", "B"]


@pytest.mark.parametrize(
    "judge, candidate, baseline, value, consistent",
    [
        ("good", PLAIN, GOOD, 0.0, True),
        ("first", GOOD, PLAIN, 0.5, False),  # position bias: A in both orders -> inconsistent -> tie
        ("second", GOOD, PLAIN, 0.5, False),
        ("longer", GOOD, PLAIN, 1.0, True),  # a length bias is not a position bias
        ("longer", PLAIN, GOOD, 0.0, True),
        ("tie", GOOD, PLAIN, 0.5, True),  # [[C]] in both orders is a consistent tie
    ],
)
async def test_consistency_decides(judge, candidate, baseline, value, consistent):
    score, _ = await play(candidate, baseline, judge)
    outcome = score.details["jurors"][f"scripted/pw_{judge}"]
    assert score.status == "ok" and score.value == value and outcome["consistent"] is consistent
    assert position_consistency(score.details) == {f"scripted/pw_{judge}": (int(consistent), 1)}


@pytest.mark.parametrize("judge, requests", [("garbled", 4), ("garbled_if_good_first", 3)])
async def test_an_unreadable_game_leaves_the_pair_unparsed(judge, requests):
    score, j = await play(GOOD, PLAIN, judge)
    assert score.status == "unparsed" and score.value is None  # not a loss (0.0)
    assert "hard to say" in score.raw and j.jurors[0].client.stats.requests == requests
    outcome = score.details["jurors"][f"scripted/pw_{judge}"]
    assert outcome["winner"] is None and outcome["consistent"] is None
    assert position_consistency(score.details) == {f"scripted/pw_{judge}": (0, 0)}  # not counted as inconsistent


@pytest.mark.parametrize(
    "judges, candidate, baseline, method, value",
    [
        (("good", "longer", "first"), GOOD, PLAIN, "max_vote", 1.0),  # candidate, candidate, tie
        (("good", "longer", "first"), GOOD, PLAIN, "majority", 1.0),
        (("good", "longer", "first"), PLAIN + " Really.", "GOOD.", "max_vote", 0.5),  # baseline, candidate, tie: no plurality
        (("good", "longer", "tie", "first"), GOOD, PLAIN, "max_vote", 0.5),  # candidate 2, tie 2 (C, and inconsistent)
        (("good", "garbled"), GOOD, PLAIN, "max_vote", 1.0),  # an unreadable juror does not vote
    ],
)
async def test_jurors_winners_are_voted(judges, candidate, baseline, method, value):
    score, _ = await play(candidate, baseline, *judges, vote_method=method)
    winners = [score.details["jurors"][f"scripted/pw_{j}"]["winner"] for j in judges]
    assert score.details["winner"] == vote(winners, method)
    assert score.value == value
    assert list(score.details["jurors"]) == [f"scripted/pw_{j}" for j in judges]


def test_vote_rules():
    assert vote(["candidate", "candidate", "baseline"], "majority") == "candidate"
    assert vote(["candidate", "baseline", "tie", "candidate"], "majority") == "tie"
    assert vote(["candidate", "baseline", "tie", "candidate"], "max_vote") == "candidate"
    assert vote([None, None]) is None and vote([None, "baseline"]) == "baseline"


async def test_the_same_model_twice_on_the_jury_is_told_apart():
    score, _ = await play(GOOD, PLAIN, "good", "good")
    assert list(score.details["jurors"]) == ["scripted/pw_good", "scripted/pw_good#1"]


async def test_no_baseline_is_an_error_not_a_loss():
    score, _ = await play(GOOD, None, "good")
    assert score.status == "error" and score.value is None and CALLS == []


# --- the Amulet cascade ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "da, maxim, fallback, stage, value, consistent, stages",
    [
        ("good", "first", "first", "amulet_dialog_act", 1.0, True, ["da", "da"]),
        ("first", "good", "first", "amulet_maxim", 1.0, True, ["da", "da", "maxim", "maxim"]),
        ("second", "first", "good", "pairwise", 1.0, True, ["da", "da", "maxim", "maxim", "pairwise", "pairwise"]),
        ("first", "first", "first", "pairwise", 0.5, False, ["da", "da", "maxim", "maxim", "pairwise", "pairwise"]),
        ("first", "second", "longer", "pairwise", 1.0, True, ["da", "da", "maxim", "maxim", "pairwise", "pairwise"]),
        # an unreadable dialog-act stage (each game re-asked once) moves on to the maxims
        ("garbled", "good", "first", "amulet_maxim", 1.0, True, ["da", "da", "da", "da", "maxim", "maxim"]),
    ],
)
async def test_amulet_cascade_order(da, maxim, fallback, stage, value, consistent, stages):
    score, j = await play(GOOD, PLAIN, "stages", specs=amulet_cascade(), da=da, maxim=maxim, pairwise=fallback)
    outcome = score.details["jurors"]["scripted/pw_stages"]
    assert outcome["stage"] == stage and outcome["consistent"] is consistent and score.value == value
    assert [c["stage"] for c in CALLS] == stages and j.jurors[0].client.stats.requests == len(stages)
    assert len(outcome["games"]) == sum(1 for c in CALLS if not c["reask"])  # one verdict per game, re-asks inside
    # every stage plays both orders: candidate first, then baseline first
    games = [(c["a"], c["b"]) for c in CALLS if not c["reask"]]
    assert games == [(GOOD, PLAIN), (PLAIN, GOOD)] * (len(games) // 2)


async def test_amulet_prompts_show_the_dialogue_and_both_candidates():
    await play(GOOD, PLAIN, "stages", specs=amulet_cascade(), da="first", maxim="good", pairwise="good")
    dialogue = "Human: Capital of France?\nAssistant: Paris.\nHuman: And of Italy?\nAssistant-1: "
    for call in CALLS:
        assert dialogue in call["prompt"] and call["prompt"].rstrip().endswith("Output -")
    assert "<SEP>" in CALLS[0]["prompt"] and "Transparency-3" in CALLS[2]["prompt"]


# --- a whole run: position consistency, agreement and human labels in the manifest ----------------
PAIRS = [
    # (user message = the echo model's reply, gold baseline, human label)
    ("Say something GOOD and long about Rome.", "Rome.", "candidate"),  # good, longer: candidate
    ("Hi.", "GOOD: a detailed greeting back.", "baseline"),  # good, longer: baseline
    ("GOOD.", "A much longer reply without the marker.", "tie"),  # good: candidate, longer: baseline
    ("Tell me a long story, please.", "GOOD", "candidate"),  # good: baseline, longer: candidate
]


@register_task
class PairProbe(Task):
    name = "jtest/pairs"
    version = "1"

    def load(self) -> list[Conversation]:
        return [
            Conversation(id=f"p{i}", turns=(Turn(id="t1", user=user, gold=gold, references={"human_label": human}),))
            for i, (user, gold, human) in enumerate(PAIRS, 1)
        ]

    def scorers(self):
        return [PairwiseScorer("pairwise")]


def test_pairwise_run_reports_position_consistency_and_agreement(tmp_path):
    config = JuryConfig.from_models(["scripted/pw_first", "scripted/pw_longer", "scripted/pw_good"])
    manifest = Runner(
        RunConfig(tasks="jtest/pairs", model="scripted/echo", jury=config, output_dir=tmp_path, use_cache=False, progress=False, retry=FAST_RETRY, command=["test"])
    ).run().manifest
    metric = manifest["metrics"]["jtest/pairs"]["pairwise"]
    assert metric["value"] == pytest.approx((1.0 + 0.0 + 0.5 + 0.5) / 4) and metric["n"] == 4
    judging = manifest["judging"]["pairwise"]
    jurors = judging["jurors"]
    assert list(jurors) == ["scripted/pw_first", "scripted/pw_longer", "scripted/pw_good"]
    assert jurors["scripted/pw_first"]["position_consistency"] == 0.0 and jurors["scripted/pw_first"]["labels"] == {"tie": 4}
    assert jurors["scripted/pw_longer"]["position_consistency"] == 1.0 and jurors["scripted/pw_good"]["position_consistency"] == 1.0
    assert jurors["scripted/pw_longer"]["labels"] == {"baseline": 2, "candidate": 2}
    assert all(j["verdicts"] == {"ok": 8} for j in jurors.values())
    table = [["tie", "candidate", "candidate"], ["tie", "baseline", "baseline"], ["tie", "baseline", "candidate"], ["tie", "candidate", "baseline"]]
    assert judging["krippendorff_level"] == "nominal"
    assert judging["krippendorff_alpha"] == pytest.approx(krippendorff_alpha(table, "nominal"))
    assert judging["fleiss_kappa"] == pytest.approx(fleiss_kappa(table))
    assert judging["human_agreement"] == {"n": 4, "missing_verdicts": 0, "accuracy": 0.75}
    assert manifest["totals"]["calls"]["judges"]["scripted/pw_first"]["requests"] == 8
