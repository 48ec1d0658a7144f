"""A cached re-run: 10,000 turns whose replies are all in the response cache.

Fills the cache with one run of 2,000 conversations x 5 turns against
bench/latency_server.py (no latency), deletes the run directory, and runs the same
configuration again: every turn is a cache hit and no request is sent. Timed twice:
the run itself (Runner.run: reading the task, solving, scoring, samples.jsonl,
manifest) in a warm process, and the whole `mteval run`-like process from start
(Python start-up and imports included) in a subprocess.

The whole process runs with bytecode, as an installed package does (a first untimed
process writes it under a scratch PYTHONPYCACHEPREFIX, also where PYTHONDONTWRITEBYTECODE
is set): otherwise the figure would include compiling mteval from source.

Target (issue #18): 10,000 turns in <= 1 s end to end.
Usage: python bench/cached_rerun.py [--conversations 2000] [--turns 5]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {bench!r})
import common
common.SHAPE.update(conversations={conversations}, turns={turns})
wall, cpu, manifest = common.run_runner("openai/m", {{"base_url": {url!r}}}, Path({out!r}), Path({cache!r}), 256)
assert manifest["totals"]["calls"]["model"]["requests"] == 0, manifest["totals"]["calls"]
"""


def main() -> None:
    parser = common.workload_parser()
    args = parser.parse_args()
    common.SHAPE.update(conversations=args.conversations, turns=args.turns)
    turns = args.conversations * args.turns
    tmp = Path(tempfile.mkdtemp(prefix="mteval-bench-cached-"))
    out, cache = tmp / "runs", tmp / "cache"
    print(f"# cached re-run: {turns:,} turns ({args.conversations} conversations x {args.turns} turns), all cache hits")
    print(f"# {common.note()}")
    with common.latency_server(0.0) as url:
        common.run_runner("openai/m", {"base_url": url}, out, cache, 256)  # fills the cache
        walls = []
        for _ in range(3):
            shutil.rmtree(out)
            wall, cpu, manifest = common.run_runner("openai/m", {"base_url": url}, out, cache, 256)
            model = manifest["totals"]["calls"]["model"]
            assert model["requests"] == 0 and model["cache_hits"] == turns, model
            walls.append((wall, cpu))
        wall, cpu = min(walls)
        print(f"  in process (Runner.run, best of 3): {wall:5.2f} s wall, {cpu:5.2f} s CPU = {turns / wall:8,.0f} turns/s; "
              f"{wall:.2f}x the 1 s target")
        code = CHILD.format(bench=str(Path(__file__).parent), conversations=args.conversations, turns=args.turns,
                            url=url, out=str(out), cache=str(cache))
        # as an installed package runs: with bytecode (a first, untimed process writes it under a
        # scratch prefix even where PYTHONDONTWRITEBYTECODE is set), so the figure is not source compilation
        env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        shutil.rmtree(out)
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        shutil.rmtree(out)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        whole = time.perf_counter() - started
        print(f"  whole process (start-up and imports included): {whole:5.2f} s wall; {whole:.2f}x the 1 s target")


if __name__ == "__main__":
    main()
