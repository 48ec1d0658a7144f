"""Provider faults, storage faults and concurrent use (issue 14, defects 2-5, 10, 12).

Every provider fault kind is either retried to success or recorded as the turn's error
with its reason, never scored as an answer. Storage faults (a corrupt cache, a full disk)
end with one clear message naming the file, and nothing that was answered is asked again.
A second process on the same run directory refuses instead of asking everything twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mteval.cache import CacheWriteError, ResponseCache
from mteval.cli import main
from mteval.client import ModelClient, RetryPolicy
from mteval.conversation import Message
from mteval.models import create_model
from mteval.models.base import GenerationParams, ModelOutput
from mteval.models.errors import ModelError
from tests.servers import FakeLLMServer, Fault, echo_responder

REPO = Path(__file__).resolve().parents[1]
FAST = RetryPolicy(max_attempts=3, initial_wait_s=0.01, max_wait_s=0.02, jitter_s=0.0, timeout_s=3.0)
MESSAGES = [Message(role="user", content="Start with 2. Add 3. What is the result?")]
PARAMS = GenerationParams()


class FaultyServer(FakeLLMServer):
    """The test server plus the reply shapes a real provider or proxy sends when it misbehaves."""

    EXTRA = {
        "null-content": {"choices": [{"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "stop"}]},
        "refusal": {"choices": [{"index": 0, "message": {"role": "assistant", "content": None, "refusal": "I can't help"}, "finish_reason": "stop"}]},
        "empty-choices": {"choices": []},
        "no-message": {"choices": [{"index": 0, "finish_reason": "stop"}]},
    }

    def _handle(self, handler, body, fault):
        if fault is not None and fault.kind in self.EXTRA:
            payload = {"id": "x", "object": "chat.completion", "created": 0, "model": "m", **self.EXTRA[fault.kind]}
            self._send(handler, 200, json.dumps(payload).encode())
            return
        if fault is not None and fault.kind == "surrogate":  # JSON escape of a lone high surrogate
            raw = b'{"id":"x","object":"chat.completion","created":0,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"5 \\ud800 done"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}'
            self._send(handler, 200, raw)
            return
        if fault is not None and fault.kind == "html":
            self._send(handler, 200, b"<html><body>502 Bad Gateway</body></html>")
            return
        if fault is not None and fault.kind in ("401", "404"):
            self._send(handler, int(fault.kind), json.dumps({"error": {"message": f"injected {fault.kind}"}}).encode())
            return
        super()._handle(handler, body, fault)


def _client(server: FakeLLMServer, cache: ResponseCache | None = None, retry: RetryPolicy = FAST) -> ModelClient:
    adapter = create_model("openai/m", {"base_url": server.openai_base_url, "api_key": "test-key-123"})
    return ModelClient(adapter, retry=retry, cache=cache)


# --- provider fault kinds -------------------------------------------------------------------
RETRIED = ["429", "500", "503", "malformed", "slow", "null-content", "refusal", "empty-choices", "no-message", "html"]


@pytest.mark.parametrize("kind", RETRIED)
async def test_transient_fault_is_retried_to_success(kind):
    with FaultyServer() as server:
        server.inject(Fault(kind, retry_after=0.01, delay=5.0))
        client = _client(server)
        try:
            completion = await client.generate(MESSAGES, PARAMS)
        finally:
            await client.aclose()
    assert completion.text.startswith("echo: Start with 2")
    assert completion.retries == 1 and server.count == 2


@pytest.mark.parametrize("kind, reason", [
    ("null-content", "content: null"), ("refusal", "refusal \"I can't help\""), ("empty-choices", "no choices[0].message"),
    ("500", "injected 500"), ("html", "MalformedResponse"),
])
async def test_persistent_fault_is_an_error_with_its_reason(kind, reason):
    with FaultyServer() as server:
        server.inject(*[Fault(kind)] * 3)
        client = _client(server)
        try:
            with pytest.raises(ModelError) as info:
                await client.generate(MESSAGES, PARAMS)
        finally:
            await client.aclose()
    assert server.count == 3 and client.stats.errors == 1
    assert reason in f"{type(info.value).__name__}: {info.value}"


@pytest.mark.parametrize("kind", ["400-context", "401", "404"])
async def test_permanent_fault_is_not_retried(kind):
    with FaultyServer() as server:
        server.inject(Fault(kind))
        client = _client(server)
        try:
            with pytest.raises(ModelError):
                await client.generate(MESSAGES, PARAMS)
        finally:
            await client.aclose()
    assert server.count == 1


async def test_connection_refused_is_an_error_after_retries():
    adapter = create_model("openai/m", {"base_url": "http://127.0.0.1:9/v1", "api_key": "test-key-123"})
    client = ModelClient(adapter, retry=FAST)
    try:
        with pytest.raises(ModelError, match="(?i)connect"):
            await client.generate(MESSAGES, PARAMS)
    finally:
        await client.aclose()
    assert client.stats.requests == 3


def _run(tmp_path: Path, server: FakeLLMServer, *extra: str, run_id: str = "r") -> tuple[int, str]:
    argv = ["run", "--tasks", "example/arithmetic", "--limit", "2", "--model", "openai/m",
            "--model-args", f"base_url={server.openai_base_url}", "--output-dir", str(tmp_path / "out"),
            "--run-id", run_id, "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--max-attempts", "2", "--json", *extra]
    return main(argv), str(tmp_path / "out" / run_id)


def _samples(run_dir: str) -> list[dict]:
    return [json.loads(line) for line in Path(run_dir, "samples.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


def test_null_content_in_a_run_is_an_error_turn_not_an_empty_answer(tmp_path, capfd):
    with FaultyServer() as server:
        server.inject(Fault("null-content"), Fault("null-content"))  # both attempts of the first request
        code, run_dir = _run(tmp_path, server, "--max-concurrency", "1")
    assert code == 3  # a run with errored conversations exits 3 (README, exit codes)
    turns = [t for s in _samples(run_dir) for t in s["turns"]]
    errored = [t for t in turns if t.get("error")]
    assert len(errored) == 1 and "content: null" in errored[0]["error"]
    assert all(t.get("reply") != "" for t in turns)  # never cached or scored as an empty answer


@pytest.mark.parametrize("no_cache", [False, True])
def test_lone_surrogate_reply_is_stored_and_the_run_finishes(tmp_path, capfd, caplog, no_cache):
    with FaultyServer() as server:
        server.inject(Fault("surrogate"))
        extra = ("--no-cache",) if no_cache else ()
        code, run_dir = _run(tmp_path, server, *extra)
        assert code == 0, capfd.readouterr().err
        first = server.count
        code, _ = _run(tmp_path, server, *extra)  # resume: nothing left to ask
        assert code == 0 and server.count == first
    err = capfd.readouterr().err
    replies = [t["reply"] for s in _samples(run_dir) for t in s["turns"] if t.get("reply")]
    assert "5 \ufffd done" in replies  # the documented replacement, recorded in a warning
    assert "lone surrogate" in caplog.text and "Traceback" not in err
    assert json.loads(Path(run_dir, "run.json").read_text())["status"] == "complete"


# --- the response cache -----------------------------------------------------------------------
def test_corrupt_cache_is_moved_aside_with_a_warning_and_the_run_goes_on(tmp_path, capfd, caplog):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "responses.sqlite").write_bytes(b"this is not a database" * 100)
    with FaultyServer() as server:
        code, run_dir = _run(tmp_path, server)
    err = capfd.readouterr().err
    assert code == 0 and "Traceback" not in err
    assert str(cache / "responses.sqlite") in caplog.text and "moved it to" in caplog.text
    moved = list(cache.glob("responses.sqlite.corrupt-*"))
    assert len(moved) == 1 and moved[0].read_bytes().startswith(b"this is not a database")
    assert len(ResponseCache(cache)) > 0  # the new cache works


def test_a_damaged_page_costs_only_its_own_replies_not_the_cache(tmp_path, caplog):
    """Opening the cache does not scan it (an integrity scan read every page: 0.63 s per run
    on a 581 MB cache). A page damaged inside a readable file is found when it is read: those
    replies are misses (asked again, with one warning), the rest are still served."""
    cache = ResponseCache(tmp_path)
    for i in range(2000):
        cache.put(f"k{i:05d}", "m", ModelOutput(f"reply {i} " + "x" * 200))
    cache.close()
    path = tmp_path / "responses.sqlite"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2 // 4096 * 4096
    data[middle:middle + 3 * 4096] = b"\xab" * (3 * 4096)  # three pages of B-tree nonsense
    path.write_bytes(bytes(data))
    opened = ResponseCache(tmp_path)
    assert not list(tmp_path.glob("responses.sqlite.corrupt-*"))  # not moved aside: it is readable
    served = [i for i in range(2000) if opened.get(f"k{i:05d}") is not None]
    assert 1000 < len(served) < 2000  # the damaged pages' replies are misses, the others are served
    assert all(opened.get(f"k{i:05d}").text.startswith(f"reply {i} ") for i in served[:50])
    assert caplog.text.count("is damaged") == 1 and str(path) in caplog.text
    assert opened.put("new", "m", ModelOutput("new reply")) is True  # new replies are still stored


def test_one_request_is_stored_once(tmp_path):
    """INSERT OR IGNORE: a second writer of the same key (another process that asked the
    same prompt) does not replace the first reply."""
    first, second = ResponseCache(tmp_path), ResponseCache(tmp_path)
    assert first.put("k", "m", ModelOutput("one")) is True
    assert second.put("k", "m", ModelOutput("two")) is False
    assert first.get("k").text == "one" and len(first) == 1


async def test_cache_write_failure_keeps_the_reply_and_names_the_file(tmp_path):
    cache = ResponseCache(tmp_path)
    pages = cache._conn.execute("PRAGMA page_count").fetchone()[0]
    cache._conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "database or disk is full"
    with FaultyServer() as server:
        client = _client(server, cache)
        try:
            long_messages = [Message(role="user", content="x" * 20000)]
            completion = await client.generate(long_messages, PARAMS)
        finally:
            await client.aclose()
    assert completion.text.startswith("echo: x")  # paid for and returned, not lost
    assert isinstance(client.write_error, CacheWriteError) and str(tmp_path / "responses.sqlite") in str(client.write_error)
    assert "full" in str(client.write_error)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_disk_on_samples_is_a_clear_error_and_nothing_is_asked_twice(tmp_path, capfd):
    run_dir = tmp_path / "out" / "r"
    run_dir.mkdir(parents=True)
    (run_dir / "samples.jsonl").symlink_to("/dev/full")  # every write fails with ENOSPC
    with FaultyServer() as server:
        code, _ = _run(tmp_path, server)
        err = capfd.readouterr().err
        assert code == 1, err
        assert "samples.jsonl" in err and "No space left on device" in err and "Traceback" not in err
        asked = server.count
        assert asked > 0
        (run_dir / "samples.jsonl").unlink()  # space is freed
        code, _ = _run(tmp_path, server)
        assert code == 0
        assert server.count == asked  # every answered turn came back from the cache
    assert len(_samples(str(run_dir))) == 2


# --- concurrent use -----------------------------------------------------------------------------
def _cli_process(*argv: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "mteval", *argv], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_second_process_on_the_same_run_directory_refuses(tmp_path, capfd):
    # the first process's first request is held until the second one has tried: with a fixed
    # delay, a slow start of the second (a loaded machine) let the first finish and the test fail
    released = threading.Event()

    def held(kind, body):
        released.wait(60)
        return echo_responder(kind, body)

    with FaultyServer(responder=held) as server:
        args = ["run", "--tasks", "example/arithmetic", "--limit", "2", "--model", "openai/m",
                "--model-args", f"base_url={server.openai_base_url}", "--output-dir", str(tmp_path / "out"),
                "--run-id", "r", "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--max-concurrency", "1"]
        first = _cli_process(*args)
        deadline = time.time() + 30
        while server.count == 0 and time.time() < deadline:  # the first process holds the lock once it asks
            time.sleep(0.05)
        try:
            code = main(args)
        finally:
            released.set()
        err = capfd.readouterr().err
        assert code == 2
        assert "is in use by another mteval process" in err and str(tmp_path / "out" / "r") in err and "Traceback" not in err
        out, first_err = first.communicate(timeout=60)
        assert first.returncode == 0, first_err
        prompts = sum(len(s["turns"]) for s in _samples(str(tmp_path / "out" / "r")))
        assert server.count == prompts  # asked once each
    assert len(_samples(str(tmp_path / "out" / "r"))) == 2


# --- item 12: exits without tracebacks ------------------------------------------------------------
def test_show_json_into_a_closed_pipe_exits_quietly(tmp_path, capfd):
    with FaultyServer() as server:
        code, run_dir = _run(tmp_path, server)
    assert code == 0
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    shell = subprocess.run(f"{sys.executable} -m mteval show {run_dir} --json | head -c 5", shell=True, cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=60, executable="/bin/bash")
    assert shell.stdout == '{\n  "'
    assert "Traceback" not in shell.stderr and "BrokenPipe" not in shell.stderr


def test_lmeval_hf_without_the_hf_extra_is_a_message(tmp_path):
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
        "from mteval.cli import main\n"
        f"sys.exit(main(['run', '--tasks', 'example/arithmetic', '--model', 'lmeval/hf', '--model-args', 'pretrained=x',"
        f" '--output-dir', {str(tmp_path)!r}, '--no-progress']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode in (1, 2), proc.stderr
    assert "pip install 'mteval-harness[hf]'" in proc.stderr and "Traceback" not in proc.stderr


def test_ctrl_c_during_judging_exits_130_without_a_traceback(tmp_path, capfd):
    with FaultyServer() as server:
        code, run_dir = _run(tmp_path, server)
        assert code == 0
        server.delay = 2.0  # the judge's requests hang
        judge = _cli_process("judge", run_dir, "--judge", "openai/judge", "--judge-args", f"base_url={server.openai_base_url}",
                             "--judge-def", "rubric", "--output-dir", str(tmp_path / "judged"), "--cache-dir", str(tmp_path / "cache"))
        deadline = time.time() + 60
        before = server.count
        while server.count == before and time.time() < deadline:
            time.sleep(0.05)
        judge.send_signal(2)  # SIGINT, as Ctrl-C
        _, err = judge.communicate(timeout=60)
    assert judge.returncode == 130, err
    assert "Traceback" not in err and len(err.splitlines()) < 10


def test_busy_message_names_options_every_command_has(tmp_path):
    """`mteval judge` has no --run-id: the refusal must not tell its user to pick one only."""
    from mteval.locks import RunDirectoryBusy, lock_run_dir

    first = lock_run_dir(tmp_path / "r")
    try:
        with pytest.raises(RunDirectoryBusy) as caught:
            lock_run_dir(tmp_path / "r")
    finally:
        first.release()
    assert "--output-dir" in str(caught.value) and str(tmp_path / "r") in str(caught.value)
    lock_run_dir(tmp_path / "r").release()  # free again once the first holder let go
