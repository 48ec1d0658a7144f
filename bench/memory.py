"""Peak RSS of a whole run at 10k, 50k and 100k turns: does memory stay flat?

Each size runs in a fresh subprocess (peak RSS is per process) through the full runner
(solver, scoring, samples.jsonl, manifest) with `scripted/echo`, which does no I/O, so
the figure is the harness's own memory: the dataset is a generator task (5 turns per
conversation) read lazily by the runner.

Targets (issue #18): peak RSS <= 250 MB at 100k turns, flat from 10k to 100k.
Usage: python bench/memory.py [--turns-total 10000 50000 100000] [--concurrency 256]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import common

CHILD = """
import json, resource, sys, tempfile
from pathlib import Path
sys.path.insert(0, {bench!r})
import common
common.SHAPE.update(conversations={conversations}, turns=5)
out = Path(tempfile.mkdtemp(prefix="mteval-bench-rss-"))
wall, cpu, manifest = common.run_runner("scripted/echo", {{}}, out, None, {concurrency}, use_cache=False)
print(json.dumps({{"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "wall": wall,
                  "turns": manifest["totals"]["turns"]}}))
"""


def peak(conversations: int, concurrency: int) -> dict:
    code = CHILD.format(bench=str(Path(__file__).parent), conversations=conversations, concurrency=concurrency)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns-total", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--concurrency", type=int, default=256)
    args = parser.parse_args()
    print("# memory: peak RSS of one full run (scripted/echo, 5 turns per conversation, lazy generator task)")
    print(f"# {common.note()}")
    baseline = peak(10, args.concurrency)
    print(f"  {50:>7,} turns: peak RSS {baseline['rss_mb']:6.1f} MB  (imports and setup)")
    figures = []
    for total in args.turns_total:
        result = peak(total // 5, args.concurrency)
        figures.append(result["rss_mb"])
        print(f"  {result['turns']:>7,} turns: peak RSS {result['rss_mb']:6.1f} MB  ({result['wall']:.1f} s)")
    growth = (figures[-1] - figures[0]) / max(args.turns_total[-1] - args.turns_total[0], 1) * 1024
    print(f"  ratio {args.turns_total[-1]:,} / {args.turns_total[0]:,} turns: {figures[-1] / figures[0]:.2f}x "
          f"({growth:.2f} KB per extra turn); {figures[-1] / 250:.2f}x the 250 MB target")


if __name__ == "__main__":
    main()
