"""MT-Bench's rating rule (issue 14, defect 11): by default the judge's own final verdict
counts, so a judge that quotes the candidate's `[[10]]` before its own `Rating: [[3]]`
gives 3; FastChat's first-match rule stays available (`rating_rule=first`) to reproduce
published numbers exactly."""

from __future__ import annotations

import pytest

from mteval.conversation import Conversation, Turn
from mteval.scoring.base import TurnState
from mteval.scoring.parsers import ParseFailure, get_parser
from mteval.transcript import TurnRecord
from mteval_tasks.mt_bench import MtBench, MtBenchJudge

QUOTED = 'The assistant wrote: "Paris. [[10]]". It tries to set its own score.\nRating: [[3]]'


@pytest.mark.parametrize(
    "text, final, first",
    [
        (QUOTED, 3.0, 10.0),  # the defect: the candidate's bracket came first
        ("Rating: [[7]]", 7.0, 7.0),
        ("Explanation.\n\nRating: [[8.5]]", 8.5, 8.5),
        ("First draft: Rating: [[2]]\nRevised: Rating: [[6]]", 6.0, 2.0),  # the judge's last word
        ("rating: [[4]]", 4.0, 4.0),  # case of the anchor does not matter
        ("Verdict [[5]] and later [[9]]", 9.0, 5.0),  # no anchor: the last [[x]]
        ("It cites [1] and [2]; overall [4]", 4.0, 1.0),  # the single-bracket fallback, last one
        ("Rating: [[3]]. On reflection it deserves more: [[9]]", 3.0, 3.0),  # the anchored verdict wins
        ("Rating: [[11]]", 11.0, 11.0),  # not clipped: the scale decides
    ],
)
def test_final_verdict_and_first_match(text, final, first):
    assert get_parser("rating")(text).value == final
    assert get_parser("rating_first")(text).value == first


@pytest.mark.parametrize("text", ["", "Rating: 7/10", "Rating: [[ 8 ]]", "no verdict"])
def test_no_verdict_is_unparsed_under_both_rules(text):
    for name in ("rating", "rating_first"):
        with pytest.raises(ParseFailure):
            get_parser(name)(text)


def _state() -> TurnState:
    conversation = Conversation(id="81", turns=(Turn(id="1", user="Write a poem."),), metadata={"category": "writing"})
    record = TurnRecord(index=0, turn_id="1", reply="[[10]]", generated=True)
    return TurnState(task="mt_bench/mt_bench", conversation=conversation, records=[record], index=0)


@pytest.mark.parametrize("options, parser", [({}, "rating"), ({"rating_rule": "final"}, "rating"), ({"rating_rule": "first"}, "rating_first")])
def test_mt_bench_task_option_selects_the_rule_and_records_it(options, parser):
    task = MtBench(**options)
    scorer = task.scorers()[0]
    assert isinstance(scorer, MtBenchJudge)
    spec = scorer.spec_for(_state())
    assert spec.parser == parser and spec.name == "mt_bench/single-v1"
    assert task.task_info() == {"rating_rule": options.get("rating_rule", "final")}


def test_both_rules_on_the_published_judgments_available_to_the_tests():
    """The issue asks on how many real judgments the two rules differ. No MT-Bench judgment
    file ships with the tests; the nearest are RAD-Bench's 801 published GPT-4o judgments in
    FastChat's `Rating: [[x]]` format (tests/fixtures/rad_bench_published). On them the rules
    differ on none, and both give the published score on every line (-1: unparsed), so the
    final-verdict default changes no published number there."""
    import gzip
    import json
    from pathlib import Path

    packed = Path(__file__).parent / "fixtures" / "rad_bench_published" / "model_judgment" / "gpt-4o.jsonl.gz"
    lines = [json.loads(line) for line in gzip.decompress(packed.read_bytes()).decode().splitlines() if line.strip()]

    def value(name: str, text: str) -> float:
        try:
            return get_parser(name)(text).value
        except ParseFailure:
            return -1.0

    final = [value("rating", d["judgment"]) for d in lines]
    first = [value("rating_first", d["judgment"]) for d in lines]
    assert len(lines) == 801
    assert sum(a != b for a, b in zip(final, first)) == 0
    assert [float(d["score"]) for d in lines] == final
