"""`mteval leaderboard build`: the static leaderboard site from a results folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("leaderboard", help="build the static leaderboard site from results/")
    actions = parser.add_subparsers(dest="leaderboard_command", required=True)
    build = actions.add_parser("build", help="turn every run under --results into a static site in --out")
    build.add_argument("--results", type=Path, default=Path("results"), help="folder of run directories (default: results)")
    build.add_argument("--out", type=Path, default=Path("site"), help="output folder, replaced on every build (default: site)")
    build.add_argument("--prices", type=Path, default=None, help="JSON/YAML {model id: {input_per_million: USD, output_per_million: USD}} for cost estimates")
    build.add_argument("--title", default="mteval leaderboard", help="site title")
    build.set_defaults(handler=cmd_build)


def cmd_build(args: argparse.Namespace) -> int:
    from mteval.leaderboard import build_site

    result = build_site(args.results, args.out, prices=args.prices, title=args.title)
    print(f"leaderboard: {result.runs} runs, {result.rows} rows, {result.tasks} tasks, {result.pages} pages -> {result.out}")
    return 0
