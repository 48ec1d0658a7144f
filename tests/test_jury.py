"""Juries: mean, median, majority, max voting and cascade over real jurors (scripted
judge models behind `ModelClient`s); unparsed and errored jurors do not vote; every
verdict is kept; the adaptive jury's call counts and its audit against the full jury,
per item and over a whole run."""

from __future__ import annotations

from pathlib import Path

import pytest

from mteval.conversation import Conversation, Turn
from mteval.models.errors import ConfigurationError
from mteval.models.scripted import register_script
from mteval.registry import register_task
from mteval.report import summary_lines
from mteval.runner import RunConfig, Runner
from mteval.scoring.judge_scorer import JudgeScorer
from mteval.scoring.judge_spec import JudgeSpec, Verdict, load_spec
from mteval.scoring.jury import AdaptiveConfig, JurorConfig, JuryConfig, aggregate
from mteval.task import Task
from tests.judging_support import FAST_RETRY, jury, make_state, score_context, user_text

RUBRIC = load_spec("rubric")
LABEL = JudgeSpec(name="verdict", kind="label", template="Which is better?\n{{ answer }}", parser="pairwise_abc", scale=None)
JUDGES_DIR = Path(__file__).resolve().parents[1] / "judges"


def _table(messages, params, ctx, args) -> str:
    """Replies from a table in the model args: `<conversation>/<turn>`, `<conversation>`
    or `default`. An int is a rating; a string is the judge's whole reply."""
    value = args.get(f"{ctx.conversation_id}/{ctx.turn_id}", args.get(ctx.conversation_id, args.get("default")))
    return f"Brief reasoning.\nRating: [[{value}]]" if isinstance(value, int) else str(value)


for _k in range(5):
    register_script(f"jy_j{_k}", _table)


def jurors(*columns: dict | int | str) -> list[JurorConfig]:
    """One juror per column; a column is a table or one reply for every item."""
    return [JurorConfig(model=f"scripted/jy_j{k}", args=c if isinstance(c, dict) else {"default": c}) for k, c in enumerate(columns)]


def requests(j) -> list[int]:
    return [juror.client.stats.requests for juror in j.jurors]


async def verdict_of(config: JuryConfig, spec: JudgeSpec = RUBRIC, conversation_id: str = "c1", j=None):
    j = j or jury(config)
    state = make_state(["A reply."], conversation_id=conversation_id)
    score = await JudgeScorer("quality", spec).score(state, score_context(j))
    return score, j


# --- aggregation ------------------------------------------------------------------------------
@pytest.mark.parametrize("method, expected", [("mean", 6.0), ("median", 7.0)])
async def test_mean_and_median_keep_every_verdict(method, expected):
    score, j = await verdict_of(JuryConfig(jurors=jurors(7, 8, 3), aggregate=method))
    assert score.status == "ok" and score.value == expected
    verdicts = [Verdict.model_validate(v) for v in score.details["verdicts"]]
    assert [(v.judge, v.value, v.status) for v in verdicts] == [
        ("scripted/jy_j0", 7.0, "ok"), ("scripted/jy_j1", 8.0, "ok"), ("scripted/jy_j2", 3.0, "ok"),
    ]
    assert score.details["aggregate"] == method and all(v.raw.endswith(f"[[{int(v.value)}]]") for v in verdicts)
    assert requests(j) == [1, 1, 1] and j.stats.as_dict()["calls_saved"] == 0


async def test_unparsed_juror_does_not_vote():
    score, j = await verdict_of(JuryConfig(jurors=jurors(8, "I cannot tell.", 6)))
    assert score.value == 7.0  # not (8 + 0 + 6) / 3
    statuses = [(v["status"], v["value"], v["reasked"]) for v in score.details["verdicts"]]
    assert statuses == [("ok", 8.0, False), ("unparsed", None, True), ("ok", 6.0, False)]
    assert score.details["verdicts"][1]["raw"] == "I cannot tell.\n\n[re-ask]\nI cannot tell."
    assert requests(j) == [1, 2, 1]


async def test_no_usable_verdict_is_unparsed_never_zero():
    score, _ = await verdict_of(JuryConfig(jurors=jurors("Good.", "Rating: 9/10")))
    assert score.status == "unparsed" and score.value is None
    assert "[scripted/jy_j0] Good." in score.raw and "[scripted/jy_j1] Rating: 9/10" in score.raw
    score, _ = await verdict_of(JuryConfig(jurors=[JurorConfig(model="scripted/fail"), JurorConfig(model="scripted/fail")]))
    assert score.status == "error" and score.value is None


@pytest.mark.parametrize(
    "labels, majority, max_vote",
    [
        (["[[A]]", "[[A]]", "[[B]]"], "A", "A"),
        (["[[A]]", "[[B]]", "[[C]]"], "tie", "tie"),
        (["[[A]]", "[[A]]", "[[B]]", "[[C]]"], "tie", "A"),  # 2 of 4 is a plurality, not a majority
        (["[[A]]", "[[A]]", "[[B]]", "[[B]]"], "tie", "tie"),
        (["[[C]]", "[[C]]", "[[A]]"], "tie", "tie"),  # a tie verdict can win the vote
        (["[[A]]", "[[B]]", "no verdict"], "tie", "tie"),
        (["[[B]]", "[[B]]", "no verdict"], "B", "B"),  # the unparsed juror does not vote
        (["[[B]]", "[[A]]", "[[B]]", "[[A]]", "[[B]]"], "B", "B"),
    ],
)
@pytest.mark.parametrize("method", ["majority", "max_vote"])
async def test_label_votes(labels, majority, max_vote, method):
    score, _ = await verdict_of(JuryConfig(jurors=jurors(*labels), aggregate=method), LABEL)
    expected = majority if method == "majority" else max_vote
    assert score.status == "ok" and score.details["label"] == expected and score.value is None
    assert len(score.details["verdicts"]) == len(labels)


async def test_majority_of_scores():
    score, _ = await verdict_of(JuryConfig(jurors=jurors(7, 7, 3), aggregate="majority"))
    assert score.value == 7.0 and score.details["label"] == "7"


def test_mean_of_labels_is_a_configuration_error():
    verdicts = [Verdict(judge="a", spec="v", label="A"), Verdict(judge="b", spec="v", label="B")]
    with pytest.raises(ConfigurationError, match="does not apply to label"):
        aggregate(verdicts, "mean", "label")


@pytest.mark.parametrize(
    "columns, value, calls",
    [
        ((4, 5, 9), 4.0, [1, 0, 0]),
        (("garbled", 5, 9), 5.0, [2, 1, 0]),  # juror 1 is re-asked, then the cascade moves on
        (("garbled", "also garbled", 9), 9.0, [2, 2, 1]),
    ],
)
async def test_cascade_stops_at_the_first_usable_juror(columns, value, calls):
    score, j = await verdict_of(JuryConfig(jurors=jurors(*columns), aggregate="cascade"))
    assert score.value == value and requests(j) == calls
    assert len(score.details["verdicts"]) == sum(1 for c in calls if c)
    stats = j.stats.as_dict()
    assert stats["calls"] == len(score.details["verdicts"]) and stats["full_jury_calls"] == 3


async def test_a_sequential_aggregation_is_asked_like_the_cascade_by_its_flag_not_its_name():
    """The jury asks one juror at a time because the aggregation says `sequential`, so an
    aggregation registered elsewhere with the flag gets the cascade's asking."""
    from mteval.scoring.aggregations import AGGREGATIONS, register_aggregation

    def last_asked(usable, kind):
        return usable[-1].value, usable[-1].label

    register_aggregation("first_usable_for_test", last_asked, sequential=True)
    try:
        score, j = await verdict_of(JuryConfig(jurors=jurors("garbled", 5, 9), aggregate="first_usable_for_test"))
        assert score.value == 5.0 and requests(j) == [2, 1, 0]
    finally:
        AGGREGATIONS.unregister("first_usable_for_test")
    assert AGGREGATIONS.get_entry("cascade").sequential and not AGGREGATIONS.get_entry("median").sequential


async def test_cascade_with_no_usable_juror():
    score, j = await verdict_of(JuryConfig(jurors=jurors("x", "y"), aggregate="cascade"))
    assert score.status == "unparsed" and requests(j) == [2, 2]


SEEN: list[str] = []


def _recording(messages, params, ctx, args) -> str:
    SEEN.append(user_text(messages))
    return "Rating: [[6]]"


register_script("jy_recording", _recording)


async def test_a_juror_may_bring_its_own_judge_definition():
    SEEN.clear()
    config = JuryConfig(jurors=[JurorConfig(model="scripted/jy_j0", args={"default": 8}), JurorConfig(model="scripted/jy_recording", judge="reference")])
    state = make_state(["Paris."], users=["Capital of France?"], golds=["Paris is the capital of France."])
    score = await JudgeScorer("quality", "rubric").score(state, score_context(jury(config)))
    assert [v["spec"] for v in score.details["verdicts"]] == ["rubric", "reference"] and score.value == 7.0
    assert "<reference_answer>\nParis is the capital of France.\n</reference_answer>" in SEEN[0]


def test_jury_files(tmp_path):
    example = JuryConfig.from_file(JUDGES_DIR / "jury-example.yaml")
    assert len(example.jurors) == 3 and example.jurors[2].judge == "rubric"
    assert example.adaptive == AdaptiveConfig(quorum=2, threshold=0.0, audit_fraction=0.1) and example.aggregate == "median"
    path = tmp_path / "jury.yaml"
    path.write_text("name: mine\naggregate: median\njurors:\n  - model: scripted/jy_j0\n    args: {default: 4}\n  - model: scripted/jy_j1\n")
    config = JuryConfig.from_file(path)
    assert config.aggregate == "median" and config.jurors[0].args == {"default": 4} and config.adaptive is None
    for text, message in [
        ("jurors: []\n", "field 'jurors' is empty"),
        ("aggregate: average\njurors:\n  - model: scripted/jy_j0\n", "invalid jury definition"),
        ("name: x\n", "invalid jury definition"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigurationError, match=message):
            JuryConfig.from_file(path)
    with pytest.raises(ConfigurationError, match="no such file"):
        JuryConfig.from_file(tmp_path / "missing.yaml")


# --- the adaptive jury ----------------------------------------------------------------------------
def adaptive(*columns, aggregate: str = "mean", audit: float = 0.0, threshold: float = 0.0, quorum: int = 2) -> JuryConfig:
    return JuryConfig(
        jurors=jurors(*columns), aggregate=aggregate, adaptive=AdaptiveConfig(quorum=quorum, threshold=threshold, audit_fraction=audit)
    )


@pytest.mark.parametrize(
    "aggregate, threshold, columns, value, calls, may_differ",
    [
        # mean: the third juror can always move it (scale 1-10), so exactness means asking everyone
        ("mean", 0, (7, 7, 1), 5.0, [1, 1, 1], False),
        ("mean", 1, (7, 8, 3), 6.0, [1, 1, 1], False),  # the 7/8/3: full jury's 6.0, not 7.5
        ("mean", 2.5, (7, 8, 3), 7.5, [1, 1, 0], True),  # the third could move it by at most 13/6
        # median of 3: settled when the first two agree; the third can only pick between them
        ("median", 0, (7, 7, 1), 7.0, [1, 1, 0], False),
        ("median", 0, (7, 8, 3), 7.0, [1, 1, 1], False),
        ("median", 1, (7, 9, 3), 8.0, [1, 1, 0], True),  # full jury's 7: within the accepted 1
        ("median", 0, (7, "no verdict", 4), 5.5, [1, 2, 1], False),  # an unparsed quorum member escalates
        # votes on scores: a split quorum is not a tie yet; the threshold does not apply to votes
        ("max_vote", 1, (7, 8, 8), 8.0, [1, 1, 1], False),
        ("majority", 1, (7, 8, 7), 7.0, [1, 1, 1], False),
        ("majority", 1, (7, 7, 3), 7.0, [1, 1, 0], False),
    ],
)
async def test_escalation_rule_per_aggregation(aggregate, threshold, columns, value, calls, may_differ):
    score, j = await verdict_of(adaptive(*columns, aggregate=aggregate, threshold=threshold))
    assert score.value == value and requests(j) == calls
    assert score.details["adaptive"]["escalated"] == (calls[2] == 1) and score.details["adaptive"]["may_differ"] == may_differ
    assert score.details["adaptive"]["max_difference"] <= threshold
    assert j.stats.as_dict()["calls_saved"] == 3 - sum(1 for c in calls if c)


async def test_ties_escalate_and_the_threshold_does_not_apply_to_votes():
    score, j = await verdict_of(adaptive(7, 8, 3, aggregate="max_vote", threshold=1))
    assert score.details["label"] == "tie" and requests(j) == [1, 1, 1]
    score, j = await verdict_of(adaptive("[[A]]", "[[A]]", "[[B]]", aggregate="majority"), LABEL)
    assert score.details["label"] == "A" and requests(j) == [1, 1, 0]
    score, j = await verdict_of(adaptive("[[A]]", "[[B]]", "[[B]]", aggregate="majority"), LABEL)
    assert score.details["label"] == "B" and requests(j) == [1, 1, 1]


async def test_escalation_asks_one_juror_at_a_time():
    # majority of 5 with quorum 3: A A B is not settled (B B would follow), A A B A is
    config = adaptive("[[A]]", "[[A]]", "[[B]]", "[[A]]", "[[B]]", aggregate="majority", quorum=3)
    score, j = await verdict_of(config, LABEL)
    assert score.details["label"] == "A" and requests(j) == [1, 1, 1, 1, 0]
    assert score.details["adaptive"] == {"escalated": True, "calls": 4, "may_differ": False, "max_difference": 0.0}


@pytest.mark.parametrize("aggregate", ["mean", "median", "majority", "max_vote"])
@pytest.mark.parametrize("n, quorum, threshold", [(3, 2, 0.0), (5, 3, 0.0), (5, 2, 1.0)])
async def test_adaptive_verdict_is_the_full_jurys_within_its_stated_bound(aggregate, n, quorum, threshold):
    import random

    rng = random.Random(f"{aggregate}{n}{quorum}")
    items = {}
    for i in range(40):  # a shared item score plus juror noise, now and then no verdict
        base = rng.randint(2, 9)
        items[f"i{i}"] = tuple("no verdict" if rng.random() < 0.05 else min(10, max(1, base + rng.choice((-1, 0, 0, 1)))) for _ in range(n))
    columns = [{cid: values[k] for cid, values in items.items()} for k in range(n)]
    j = jury(adaptive(*columns, aggregate=aggregate, audit=1.0, threshold=threshold, quorum=quorum))
    for cid, values in items.items():
        score, _ = await verdict_of(j.config, conversation_id=cid, j=j)
        info = score.details["adaptive"]
        full = info.get("full_jury", {"value": score.value, "label": score.details.get("label")})
        if not info["may_differ"]:
            assert (score.value, score.details.get("label")) == (full["value"], full["label"]), (cid, values)
        elif score.value is not None and full["value"] is not None:
            assert abs(score.value - full["value"]) <= info["max_difference"] + 1e-9 <= threshold + 1e-9
    if threshold == 0:
        assert j.stats.may_differ == 0 and j.stats.as_dict()["agreement_with_full_jury"] == 1.0
    assert j.stats.calls == j.stats.full_jury_calls  # audited everywhere: nothing saved, and it says so


ITEMS = {"c1": (7, 7, 1), "c2": (7, 9, 3), "c3": (5, 5, 1), "c4": (2, 9, 5)}


def columns_of(items: dict[str, tuple]) -> list[dict]:
    return [{cid: values[k] for cid, values in items.items()} for k in range(3)]


async def test_adaptive_call_counts_over_many_items():
    j = jury(adaptive(*columns_of(ITEMS), aggregate="median"))
    values = {cid: (await verdict_of(j.config, conversation_id=cid, j=j))[0].value for cid in ITEMS}
    assert values == {"c1": 7.0, "c2": 7.0, "c3": 5.0, "c4": 5.0}
    assert requests(j) == [4, 4, 2]
    assert j.stats.as_dict() == {
        "items": 4, "calls": 10, "full_jury_calls": 12, "calls_saved": 2, "audit_calls": 0, "may_differ": 0,
        "audited": 0, "agreement_with_full_jury": None,
    }


async def test_audit_against_the_full_jury_counts_its_calls():
    # c1: median, threshold 1 stops at 7 and 9 (8), the full jury says 7 -> differs (as it said it may)
    # c2: all three say 6 -> equal;  c3: escalated, so the adaptive verdict is the full one
    items = {"c1": (7, 9, 1), "c2": (6, 6, 6), "c3": (7, 3, 5)}
    j = jury(adaptive(*columns_of(items), aggregate="median", threshold=1, audit=1.0))
    scores = {cid: (await verdict_of(j.config, conversation_id=cid, j=j))[0] for cid in items}
    assert scores["c1"].value == 8.0 and scores["c1"].details["adaptive"]["full_jury"] == {"value": 7.0, "label": None}
    assert scores["c1"].details["adaptive"]["may_differ"] and scores["c1"].details["adaptive"]["max_difference"] == 1.0
    assert len(scores["c1"].details["verdicts"]) == 2  # the item keeps the adaptive jury's verdicts
    assert [v["value"] for v in scores["c1"].details["adaptive"]["audit_verdicts"]] == [1.0]  # and the audit's apart
    assert scores["c2"].details["adaptive"]["full_jury"]["value"] == 6.0
    stats = j.stats.as_dict()
    assert stats["audited"] == 3 and stats["agreement_with_full_jury"] == pytest.approx(2 / 3)
    assert stats["calls"] == 9 and stats["full_jury_calls"] == 9 and stats["calls_saved"] == 0  # the audit ate the saving
    assert stats["audit_calls"] == 2 and stats["may_differ"] == 1 and requests(j) == [3, 3, 3]


async def test_audit_fraction_is_deterministic_per_item():
    chosen = []
    for _ in range(2):
        j = jury(adaptive(6, 6, 6, audit=0.3, aggregate="median"))
        audited = set()
        for i in range(100):
            score, _ = await verdict_of(j.config, conversation_id=f"item{i}", j=j)
            if "full_jury" in score.details["adaptive"]:
                audited.add(i)
        assert j.stats.audited == len(audited) and j.stats.as_dict()["agreement_with_full_jury"] == 1.0
        assert j.stats.calls == 200 + len(audited)
        chosen.append(audited)
    assert chosen[0] == chosen[1] and 15 <= len(chosen[0]) <= 45


# --- over a whole run -----------------------------------------------------------------------------
@register_task
class AdaptiveProbe(Task):
    name = "jtest/adaptive"
    version = "1"

    def load(self) -> list[Conversation]:
        return [
            Conversation(id=cid, turns=(Turn(id="t1", user=f"Tell me about {cid}."), Turn(id="t2", user="More, please.")))
            for cid in ("c1", "c2", "c3")
        ]

    def scorers(self):
        return [JudgeScorer("quality", "rubric")]


def _adaptive_run(tmp_path, audit: float):
    # per item (conversation/turn): quorum values and the third juror's
    table = {
        "c1/t1": (7, 7, 7), "c1/t2": (7, 9, 2),
        "c2/t1": (4, 5, 9), "c2/t2": (4, "no idea", 4),
        "c3/t1": (8, 8, 8), "c3/t2": (1, 10, 10),
    }
    adaptive = AdaptiveConfig(quorum=2, threshold=0.0, audit_fraction=audit)
    config = JuryConfig(name="adaptive-three", jurors=jurors(*columns_of(table)), aggregate="median", adaptive=adaptive)
    return Runner(
        RunConfig(tasks="jtest/adaptive", model="scripted/echo", jury=config, output_dir=tmp_path, use_cache=False, progress=False, retry=FAST_RETRY, max_concurrency=2, command=["test"])
    ).run().manifest


def test_adaptive_jury_in_a_run(tmp_path):
    manifest = _adaptive_run(tmp_path, audit=0.0)
    calls = manifest["totals"]["calls"]
    assert calls["jury"] == {
        "items": 6, "calls": 6 * 2 + 4, "full_jury_calls": 18, "calls_saved": 2, "audit_calls": 0, "may_differ": 0,
        "audited": 0, "agreement_with_full_jury": None,
    }
    assert [calls["judges"][f"scripted/jy_j{k}"]["requests"] for k in range(3)] == [6, 7, 4]  # j1 re-asked once
    assert calls["model"]["requests"] == 6
    metric = manifest["metrics"]["jtest/adaptive"]["quality"]
    expected = [7.0, 7.0, 5.0, 4.0, 8.0, 10.0]
    assert metric["value"] == pytest.approx(sum(expected) / 6) and metric["n"] == 6 and metric["excluded"] == 0
    judging = manifest["judging"]["quality"]
    assert judging["items"] == 6
    assert judging["jurors"]["scripted/jy_j1"]["verdicts"] == {"ok": 5, "unparsed": 1} and judging["jurors"]["scripted/jy_j1"]["reasked"] == 1
    assert judging["jurors"]["scripted/jy_j2"]["verdicts"] == {"ok": 4}
    assert any("adaptive jury: 16 of 18 juror calls (2 saved)" in line for line in summary_lines(manifest))
    assert manifest["jury"]["adaptive"] == {"quorum": 2, "threshold": 0.0, "audit_fraction": 0.0}


def test_audit_verdicts_count_in_the_run_statistics(tmp_path):
    manifest = _adaptive_run(tmp_path, audit=1.0)
    jury_stats = manifest["totals"]["calls"]["jury"]
    assert jury_stats["calls"] == 18 and jury_stats["audit_calls"] == 2 and jury_stats["calls_saved"] == 0
    assert jury_stats["agreement_with_full_jury"] == 1.0  # threshold 0: the adaptive verdict is the full jury's
    assert [manifest["totals"]["calls"]["judges"][f"scripted/jy_j{k}"]["requests"] for k in range(3)] == [6, 7, 6]
    judging = manifest["judging"]["quality"]
    assert judging["jurors"]["scripted/jy_j2"]["verdicts"] == {"ok": 6}  # the two audit verdicts are in alpha's table
    assert any("incl. 2 audit calls" in line for line in summary_lines(manifest))


# --- over HTTP ------------------------------------------------------------------------------------
@pytest.mark.parametrize("aggregate, columns, value, calls", [("mean", (7, 8, 3), 6.0, 3), ("median", (7, 7, 3), 7.0, 2)])
async def test_adaptive_jury_over_http_counts_every_request(aggregate, columns, value, calls):
    """The issue's three local judges answering 7, 8 and 3: the adaptive verdict is the full
    jury's, and the call count matches the requests the servers saw, audits included."""
    from contextlib import ExitStack

    from tests.servers import FakeLLMServer

    with ExitStack() as stack:
        servers = [stack.enter_context(FakeLLMServer(responder=lambda kind, body, v=v: f"Fine.\nRating: [[{v}]]")) for v in columns]
        config = JuryConfig(
            jurors=[JurorConfig(model=f"openai/judge{k}", args={"base_url": s.openai_base_url}) for k, s in enumerate(servers)],
            aggregate=aggregate,
            adaptive=AdaptiveConfig(quorum=2, threshold=1.0, audit_fraction=1.0),
        )
        score, j = await verdict_of(config)
        assert score.value == value and score.details["adaptive"]["calls"] == calls
        assert score.details["adaptive"]["full_jury"]["value"] == value
        stats = j.stats.as_dict()
        assert stats["calls"] == sum(len(s.requests) for s in servers) == 3  # the audit asked the third judge too
        assert stats["audit_calls"] == 3 - calls and stats["calls_saved"] == 0


def test_an_adaptive_jury_that_saved_nothing_says_so(tmp_path):
    """Every item escalated (ties under max_vote, say): the summary must still show the
    adaptive line with 0 saved, not drop it and leave the user guessing."""
    manifest = _adaptive_run(tmp_path, audit=0.0)
    manifest["totals"]["calls"]["jury"].update(calls=18, calls_saved=0)
    assert any("adaptive jury: 18 of 18 juror calls (0 saved)" in line for line in summary_lines(manifest))
    manifest["jury"]["adaptive"] = None  # a plain jury: no adaptive line
    assert not any("adaptive jury" in line for line in summary_lines(manifest))
