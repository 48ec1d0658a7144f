"""The bench scripts still run and print their ratios (tiny workloads: a smoke test,
not a performance assertion)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_latency_bench_prints_ratios_against_the_bound():
    done = subprocess.run(
        [sys.executable, str(BENCH / "latency.py"), "--conversations", "12", "--turns", "2", "--latency", "0.01", "--concurrency", "4"],
        capture_output=True, text=True, timeout=120, cwd=BENCH,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "concurrency 4: ideal bound 0.06 s" in done.stdout  # max(2 x 10 ms, 24 x 10 ms / 4)
    ratios = re.findall(r"= +([0-9.]+)x the bound +CPU +([0-9.]+) ms per call", done.stdout)
    assert len(ratios) == 2 and all(float(ratio) >= 1.0 for ratio, _ in ratios)


def test_cached_rerun_bench_times_the_real_command_on_cache_hits_only():
    """The whole-process figure is the `mteval run` command a user types (the synthetic task
    loaded as a plugin with --include-path); the script asserts every turn was a cache hit."""
    done = subprocess.run(
        [sys.executable, str(BENCH / "cached_rerun.py"), "--conversations", "20", "--turns", "2"],
        capture_output=True, text=True, timeout=300, cwd=BENCH,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "40 turns (20 conversations x 2 turns), all cache hits" in done.stdout
    assert re.search(r"whole `mteval run` process .*: +[0-9.]+ s wall \(median [0-9.]+ s\); [0-9.]+x the 1 s target", done.stdout)
