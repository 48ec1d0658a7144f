"""`mteval run`: evaluate a model on tasks, write a run directory, print its metrics.

Exit codes: 0 done, 3 some conversations errored (unless --allow-errors), 130 interrupted
(finished conversations are kept; the same command resumes), and with --baseline the
gate's 1 (regression) or 2 (not comparable).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mteval.cli_options import (
    DEFAULT_OUTPUT_DIR,
    EXIT_INTERRUPTED,
    EXIT_RUN_ERRORS,
    add_cache_options,
    add_judge_options,
    add_request_options,
    id_list,
    jury_from_args,
    limit_value,
    parse_kv,
    positive_int,
)

if TYPE_CHECKING:  # imported when the command runs: `mteval --help` builds this parser
    from mteval.runner import RunConfig, RunOutcome
    from mteval.scoring.jury import JuryConfig


def register(sub: argparse._SubParsersAction) -> None:
    """Add `mteval run`."""
    run = sub.add_parser("run", help="evaluate a model on tasks")
    run.add_argument("--tasks", required=True, help="comma-separated tasks or families, e.g. mt_eval or example/arithmetic")
    run.add_argument("--model", required=True, help="provider/model, e.g. openai/gpt-4o-mini, replay/gold, scripted/echo")
    run.add_argument("--model-args", default="", help="key=value,... passed to the model adapter (base_url=..., pretrained=...)")
    run.add_argument("--history", choices=["own", "gold", "single"], default="own", help="what earlier turns contain (default: own)")
    run.add_argument(
        "--limit", type=limit_value, default=None, metavar="N|FRACTION",
        help="first N conversations of each task, or a fraction of each (0.1 = first 10%%, rounded up)",
    )
    run.add_argument(
        "--ids", type=id_list, default=None, metavar="ID[,ID...]",
        help="only these conversation ids (comma-separated; applied before --limit)",
    )
    run.add_argument("--temperature", type=float, default=None, help="sampling temperature (default: the task's, else the provider's)")
    run.add_argument("--max-tokens", type=positive_int, default=None, help="most tokens per reply (default: the task's, else the provider's)")
    run.add_argument("--seed", type=int, default=None, help="sampling seed, for providers that accept one")
    run.add_argument("--stop", action="append", default=None, help="stop sequence (repeatable)")
    add_judge_options(run)  # --judge --judge-args --jury --aggregate, as for `mteval judge`
    run.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, help="folder that receives the run directory")
    run.add_argument("--run-id", default=None, help="name of the run directory (default: derived from the configuration)")
    add_cache_options(run)
    add_request_options(run)  # --max-concurrency --rate-limit --max-attempts --timeout
    run.add_argument("--include-path", action="append", type=Path, default=[], help="extra folder of task plugins")
    run.add_argument("--task-args", default="", help="key=value,... passed to every task")
    run.add_argument("--no-progress", action="store_true", help="no progress bar on a terminal, no progress lines otherwise")
    run.add_argument("--json", action="store_true", help="print the manifest as JSON instead of the table")
    run.add_argument("--allow-errors", action="store_true", help=f"exit 0 even if conversations errored (default: exit {EXIT_RUN_ERRORS})")
    from mteval.commands.compare import add_gate_arguments

    add_gate_arguments(run)  # --baseline RUN_DIR and the gate's options
    run.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    """Run, report, then the exit code: interrupted, the --baseline gate, errored conversations."""
    from mteval.report import print_report
    from mteval.runner import Runner

    if args.baseline is not None:  # a baseline that is not a run is an error before the run, not after it
        from mteval.errors import ConfigurationError
        from mteval.results import ResultsError, load_manifest

        try:
            load_manifest(args.baseline)
        except ResultsError as exc:
            raise ConfigurationError(f"--baseline {exc}") from None
    outcome = Runner(run_config(args)).run()
    if args.json:
        print(json.dumps(outcome.manifest, indent=2))
    else:
        print_report(outcome.manifest, str(outcome.run_dir))
    return exit_code(args, outcome)


def run_config(args: argparse.Namespace) -> RunConfig:
    """The parsed command line as the runner's configuration."""
    from mteval.client import RetryPolicy
    from mteval.runner import RunConfig

    return RunConfig(
        tasks=args.tasks,
        model=args.model,
        model_args=parse_kv(args.model_args),
        history=args.history,
        limit=args.limit,
        ids=args.ids,
        max_concurrency=args.max_concurrency,
        generation=generation_params(args),
        jury=jury_config(args),
        output_dir=args.output_dir,
        run_id=args.run_id,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        rate_limits=dict(args.rate_limit),
        retry=RetryPolicy(max_attempts=args.max_attempts, timeout_s=args.timeout),
        include_paths=args.include_path,
        task_options=parse_kv(args.task_args, "--task-args"),
        command=["mteval", *getattr(args, "argv", sys.argv[1:])],
        progress=not args.no_progress,  # a bar on a terminal, periodic lines otherwise
    )


def generation_params(args: argparse.Namespace) -> dict[str, Any]:
    """Only the sampling options given: the rest stay the task's or the provider's."""
    generation = {name: getattr(args, name) for name in ("temperature", "max_tokens", "seed") if getattr(args, name) is not None}
    if args.stop:
        generation["stop"] = list(args.stop)
    return generation


def jury_config(args: argparse.Namespace) -> JuryConfig | None:
    """--judge models or a --jury file (not both); None: the tasks' own judging, if any."""
    return jury_from_args(args)


def exit_code(args: argparse.Namespace, outcome: RunOutcome) -> int:
    """130 interrupted; else the gate's code (0 no regression, 1 regression, 2 not comparable),
    with 0 turned into 3 when conversations errored and --allow-errors was not given."""
    if outcome.interrupted:
        print("interrupted: finished conversations are saved; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    code = 0
    if args.baseline is not None:
        from mteval.commands.compare import run_gate

        code = run_gate(args, outcome.run_dir)
    errored = outcome.manifest["totals"]["errored_conversations"]
    if errored and not args.allow_errors and code == 0:
        print(
            f"mteval run: {errored} conversation(s) errored (see the errors above); exit {EXIT_RUN_ERRORS}. "
            "Re-run the same command to retry them, or pass --allow-errors to accept them.",
            file=sys.stderr,
        )
        return EXIT_RUN_ERRORS
    return code
