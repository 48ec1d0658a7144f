"""The results contract (issue 12): typed, versioned manifests with metric semantics,
read the same way by `show`, `compare`, the gate and the leaderboard.

Each test fails on the release before the contract: a latency that rose passed the gate,
an all-errored candidate passed it, `mteval run` exited 0 with every call failed, the
family cell was the first group metric, the overall averaged 0-1 rates with 1-10 judge
scores, the site never showed recorded cost, the cache ignored OPENAI_BASE_URL, and
compare printed no per-run intervals to check against `show` and the site.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mteval.cli import EXIT_RUN_ERRORS, main
from mteval.client import endpoint_of
from mteval.compare import EXIT_OK, EXIT_REGRESSION, CompareOptions, gate
from mteval.conversation import Conversation, Turn
from mteval.leaderboard import build_site
from mteval.leaderboard.data import collect
from mteval.manifest import SCHEMA, SCHEMA_V1, higher
from mteval.models import create_model
from mteval.models.scripted import register_script
from mteval.registry import register_task
from mteval.results import MANIFEST, SAMPLES, load_manifest, read_manifest
from mteval.runner import RunConfig, Runner
from mteval.scoring.judge_scorer import JudgeScorer
from mteval.task import Task
from mteval.transcript import Sample, TurnRecord
from tests.servers import FakeLLMServer
from tests.test_compare import FAST, binary_scores, write_run

FIXTURES = Path(__file__).parent / "fixtures"


def options(**kw: Any) -> CompareOptions:
    return CompareOptions(**{**FAST, **kw})


def as_v1(run_dir: Path) -> Path:
    """Rewrite a run's manifest as the previous release wrote it (schema run/1, no semantics)."""
    manifest = json.loads((run_dir / MANIFEST).read_text())
    manifest["schema"] = SCHEMA_V1
    for info in manifest.get("tasks", {}).values():
        info.pop("scores", None)
        info.pop("headline", None)
    (run_dir / MANIFEST).write_text(json.dumps(manifest))
    return run_dir


def v1_run(run_dir: Path, model: str, metrics: dict[str, dict[str, float]], groups: dict[str, dict[str, float]] | None = None, totals: dict | None = None) -> Path:
    """A manifest-only run directory in the previous release's schema."""
    run_dir.mkdir(parents=True)
    tasks = {t: {"version": "1", "family": t.split("/")[0], "data": {"source": "s", "sha256": "a" * 64, "files": []}} for t in metrics}
    manifest = {
        "schema": SCHEMA_V1, "run_id": run_dir.name, "status": "complete", "model": {"id": model, "provider": model.split("/")[0], "args": {}},
        "history": "own", "tasks": tasks, "totals": totals or {},
        "metrics": {t: {m: {"value": v, "ci": [v - 0.1, v + 0.1], "n": 10} for m, v in ms.items()} for t, ms in metrics.items()},
        "groups": {f: {m: {"value": v, "ci": [v - 0.1, v + 0.1], "n": 10} for m, v in ms.items()} for f, ms in (groups or {}).items()},
    }
    (run_dir / MANIFEST).write_text(json.dumps(manifest))
    (run_dir / SAMPLES).write_text("")
    return run_dir


# --- migration ---------------------------------------------------------------------------------
def test_old_manifests_migrate():
    """A manifest the previous release wrote (committed RAD-Bench import) loads, typed,
    with the semantics its tasks declare today."""
    old = FIXTURES / "manifest_v1" / "imported-rad-bench-gpt-4o"
    assert json.loads((old / MANIFEST).read_text())["schema"] == SCHEMA_V1
    manifest = load_manifest(old)
    assert manifest.schema_ == SCHEMA and manifest.model.endpoint is None
    name, score = manifest.headline("rad_bench/reasoning")
    assert name == "score" and score.value == pytest.approx(8.6)
    assert score.semantics.direction == "higher" and (score.semantics.scale.low, score.semantics.scale.high) == (1, 10)
    assert manifest.group_headline("rad_bench")[0] == "average"
    assert manifest.tasks["rad_bench/reasoning"].scores["score"].direction == "higher"
    assert read_manifest(old)["metrics"]["rad_bench/reasoning"]["score/finance"]["semantics"]["headline"] is False


# --- the gate ----------------------------------------------------------------------------------
@pytest.mark.parametrize("slower", [True, False])
def test_latency_regression_detected(tmp_path, slower):
    """Latency is lower-is-better (declared by full_duplex/smooth_turn_taking): rising
    by 0.3 s is a regression, falling is an improvement."""
    rng = np.random.default_rng(1)
    base_values = {f"c{c:02d}": [float(x) for x in rng.uniform(0.4, 0.8, size=2)] for c in range(30)}
    shift = 0.3 if slower else -0.3
    cand_values = {k: [v + shift + float(rng.normal(0, 0.02)) for v in vs] for k, vs in base_values.items()}
    task = "full_duplex/smooth_turn_taking"
    base = as_v1(write_run(tmp_path / "base", {task: base_values}, scorer="latency"))
    cand = as_v1(write_run(tmp_path / "cand", {task: cand_values}, scorer="latency"))
    code, report = gate(base, cand, options())
    (metric,) = [m for m in report.metrics if m.scorer == "latency"]
    assert metric.direction == "lower"
    assert metric.diff == pytest.approx(shift, abs=0.02)  # reported in seconds, candidate - base
    if slower:
        assert code == EXIT_REGRESSION and metric.regression and metric.verdict == "regression"
    else:
        assert code == EXIT_OK and not metric.regression and metric.verdict == "better"


def test_takeover_rate_rising_in_pause_handling_regresses(tmp_path):
    rng = np.random.default_rng(2)
    task = "full_duplex/pause_handling"
    p = rng.uniform(0.1, 0.3, size=40)
    base = as_v1(write_run(tmp_path / "base", binary_scores(rng, 40, 3, p, task=task), scorer="takeover"))
    cand = as_v1(write_run(tmp_path / "cand", binary_scores(rng, 40, 3, np.clip(p + 0.4, 0, 1), task=task), scorer="takeover"))
    code, report = gate(base, cand, options())
    assert code == EXIT_REGRESSION and report.metrics[0].direction == "lower" and report.metrics[0].diff > 0.3


def errored_run(run_dir: Path, task: str, conversations: int, turns: int) -> Path:
    """A run where every call failed: every conversation errored at its first turn."""
    write_run(run_dir, {task: {f"c{c:03d}": [1.0] * turns for c in range(conversations)}})
    with (run_dir / SAMPLES).open("w", encoding="utf-8") as handle:
        for c in range(conversations):
            conv = Conversation(id=f"c{c:03d}", turns=tuple(Turn(id=f"t{i}", user=f"question {i}") for i in range(turns)))
            record = TurnRecord(index=0, turn_id="t0", reply=None, error="ServerError: HTTP 500")
            sample = Sample(task=task, conversation=conv, history="own", turns=[record], status="error", error="turn 't0': ServerError: HTTP 500")
            handle.write(sample.model_dump_json(by_alias=True) + "\n")
    return run_dir


def test_all_errored_candidate_fails_the_gate(tmp_path):
    rng = np.random.default_rng(0)
    base = write_run(tmp_path / "base", binary_scores(rng, 40, 3, np.full(40, 0.7)))
    cand = errored_run(tmp_path / "cand", "fam/a", 40, 3)
    code, report = gate(base, cand, options())
    assert code == EXIT_REGRESSION and report.regression and report.error is None
    assert any("no scored turns (40 of 40 conversations errored)" in f for f in report.failures)
    assert any("errored-conversation rate rose from 0.0% to 100.0%" in f for f in report.failures)
    assert report.health["candidate"].errored_rate == 1.0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_run_exit_code_and_baseline_gate_when_every_call_fails(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "--tasks", "example/arithmetic", "--model", "replay/gold", "--limit", "12", "--output-dir", str(out),
                 "--run-id", "base", "--no-progress", "--no-cache"]) == 0
    dead = f"base_url=http://127.0.0.1:{_closed_port()}/v1,api_key=sk-test"
    common = ["run", "--tasks", "example/arithmetic", "--model", "openai/nowhere", "--model-args", dead, "--limit", "12",
              "--output-dir", str(out), "--max-attempts", "1", "--timeout", "5", "--no-progress", "--no-cache"]
    capsys.readouterr()
    assert main([*common, "--run-id", "dead"]) == EXIT_RUN_ERRORS
    captured = capsys.readouterr()
    assert "12 conversation(s) errored" in captured.err
    assert re.search(r"error: example/arithmetic arith-\d+: .*(Connection|connect)", captured.out, re.IGNORECASE)
    assert main([*common, "--run-id", "dead", "--allow-errors"]) == 0
    capsys.readouterr()
    assert main([*common, "--run-id", "dead", "--baseline", str(out / "base")]) == EXIT_REGRESSION
    assert "no scored turns" in capsys.readouterr().out


# --- judge verdicts ----------------------------------------------------------------------------
@register_task
class GarbledJudged(Task):
    name = "contracttest/judged"
    semantics = {"rubric": higher(1, 10, "judge points")}

    def load(self) -> list[Conversation]:
        return [Conversation(id=f"j{i}", turns=(Turn(id="t1", user=f"Question {i}?"),)) for i in range(4)]

    def scorers(self):
        return [JudgeScorer("rubric", "rubric")]


register_script("contracttest_garbled", lambda messages, params, context, args: "I would rather not say.")


def test_mostly_unparsed_verdicts_warn_naming_the_judge(tmp_path, capsys):
    code = main(["run", "--tasks", "contracttest/judged", "--model", "scripted/constant", "--judge", "scripted/contracttest_garbled",
                 "--output-dir", str(tmp_path), "--no-progress", "--no-cache"])
    assert code == 0  # verdicts, not conversations, failed
    out = capsys.readouterr().out
    assert "warning: 4 of 4 verdicts of scorer 'rubric' (judge scripted/contracttest_garbled) are unparsed" in out
    assert "I would rather not say." in out


# --- cache key and endpoint --------------------------------------------------------------------
def test_cache_miss_after_an_endpoint_change(tmp_path, monkeypatch):
    """Same command, OPENAI_BASE_URL pointing elsewhere: the second server is asked,
    not served the first one's replies; each manifest records its endpoint."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    with FakeLLMServer() as first, FakeLLMServer() as second:
        outcomes = []
        for server in (first, second):
            monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
            config = RunConfig(tasks="example/arithmetic", model="openai/calc", limit=2, output_dir=tmp_path / server.openai_base_url.split(":")[-1].split("/")[0],
                               cache_dir=tmp_path / "cache", progress=False)
            outcomes.append(Runner(config).run())
        assert first.count > 0 and second.count == first.count
        assert outcomes[1].manifest["totals"]["calls"]["model"]["cache_hits"] == 0
        assert [o.manifest["model"]["endpoint"] for o in outcomes] == [first.openai_base_url.rstrip("/"), second.openai_base_url.rstrip("/")]
        # the same endpoint again: all from the cache
        config = RunConfig(tasks="example/arithmetic", model="openai/calc", limit=2, output_dir=tmp_path / "again", cache_dir=tmp_path / "cache", progress=False)
        again = Runner(config).run()
        assert again.manifest["totals"]["calls"]["model"]["requests"] == 0 and second.count == first.count


def test_recorded_endpoint_has_no_credentials(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "https://user:hunter2@llm.example.internal:8443/v1/?key=hunter3")
    adapter = create_model("openai/x", {"api_key": "sk-x"})
    assert endpoint_of(adapter) == "https://llm.example.internal:8443/v1"
    assert endpoint_of(create_model("openai/x", {"base_url": "http://127.0.0.1:9/v1/"})) == "http://127.0.0.1:9/v1"


# --- leaderboard -------------------------------------------------------------------------------
MT_EVAL_TASKS = ("mt_eval/recollection_cls", "mt_eval/recollection_global_inst", "mt_eval/expansion", "mt_eval/refinement", "mt_eval/follow_up")


def test_family_cell_equals_the_family_headline(tmp_path):
    results = tmp_path / "results"
    metrics = {t: {"cls_match" if "cls" in t else "instruction" if "inst" in t else "judge": 5.0} for t in MT_EVAL_TASKS}
    groups = {"mt_eval": {"Recollection": 2.895, "Expansion": 7.0, "Refinement": 6.0, "Follow-up": 8.0, "overall": 5.974}}
    v1_run(results / "mt", "openai/m", metrics, groups)
    board = collect(results)
    (row,) = board.rows
    cell = row.cells["family:mt_eval"]
    assert cell.metric == "overall" and cell.value == pytest.approx(5.974)
    assert cell.semantics.headline and cell.semantics.scale.high == 10


def test_overall_never_mixes_scales_or_directions(tmp_path):
    results = tmp_path / "results"
    # full-duplex TOR: lower is better for pause handling, higher for smooth turn-taking
    v1_run(results / "fd", "openai/a", {"full_duplex/pause_handling": {"tor": 0.2}, "full_duplex/smooth_turn_taking": {"tor": 0.9, "latency": 0.4}})
    # a 1-10 judge family and a 0-1 rate family
    v1_run(results / "rb", "openai/b", {"rad_bench/reasoning": {"score": 8.0}, "rad_bench/synthesis": {"score": 7.0}}, {"rad_bench": {"average": 7.5}})
    v1_run(results / "mti", "openai/b", {f"multiturn_instruct/{c}": {"score": 0.5} for c in ("memorization", "triggering")},
           {"multiturn_instruct": {"level/memory": 0.5, "mteval_own/mean_of_9_categories": 0.6}})
    board = collect(results)
    rows = {r.model.id: r for r in board.rows}
    fd = rows["openai/a"].cells
    assert "family:full_duplex" not in fd  # a TOR where lower wins is never averaged with one where higher wins
    assert "overall" not in fd and "overall" not in rows["openai/b"].cells  # no row covers every family on the board
    b = rows["openai/b"].cells
    assert b["family:rad_bench"].value == pytest.approx(7.5) and b["family:multiturn_instruct"].value == pytest.approx(0.6)
    columns = {c.key: c for c in board.columns}
    assert columns["task:full_duplex/pause_handling"].direction == "lower" and columns["task:full_duplex/pause_handling"].label.endswith("↓")

    # the same two families on one row: overall is the mean of range-normalised headlines, not of raw numbers
    only = tmp_path / "only"
    v1_run(only / "rb", "openai/b", {"rad_bench/reasoning": {"score": 8.0}, "rad_bench/synthesis": {"score": 7.0}}, {"rad_bench": {"average": 7.5}})
    v1_run(only / "mti", "openai/b", {f"multiturn_instruct/{c}": {"score": 0.5} for c in ("memorization", "triggering")},
           {"multiturn_instruct": {"mteval_own/mean_of_9_categories": 0.6}})
    (row,) = collect(only).rows
    assert row.cells["overall"].value == pytest.approx(((7.5 - 1) / 9 + 0.6) / 2)


def test_recorded_cost_appears_on_the_model_page(tmp_path):
    results = tmp_path / "results"
    calls = {"model": {"requests": 3, "cache_hits": 0, "retries": 0, "errors": 0, "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.1234},
             "judges": {"openai/j": {"requests": 3, "input_tokens": 1, "output_tokens": 1, "cost_usd": 0.01}}, "jury": None}
    v1_run(results / "r", "openai/priced", {"rad_bench/reasoning": {"score": 8.0}}, totals={"calls": calls})
    site = tmp_path / "site"
    build_site(results, site)
    page = next(site.glob("models/*/index.html")).read_text()
    assert "0.1334" in page


# --- one statistics module ---------------------------------------------------------------------
def test_identical_intervals_in_show_site_and_compare(tmp_path, capsys):
    results = tmp_path / "results"
    dirs = []
    for memory in (2, 3):
        config = RunConfig(tasks="example/arithmetic", model="scripted/calculator", model_args={"memory": memory}, limit=12,
                           output_dir=results, run_id=f"mem{memory}", progress=False, use_cache=False)
        dirs.append(Runner(config).run().run_dir)
    manifest_ci = tuple(read_manifest(dirs[1])["metrics"]["example/arithmetic"]["exact"]["ci"])
    assert manifest_ci[0] < manifest_ci[1]

    assert main(["show", str(dirs[1])]) == 0
    assert f"[{manifest_ci[0]:.3f}, {manifest_ci[1]:.3f}]" in capsys.readouterr().out

    build_site(results, tmp_path / "site")
    overview = json.loads((tmp_path / "site" / "overview.json").read_text())
    cand_row = next(r for r in overview["rows"] if r["model_args"] == {"memory": "3"})
    assert tuple(cand_row["cells"]["task:example/arithmetic"]["ci"]) == manifest_ci

    _, report = gate(dirs[0], dirs[1], options(min_pairs=5))
    (metric,) = [m for m in report.metrics if m.level == "task"]
    assert metric.candidate_ci == manifest_ci
    assert metric.base_ci == tuple(read_manifest(dirs[0])["metrics"]["example/arithmetic"]["exact"]["ci"])


# --- streaming summaries -----------------------------------------------------------------------
def test_reading_samples_streams_with_flat_memory(tmp_path):
    """The manifest summary streams samples.jsonl: reading a run holds one sample at a
    time, not the whole file (10 MB of samples here, < 2 MB peak)."""
    import tracemalloc

    from mteval.results import iter_sample_dicts

    run_dir = write_run(tmp_path / "big", {"fam/a": {f"c{c:03d}": [1.0] for c in range(200)}})
    filler = "x" * 50_000
    lines = (run_dir / SAMPLES).read_text().splitlines()
    (run_dir / SAMPLES).write_text("".join(line.replace('"reply c', f'"{filler} c') + "\n" for line in lines))
    assert (run_dir / SAMPLES).stat().st_size > 10_000_000
    tracemalloc.start()
    count = sum(1 for _ in iter_sample_dicts(run_dir))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 200 and peak < 2_000_000


def test_invalid_manifest_is_a_clear_user_error(tmp_path, capsys):
    run_dir = v1_run(tmp_path / "bad", "openai/m", {"rad_bench/reasoning": {"score": 8.0}})
    manifest = json.loads((run_dir / MANIFEST).read_text())
    manifest["totals"] = {"conversations": "many"}
    (run_dir / MANIFEST).write_text(json.dumps(manifest))
    assert main(["show", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "run.json: field 'totals.conversations'" in err and "Traceback" not in err
    manifest["schema"] = "mteval.run/9"
    (run_dir / MANIFEST).write_text(json.dumps(manifest))
    assert main(["show", str(run_dir)]) == 2
    assert "field 'schema' is 'mteval.run/9'" in capsys.readouterr().err
