"""Shared pieces of the benches: the latency server as a subprocess, the synthetic
multi-turn task (bench/tasks/synthetic.py), and a runner call that reports wall and CPU time."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(Path(__file__).resolve().parent / "tasks"))

from synthetic import SHAPE, SYSTEM, BenchTask, conversation, user_text  # noqa: E402  (registers bench/synthetic)

__all__ = ["SHAPE", "SYSTEM", "BenchTask", "conversation", "user_text"]


def workload_parser(conversations: int = 2000, *, latency: bool = False, concurrency: list[int] | None = None):
    """The options the workload scripts share: the shape of the synthetic conversations
    and, where a script varies them, the server latency and the concurrency levels."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=conversations)
    parser.add_argument("--turns", type=int, default=5)
    if latency:
        parser.add_argument("--latency", type=float, default=0.05)
    if concurrency is not None:
        parser.add_argument("--concurrency", type=int, nargs="+", default=concurrency)
    return parser


def ideal_bound(conversations: int, turns: int, latency: float, concurrency: int) -> float:
    """No client can beat this: a conversation's turns are sequential, and at most
    `concurrency` requests are in flight at once."""
    return max(turns * latency, conversations * turns * latency / concurrency)


@contextlib.contextmanager
def latency_server(latency: float = 0.05) -> Iterator[str]:
    """Start bench/latency_server.py in a subprocess; yield its base_url."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "latency_server.py"), "--latency", str(latency)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        if "base_url=" not in line:
            raise RuntimeError(f"latency server did not start: {line!r}")
        yield line.split("base_url=")[1].strip()
    finally:
        proc.terminate()
        proc.wait()


def run_runner(model: str, args: dict[str, Any], out: Path, cache: Path | None, concurrency: int, use_cache: bool = True) -> tuple[float, float, dict]:
    """(wall s, CPU s, manifest) of one full mteval run of bench/synthetic."""
    from mteval.runner import RunConfig, Runner

    config = RunConfig(
        tasks="bench/synthetic", model=model, model_args=args, output_dir=out, cache_dir=cache,
        max_concurrency=concurrency, progress=False, command=["bench"], use_cache=use_cache,
    )
    cpu0, wall0 = time.process_time(), time.perf_counter()
    outcome = Runner(config).run()
    return time.perf_counter() - wall0, time.process_time() - cpu0, outcome.manifest


def machine() -> str:
    """One line naming the machine the figures come from."""
    import platform

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, load average {load:.1f} at start"


async def bare_loop(base_url: str, conversations: int, turns: int, concurrency: int, client: str) -> None:
    """The same workload without the harness: `client` is "aiohttp" or "sdk" (openai)."""
    import asyncio

    sem = asyncio.Semaphore(concurrency)
    if client == "sdk":
        import openai

        sdk = openai.AsyncOpenAI(api_key="EMPTY", base_url=base_url, max_retries=0)

        async def post(messages: list) -> str:
            r = await sdk.chat.completions.create(model="m", messages=messages, temperature=0.0, max_tokens=1024, seed=0)
            return r.choices[0].message.content or ""

        close = sdk.close
    else:
        import aiohttp
        import orjson

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        url = base_url.rstrip("/") + "/chat/completions"

        async def post(messages: list) -> str:
            body = orjson.dumps({"model": "m", "messages": messages, "temperature": 0.0, "max_tokens": 1024, "seed": 0})
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                return orjson.loads(await r.read())["choices"][0]["message"]["content"] or ""

        close = session.close

    async def one(i: int) -> None:
        async with sem:
            messages = [{"role": "system", "content": SYSTEM}]
            for t in range(turns):
                messages.append({"role": "user", "content": user_text(i, t)})
                messages.append({"role": "assistant", "content": await post(messages)})

    try:
        await asyncio.gather(*(one(i) for i in range(conversations)))
    finally:
        await close()


def timed(fn, *args, **kwargs) -> tuple[float, float, Any]:
    """(wall s, CPU s of this process, result)."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - wall0, time.process_time() - cpu0, result


def note() -> str:
    return (f"measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}; "
            "the machine may be shared with other jobs, so wall times are upper bounds")
