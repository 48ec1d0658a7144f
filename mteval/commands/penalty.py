"""`mteval penalty RUN_OWN RUN_SINGLE`: how much the dialogue costs a model.

The penalty is `mteval.penalty`'s single-turn minus own-history score on paired turns
(positive: worse in dialogue), per task and score, with a paired 95% interval. Exit code
0, or 2 when it cannot be computed (the message says why).
"""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_ERROR = 2


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("penalty", help="multi-turn penalty: single-turn minus own-history score on the same turns")
    parser.add_argument("run_own", type=Path, help="a run with --history own (the dialogue)")
    parser.add_argument("run_single", type=Path, help="the same model and tasks with --history single")
    parser.add_argument("--metric", action="append", default=[], help="TASK=SCORE: only this score of the task (default: every score both runs have)")
    parser.add_argument("--json", action="store_true", help="print the penalties as JSON instead of a table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from mteval.penalty import SIGN, PenaltyError, run_penalties

    metrics: dict[str, list[str]] = {}
    for item in args.metric:
        task, sep, score = item.partition("=")
        if not sep or not task or not score:
            print(f"mteval: error: --metric {item!r}: expected TASK=SCORE", file=sys.stderr)
            return EXIT_ERROR
        metrics.setdefault(task, []).append(score)
    try:
        results, problems = run_penalties(args.run_own, args.run_single, metrics=metrics or None)
    except PenaltyError as exc:
        print(f"mteval: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps({"definition": SIGN, "penalties": [r.as_dict() for r in results], "problems": problems}, indent=2))
    else:
        _print_table(results, SIGN)
        for problem in problems:
            print(f"not computed: {problem}", file=sys.stderr)
    return 0 if results else EXIT_ERROR


def _print_table(results, sign: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Multi-turn penalty = {sign}")
    for column in ("task", "score", "own", "single", "penalty", "95% CI", "relative", "paired turns", "conversations"):
        table.add_column(column, justify="left" if column in ("task", "score") else "right")
    for r in results:
        ci = f"[{r.ci[0]:+.3f}, {r.ci[1]:+.3f}]" if r.ci else "-"
        table.add_row(
            r.name, r.metric, _num(r.own), _num(r.single), f"{r.penalty:+.3f}" if r.penalty is not None else "-", ci,
            f"{r.relative:+.1%}" if r.relative is not None else "-", str(r.n_pairs), str(r.n_conversations),
        )
    Console(width=160).print(table)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
