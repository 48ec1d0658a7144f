"""The multi-turn penalty: one definition (single - own on paired turns, positive = the
dialogue hurts) behind `mteval penalty`, the MT-Eval report and the leaderboard; pairing by
source conversation and turn; clear refusals where it cannot be computed."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import tasks.example  # noqa: F401  (registers example/arithmetic and scripted/calculator)
from mteval.cli import main as cli_main
from mteval.penalty import PenaltyError, check_runs, pairs, penalty_of, run_penalties
from mteval.results import load
from mteval.runner import RunConfig, Runner
from mteval.stats import cluster_bootstrap_ci
from tests.judging_support import FAST_RETRY


def _run(root: Path, **options) -> Path:
    config = RunConfig(output_dir=root, use_cache=False, progress=False, retry=FAST_RETRY, max_concurrency=4, command=["pytest"], **options)
    return Runner(config).run().run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("penalty")
    calculator = dict(tasks="example/arithmetic", model="scripted/calculator", model_args={"memory": 2}, limit=6)
    return {
        "own": _run(root, **calculator),
        "single": _run(root, **calculator, history="single"),
        "other_model": _run(root, tasks="example/arithmetic", model="replay/gold", history="single", limit=6),
    }


def test_pairs_by_source_conversation_and_turn():
    own = pd.DataFrame({"task": ["t"] * 3, "conversation_id": ["c1", "c1", "c2"], "turn_index": [0, 1, 0], "score_s": [1.0, 0.0, 1.0]})
    single = pd.DataFrame({"task": ["t"] * 3, "conversation_id": ["c1", "c2", "c3"], "turn_index": [1, 0, 0], "score_s": [1.0, 1.0, 0.0]})
    found = pairs(own, single, "t", "s")
    assert [(p.cluster, p.own, p.single) for p in found] == [("t/c1", 0.0, 1.0), ("t/c2", 1.0, 1.0)]  # c1 turn 0 and c3: unpaired
    result = penalty_of("t", "s", found)
    assert result.penalty == 0.5 and result.own == 0.5 and result.single == 1.0 and result.relative == 0.5
    assert result.ci == cluster_bootstrap_ci([1.0, 0.0], ["t/c1", "t/c2"])


def test_penalty_command_sign_and_interval(runs, capsys):
    assert cli_main(["penalty", str(runs["own"]), str(runs["single"]), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    (result,) = shown["penalties"]
    own, single = load(runs["own"]), load(runs["single"])
    assert result["n_pairs"] == len(single) == len(own)  # every single-turn item found its source turn
    assert result["single"] == pytest.approx(single["score_exact"].mean()) == 1.0  # the calculator never forgets one message
    assert result["own"] == pytest.approx(own["score_exact"].mean()) and result["own"] < 1.0  # with a memory of 2 it loses long dialogues
    assert result["penalty"] == pytest.approx(result["single"] - result["own"]) and result["penalty"] > 0  # positive: the dialogue hurts
    low, high = result["ci"]
    assert low <= result["penalty"] <= high and shown["problems"] == []
    assert cli_main(["penalty", str(runs["own"]), str(runs["single"])]) == 0
    table = capsys.readouterr().out
    assert "single-turn minus own-history" in table and f"+{result['penalty']:.3f}" in table


def test_refusals_say_why(runs, capsys, tmp_path):
    assert cli_main(["penalty", str(runs["single"]), str(runs["own"])]) == 2
    assert "pass the multi-turn (own-history) run first" in capsys.readouterr().err
    assert cli_main(["penalty", str(runs["own"]), str(runs["other_model"])]) == 2
    assert "different models" in capsys.readouterr().err
    assert cli_main(["penalty", str(runs["own"]), str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    with pytest.raises(PenaltyError, match="not a single-turn run"):
        check_runs({"history": "own"}, {"history": "own"})
    results, problems = run_penalties(runs["own"], runs["single"], metrics={"example/arithmetic": ["nonexistent"]})
    assert results == [] and problems == ["example/arithmetic: no turn scored on 'nonexistent' in both runs (are they runs of the same data?)"]


def test_compare_refuses_own_against_single_in_both_orders(runs, capsys):
    """The multi-turn drop is the penalty, not a regression or an improvement: the gate says
    so (exit 2, not comparable) whichever run is the base."""
    for base, candidate in (("own", "single"), ("single", "own")):
        assert cli_main(["compare", str(runs[base]), str(runs[candidate])]) == 2
        assert "mteval penalty" in capsys.readouterr().err


def test_a_lower_is_better_score_keeps_the_sign_meaning_worse_in_dialogue(monkeypatch):
    """A score where lower is better (a takeover rate, a latency): doing worse in dialogue is
    a higher own score, and must still give a positive penalty, as everywhere else."""
    import mteval.penalty as mp

    own = pd.DataFrame({"task": ["t", "t"], "conversation_id": ["c1", "c2"], "turn_index": [0, 0], "score_s": [1.0, 1.0]})
    single = pd.DataFrame({"task": ["t", "t"], "conversation_id": ["c1", "c2"], "turn_index": [0, 0], "score_s": [0.0, 0.5]})
    assert penalty_of("t", "s", pairs(own, single, "t", "s")).penalty == pytest.approx(-0.75)  # higher is better (undeclared)
    monkeypatch.setattr(mp, "score_direction", lambda task, metric: "lower")
    result = penalty_of("t", "s", pairs(own, single, "t", "s"))
    assert result.penalty == pytest.approx(0.75) and result.own == 1.0 and result.single == 0.25
    monkeypatch.setattr(mp, "score_direction", lambda task, metric: "neither")
    assert pairs(own, single, "t", "s") == []


def test_full_duplex_has_no_penalty_and_says_so(tmp_path, capsys):
    """Timelines run the same samples under --history single: the penalty would be a perfect
    0 comparing a run with itself. Refused with a message instead; and its lower-is-better
    takeover score is declared so."""
    from mteval.penalty import score_direction

    common = dict(tasks="full_duplex/pause_handling", model="scripted/echo", limit=2)
    own, single = _run(tmp_path, **common), _run(tmp_path, **common, history="single")
    results, problems = run_penalties(own, single)
    assert results == [] and problems == ["full_duplex/pause_handling: no single-turn rendering (--history single runs the same samples), so no multi-turn penalty"]
    assert cli_main(["penalty", str(own), str(single)]) != 0
    assert "no single-turn rendering" in capsys.readouterr().err
    assert pairs(load(own), load(single), "full_duplex/pause_handling", "takeover") == []  # the leaderboard skips it too
    assert score_direction("full_duplex/pause_handling", "takeover") == "lower"
    assert score_direction("example/arithmetic", "exact") == "higher"
