"""Which run a leaderboard row shows when a model has several of one task: a later smoke run
over the first few conversations (`--limit`, `--ids`) must not replace the model's result on
the whole data, which it did (the newest complete run won, whatever it covered)."""

from __future__ import annotations

import json

import pytest

from mteval.cli import main


def run(out, *extra: str) -> None:
    assert main(["run", "--tasks", "example", "--model", "scripted/calculator", "--model-args", "memory=3",
                 "--no-progress", "--output-dir", str(out), *extra]) == 0


@pytest.mark.parametrize("subset", [["--limit", "5"], ["--ids", "arith-01,arith-02"]])
def test_a_later_subset_run_does_not_replace_the_whole_run(tmp_path, capsys, subset):
    run(tmp_path / "results")
    (whole,) = (tmp_path / "results").iterdir()
    manifest = json.loads((whole / "run.json").read_text())
    manifest["started_at"], manifest["finished_at"] = "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"  # a day earlier
    (whole / "run.json").write_text(json.dumps(manifest))
    run(tmp_path / "results", *subset)
    assert main(["leaderboard", "build", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "site")]) == 0
    capsys.readouterr()
    rows = json.loads((tmp_path / "site" / "overview.json").read_text())["rows"]
    (row,) = rows
    cell = row["cells"]["family:example"]
    assert cell["n"] == 200 and cell["value"] == pytest.approx(0.62)  # the 40-conversation run, not the subset


def test_a_later_run_whose_calls_failed_does_not_replace_a_clean_one(tmp_path, monkeypatch, capsys):
    from tests.servers import FakeLLMServer

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    args = ["run", "--tasks", "example", "--model", "openai/calc", "--limit", "2", "--no-progress", "--max-attempts", "1", "--timeout", "5",
            "--output-dir", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache")]
    with FakeLLMServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        assert main(args) == 0
    (clean,) = (tmp_path / "results").iterdir()
    manifest = json.loads((clean / "run.json").read_text())
    manifest["started_at"], manifest["finished_at"] = "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"  # a day earlier
    (clean / "run.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens: every conversation errors
    assert main([*args, "--allow-errors"]) == 0
    assert main(["leaderboard", "build", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "site")]) == 0
    capsys.readouterr()
    (row,) = json.loads((tmp_path / "site" / "overview.json").read_text())["rows"]
    assert row["cells"]["family:example"]["n"] == manifest["metrics"]["example/arithmetic"]["exact"]["n"] > 0


def _errors_when_wrong(messages, params, context, args) -> str:
    """The memory=3 calculator, except that it fails the call whenever that answer would be wrong."""
    from mteval.models.errors import ServerError
    from mteval_tasks.example import calculator

    answer = calculator(messages, params, context, {"memory": 3})
    if answer != calculator(messages, params, context, {}):
        raise ServerError("scripted outage on a hard item", status=500)
    return answer


def test_a_run_with_errored_or_unfinished_conversations_is_flagged_and_not_ranked(tmp_path, capsys):
    """A model whose calls fail exactly where it would answer wrong scored a perfect 1.000 in
    every cell, unmarked, and topped the overall ranking: means cover only finished conversations."""
    import shutil

    from mteval.models.scripted import register_script

    register_script("lbtest_errors_when_wrong", _errors_when_wrong, args=())
    results = tmp_path / "results"
    run(results)  # the honest memory=3 calculator: exact 0.62, no errors
    assert main(["run", "--tasks", "example", "--model", "scripted/lbtest_errors_when_wrong", "--no-progress", "--max-attempts", "1",
                 "--allow-errors", "--output-dir", str(results)]) == 0
    honest = next(results.glob("scripted-calculator__*"))
    unfinished = results / "unfinished"
    shutil.copytree(honest, unfinished)
    manifest = json.loads((unfinished / "run.json").read_text())
    manifest.update(run_id="unfinished", status="interrupted", model={"id": "scripted/stopped", "provider": "scripted", "args": {}})
    (unfinished / "run.json").write_text(json.dumps(manifest))
    lines = (unfinished / "samples.jsonl").read_text().splitlines(keepends=True)
    (unfinished / "samples.jsonl").write_text("".join(lines[:10]))
    assert main(["leaderboard", "build", "--results", str(results), "--out", str(tmp_path / "site")]) == 0
    capsys.readouterr()
    rows = {r["model"]: r["cells"] for r in json.loads((tmp_path / "site" / "overview.json").read_text())["rows"]}
    hiding = rows["scripted/lbtest_errors_when_wrong"]
    assert hiding["task:example/arithmetic"]["value"] > 0.62  # what the unmarked cell showed
    assert "overall" not in hiding and "overall" not in rows["scripted/stopped"]
    assert rows["scripted/calculator (memory=3)"]["overall"]["value"] == pytest.approx(0.62)
    assert rows["scripted/calculator (memory=3)"]["task:example/arithmetic"]["shortfall"] is None
    for key in ("task:example/arithmetic", "family:example"):
        errored = hiding[key]["shortfall"]
        assert errored is not None and errored.endswith(" of 40 conversations errored") and not errored.startswith("0 ")
        assert rows["scripted/stopped"][key]["shortfall"] == "run interrupted: 10 of 40 conversations finished"
    index = (tmp_path / "site" / "index.html").read_text()
    assert 'shortfall"' in index and "run interrupted: 10 of 40 conversations finished" in index
