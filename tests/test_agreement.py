"""Agreement statistics against published and hand-computed values: Krippendorff's
alpha on the example of Krippendorff (2011, "Computing Krippendorff's Alpha-Reliability")
and against the `krippendorff` package, Fleiss' kappa on the Wikipedia example
(kappa = 0.210), agreement with human labels, and the per-run `JudgingTally`."""

from __future__ import annotations

import math
from collections import Counter
from itertools import permutations

import krippendorff
import numpy as np
import pytest

from mteval.scoring.agreement import JudgingTally, fleiss_kappa, human_agreement, krippendorff_alpha

N = None
# Krippendorff (2011), section C: 4 observers x 12 units, missing values, values 1-5.
OBSERVERS = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    "C": [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
}
ITEMS = [list(row) for row in zip(*OBSERVERS.values())]  # items x raters, as mteval stores them


def textbook_alpha(items, distance) -> float:
    """Alpha from the coincidence matrix: 1 - (n - 1) * sum o_ck d_ck / sum n_c n_k d_ck."""
    coincidences: Counter = Counter()
    for row in items:
        values = [v for v in row if v is not None]
        m = len(values)
        if m < 2:
            continue  # a unit with one value is not pairable
        for c, k in permutations(values, 2):
            coincidences[(c, k)] += 1 / (m - 1)
    totals: Counter = Counter()
    for (c, _), count in coincidences.items():
        totals[c] += count
    n = sum(totals.values())
    observed = sum(count * distance(c, k) for (c, k), count in coincidences.items())
    expected = sum(totals[c] * totals[k] * distance(c, k) for c in totals for k in totals)
    return 1 - (n - 1) * observed / expected


def nominal(c, k) -> float:
    return float(c != k)


def interval(c, k) -> float:
    return float((c - k) ** 2)


def test_krippendorff_2011_example():
    assert krippendorff_alpha(ITEMS, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(ITEMS, "interval") == pytest.approx(0.849, abs=5e-4)
    assert krippendorff_alpha(ITEMS, "nominal") == pytest.approx(textbook_alpha(ITEMS, nominal), abs=1e-12)
    assert krippendorff_alpha(ITEMS, "interval") == pytest.approx(textbook_alpha(ITEMS, interval), abs=1e-12)


def test_nominal_alpha_of_text_labels():
    letters = {1: "candidate", 2: "baseline", 3: "tie", 4: "x", 5: "y"}
    labelled = [[None if v is None else letters[v] for v in row] for row in ITEMS]
    assert krippendorff_alpha(labelled, "nominal") == pytest.approx(0.743421052631579)


@pytest.mark.parametrize("level", ["interval", "nominal"])
def test_alpha_matches_the_krippendorff_package(level):
    rng = np.random.default_rng(7)
    truth = rng.integers(1, 11, size=40)
    items = []
    for t in truth:
        row = [int(np.clip(t + rng.integers(-2, 3), 1, 10)) for _ in range(3)]
        if rng.random() < 0.2:
            row[int(rng.integers(0, 3))] = None
        items.append(row)
    reference = krippendorff.alpha(
        reliability_data=np.array([[np.nan if v is None else v for v in row] for row in items], dtype=float).T,
        level_of_measurement=level,
    )
    assert krippendorff_alpha(items, level) == pytest.approx(reference, abs=1e-12)
    assert krippendorff_alpha(items, level) == pytest.approx(textbook_alpha(items, interval if level == "interval" else nominal), abs=1e-9)


def test_alpha_is_undefined_without_two_raters_or_variation():
    assert krippendorff_alpha([[3], [4]]) is None
    assert krippendorff_alpha([]) is None
    assert krippendorff_alpha([[5, 5], [5, 5], [5, None]]) is None
    assert krippendorff_alpha([[1, 1], [2, 2], [3, 3]]) == pytest.approx(1.0)


# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def textbook_fleiss(table) -> float:
    counts = np.asarray(table, dtype=float)
    n = counts.sum(axis=1)[0]
    p_j = counts.sum(axis=0) / counts.sum()
    p_i = (np.square(counts).sum(axis=1) - n) / (n * (n - 1))
    p_bar, p_e = p_i.mean(), np.square(p_j).sum()
    return float((p_bar - p_e) / (1 - p_e))


def test_fleiss_kappa_wikipedia_example():
    labels = [[category for category, count in zip("abcde", row) for _ in range(count)] for row in FLEISS_TABLE]
    kappa = fleiss_kappa(labels)
    assert kappa == pytest.approx(0.210, abs=5e-4)
    assert kappa == pytest.approx(textbook_fleiss(FLEISS_TABLE), abs=1e-12)
    # P-bar = 0.378, P-bar_e = 0.213 as the article lists them
    assert textbook_fleiss(FLEISS_TABLE) == pytest.approx((0.378 - 0.213) / (1 - 0.213), abs=2e-3)


def test_fleiss_kappa_small_cases():
    assert fleiss_kappa([["A", "A"], ["B", "B"], ["tie", "tie"]]) == pytest.approx(1.0)
    # incomplete rows are left out; fewer than two categories or raters is undefined
    rows = [["A", "B", "A"], ["B", "B", "B"], ["A", None, "A"], ["A", "A", "B"]]
    assert fleiss_kappa(rows) == pytest.approx(textbook_fleiss([[2, 1], [0, 3], [2, 1]]))
    assert fleiss_kappa([["A", "A"], ["A", "A"]]) is None
    assert fleiss_kappa([["A"], ["B"]]) is None


def test_human_agreement_for_labels_and_scores():
    labels = [("candidate", "candidate"), ("tie", "baseline"), ("baseline", "baseline"), ("candidate", None)]
    assert human_agreement(labels, labels=True) == {"n": 3, "missing_verdicts": 1, "accuracy": pytest.approx(2 / 3)}
    human, judge = [1, 2, 3, 4, 5], [2.0, 4.0, 5.0, 4.0, 5.0]
    result = human_agreement(list(zip(human, judge)), labels=False)
    h, j = np.array(human, float), np.array(judge, float)
    pearson = float(((h - h.mean()) * (j - j.mean())).sum() / math.sqrt(((h - h.mean()) ** 2).sum() * ((j - j.mean()) ** 2).sum()))
    assert result["pearson"] == pytest.approx(pearson) and result["mean_abs_diff"] == pytest.approx(1.0)
    # Spearman = Pearson of the ranks (ties averaged): judge ranks 1, 2.5, 4.5, 2.5, 4.5
    ranks = np.array([1, 2.5, 4.5, 2.5, 4.5])
    assert result["spearman"] == pytest.approx(float(np.corrcoef(h, ranks)[0, 1]))
    assert "pearson" not in human_agreement([(1, 2), (2, 3)], labels=False)  # fewer than 3 pairs


# --- the per-run tally -------------------------------------------------------------------------
def verdict(judge: str, value=None, status: str = "ok", label=None, reasked: bool = False) -> dict:
    return {"judge": judge, "spec": "rubric", "status": status, "value": value, "label": label, "reasked": reasked}


def sample(cid: str, verdict_rows: list[list[dict]], human_scores: list[float | None]) -> dict:
    turns = [{"id": f"t{i}", "user": "q", "references": {} if h is None else {"human_score": h}} for i, h in enumerate(human_scores)]
    records = []
    for i, verdicts in enumerate(verdict_rows):
        values = [v["value"] for v in verdicts if v["status"] == "ok" and v["value"] is not None]
        score = {"value": float(np.mean(values)) if values else None, "status": "ok", "details": {"aggregate": "mean", "verdicts": verdicts}}
        records.append({"index": i, "turn_id": f"t{i}", "scores": {"quality": score, "exact": {"value": 1.0, "status": "ok", "details": {}}}})
    return {"task": "jtest/x", "conversation": {"id": cid, "turns": turns}, "turns": records}


def test_judging_tally_over_a_run():
    tally = JudgingTally()
    rows = [(7, 8), (3, 4), (9, None), (5, 5), (2, 4)]
    human = [7, 3, 9, 6, None]
    verdict_rows = []
    for a, b in rows:
        vb = verdict("j/b", b) if b is not None else verdict("j/b", status="unparsed", reasked=True)
        verdict_rows.append([verdict("j/a", a), vb])
    tally.add_sample(sample("c1", verdict_rows[:3], human[:3]))
    tally.add_sample(sample("c2", verdict_rows[3:], human[3:]))
    summary = tally.summary()
    assert list(summary) == ["quality"]  # rule scores have no verdicts and are left out
    quality = summary["quality"]
    assert quality["items"] == 5 and quality["krippendorff_level"] == "interval"
    assert quality["jurors"]["j/a"] == {"verdicts": {"ok": 5}, "reasked": 0, "mean": pytest.approx(26 / 5)}
    assert quality["jurors"]["j/b"] == {"verdicts": {"ok": 4, "unparsed": 1}, "reasked": 1, "mean": pytest.approx(21 / 4)}
    table = [[a, b] for a, b in rows]
    assert quality["krippendorff_alpha"] == pytest.approx(textbook_alpha(table, interval))
    assert "fleiss_kappa" not in quality
    jury_values = [7.5, 3.5, 9.0, 5.0]  # the item without a human score is not paired
    agreement = quality["human_agreement"]
    assert agreement["n"] == 4 and agreement["mean_abs_diff"] == pytest.approx(np.mean(np.abs(np.array(human[:4]) - jury_values)))
    assert agreement["pearson"] == pytest.approx(float(np.corrcoef(human[:4], jury_values)[0, 1]))


def test_judging_tally_of_labels_and_a_repeated_juror():
    tally = JudgingTally()
    rows = [["A", "A", "B"], ["B", "B", "B"], ["A", "tie", "tie"], ["B", "A", "B"]]
    tally.add_sample(sample("c1", [[verdict("j/x", label=l) for l in row] for row in rows], [None] * 4))
    quality = tally.summary()["quality"]
    assert list(quality["jurors"]) == ["j/x", "j/x#1", "j/x#2"]  # one model three times, told apart by position
    assert quality["jurors"]["j/x"]["labels"] == {"A": 2, "B": 2} and "mean" not in quality["jurors"]["j/x"]
    assert quality["krippendorff_level"] == "nominal"
    assert quality["fleiss_kappa"] == pytest.approx(textbook_fleiss([[2, 1, 0], [0, 3, 0], [1, 0, 2], [1, 2, 0]]))
    assert quality["krippendorff_alpha"] == pytest.approx(textbook_alpha(rows, nominal))
