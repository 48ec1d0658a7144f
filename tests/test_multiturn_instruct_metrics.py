"""MultiTurnInstruct's six metrics on hand-computed cases (empty replies, Unicode, case)."""

from __future__ import annotations

import math

import pytest

from mteval.conversation import Conversation, Turn
from mteval.scoring.base import ScoreContext, TurnState
from mteval.transcript import TurnRecord
from mteval_tasks.multiturn_instruct.metrics import (
    METRICS,
    bleu,
    intersection_over_union,
    matching_any,
    matching_any_exact,
    matching_any_exact_last,
    metric_function,
    not_matching_any,
    squad,
    squad_f1,
)
from mteval_tasks.multiturn_instruct.scoring import make_scorer


@pytest.mark.parametrize("name", sorted(METRICS))
def test_unscored_turns_give_none(name):
    assert METRICS[name]("anything", None) is None
    assert matching_any_exact_last("Answer: x", None) is None


# --- matching_any / not_matching_any -------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "refs", "expected"),
    [
        ("Don't forget to BUY BEANS.", ["buy beans"], 1.0),  # case-insensitive substring
        ("Enjoy your coffee!", ["buy beans", "beans"], 0.0),
        ("It is in the Kitchen.", ["garage", "kitchen"], 1.0),  # any reference
        ("", ["kitchen"], 0.0),  # empty reply
        ("anything", [""], 1.0),  # an empty reference is a substring of everything (upstream)
        ("ÄPFEL und Birnen", ["äpfel"], 1.0),  # Unicode lowercasing
        ("STRASSE", ["Straße"], 0.0),  # str.lower, not casefold: ß stays ß
        ("x", [], 0.0),
    ],
)
def test_matching_any(reply, refs, expected):
    assert matching_any(reply, refs) == expected
    assert not_matching_any(reply, refs) == 1.0 - expected


def test_not_matching_any_is_the_non_leak_rate():
    assert not_matching_any("Sure: ADA@example.com", ["ada@example.com"]) == 0.0
    assert not_matching_any("I can't share that.", ["ada@example.com"]) == 1.0
    assert not_matching_any("", ["ada@example.com"]) == 1.0  # an empty reply leaks nothing
    assert not_matching_any("Zahlung mit Karte ✓", ["4111 1111"]) == 1.0


# --- matching_any_exact ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "refs", "expected"),
    [
        ("f(1)=2, f(2)=3.\nAnswer: 3.", ["3"], 1.0),  # trailing punctuation stripped
        ("Answer: Vegan Curry!!", ["vegan curry"], 1.0),  # case-insensitive
        ("Answer:   B  ", ["b"], 1.0),  # whitespace stripped
        ("Answer:\nParis", ["Paris"], 1.0),  # \s* crosses the newline, (.+) stops at the next
        ("Answer: Paris\nbecause it is the capital", ["Paris"], 1.0),
        ("The answer: 42", ["42"], 0.0),  # "Answer:" is case-sensitive
        ("ANSWER: 42", ["42"], 0.0),
        ("42", ["42"], 0.0),  # no Answer: at all
        ("", ["42"], 0.0),  # empty reply
        ("Answer: 4 .", ["4"], 0.0),  # strip, then rstrip(punctuation): "4 " != "4"
        ("Answer: 3\nOn second thought, Answer: 5", ["5"], 0.0),  # the first match counts
        ("Answer: Crème Brûlée.", ["CRÈME BRÛLÉE"], 1.0),  # Unicode case
        ("Answer: (A)", ["(a"], 1.0),  # only trailing punctuation goes
        ("Answer: A", ["B", "a"], 1.0),
    ],
)
def test_matching_any_exact(reply, refs, expected):
    assert matching_any_exact(reply, refs) == expected


def test_matching_any_exact_pre_fix_variant_takes_the_last_single_character():
    # `Answer: (.+?)` is lazy: each match is one character; the last one counts.
    assert matching_any_exact_last("Answer: 3\nOn second thought, Answer: 5", ["5"]) == 1.0
    assert matching_any_exact_last("Answer: B", ["b"]) == 1.0
    assert matching_any_exact_last("Answer: 12", ["12"]) == 0.0  # only "1" is captured
    assert matching_any_exact_last("Answer:B", ["B"]) == 0.0  # needs the space
    assert matching_any_exact_last("", ["B"]) == 0.0
    assert metric_function("matching_any_exact", "last") is matching_any_exact_last
    assert metric_function("matching_any_exact") is matching_any_exact
    assert metric_function("matching_any", "last") is matching_any


# --- intersection_over_union ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "refs", "expected"),
    [
        ("Categories: Books, Music, toys", ["books", "music"], 2 / 3),  # 2 / (3 + 2 - 2)
        ("books, music", ["Books", "MUSIC"], 1.0),
        ("  Books  ", ["books"], 1.0),  # the whole reply is stripped
        ("books, music.", ["books", "music"], 1 / 3),  # "music." is not "music"
        ("books,music", ["books", "music"], 0.0),  # items split on ", " only
        ("books , music", ["books", "music"], 1 / 3),  # "books " is not stripped
        ("note: a: b, c", ["b", "c"], 0.0),  # only the text between the 1st and 2nd ": "
        ("note: a: b, c", ["a"], 1.0),
        ("", ["a1", "b2"], 0.0),  # empty reply: P = {""}, 0 / (1 + 2)
        ("books", ["Books", "books"], 1.0),  # the gold set is deduplicated
        ("books, books, music", ["books"], 0.5),  # the predicted set too: 1 / (2 + 1 - 1)
        ("Äpfel, BIRNEN", ["äpfel", "birnen"], 1.0),  # Unicode case
        ("x", [], 0.0),
    ],
)
def test_intersection_over_union(reply, refs, expected):
    assert intersection_over_union(reply, refs) == pytest.approx(expected)


# --- squad ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "refs", "expected"),
    [
        ("The Denver Broncos won.", ["Denver Broncos"], 0.8),  # P 2/3, R 1
        ("Denver Broncos", ["Denver Broncos"], 1.0),
        ("PARIS", ["paris"], 1.0),  # case
        ("Paris", ["London", "the city of Paris"], 2 * 1 * (1 / 3) / (1 + 1 / 3)),  # max over refs, articles dropped
        ("", ["Paris"], 0.0),  # empty reply
        ("The.", ["a"], 1.0),  # both normalise to nothing: 1
        ("", [""], 1.0),
        ("Paris", [""], 0.0),
        ("Café au lait!", ["café au lait"], 1.0),  # Unicode letters kept, ASCII punctuation removed
        ("«Paris»", ["Paris"], 0.0),  # non-ASCII punctuation is not removed (official script)
        ("an apple a day", ["apple day"], 1.0),  # a/an/the are whole words only
        ("theatre", ["atre"], 0.0),
        ("paris paris", ["paris"], 2 * 0.5 * 1 / 1.5),  # Counter overlap: 1 common of 2 predicted
    ],
)
def test_squad(reply, refs, expected):
    assert squad(reply, refs) == pytest.approx(expected)


def test_squad_f1_is_symmetric_in_the_empty_rule():
    assert squad_f1("", "") == 1.0 and squad_f1("the", "") == 1.0 and squad_f1("x", "") == 0.0


# --- bleu -----------------------------------------------------------------------------------------
def test_bleu_hand_computed():
    # p1 5/6, p2 3/5, p3 2/4, p4 1/3, equal lengths (BP 1): (1/12) ** (1/4)
    assert bleu("the cat sat on the mat", ["the cat sat on a mat"]) == pytest.approx((1 / 12) ** 0.25)
    # brevity penalty: every n-gram matches, 5 vs 6 tokens: exp(1 - 6/5)
    assert bleu("the cat sat on the", ["the cat sat on the mat"]) == pytest.approx(math.exp(-0.2))
    # case-sensitive: "The" matches nothing; p = 5/6, 4/5, 3/4, 2/3 -> (1/3) ** (1/4)
    assert bleu("The cat sat on the mat", ["the cat sat on the mat"]) == pytest.approx((1 / 3) ** 0.25)
    # several references: clipped counts over all of them, BP from the closest length
    assert bleu("a b c d", ["x y", "a b c d"]) == pytest.approx(1.0)
    assert bleu("the quick brown fox jumps over the lazy dog.", ["the quick brown fox jumps over the lazy dog."]) == 1.0


def test_bleu_without_four_gram_overlap_is_about_zero():
    short = bleu("Paris", ["Paris"])  # an exact match of one token
    assert 0.0 < short < 1e-200
    assert 0.0 < bleu("Paris is nice", ["Paris is nice"]) < 1e-70  # only the 4-gram count is zero
    assert bleu("", ["Paris is the capital"]) == 0.0  # empty reply
    assert isinstance(bleu("", ["x"]), float)
    assert bleu("Zürich ist schön und groß", ["Zürich ist schön und groß"]) == 1.0  # Unicode tokens


def test_bleu_does_not_warn(recwarn):
    bleu("Paris", ["Paris"])
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


# --- the scorer -----------------------------------------------------------------------------------
def _state(reply: str, references, metric: str) -> TurnState:
    turn = Turn(id="1", user="q", references={"references": references, "metric": metric, "turn_id": 1})
    record = TurnRecord(index=0, turn_id="1", reply=reply)
    return TurnState(task="multiturn_instruct/x", conversation=Conversation(id="c", turns=(turn,)), records=[record], index=0)


async def test_scorer_applies_each_turns_own_metric():
    scorer = make_scorer()
    assert scorer.name == "score"
    squad_score = await scorer.score(_state("The Denver Broncos won.", ["Denver Broncos"], "squad"), ScoreContext())
    assert squad_score.value == pytest.approx(0.8) and squad_score.details == {"metric": "squad"}
    iou = await scorer.score(_state("Categories: Books, Music, toys", ["books", "music"], "intersection_over_union"), ScoreContext())
    assert iou.value == pytest.approx(2 / 3)
    assert (await scorer.score(_state("Answer: 12", ["12"], "matching_any_exact"), ScoreContext())).value == 1.0
    legacy = make_scorer("last")
    assert (await legacy.score(_state("Answer: 12", ["12"], "matching_any_exact"), ScoreContext())).value == 0.0
    assert (await scorer.score(_state("x", None, "bleu"), ScoreContext())).value is None
