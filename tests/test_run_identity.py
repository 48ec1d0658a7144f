"""The endpoint is part of a run's identity (issue 12). The cache key already held it, but the
run directory did not: the same command with OPENAI_BASE_URL pointing at another server
resumed the first server's finished run, asked the second server nothing, and recorded the
second server as the endpoint of replies the first one gave.
"""

from __future__ import annotations

from pathlib import Path

from mteval.cli import main
from mteval.results import load_manifest
from tests.servers import FakeLLMServer


def run_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir())


def test_another_endpoint_from_the_environment_is_another_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    args = ["run", "--tasks", "example/arithmetic", "--model", "openai/calc", "--limit", "1", "--no-progress",
            "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]
    with FakeLLMServer() as first, FakeLLMServer() as second:
        monkeypatch.setenv("OPENAI_BASE_URL", first.openai_base_url)
        assert main(args) == 0
        (first_run,) = run_dirs(tmp_path / "out")
        monkeypatch.setenv("OPENAI_BASE_URL", second.openai_base_url)
        assert main(args) == 0
        assert first.count > 0 and second.count == first.count  # the second server answered every turn
        (second_run,) = [p for p in run_dirs(tmp_path / "out") if p != first_run]
        assert load_manifest(first_run).model.endpoint == first.openai_base_url
        assert load_manifest(second_run).model.endpoint == second.openai_base_url
        monkeypatch.setenv("OPENAI_BASE_URL", first.openai_base_url)  # the first again: resumed, nothing asked
        assert main(args) == 0
        assert len(run_dirs(tmp_path / "out")) == 2 and first.count == second.count
    capsys.readouterr()


def test_runs_without_an_endpoint_keep_their_directory(tmp_path, monkeypatch, capsys):
    """The endpoint enters the identity only when set, so runs of the scripted models and of
    the providers' default endpoints resume the directories earlier releases named."""
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert main(["run", "--tasks", "example", "--model", "scripted/calculator", "--model-args", "memory=3",
                 "--limit", "5", "--no-progress", "--output-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    assert [p.name for p in run_dirs(tmp_path)] == ["scripted-calculator__example__own__75657aca"]
