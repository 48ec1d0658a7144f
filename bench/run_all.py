"""Run every bench in turn with its default workload; each prints its own ratios.

Usage: python bench/run_all.py [--quick] [--skip-inspect]
--quick runs smaller workloads (a smoke test of the scripts, not figures to quote).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-inspect", action="store_true", help="skip the inspect_ai comparison (it installs inspect_ai on first use)")
    args = parser.parse_args()
    quick = {
        "latency.py": ["--conversations", "300"],
        "memory.py": ["--turns-total", "2000", "10000"],
        "cached_rerun.py": ["--conversations", "400"],
        "inspect_side_by_side.py": ["--conversations", "100", "--concurrency", "64"],
        "runner_overhead.py": ["--conversations", "100"],
        "history_growth.py": ["--calls", "1000"],
    }
    benches = ["latency.py", "history_growth.py", "memory.py", "cached_rerun.py", "runner_overhead.py", "inspect_side_by_side.py"]
    if args.skip_inspect:
        benches.remove("inspect_side_by_side.py")
    failed = []
    for bench in benches:
        print(f"\n$ python bench/{bench}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / bench), *(quick[bench] if args.quick else [])], cwd=HERE)
        if done.returncode:
            failed.append(bench)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
