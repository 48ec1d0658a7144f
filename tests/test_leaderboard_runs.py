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
