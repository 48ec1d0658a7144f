"""`mteval compare` and the CI gate: paired statistics on synthetic run directories
(written with the real Sample/Conversation/TurnRecord models, read back with
`mteval.results.load`), the false-positive rate over many seeds, refusals (exit 2),
the three output formats, judge agreement, and two real runs of the example task."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mteval.cli import main
from mteval.commands.compare import MARKER, markdown, render
from mteval.compare import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_REGRESSION,
    CompareOptions,
    agreement_stats,
    compare_runs,
    gate,
)
from mteval.conversation import Conversation, Turn
from mteval.results import MANIFEST, RUN_SCHEMA, SAMPLES, load, write_json_atomic
from mteval.stats import holm, paired_difference
from mteval.transcript import Sample, Score, TurnRecord

SHA = "a" * 64
FAST = {"bootstrap_resamples": 500, "permutation_resamples": 1999}


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")


# --- synthetic runs ------------------------------------------------------------------------
Scores = dict[str, dict[str, list[float | None]]]
"""task -> conversation id -> one score per turn (None: the judge output was unparsed)."""


def write_run(
    run_dir: Path,
    scores: Scores,
    *,
    scorer: str = "exact",
    extra_scorers: dict[str, Scores] | None = None,
    version: str = "1",
    sha: str = SHA,
    replies: dict[tuple[str, str, int], str] | None = None,
    jury: dict | None = None,
) -> Path:
    """A minimal valid run directory: run.json + samples.jsonl."""
    run_dir.mkdir(parents=True, exist_ok=True)
    tasks = {
        task: {"version": version, "family": task.split("/")[0], "data": {"source": "synthetic", "sha256": sha, "files": [], "version": None}}
        for task in scores
    }
    write_json_atomic(
        run_dir / MANIFEST,
        {"schema": RUN_SCHEMA, "run_id": run_dir.name, "status": "complete", "model": {"id": f"test/{run_dir.name}"}, "history": "own", "jury": jury, "tasks": tasks},
    )
    with (run_dir / SAMPLES).open("w", encoding="utf-8") as handle:
        for task, conversations in scores.items():
            for conv_id, values in conversations.items():
                turns = tuple(Turn(id=f"t{i}", user=f"question {i}") for i in range(len(values)))
                records = []
                for i, value in enumerate(values):
                    all_scores = {scorer: _score(value)}
                    for name, other in (extra_scorers or {}).items():
                        all_scores[name] = _score(other[task][conv_id][i])
                    reply = (replies or {}).get((task, conv_id, i), f"reply {conv_id} {i}")
                    records.append(TurnRecord(index=i, turn_id=f"t{i}", reply=reply, scores=all_scores))
                sample = Sample(task=task, conversation=Conversation(id=conv_id, turns=turns), history="own", turns=records)
                handle.write(sample.model_dump_json(by_alias=True) + "\n")
    return run_dir


def _score(value: float | None) -> Score:
    return Score.unparsed("???") if value is None else Score(value=float(value))


def binary_scores(rng: np.random.Generator, k: int, turns: int, p: np.ndarray, task: str = "fam/a") -> Scores:
    """`k` conversations of `turns` binary scores with per-conversation success rates `p`."""
    return {task: {f"c{c:03d}": [float(rng.random() < p[c]) for _ in range(turns)] for c in range(k)}}


def pair_of_runs(tmp_path: Path, drop: float, seed: int = 0, k: int = 40, turns: int = 5) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.4, 0.9, size=k)
    base = write_run(tmp_path / "base", binary_scores(rng, k, turns, p))
    cand = write_run(tmp_path / "cand", binary_scores(rng, k, turns, np.clip(p - drop, 0, 1)))
    return base, cand


def options(**kw) -> CompareOptions:
    return CompareOptions(**{**FAST, **kw})


# --- regression, noise, improvement ---------------------------------------------------------
def test_injected_regression_is_detected(tmp_path):
    base, cand = pair_of_runs(tmp_path, drop=0.25)
    assert len(load(base)) == 200 and {"score_exact", "status_exact"} <= set(load(base).columns)
    code, report = gate(base, cand, options())
    assert code == EXIT_REGRESSION and report.regression
    (metric,) = report.metrics
    assert metric.regression and metric.verdict == "regression"
    assert metric.scale == "binary" and metric.test == "permutation"
    assert metric.diff < -0.15 and metric.ci[1] < 0 and metric.p_adjusted < 0.05
    assert metric.n_pairs == 200 and metric.n_conversations == 40


def test_improvement_is_not_flagged(tmp_path):
    base, cand = pair_of_runs(tmp_path, drop=0.25)
    code, report = gate(cand, base, options())  # the other way round: candidate better
    assert code == EXIT_OK and not report.regression
    assert report.metrics[0].diff > 0.15 and report.metrics[0].verdict == "better"
    assert report.metrics[0].p_value > 0.5


def test_identical_runs_pass(tmp_path):
    base, _ = pair_of_runs(tmp_path, drop=0.0)
    code, report = gate(base, base, options())
    assert code == EXIT_OK and report.metrics[0].diff == 0.0 and report.metrics[0].p_value == 1.0


def test_max_drop_tolerates_small_drops(tmp_path):
    base, cand = pair_of_runs(tmp_path, drop=0.25)
    diff = gate(base, cand, options())[1].metrics[0].diff
    assert gate(base, cand, options(max_drop=-diff + 0.2))[0] == EXIT_OK  # far inside the tolerance
    assert gate(base, cand, options(max_drop=0.02))[0] == EXIT_REGRESSION  # clearly beyond it


def _noise(seed: int, *, scale: bool, k: int = 30, turns: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two runs from one distribution, turns correlated within each run's conversation."""
    rng = np.random.default_rng(seed)
    clusters = np.repeat(np.arange(k), turns)
    level = rng.normal(0.0, 1.0, size=k)[clusters]
    state_b, state_c = rng.normal(0.0, 1.0, size=(2, k))[:, clusters]
    if scale:
        base = np.clip(np.round(6 + 1.5 * level + state_b + rng.normal(0, 1.5, k * turns)), 1, 10)
        cand = np.clip(np.round(6 + 1.5 * level + state_c + rng.normal(0, 1.5, k * turns)), 1, 10)
    else:
        base = (rng.random(k * turns) < 1 / (1 + np.exp(-(level + 1.5 * state_b)))).astype(float)
        cand = (rng.random(k * turns) < 1 / (1 + np.exp(-(level + 1.5 * state_c)))).astype(float)
    return base, cand, clusters


@pytest.mark.parametrize("scale, seeds", [(False, 300), (True, 1000)], ids=["binary-permutation", "1to10-wilcoxon"])
def test_pure_noise_false_positive_rate(scale, seeds):
    """alpha 0.05: at most ~0.08 of pure-noise pairs flagged (the Wilcoxon test, being
    cheap, gets more seeds: its true rate here is ~0.058, 0.085 on the first 200)."""
    flagged = 0
    for seed in range(seeds):
        base, cand, clusters = _noise(seed, scale=scale)
        result = paired_difference(base, cand, clusters, permutation_resamples=999, bootstrap_resamples=100, seed=seed)
        assert result.test == ("wilcoxon" if scale else "permutation")
        flagged += result.p_value < 0.05 and result.diff < 0
    assert flagged / seeds <= 0.08


def test_pure_noise_runs_pass_the_gate(tmp_path):
    rng = np.random.default_rng(7)
    p = rng.uniform(0.3, 0.9, size=40)
    base = write_run(tmp_path / "base", binary_scores(rng, 40, 5, p))
    cand = write_run(tmp_path / "cand", binary_scores(rng, 40, 5, p))
    code, report = gate(base, cand, options())
    assert code == EXIT_OK, report.metrics


def test_one_to_ten_scale_regression_uses_wilcoxon(tmp_path):
    rng = np.random.default_rng(3)
    level = rng.integers(4, 9, size=30)
    base_scores = {"fam/a": {f"c{c}": [float(np.clip(level[c] + rng.integers(-1, 2), 1, 10)) for _ in range(4)] for c in range(30)}}
    cand_scores = {"fam/a": {cid: [max(1.0, v - 1.0 - float(rng.integers(0, 2))) for v in vs] for cid, vs in base_scores["fam/a"].items()}}
    code, report = gate(write_run(tmp_path / "b", base_scores), write_run(tmp_path / "c", cand_scores), options())
    assert code == EXIT_REGRESSION
    assert report.metrics[0].scale == "scale" and report.metrics[0].test == "wilcoxon"


def test_unparsed_scores_are_excluded_pairwise_and_counted(tmp_path):
    rng = np.random.default_rng(1)
    p = np.full(20, 0.7)
    base_scores = binary_scores(rng, 20, 5, p)
    cand_scores = binary_scores(rng, 20, 5, p)
    base_scores["fam/a"]["c000"][0] = None
    base_scores["fam/a"]["c001"][1] = None
    cand_scores["fam/a"]["c001"][1] = None  # both sides: one pair, counted once per side
    cand_scores["fam/a"]["c002"][2] = None
    _, report = gate(write_run(tmp_path / "b", base_scores), write_run(tmp_path / "c", cand_scores), options())
    metric = report.metrics[0]
    assert metric.n_pairs == 97 and metric.excluded == 3
    assert metric.excluded_base == 2 and metric.excluded_candidate == 2


def test_family_means_and_holm(tmp_path):
    rng = np.random.default_rng(5)
    p = rng.uniform(0.4, 0.9, size=30)
    base = {**binary_scores(rng, 30, 4, p, "fam/a"), **binary_scores(rng, 30, 4, p, "fam/b")}
    cand = {**binary_scores(rng, 30, 4, p - 0.3, "fam/a"), **binary_scores(rng, 30, 4, p, "fam/b")}
    code, report = gate(write_run(tmp_path / "b", base), write_run(tmp_path / "c", cand), options())
    names = [m.name for m in report.metrics]
    assert names == ["fam/a exact", "fam/b exact", "fam exact (mean of 2 tasks)"]
    family = report.metrics[2]
    assert family.level == "family" and family.diff == pytest.approx((report.metrics[0].diff + report.metrics[1].diff) / 2)
    assert family.ci[0] <= family.diff <= family.ci[1]
    assert all(m.p_adjusted >= m.p_value for m in report.metrics)
    assert code == EXIT_REGRESSION and report.metrics[0].regression and not report.metrics[1].regression
    assert len(gate(write_run(tmp_path / "b", base), write_run(tmp_path / "c", cand), options(groups=False))[1].metrics) == 2


def _declare(run_dir: Path, scores: dict[str, dict]) -> Path:
    """Give the run's tasks these declared score semantics (task -> {scorer: semantics})."""
    manifest = json.loads((run_dir / MANIFEST).read_text())
    for task, declared in scores.items():
        manifest["tasks"][task]["scores"] = declared
    (run_dir / MANIFEST).write_text(json.dumps(manifest))
    return run_dir


def test_no_family_mean_over_scores_of_different_scales(tmp_path):
    """One scorer name on a 0-1 scale in one task and a 1-10 scale in another: their mean
    (3.3 here) would be a number on no scale, so the family line is left out."""
    rng = np.random.default_rng(3)
    runs = {
        "fam/a": {f"a{c}": [float(rng.random() < 0.7) for _ in range(3)] for c in range(20)},
        "fam/b": {f"b{c}": [float(rng.integers(1, 11)) for _ in range(3)] for c in range(20)},
    }
    declared = {
        "fam/a": {"exact": {"direction": "higher", "scale": {"low": 0, "high": 1, "unit": "accuracy"}, "headline": True}},
        "fam/b": {"exact": {"direction": "higher", "scale": {"low": 1, "high": 10, "unit": "points"}, "headline": True}},
    }
    base = _declare(write_run(tmp_path / "b", runs), declared)
    cand = _declare(write_run(tmp_path / "c", runs), declared)
    _, report = gate(base, cand, options())
    assert [m.name for m in report.metrics] == ["fam/a exact", "fam/b exact"]
    same = {task: declared["fam/a"] for task in declared}  # one scale for both: the family mean is back
    _, report = gate(_declare(base, same), _declare(cand, same), options())
    assert [m.name for m in report.metrics][-1] == "fam exact (mean of 2 tasks)"


def test_holm_matches_hand_computation():
    reject, adjusted = holm([0.01, 0.04, 0.03], 0.05)
    assert adjusted == pytest.approx([0.03, 0.06, 0.06]) and reject == [True, False, False]


# --- refusals --------------------------------------------------------------------------------
def test_mismatched_data_hashes_refuse(tmp_path, capsys):
    rng = np.random.default_rng(0)
    scores = binary_scores(rng, 20, 3, np.full(20, 0.5))
    base = write_run(tmp_path / "b", scores)
    cand = write_run(tmp_path / "c", scores, sha="b" * 64)
    code, report = gate(base, cand, options())
    assert code == EXIT_ERROR and "data differ" in report.error
    assert main(["compare", str(base), str(cand)]) == EXIT_ERROR
    assert "data differ" in capsys.readouterr().err


def test_task_version_mismatch_refuses(tmp_path):
    rng = np.random.default_rng(0)
    scores = binary_scores(rng, 20, 3, np.full(20, 0.5))
    code, report = gate(write_run(tmp_path / "b", scores), write_run(tmp_path / "c", scores, version="2"), options())
    assert code == EXIT_ERROR and "version 1 in the base run but 2 in the candidate" in report.error


def test_too_small_overlap_refuses(tmp_path, capsys):
    rng = np.random.default_rng(0)
    base_scores = binary_scores(rng, 20, 3, np.full(20, 0.5))
    cand_scores = {"fam/a": {cid: v for cid, v in list(base_scores["fam/a"].items())[:6]}}
    base, cand = write_run(tmp_path / "b", base_scores), write_run(tmp_path / "c", cand_scores)
    code, report = gate(base, cand, options())
    assert code == EXIT_ERROR and "only 6 conversations" in report.error and "--min-pairs 10" in report.error
    assert main(["compare", str(base), str(cand), "--min-pairs", "5"]) == EXIT_OK
    capsys.readouterr()


def test_mostly_unparsed_metric_refuses(tmp_path):
    rng = np.random.default_rng(0)
    base_scores = binary_scores(rng, 20, 2, np.full(20, 0.5))
    cand_scores = {"fam/a": {cid: [None, None] if i >= 5 else v for i, (cid, v) in enumerate(base_scores["fam/a"].items())}}
    code, report = gate(write_run(tmp_path / "b", base_scores), write_run(tmp_path / "c", cand_scores), options())
    # too few valid pairs to compare the metric, but 75% unparsed verdicts is itself a failure
    assert code == EXIT_REGRESSION and any("valid score in both runs" in n for n in report.notes)
    assert any("unparsed-verdict rate rose from 0.0% to 75.0%" in f for f in report.failures)


def test_mostly_unparsed_metric_within_tolerance_refuses(tmp_path):
    rng = np.random.default_rng(0)
    base_scores = binary_scores(rng, 20, 2, np.full(20, 0.5))
    cand_scores = {"fam/a": {cid: [None, None] if i >= 5 else v for i, (cid, v) in enumerate(base_scores["fam/a"].items())}}
    code, report = gate(write_run(tmp_path / "b", base_scores), write_run(tmp_path / "c", cand_scores), options(max_error_rate_increase=1.0))
    assert code == EXIT_ERROR and "valid score in both runs" in report.error


def test_missing_run_directory_refuses(tmp_path, capsys):
    code, report = gate(tmp_path / "nope", tmp_path / "nope2")
    assert code == EXIT_ERROR and "not a run directory" in report.error
    assert main(["compare", str(tmp_path / "nope"), str(tmp_path / "nope2"), "--format", "json"]) == EXIT_ERROR
    assert json.loads(capsys.readouterr().out)["exit_code"] == EXIT_ERROR


def test_a_task_missing_from_the_candidate_fails_unless_left_out(tmp_path, capsys):
    """The base's tasks are what the gate vouches for: a candidate without results for one of
    them fails (exit 1) instead of passing on the others with a note; --tasks leaves it out."""
    rng = np.random.default_rng(0)
    p = np.full(20, 0.5)
    base = {**binary_scores(rng, 20, 2, p, "fam/a"), **binary_scores(rng, 20, 2, p, "other/x")}
    base_dir, cand_dir = write_run(tmp_path / "b", base), write_run(tmp_path / "c", {"fam/a": base["fam/a"]})
    code, report = gate(base_dir, cand_dir, options())
    assert code == EXIT_REGRESSION and [m.task for m in report.metrics] == ["fam/a"]
    assert report.failures == ["the candidate has no results for other/x, which the base run has (pass --tasks to gate on the other tasks only)"]
    assert main(["compare", str(base_dir), str(cand_dir)]) == EXIT_REGRESSION
    assert "FAIL: the candidate has no results for other/x" in capsys.readouterr().out
    assert gate(base_dir, cand_dir, options(tasks=["fam/a"]))[0] == EXIT_OK
    code, report = gate(cand_dir, base_dir, options())  # a task only the candidate has is new: noted, not failed
    assert code == EXIT_OK and "not compared, missing from the base run: other/x" in report.notes


def _set_manifest(run_dir: Path, **fields) -> Path:
    manifest = json.loads((run_dir / MANIFEST).read_text())
    write_json_atomic(run_dir / MANIFEST, {**manifest, **fields})
    return run_dir


def _keep_conversations(run_dir: Path, n: int) -> Path:
    """Keep the first `n` sample lines, as a run stopped after `n` conversations leaves them."""
    lines = (run_dir / SAMPLES).read_text().splitlines(keepends=True)
    (run_dir / SAMPLES).write_text("".join(lines[:n]))
    return run_dir


def test_an_unfinished_candidate_fails(tmp_path, capsys):
    """An interrupted (or still running) candidate has no samples for the conversations it
    never finished, so no error rate counts them: the gate fails it instead of passing the half it did."""
    rng = np.random.default_rng(0)
    scores = binary_scores(rng, 40, 3, np.full(40, 0.5))
    base = write_run(tmp_path / "b", scores)
    for status in ("interrupted", "running"):
        cand = _keep_conversations(write_run(tmp_path / status, scores), 20)
        _set_manifest(cand, status=status, tasks={"fam/a": {**json.loads((cand / MANIFEST).read_text())["tasks"]["fam/a"], "conversations": 40}})
        code, report = gate(base, cand, options())
        assert code == EXIT_REGRESSION and report.regression
        assert report.failures[0].startswith(f"the candidate run is {status}: 20 of 40 conversations finished")
        assert main(["compare", str(base), str(cand), "--format", "json"]) == EXIT_REGRESSION
        assert json.loads(capsys.readouterr().out)["failures"] == report.failures
        assert main(["compare", str(base), str(cand)]) == EXIT_REGRESSION
        table = capsys.readouterr().out
        assert "FAIL" in table and "REGRESSION" not in table  # no metric dropped: the headline says what failed


def test_an_unfinished_base_refuses(tmp_path):
    rng = np.random.default_rng(0)
    scores = binary_scores(rng, 40, 3, np.full(40, 0.5))
    base = _set_manifest(_keep_conversations(write_run(tmp_path / "b", scores), 20), status="interrupted")
    code, report = gate(base, write_run(tmp_path / "c", scores), options())
    assert code == EXIT_ERROR and "the base run is interrupted" in report.error


def test_gold_history_against_own_refuses(tmp_path):
    """Gold history feeds every turn the benchmark's replies: against an own-history base it
    measures the history mode, and usually scores higher, hiding a regression."""
    rng = np.random.default_rng(0)
    p = np.full(20, 0.5)
    base = write_run(tmp_path / "b", binary_scores(rng, 20, 3, p))
    cand = _set_manifest(write_run(tmp_path / "c", binary_scores(rng, 20, 3, p)), history="gold")
    code, report = gate(base, cand, options())
    assert code == EXIT_ERROR and "history is own and the candidate's gold" in report.error


# --- output formats --------------------------------------------------------------------------
def parse_markdown_table(text: str) -> tuple[list[str], list[list[str]]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header, separator, *rows = [[c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]] for line in lines]
    assert all(re.fullmatch(r":?-{3,}:?", cell) for cell in separator) and len(separator) == len(header)
    assert all(len(row) == len(header) for row in rows)
    return header, rows


def test_markdown_renders_as_a_table(tmp_path, capsys):
    rng = np.random.default_rng(5)
    p = rng.uniform(0.4, 0.9, size=30)
    base = write_run(tmp_path / "b", {**binary_scores(rng, 30, 4, p, "fam/a"), **binary_scores(rng, 30, 4, p, "fam/b")})
    cand = write_run(tmp_path / "c", {**binary_scores(rng, 30, 4, p - 0.3, "fam/a"), **binary_scores(rng, 30, 4, p, "fam/b")})
    code = main(["compare", str(base), str(cand), "--format", "markdown"])
    text = capsys.readouterr().out
    assert code == EXIT_REGRESSION
    assert text.startswith(MARKER) and "REGRESSION" in text
    header, rows = parse_markdown_table(text)
    assert header[0] == "metric" and "p Holm" in header and header[-1] == "verdict"
    assert [row[0] for row in rows] == ["fam/a exact", "fam/b exact", "fam exact (mean of 2 tasks)"]
    assert rows[0][-1] == "**regression**"
    out = tmp_path / "comment.md"
    assert main(["compare", str(base), str(cand), "--format", "markdown", "--output", str(out)]) == EXIT_REGRESSION
    assert "REGRESSION" in capsys.readouterr().out  # the terminal still gets the table
    assert parse_markdown_table(out.read_text())[1] == rows


def test_json_and_table_formats(tmp_path, capsys):
    base, cand = pair_of_runs(tmp_path, drop=0.25)
    assert main(["compare", str(base), str(cand), "--format", "json"]) == EXIT_REGRESSION
    data = json.loads(capsys.readouterr().out)
    assert data["regression"] is True and data["exit_code"] == 1 and data["metrics"][0]["regression"] is True
    assert data["tasks"][0]["paired_turns"] == 200
    assert main(["compare", str(base), str(cand)]) == EXIT_REGRESSION
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "fam/a exact" in out and "regression" in out


def test_error_renders_in_markdown(tmp_path):
    code, report = gate(tmp_path / "x", tmp_path / "y")
    text = markdown(report)
    assert text.startswith(MARKER) and "cannot compare" in text and code == EXIT_ERROR
    assert json.loads(render(report, "json"))["error"]


# --- judges ----------------------------------------------------------------------------------
def _judged(rng: np.random.Generator, k: int = 25, turns: int = 4) -> Scores:
    return {"fam/a": {f"c{c}": [float(rng.integers(1, 11)) for _ in range(turns)] for c in range(k)}}


def test_judges_agreement_of_a_rejudged_copy(tmp_path):
    rng = np.random.default_rng(2)
    first = _judged(rng)
    close = {"fam/a": {cid: [float(np.clip(v + rng.integers(-1, 2), 1, 10)) for v in vs] for cid, vs in first["fam/a"].items()}}
    noise = _judged(rng)
    base = write_run(tmp_path / "b", first, scorer="score")
    code, report = gate(base, write_run(tmp_path / "close", close, scorer="score"), options(judges=True))
    assert code == EXIT_OK, report.error
    (agreement,) = report.agreements
    assert agreement.n_pairs == 100 and agreement.alpha > 0.8 and agreement.pearson > 0.8 and agreement.spearman > 0.8
    assert 0 < agreement.exact < 1 and 0 < agreement.mean_abs_diff < 1 and agreement.kappa > 0.8
    code, report = gate(base, write_run(tmp_path / "noise", noise, scorer="score"), options(judges=True))
    assert code == EXIT_REGRESSION and report.agreements[0].below and report.agreements[0].alpha < 0.3


def test_judges_refuse_when_the_answers_differ(tmp_path, capsys):
    rng = np.random.default_rng(2)
    scores = _judged(rng)
    base = write_run(tmp_path / "b", scores, scorer="score")
    cand = write_run(tmp_path / "c", scores, scorer="score", replies={("fam/a", "c3", 1): "something else"})
    code, report = gate(base, cand, options(judges=True))
    assert code == EXIT_ERROR and "the answers differ, not the judge" in report.error and "c3" in report.error
    assert main(["compare", "--judges", str(base), str(cand)]) == EXIT_ERROR
    assert "the answers differ" in capsys.readouterr().err


def test_judges_two_scorers_in_one_run(tmp_path, capsys):
    rng = np.random.default_rng(4)
    a = {"fam/a": {f"c{c}": [float(rng.random() < 0.5) for _ in range(4)] for c in range(20)}}
    same = {"fam/a": {cid: list(v) for cid, v in a["fam/a"].items()}}
    same["fam/a"]["c0"][0] = 1.0 - same["fam/a"]["c0"][0]
    run = write_run(tmp_path / "r", a, scorer="judge_a", extra_scorers={"judge_b": same})
    code = main(["compare", "--judges", str(run), "--base-scorer", "judge_a", "--candidate-scorer", "judge_b", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK
    (agreement,) = data["agreements"]
    assert agreement["scale"] == "binary" and agreement["exact"] == pytest.approx(79 / 80) and agreement["alpha"] > 0.9
    assert main(["compare", "--judges", str(run), "--base-scorer", "judge_a", "--candidate-scorer", "judge_b", "--min-agreement", "0.999"]) == EXIT_REGRESSION
    assert main(["compare", "--judges", str(run)]) == EXIT_ERROR  # one run needs two scorers named
    capsys.readouterr()


def test_agreement_stats_edge_cases():
    perfect = agreement_stats([3, 3, 3], [3, 3, 3])
    assert perfect["exact"] == 1.0 and perfect["alpha"] is None and perfect["pearson"] is None
    stats = agreement_stats([1, 2, 3, 4], [1, 2, 3, 5])
    assert stats["exact"] == 0.75 and stats["pearson"] > 0.9 and stats["mean_diff"] == 0.25


# --- end to end on the example task ----------------------------------------------------------
def _example_run(tmp_path: Path, memory: int) -> str:
    args = ["run", "--tasks", "example", "--model", "scripted/calculator", "--model-args", f"memory={memory}"]
    args += ["--output-dir", str(tmp_path / "out"), "--run-id", f"memory{memory}", "--no-cache", "--no-progress", "--json"]
    assert main(args) == 0
    return str(tmp_path / "out" / f"memory{memory}")


def test_end_to_end_example_task(tmp_path, capsys):
    good, worse = _example_run(tmp_path, 3), _example_run(tmp_path, 2)
    capsys.readouterr()
    assert main(["compare", good, worse]) == EXIT_REGRESSION
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "example/arithmetic exact" in out
    assert main(["compare", worse, good]) == EXIT_OK
    assert "no regression" in capsys.readouterr().out
    report = compare_runs(good, worse)
    assert report.metrics[0].diff == pytest.approx(-0.2) and report.tasks[0].paired_conversations == 40


def test_run_baseline_wiring(tmp_path, capsys):
    """What `mteval run --baseline` adds: add_gate_arguments on its parser, run_gate after the run."""
    import argparse

    from mteval.commands.compare import add_gate_arguments, run_gate

    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    add_gate_arguments(parser)
    base, cand = pair_of_runs(tmp_path, drop=0.25)
    comment = tmp_path / "comment.md"
    args = parser.parse_args(["--baseline", str(base), "--compare-format", "markdown", "--compare-output", str(comment)])
    assert run_gate(args, cand) == EXIT_REGRESSION
    assert "REGRESSION" in capsys.readouterr().out and parse_markdown_table(comment.read_text())[1][0][0] == "fam/a exact"
    args = parser.parse_args(["--baseline", str(base), "--max-drop", "0.5", "--json"])
    assert run_gate(args, cand) == EXIT_OK
    captured = capsys.readouterr()
    assert captured.out == "" and "no regression" in captured.err  # --json keeps stdout for the manifest
    assert run_gate(parser.parse_args(["--baseline", str(tmp_path / "missing")]), cand) == EXIT_ERROR
    assert "not a run directory" in capsys.readouterr().err


def test_help_defaults_are_the_options_defaults():
    from mteval.commands.compare import HELP_DEFAULTS

    defaults = CompareOptions()
    assert HELP_DEFAULTS == {name: getattr(defaults, name) for name in HELP_DEFAULTS}


def test_different_task_options_refuse_and_generation_settings_are_noted(tmp_path):
    """Same data and task version scored by another rule (mt_eval cls_match=word vs substring
    moved the mean by itself) were compared as if equal; different generation settings
    passed without a word."""
    rng = np.random.default_rng(0)
    scores = binary_scores(rng, 20, 3, np.full(20, 0.5))
    base = _set_manifest(write_run(tmp_path / "b", scores), task_options={"cls_match": "word"})
    cand = _set_manifest(write_run(tmp_path / "c", scores), task_options={"cls_match": "substring"})
    code, report = gate(base, cand, options())
    assert code == EXIT_ERROR and "different task options (cls_match word (base) vs substring (candidate))" in report.error
    cand = _set_manifest(cand, task_options={"cls_match": "word"}, generation={"defaults": {}, "explicit": {"temperature": 0.7}})
    code, report = gate(base, cand, options())
    assert code == EXIT_OK
    assert "generation settings differ: temperature task default (base) vs 0.7 (candidate); " \
        "a difference may come from the settings, not the model" in report.notes


def test_unparsed_verdicts_of_one_task_are_not_diluted_by_the_others(tmp_path):
    """A third of one task's judge verdicts unparsed passed the gate (exit 0) when a larger
    rule-scored task kept the run-wide unparsed rate under --max-error-rate-increase; the
    dropped pairs are exactly the replies the judge could not score."""
    rng = np.random.default_rng(1)
    big = {f"a{c:03d}": [float(rng.random() < 0.7) for _ in range(5)] for c in range(600)}
    judged = {f"b{c:03d}": [float(rng.integers(6, 9)) for _ in range(3)] for c in range(40)}
    unparsed = {cid: [None if (i + c) % 3 == 0 else v for i, v in enumerate(vs)] for c, (cid, vs) in enumerate(judged.items())}
    base = write_run(tmp_path / "b", {"fam/a": big, "fam/b": judged})
    cand = write_run(tmp_path / "c", {"fam/a": big, "fam/b": unparsed})
    code, report = gate(base, cand, options())
    assert report.health["candidate"].unparsed_rate < 0.02
    assert code == EXIT_REGRESSION
    assert report.failures == ["fam/b exact: unparsed-verdict rate rose from 0.0% to 33.3% (more than --max-error-rate-increase 0.02)"]


def _calculator_failing_one_conversation(messages, params, context, args) -> str:
    """The calculator, except that every call of conversation `fail` of MT-Eval errors."""
    from mteval.errors import ServerError
    from mteval_tasks.example import calculator

    if context.task == "mt_eval/recollection_cls" and context.conversation_id == str(args["fail"]):
        raise ServerError("scripted outage", status=500)
    return calculator(messages, params, context, {})


def test_errored_conversations_of_one_task_are_not_diluted_by_the_others(tmp_path):
    """Real runs: 1 of the 10 MT-Eval conversations errored is 1 of 50 run-wide (2.0%, within
    the tolerance), so the gate passed with that conversation silently unpaired."""
    from mteval.models.scripted import register_script

    samples = _run_example_and_mt_eval(tmp_path / "base", "scripted/calculator")
    first = next(s["conversation"]["id"] for s in map(json.loads, samples.read_text().splitlines()) if s["task"] == "mt_eval/recollection_cls")
    register_script("compare_fails_one", _calculator_failing_one_conversation, args={"fail"})
    _run_example_and_mt_eval(tmp_path / "cand", "scripted/compare_fails_one", "--model-args", f"fail={first}")
    code, report = gate(samples.parent, tmp_path / "cand", options(min_pairs=5))
    assert report.health["candidate"].errored_rate == pytest.approx(0.02)
    assert code == EXIT_REGRESSION
    assert report.failures == [
        "mt_eval/recollection_cls: errored-conversation rate rose from 0.0% to 10.0% (more than --max-error-rate-increase 0.02)"
    ]


def _run_example_and_mt_eval(out: Path, model: str, *extra: str) -> Path:
    code = main(["run", "--tasks", "example/arithmetic,mt_eval/recollection_cls", "--model", model, *extra, "--no-progress", "--no-cache",
                 "--max-attempts", "1", "--allow-errors", "--run-id", out.name, "--output-dir", str(out.parent)])
    assert code == 0
    return out / SAMPLES
