"""How much CPU does mteval itself spend per model call?

Measured in one run, so the figures compare like with like on this machine:

1. pure harness: the full runner (solver, scoring, samples.jsonl, manifest) driving
   `scripted/echo`, which does no I/O: all CPU time is mteval's own;
2. the same conversations against bench/latency_server.py (a subprocess, no latency):
   a bare aiohttp loop, the mteval runner on the lean openai transport, and (--sdk)
   a bare openai SDK loop and the runner on `transport=sdk`, so the harness's share
   on top of its HTTP client is visible;
3. a cache replay of run 2: what a resumed or repeated run costs per turn.

Usage: python bench/runner_overhead.py [--conversations 400] [--turns 5] [--concurrency 64] [--sdk]
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import common


def main() -> None:
    parser = common.workload_parser(400)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--sdk", action="store_true", help="also measure the openai SDK transport")
    args = parser.parse_args()
    common.SHAPE.update(conversations=args.conversations, turns=args.turns)
    calls = args.conversations * args.turns
    tmp = Path(tempfile.mkdtemp(prefix="mteval-bench-overhead-"))
    c = args.concurrency
    print(f"# runner overhead: {calls} calls per run ({args.conversations} conversations x {args.turns} turns), concurrency {c}")
    print(f"# {common.note()}")

    def per_call(cpu: float) -> float:
        return cpu / calls * 1e6

    common.run_runner("scripted/echo", {}, tmp / "w0", None, c)  # warm-up: imports, first-call setup
    wall, cpu, _ = common.run_runner("scripted/echo", {}, tmp / "r0", None, c)
    print(f"[1] pure harness (scripted/echo):   {per_call(cpu):8.1f} us CPU per call, {calls / wall:8.0f} calls/s")

    with common.latency_server(0.0) as url:
        bare = lambda client: asyncio.run(common.bare_loop(url, args.conversations, args.turns, c, client))  # noqa: E731
        pairs = [("aiohttp", {"base_url": url}, "bare aiohttp loop", "mteval runner, lean transport")]
        if args.sdk:
            pairs.append(("sdk", {"base_url": url, "transport": "sdk"}, "bare openai SDK loop", "mteval runner, transport=sdk"))
        for client, model_args, bare_label, runner_label in pairs:
            bare(client)  # warm-up
            common.run_runner("openai/m", model_args, tmp / f"w-{client}", tmp / f"cw-{client}", c)
            raw_wall, raw_cpu, _ = common.timed(bare, client)
            wall, cpu, _ = common.run_runner("openai/m", model_args, tmp / f"r-{client}", tmp / f"c-{client}", c)
            print(f"[2] {bare_label + ':':32s} {per_call(raw_cpu):8.1f} us CPU per call, {calls / raw_wall:8.0f} calls/s")
            print(f"    {runner_label + ':':32s} {per_call(cpu):8.1f} us CPU per call, {calls / wall:8.0f} calls/s")
            print(f"    harness CPU on top of the client: {per_call(cpu - raw_cpu):8.1f} us per call "
                  f"(runner/bare CPU ratio {cpu / raw_cpu:.2f}x)")
        shutil.rmtree(tmp / "r-aiohttp")
        wall, cpu, manifest = common.run_runner("openai/m", {"base_url": url}, tmp / "r-aiohttp", tmp / "c-aiohttp", c)
        model = manifest["totals"]["calls"]["model"]
        print(f"[3] cached re-run:                  {per_call(cpu):8.1f} us CPU per call, {calls / wall:8.0f} calls/s "
              f"({model['cache_hits']}/{calls} cache hits, {model['requests']} requests)")


if __name__ == "__main__":
    main()
