"""`mteval judge RUN_DIR`: re-score a finished run with other judges, no model calls."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mteval.cli_options import LABEL_AGGREGATION_CHOICES, add_cache_options, add_judge_options, add_request_options


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("judge", help="re-score an existing run with a judge or jury (the model under test is not called)")
    parser.add_argument("run_dir", type=Path, help="the run directory to re-score")
    add_judge_options(parser)  # --judge --judge-args --jury --aggregate, as for `mteval run`
    parser.add_argument("--judge-def", default=None, help="judge definition or cascade instead of the task's (e.g. rubric, pairwise; see mteval list judges)")
    parser.add_argument("--against", type=Path, default=None, help="judge pairwise against the same turns of this run (both orders)")
    parser.add_argument(
        "--vote", default="max_vote", choices=LABEL_AGGREGATION_CHOICES, metavar="VOTE",
        help="how jurors' pairwise winners combine when --aggregate is a score statistic (mean, median); "
        "else --aggregate does: %(choices)s (default: %(default)s)",
    )
    parser.add_argument("--output-dir", type=Path, default=None, help="where the re-judged run goes (default: next to RUN_DIR)")
    add_cache_options(parser)
    add_request_options(parser)  # --max-concurrency --rate-limit --max-attempts --timeout, as for `mteval run`
    parser.add_argument("--include-path", action="append", type=Path, default=[], help="extra folder of task plugins (as given to the original run)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on a terminal, no progress lines otherwise")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON instead of the table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json

    from mteval.cli_options import jury_from_args
    from mteval.client import RetryPolicy
    from mteval.rejudge import rejudge
    from mteval.report import print_report

    jury = jury_from_args(args, required_by="mteval judge")
    assert jury is not None  # required_by: one of --judge or --jury was given
    outcome = rejudge(
        args.run_dir,
        jury,
        output_dir=args.output_dir,
        judge_def=args.judge_def,
        against=args.against,
        vote=args.vote,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        max_concurrency=args.max_concurrency,
        rate_limits=dict(args.rate_limit),
        retry=RetryPolicy(max_attempts=args.max_attempts, timeout_s=args.timeout),
        include_paths=args.include_path,
        command=["mteval", *getattr(args, "argv", sys.argv[1:])],
        progress=not args.no_progress,
    )
    if args.json:
        print(json.dumps(outcome.manifest, indent=2))
    else:
        print_report(outcome.manifest, str(outcome.run_dir))
    return 130 if outcome.interrupted else 0
