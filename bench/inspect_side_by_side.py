"""mteval and inspect_ai side by side: same workload, same server, same request count.

Installs inspect_ai==0.3.285 (with the openai SDK it drives) into its own venv under
$MTEVAL_BENCH_CACHE (default ~/.cache/mteval-bench/inspect-venv) on first use, then for
each concurrency runs, as whole processes against one bench/latency_server.py (50 ms):
mteval (openai/* lean transport) and `inspect eval` of the equivalent multi-turn task
(`-M responses_api=false`, so inspect uses chat completions too). Interleaved repeats;
the best wall of each is compared.

Target (issue #18): at least 5x inspect_ai's throughput.
Usage: python bench/inspect_side_by_side.py [--conversations 2000] [--turns 5] [--repeats 1]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

INSPECT_VERSION = "0.3.285"
VENV = Path(os.environ.get("MTEVAL_BENCH_CACHE", Path.home() / ".cache" / "mteval-bench")) / "inspect-venv"

INSPECT_TASK = '''
from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageSystem, ChatMessageUser
from inspect_ai.scorer import Score, Target, mean, scorer
from inspect_ai.solver import Generate, TaskState, solver

CONVERSATIONS, TURNS = {conversations}, {turns}


def user_text(conversation, turn):
    return f"conversation {{conversation}} turn {{turn}}: " + "lorem ipsum " * 20


@solver
def multi_turn():
    async def solve(state: TaskState, generate: Generate) -> TaskState:
        i = state.metadata["i"]
        for t in range(TURNS):
            if t:
                state.messages.append(ChatMessageUser(content=user_text(i, t)))
            state = await generate(state)
        return state
    return solve


@scorer(metrics=[mean()])
def nonempty():
    async def score(state: TaskState, target: Target) -> Score:
        return Score(value=float(bool(state.output.completion)))
    return score


@task
def bench():
    samples = [Sample(id=f"c{{i}}", input=[ChatMessageSystem(content="{system}"), ChatMessageUser(content=user_text(i, 0))],
                      target="ok", metadata={{"i": i}}) for i in range(CONVERSATIONS)]
    return Task(dataset=MemoryDataset(samples), solver=multi_turn(), scorer=nonempty())
'''

MTEVAL_CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {bench!r})
import common
common.SHAPE.update(conversations={conversations}, turns={turns})
wall, cpu, manifest = common.run_runner("openai/m", {{"base_url": {url!r}}}, Path({out!r}), None, {concurrency}, use_cache=False)
assert manifest["totals"]["turns"] == {calls} and manifest["totals"]["errored_turns"] == 0, manifest["totals"]
"""


def ensure_inspect() -> Path:
    inspect = VENV / "bin" / "inspect"
    if not inspect.exists():
        print(f"# installing inspect_ai=={INSPECT_VERSION} into {VENV} (first use only)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", f"inspect_ai=={INSPECT_VERSION}", "openai"], check=True)
    return inspect


def main() -> None:
    parser = common.workload_parser(latency=True, concurrency=[64, 256])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    inspect = ensure_inspect()
    calls = args.conversations * args.turns
    tmp = Path(tempfile.mkdtemp(prefix="mteval-bench-inspect-"))
    task_file = tmp / "bench_task.py"
    task_file.write_text(INSPECT_TASK.format(conversations=args.conversations, turns=args.turns, system=common.SYSTEM))
    print(f"# mteval vs inspect_ai {INSPECT_VERSION}: {args.conversations} conversations x {args.turns} turns = {calls:,} calls, "
          f"{args.latency * 1000:g} ms latency; whole processes (start-up included), best of {args.repeats}")
    print(f"# {common.note()}")
    with common.latency_server(args.latency) as url:
        env = {**os.environ, "OPENAI_BASE_URL": url, "OPENAI_API_KEY": "EMPTY"}
        for concurrency in args.concurrency:
            bound = common.ideal_bound(args.conversations, args.turns, args.latency, concurrency)
            best = {"mteval": float("inf"), "inspect_ai": float("inf")}
            for repeat in range(args.repeats):
                code = MTEVAL_CHILD.format(bench=str(Path(__file__).parent), conversations=args.conversations, turns=args.turns,
                                           url=url, out=str(tmp / f"m{concurrency}-{repeat}"), concurrency=concurrency, calls=calls)
                started = time.perf_counter()
                subprocess.run([sys.executable, "-c", code], check=True)
                best["mteval"] = min(best["mteval"], time.perf_counter() - started)
                command = [
                    str(inspect), "eval", task_file.name, "--model", "openai/m", "-M", "responses_api=false",
                    "--max-connections", str(concurrency), "--max-samples", str(concurrency),
                    "--temperature", "0", "--max-tokens", "1024", "--seed", "0",
                    "--log-dir", str(tmp / f"i{concurrency}-{repeat}"), "--display", "none",
                ]
                started = time.perf_counter()
                subprocess.run(command, check=True, env=env, cwd=tmp, stdout=subprocess.DEVNULL)
                best["inspect_ai"] = min(best["inspect_ai"], time.perf_counter() - started)
            print(f"concurrency {concurrency}: ideal bound {bound:.2f} s")
            for name, wall in best.items():
                print(f"  {name:10s} wall {wall:7.2f} s = {wall / bound:6.2f}x the bound, {calls / wall:7.0f} calls/s")
            print(f"  mteval throughput = {best['inspect_ai'] / best['mteval']:.2f}x inspect_ai's (target >= 5x)")


if __name__ == "__main__":
    main()
