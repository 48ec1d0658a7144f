"""Killing a run and running it again: SIGKILL, Ctrl-C, and a torn samples.jsonl.

The kill tests run `python -m mteval run` in a subprocess against a FakeLLMServer in
this process, then resume with the same command line (in process). The server answers
the first N requests and holds every later one until released, so the kill lands at
a known, quiet moment: every answered reply has reached the client (and its cache),
and the held requests never got an answer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mteval.cli import main
from mteval.results import SAMPLES, load, read_manifest
from mteval.runner import RunConfig, Runner
from tests.servers import FakeLLMServer, echo_responder

LIMIT = 12
CONCURRENCY = 3
OPEN_FOR = 24  # one of the three workers got >= 8 replies, so >= 1 conversation (<= 6 turns) is done
TURNS = {f"arith-{i:02d}": n for i, n in enumerate([5, 6, 4, 5, 6, 4, 5, 6, 4, 5, 6, 4], 1)}

pytestmark = pytest.mark.slow


def canon(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True)


class Gate:
    """A responder that echoes the first `open_for` requests and holds the rest until
    `release` is set."""

    def __init__(self, open_for: int):
        self.open_for = open_for
        self.answered: list[str] = []
        self.held = 0
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, kind: str, body: dict[str, Any]) -> str:
        with self._lock:
            hold = len(self.answered) >= self.open_for and not self.release.is_set()
            if hold:
                self.held += 1
            else:
                self.answered.append(canon(body))
        if hold:
            self.release.wait(60)
        return echo_responder(kind, body)


@pytest.fixture
def gated_server():
    gate = Gate(OPEN_FOR)
    with FakeLLMServer(responder=gate, delay=0.02) as server:
        server.gate = gate  # type: ignore[attr-defined]
        yield server
        gate.release.set()


def command(server: FakeLLMServer, tmp_path: Path) -> list[str]:
    return [
        sys.executable, "-m", "mteval", "run",
        "--tasks", "example/arithmetic",
        "--model", "openai/calc",
        "--model-args", f"base_url={server.openai_base_url}",
        "--limit", str(LIMIT),
        "--max-concurrency", str(CONCURRENCY),
        "--output-dir", str(tmp_path / "out"),
        "--cache-dir", str(tmp_path / "cache"),
        "--run-id", "resumable",
        "--no-progress",
    ]  # fmt: skip


@pytest.fixture
def start():
    """Start the run in a subprocess; whatever a failing test leaves running is killed."""
    started: list[subprocess.Popen] = []

    def _start(server: FakeLLMServer, tmp_path: Path, name: str) -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"{name}.log"
        with log.open("w") as handle:
            proc = subprocess.Popen(command(server, tmp_path), cwd=tmp_path, stdout=handle, stderr=subprocess.STDOUT, env=dict(os.environ))
        started.append(proc)
        return proc, log

    yield _start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def wait_until_held(proc: subprocess.Popen, gate: Gate, log: Path, timeout: float = 60.0) -> None:
    """Until every worker waits on a held request: all answered replies are processed."""
    deadline = time.monotonic() + timeout
    while gate.held < CONCURRENCY:
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be stopped (exit {proc.returncode}):\n{log.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no quiet moment to stop the run:\n{log.read_text()}")
        time.sleep(0.02)
    time.sleep(0.1)  # let a stray extra request (there must be none) show up before we look


def finish(server: FakeLLMServer, tmp_path: Path, capsys) -> tuple[int, str]:
    """The same command again, to completion (in process: it only has to resume)."""
    code = main(command(server, tmp_path)[3:])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def sample_lines(run_dir: Path) -> list[str]:
    return (run_dir / SAMPLES).read_text(encoding="utf-8").splitlines(keepends=True)


def assert_complete(run_dir: Path) -> None:
    lines = sample_lines(run_dir)
    records = [json.loads(line) for line in lines]  # every line is whole JSON
    ids = [r["conversation"]["id"] for r in records]
    assert sorted(ids) == sorted(TURNS), "conversations lost or written twice"
    assert all(r["status"] == "ok" for r in records)
    assert all(len(r["turns"]) == TURNS[r["conversation"]["id"]] for r in records)
    manifest = read_manifest(run_dir)
    assert manifest["status"] == "complete"
    assert manifest["totals"]["conversations"] == LIMIT
    assert manifest["totals"]["errored_conversations"] == 0
    assert len(load(run_dir)) == sum(TURNS.values())


def test_sigkill_then_rerun_loses_nothing_and_asks_nothing_twice(gated_server, start, tmp_path, capsys):
    server, gate = gated_server, gated_server.gate
    run_dir = tmp_path / "out" / "resumable"
    proc, log = start(server, tmp_path, "killed")
    wait_until_held(proc, gate, log)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL

    first = [canon(b) for b in server.bodies()]
    answered = set(gate.answered)
    held = [b for b in first if b not in answered]
    assert len(answered) == OPEN_FOR and len(held) == CONCURRENCY and len(first) == OPEN_FOR + CONCURRENCY
    assert read_manifest(run_dir)["status"] == "running"
    lines = sample_lines(run_dir)
    assert 1 <= len(lines) < LIMIT
    assert all(line.endswith("\n") for line in lines)

    # Tear the last line, as a kill in the middle of a write would.
    torn = json.loads(lines[-1])["conversation"]["id"]
    (run_dir / SAMPLES).write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2], encoding="utf-8")

    gate.release.set()
    code, output = finish(server, tmp_path, capsys)
    assert code == 0, output
    assert_complete(run_dir)

    second = [canon(b) for b in server.bodies()[len(first):]]
    assert not set(second) & answered, "a turn answered before the kill was requested again"
    assert len(second) == len(set(second))
    assert set(held) <= set(second)
    distinct = set(first) | set(second)
    assert len(distinct) == sum(TURNS.values())
    # Every request over both runs is a distinct body, except the held ones that never got a reply.
    assert len(first) + len(second) == len(distinct) + len(held)

    # The torn conversation was redone, entirely from the cache.
    redone = [json.loads(line) for line in sample_lines(run_dir) if json.loads(line)["conversation"]["id"] == torn]
    assert len(redone) == 1 and all(t["cached"] for t in redone[0]["turns"])
    calls = read_manifest(run_dir)["totals"]["calls"]["model"]
    assert calls["requests"] == len(second)
    assert calls["cache_hits"] >= TURNS[torn]


def test_ctrl_c_keeps_finished_samples_and_marks_the_run_interrupted(gated_server, start, tmp_path, capsys):
    server, gate = gated_server, gated_server.gate
    run_dir = tmp_path / "out" / "resumable"
    proc, log = start(server, tmp_path, "interrupted")
    wait_until_held(proc, gate, log)
    kept = sample_lines(run_dir)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(20) == 130, log.read_text()
    assert "interrupted" in log.read_text()

    manifest = read_manifest(run_dir)
    assert manifest["status"] == "interrupted"
    assert manifest["finished_at"] is not None
    assert sample_lines(run_dir) == kept and 1 <= len(kept) < LIMIT
    assert manifest["totals"]["conversations"] == len(kept)
    answered = set(gate.answered)
    n_first = server.count

    gate.release.set()
    code, output = finish(server, tmp_path, capsys)
    assert code == 0, output
    assert_complete(run_dir)
    assert sample_lines(run_dir)[: len(kept)] == kept  # kept lines untouched, the rest appended
    second = [canon(b) for b in server.bodies()[n_first:]]
    assert not set(second) & answered
    assert len(second) == len(set(second))


def test_torn_last_line_is_cut_and_its_conversation_redone(tmp_path):
    config = dict(tasks="example/arithmetic", model="replay/gold", limit=3, output_dir=tmp_path, run_id="r", progress=False)
    outcome = Runner(RunConfig(**config)).run()
    path = outcome.run_dir / SAMPLES
    lines = path.read_text().splitlines(keepends=True)
    torn_id = json.loads(lines[-1])["conversation"]["id"]
    path.write_text("".join(lines[:-1]) + lines[-1][:40])

    # Readers skip a torn tail without changing the file.
    assert set(load(outcome.run_dir)["conversation_id"]) == {json.loads(x)["conversation"]["id"] for x in lines[:-1]}
    assert not path.read_text().endswith("\n")

    again = Runner(RunConfig(**config)).run()
    assert again.manifest["status"] == "complete"
    # call counts cover the whole run: the first invocation's plus the redone conversation's
    first_requests = outcome.manifest["totals"]["calls"]["model"]["requests"]
    assert again.manifest["totals"]["calls"]["model"]["requests"] == first_requests + len(json.loads(lines[-1])["turns"])
    final = path.read_text().splitlines(keepends=True)
    assert final[:-1] == lines[:-1] and all(line.endswith("\n") for line in final)
    assert [json.loads(x)["conversation"]["id"] for x in final] == [json.loads(x)["conversation"]["id"] for x in lines]
    assert json.loads(final[-1])["conversation"]["id"] == torn_id
    assert again.manifest["metrics"] == outcome.manifest["metrics"]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_damaged_run_json_is_refused_with_advice_that_works(tmp_path, capsys):
    """Resuming over an unreadable run.json is refused (exit 2, one line) without touching
    samples.jsonl or the cache, and the message says what to do; both ways it names work:
    without run.json the same command resumes from samples.jsonl (only the conversation
    missing from it is asked again, here from the cache), and another --output-dir is
    answered from the cache."""
    with FakeLLMServer() as server:
        argv = ["run", "--tasks", "example/arithmetic", "--model", "openai/calc", "--model-args", f"base_url={server.openai_base_url},api_key=x",
                "--limit", "3", "--cache-dir", str(tmp_path / "cache"), "--no-progress"]
        first = [*argv, "--output-dir", str(tmp_path / "out"), "--run-id", "r"]
        assert main(first) == 0
        run_dir, asked = tmp_path / "out" / "r", server.count
        kept = sample_lines(run_dir)[:-1]  # as if stopped before the last conversation was written
        missing_turns = len(json.loads(sample_lines(run_dir)[-1])["turns"])
        (run_dir / SAMPLES).write_text("".join(kept), encoding="utf-8")
        (run_dir / "run.json").write_text('{"schema": "mteval.run/1",\n  "status": ', encoding="utf-8")
        before, cache_before = _files(run_dir), _files(tmp_path / "cache")
        capsys.readouterr()

        assert main(first) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert f"{run_dir}/run.json: line 2: invalid JSON" in err
        assert f"finished conversations are in {run_dir}/samples.jsonl: delete {run_dir}/run.json and re-run this command" in err
        assert "another --output-dir" in err
        assert _files(run_dir) == before and _files(tmp_path / "cache") == cache_before and server.count == asked

        (run_dir / "run.json").unlink()
        assert main(first) == 0
        manifest = read_manifest(run_dir)
        assert manifest["status"] == "complete" and manifest["totals"]["conversations"] == 3
        assert manifest["totals"]["calls"]["model"]["cache_hits"] == missing_turns  # the finished ones came from samples.jsonl
        assert sample_lines(run_dir)[: len(kept)] == kept and server.count == asked

        assert main([*argv, "--output-dir", str(tmp_path / "elsewhere"), "--run-id", "r"]) == 0
        assert server.count == asked  # every reply from the cache
