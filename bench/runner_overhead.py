"""How much CPU does mteval itself spend per model call?

Measured in one run, so the figures compare like with like on this machine:

1. pure harness: the full runner (solver, scoring, samples.jsonl, manifest) driving
   `scripted/echo`, which does no I/O: all CPU time is mteval's own;
2. the same conversations against a local OpenAI-compatible server (a subprocess),
   once with the bare openai SDK in a loop and once through the mteval runner, so the
   harness's share on top of the SDK is visible;
3. a cache replay of run 2: what a resumed or repeated run costs per turn.

Usage: python bench/runner_overhead.py [--conversations 400] [--turns 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mteval.conversation import Conversation, Turn  # noqa: E402
from mteval.registry import register_task  # noqa: E402
from mteval.runner import RunConfig, Runner  # noqa: E402
from mteval.scoring import rule  # noqa: E402
from mteval.task import Task  # noqa: E402

N_CONVERSATIONS = 400
N_TURNS = 5


@rule("nonempty")
def _nonempty(reply, turn):
    return float(bool(reply))


@register_task
class BenchTask(Task):
    name = "bench/echo"
    description = "synthetic conversations for overhead measurement"

    def load(self):
        return [
            Conversation(
                id=f"c{i}",
                system="You are terse.",
                turns=tuple(Turn(id=str(t), user=f"conversation {i} turn {t}: " + "lorem ipsum " * 20, gold="ok") for t in range(N_TURNS)),
            )
            for i in range(N_CONVERSATIONS)
        ]

    def scorers(self):
        return [_nonempty]


def run_runner(model: str, args: dict, out: Path, cache: Path, concurrency: int) -> tuple[float, float, dict]:
    config = RunConfig(
        tasks="bench/echo", model=model, model_args=args, output_dir=out, cache_dir=cache,
        max_concurrency=concurrency, progress=False, command=["bench"],
    )
    cpu0, wall0 = time.process_time(), time.perf_counter()
    outcome = Runner(config).run()
    return time.process_time() - cpu0, time.perf_counter() - wall0, outcome.manifest


async def raw_sdk(base_url: str, concurrency: int) -> None:
    import openai

    client = openai.AsyncOpenAI(api_key="EMPTY", base_url=base_url, max_retries=0)
    sem = asyncio.Semaphore(concurrency)

    async def conversation(i: int) -> None:
        async with sem:
            messages = [{"role": "system", "content": "You are terse."}]
            for t in range(N_TURNS):
                messages.append({"role": "user", "content": f"conversation {i} turn {t}: " + "lorem ipsum " * 20})
                r = await client.chat.completions.create(model="m", messages=messages, temperature=0.0, max_tokens=1024, seed=0)
                messages.append({"role": "assistant", "content": r.choices[0].message.content})

    await asyncio.gather(*(conversation(i) for i in range(N_CONVERSATIONS)))
    await client.close()


def main() -> None:
    global N_CONVERSATIONS, N_TURNS
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=N_CONVERSATIONS)
    parser.add_argument("--turns", type=int, default=N_TURNS)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    N_CONVERSATIONS, N_TURNS = args.conversations, args.turns
    calls = N_CONVERSATIONS * N_TURNS
    tmp = Path(tempfile.mkdtemp(prefix="mteval-bench-"))

    # warm-up: imports (pandas, scipy, the SDKs) and first-call setup are not per-call costs
    run_runner("scripted/echo", {}, tmp / "w0", tmp / "cw", args.concurrency)
    cpu, wall, _ = run_runner("scripted/echo", {}, tmp / "r0", tmp / "c0", args.concurrency)
    print(f"calls per run: {calls} ({N_CONVERSATIONS} conversations x {N_TURNS} turns), concurrency {args.concurrency}")
    print(f"[1] pure harness (scripted/echo): {cpu / calls * 1e6:8.1f} us CPU per call, {calls / wall:8.0f} calls/s")

    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "servers.py")], stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        line = server.stdout.readline()
        base_url = line.split("openai base_url=")[1].split()[0]
        asyncio.run(raw_sdk(base_url, args.concurrency))  # warm-up
        cpu0, wall0 = time.process_time(), time.perf_counter()
        asyncio.run(raw_sdk(base_url, args.concurrency))
        raw_cpu, raw_wall = time.process_time() - cpu0, time.perf_counter() - wall0
        run_runner("openai/m", {"base_url": base_url}, tmp / "w1", tmp / "cw1", args.concurrency)  # warm-up
        cpu, wall, _ = run_runner("openai/m", {"base_url": base_url}, tmp / "r1", tmp / "c1", args.concurrency)
        print(f"[2] bare openai SDK loop:          {raw_cpu / calls * 1e6:8.1f} us CPU per call, {calls / raw_wall:8.0f} calls/s")
        print(f"    mteval runner, openai adapter: {cpu / calls * 1e6:8.1f} us CPU per call, {calls / wall:8.0f} calls/s")
        print(f"    harness CPU on top of the SDK: {(cpu - raw_cpu) / calls * 1e6:8.1f} us per call "
              f"(runner/SDK CPU ratio {cpu / raw_cpu:.2f}x)")
        for f in (tmp / "r1").glob("*/samples.jsonl"):
            f.unlink()
        for f in (tmp / "r1").glob("*/run.json"):
            f.unlink()
        cpu, wall, manifest = run_runner("openai/m", {"base_url": base_url}, tmp / "r1", tmp / "c1", args.concurrency)
        hits = manifest["totals"]["calls"]["model"]["cache_hits"]
        print(f"[3] cached re-run:                 {cpu / calls * 1e6:8.1f} us CPU per call, {calls / wall:8.0f} calls/s "
              f"({hits}/{calls} cache hits, {manifest['totals']['calls']['model']['requests']} requests)")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
