"""Wall time against the ideal bound, and harness CPU per call, on the openai path.

2,000 conversations x 5 turns (each turn carries the whole history) against
bench/latency_server.py answering after 50 ms, at concurrency 64 and 256:
mteval (lean transport), and for reference a bare aiohttp loop and (with --sdk)
mteval on the openai SDK transport and a bare SDK loop. The ideal bound is
max(turns x latency, calls x latency / concurrency); CPU per call is this process's
CPU (the server runs in another process), so it is everything but the server.

Targets (issue #18): wall <= 1.5x the bound at 64, <= 3x at 256; CPU <= 1 ms per call.
Usage: python bench/latency.py [--conversations 2000] [--turns 5] [--latency 0.05] [--sdk]
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import common


def main() -> None:
    parser = common.workload_parser(latency=True, concurrency=[64, 256])
    parser.add_argument("--sdk", action="store_true", help="also time the openai SDK transport and a bare SDK loop")
    args = parser.parse_args()
    common.SHAPE.update(conversations=args.conversations, turns=args.turns)
    calls = args.conversations * args.turns
    tmp = Path(tempfile.mkdtemp(prefix="mteval-bench-latency-"))
    print(f"# latency: {args.conversations} conversations x {args.turns} turns, {args.latency * 1000:g} ms server latency")
    print(f"# {common.note()}")
    with common.latency_server(args.latency) as url:
        common.run_runner("openai/m", {"base_url": url}, tmp / "warm", None, 64, use_cache=False)  # imports, first connections
        for concurrency in args.concurrency:
            bound = common.ideal_bound(args.conversations, args.turns, args.latency, concurrency)
            rows = [("mteval openai/* (lean http)", lambda c=concurrency: common.run_runner(
                "openai/m", {"base_url": url}, tmp / f"lean{c}", None, c, use_cache=False))]
            rows.append(("bare aiohttp loop (no harness)", lambda c=concurrency: asyncio.run(
                common.bare_loop(url, args.conversations, args.turns, c, "aiohttp"))))
            if args.sdk:
                rows.append(("mteval openai/* transport=sdk", lambda c=concurrency: common.run_runner(
                    "openai/m", {"base_url": url, "transport": "sdk"}, tmp / f"sdk{c}", None, c, use_cache=False)))
                rows.append(("bare openai SDK loop", lambda c=concurrency: asyncio.run(
                    common.bare_loop(url, args.conversations, args.turns, c, "sdk"))))
            print(f"concurrency {concurrency}: ideal bound {bound:.2f} s")
            for label, run in rows:
                wall, cpu, _ = common.timed(run)
                print(f"  {label:32s} wall {wall:7.2f} s = {wall / bound:5.2f}x the bound   CPU {cpu / calls * 1e3:5.2f} ms per call")


if __name__ == "__main__":
    main()
