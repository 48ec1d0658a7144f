"""Does harness CPU per call grow faster than the request body as history lengthens?

The same number of calls, as conversations of 5 and of 20 turns (each turn carries the
whole history, so the mean body grows about 4x), through the mteval runner (lean
transport) and a bare aiohttp loop against bench/latency_server.py (no latency) at
concurrency 256. Prints CPU per call, the mean request body, and how CPU growth
compares with body growth.

Target (issue #18): harness CPU grows no faster than the request body.
Usage: python bench/history_growth.py [--calls 4000] [--turns 5 20]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import orjson

import common


def mean_body_bytes(conversations: int, turns: int) -> float:
    total = 0
    for i in range(min(conversations, 50)):
        messages = [{"role": "system", "content": common.SYSTEM}]
        for t in range(turns):
            messages.append({"role": "user", "content": common.user_text(i, t)})
            total += len(orjson.dumps({"model": "m", "messages": messages, "temperature": 0.0, "max_tokens": 1024, "seed": 0}))
            messages.append({"role": "assistant", "content": "echo: " + common.user_text(i, t)})
    return total / (min(conversations, 50) * turns)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--turns", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--concurrency", type=int, default=256)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mteval-bench-growth-"))
    print(f"# history growth: {args.calls} calls per run, concurrency {args.concurrency}, no server latency")
    print(f"# {common.note()}")
    figures = []
    with common.latency_server(0.0) as url:
        common.SHAPE.update(conversations=100, turns=5)
        common.run_runner("openai/m", {"base_url": url}, tmp / "warm", None, args.concurrency, use_cache=False)
        for turns in args.turns:
            conversations = args.calls // turns
            common.SHAPE.update(conversations=conversations, turns=turns)
            calls = conversations * turns
            _, cpu, _ = common.run_runner("openai/m", {"base_url": url}, tmp / f"t{turns}", None, args.concurrency, use_cache=False)
            _, bare, _ = common.timed(lambda: asyncio.run(common.bare_loop(url, conversations, turns, args.concurrency, "aiohttp")))
            body = mean_body_bytes(conversations, turns)
            figures.append((cpu / calls, body))
            print(f"  {turns:3d} turns: mean body {body / 1024:6.1f} KiB   mteval {cpu / calls * 1e3:5.2f} ms CPU per call   "
                  f"bare aiohttp {bare / calls * 1e3:5.2f} ms")
    (cpu0, body0), (cpu1, body1) = figures[0], figures[-1]
    print(f"  CPU per call grew {cpu1 / cpu0:.2f}x while the mean body grew {body1 / body0:.2f}x "
          f"(ratio {cpu1 / cpu0 / (body1 / body0):.2f}; <= 1 means no faster than the body)")


if __name__ == "__main__":
    main()
