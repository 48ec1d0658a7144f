"""Pairwise judging goes through the jury: an adaptive jury (quorum 2 of 3, a label
aggregation) stops when the first two jurors' winners settle the vote, asks the third when
they disagree, audits the silent juror when told to, and counts its calls. The judges are
real OpenAI-compatible HTTP servers on 127.0.0.1 that read the rendered prompt."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from mteval.runner import RunConfig, Runner
from mteval.scoring.jury import AdaptiveConfig, JurorConfig, JuryConfig
from mteval.scoring.pairwise import PairwiseScorer
from tests.judging_support import FAST_RETRY, between, jury, make_state, score_context
from tests.servers import FakeLLMServer

GOOD = "GOOD: Rome has been the capital of Italy since 1871."
PLAIN = "Rome."


def judge_responder(kind: str, body: dict[str, Any]) -> str:
    """The judge model's name says how it decides: `good` (the reply with GOOD), `longer`,
    or `first` (always A: position bias, inconsistent across the two orders)."""
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    a, b = between(prompt, "reply_a") or "", between(prompt, "reply_b") or ""
    behaviour = body["model"].removeprefix("pj_")
    pick = {"good": "A" if "GOOD" in a else "B", "longer": "A" if len(a) >= len(b) else "B", "first": "A"}[behaviour]
    return f"Reply {pick} is better. [[{pick}]]"


@pytest.fixture
def judge_server():
    with FakeLLMServer(responder=judge_responder) as server:
        yield server


def adaptive_jury(server: FakeLLMServer, *behaviours: str, aggregate: str = "max_vote", audit: float = 0.0) -> JuryConfig:
    return JuryConfig(
        jurors=[JurorConfig(model=f"openai/pj_{b}", args={"base_url": server.openai_base_url}) for b in behaviours],
        aggregate=aggregate,
        adaptive=AdaptiveConfig(quorum=2, audit_fraction=audit),
    )


def requests_by_model(server: FakeLLMServer) -> Counter[str]:
    return Counter(body["model"] for body in server.bodies("/chat/completions"))


async def judge(config: JuryConfig, candidate: str, baseline: str):
    j = jury(config)
    state = make_state(["Paris.", candidate], users=["Capital of France?", "And of Italy?"], golds=["Paris.", baseline])
    return await PairwiseScorer("pairwise").score(state, score_context(j)), j


@pytest.mark.parametrize("aggregate", ["max_vote", "majority"])
async def test_adaptive_pairwise_jury_stops_when_the_first_two_agree(judge_server, aggregate):
    score, j = await judge(adaptive_jury(judge_server, "good", "longer", "first", aggregate=aggregate), GOOD, PLAIN)
    assert score.value == 1.0 and score.details["winner"] == "candidate" and score.details["vote"] == aggregate
    assert score.details["adaptive"] == {"escalated": False, "calls": 2, "may_differ": False, "max_difference": 0.0}
    assert list(score.details["jurors"]) == ["openai/pj_good", "openai/pj_longer"]  # the silent juror left no outcome
    assert requests_by_model(judge_server) == {"pj_good": 2, "pj_longer": 2}  # both orders each, nothing for pj_first
    assert j.stats.as_dict()["calls"] == 2 and j.stats.as_dict()["calls_saved"] == 1


async def test_adaptive_pairwise_jury_escalates_when_the_first_two_disagree(judge_server):
    # good prefers the baseline (it holds GOOD), longer the candidate: the third juror decides
    score, j = await judge(adaptive_jury(judge_server, "good", "longer", "good"), PLAIN + " Really, it is.", "GOOD.")
    assert [o["winner"] for o in score.details["jurors"].values()] == ["baseline", "candidate", "baseline"]
    assert list(score.details["jurors"]) == ["openai/pj_good", "openai/pj_longer", "openai/pj_good#2"]
    assert score.value == 0.0 and score.details["winner"] == "baseline"
    assert score.details["adaptive"] == {"escalated": True, "calls": 3, "may_differ": False, "max_difference": 0.0}
    assert requests_by_model(judge_server) == {"pj_good": 4, "pj_longer": 2}
    assert j.stats.as_dict()["calls"] == 3 and j.stats.as_dict()["calls_saved"] == 0


async def test_a_position_biased_juror_is_a_tie_vote_that_escalates(judge_server):
    # first: A in both orders -> inconsistent -> tie; with good's candidate that is a split
    score, _ = await judge(adaptive_jury(judge_server, "first", "good", "longer"), GOOD, PLAIN)
    assert [o["consistent"] for o in score.details["jurors"].values()] == [False, True, True]
    assert score.details["winner"] == "candidate" and score.details["adaptive"]["escalated"] is True


async def test_the_audit_asks_the_silent_juror_and_compares(judge_server):
    score, j = await judge(adaptive_jury(judge_server, "good", "longer", "first", audit=1.0), GOOD, PLAIN)
    adaptive = score.details["adaptive"]
    assert adaptive["calls"] == 2 and [v["label"] for v in adaptive["audit_verdicts"]] == ["tie"]
    assert adaptive["full_jury"] == {"value": None, "label": "candidate"}  # candidate, candidate, tie
    assert list(score.details["jurors"]) == ["openai/pj_good", "openai/pj_longer"]  # audits stay apart
    assert adaptive["audit_jurors"]["openai/pj_first"]["consistent"] is False  # with their games, for the judging summary
    assert requests_by_model(judge_server)["pj_first"] == 2
    assert j.stats.as_dict() == {
        "items": 1, "calls": 3, "full_jury_calls": 3, "calls_saved": 0, "audit_calls": 1,
        "may_differ": 0, "audited": 1, "agreement_with_full_jury": 1.0,
    }


async def test_a_score_aggregation_leaves_the_vote_to_the_scorer(judge_server):
    """`mean` does not apply to winners: PairwiseScorer's own `vote=` combines them."""
    config = adaptive_jury(judge_server, "good", "longer", "first", aggregate="mean").model_copy(update={"adaptive": None})
    j = jury(config)
    state = make_state(["Paris.", GOOD], users=["Capital of France?", "And of Italy?"], golds=["Paris.", PLAIN])
    score = await PairwiseScorer("pairwise", vote="majority").score(state, score_context(j))
    assert score.details["vote"] == "majority" and score.value == 1.0 and "adaptive" not in score.details
    assert len(score.details["jurors"]) == 3


@pytest.mark.parametrize("audit", [0.0, 1.0])
def test_adaptive_pairwise_jury_in_a_run(tmp_path, judge_server, audit):
    """A whole run: the manifest counts the saved juror calls and the judging summary keeps
    position consistency for the jurors asked (audited ones included)."""
    import tests.test_pairwise  # noqa: F401  (registers jtest/pairs)

    config = adaptive_jury(judge_server, "good", "longer", "first", audit=audit)
    manifest = Runner(
        RunConfig(tasks="jtest/pairs", model="scripted/echo", jury=config, output_dir=tmp_path, use_cache=False, progress=False,
                  retry=FAST_RETRY, command=["test"])
    ).run().manifest
    # pairs 1 and 2: good and longer agree; 3 and 4: they disagree and first (a tie) is asked
    stats = manifest["totals"]["calls"]["jury"]
    assert stats["calls"] == (12 if audit else 2 + 2 + 3 + 3) and stats["full_jury_calls"] == 12
    assert stats["calls_saved"] == (0 if audit else 2) and stats["audit_calls"] == (2 if audit else 0)
    if audit:
        assert stats["audited"] == 4 and stats["agreement_with_full_jury"] == 1.0  # an agreeing pair is never overturned
    assert manifest["metrics"]["jtest/pairs"]["pairwise"]["value"] == pytest.approx((1.0 + 0.0 + 0.5 + 0.5) / 4)
    jurors = manifest["judging"]["pairwise"]["jurors"]
    assert jurors["openai/pj_good"]["position_consistency"] == 1.0 and jurors["openai/pj_first"]["position_consistency"] == 0.0
    assert jurors["openai/pj_first"]["labels"] == {"tie": 4 if audit else 2}
    assert jurors["openai/pj_first"]["verdicts"] == {"ok": 8 if audit else 4}  # games


def test_the_vote_is_a_registered_label_aggregation():
    from mteval.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="vote='mean': pairwise winners combine with one of majority, max_vote, cascade"):
        PairwiseScorer("pairwise", vote="mean")


async def test_a_cascade_jury_takes_the_first_readable_pair(judge_server):
    config = adaptive_jury(judge_server, "first", "good", "longer", aggregate="cascade").model_copy(update={"adaptive": None})
    score, j = await judge(config, GOOD, PLAIN)
    # first's inconsistent pair is readable: a tie, and the cascade stops there
    assert score.value == 0.5 and score.details["vote"] == "cascade" and list(score.details["jurors"]) == ["openai/pj_first"]
    assert requests_by_model(judge_server) == {"pj_first": 2} and j.stats.calls == 1
