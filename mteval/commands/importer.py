"""`mteval import <format>`: published answers and judgments -> mteval runs. Formats are
registered in `mteval.importers.registry.IMPORTERS` (`register_importer`, or the
entry-point group `mteval.importers`): FastChat/MT-Bench here, RAD-Bench by its family.

One run directory per model (`<output-dir>/imported-<family>-<model>`), in the native
format, so `mteval show`, `mteval compare` and the leaderboard treat it like any run.
Bad input lines are printed with file and line; the other models are still imported
and the exit code is 1.

The formats come from the task families, so the command reads them only when it runs
(`mteval import FORMAT ...`, `mteval import --help`): the command line is built for
every mteval command without importing a family.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from mteval.cli_options import DEFAULT_OUTPUT_DIR, LazyChoices, apply_formatter
from mteval.importers.registry import IMPORTERS, Importer, get_importer, importer_names, register_importer

if TYPE_CHECKING:
    from mteval.importers.common import ImportResult

__all__ = ["IMPORTERS", "Importer", "add_common_arguments", "register", "register_importer", "run_import"]


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "import", help="turn published answers and judgments (RAD-Bench, FastChat/MT-Bench) into mteval runs",
        description="Turn published answers and judgments into mteval runs, one run per model.",
    )
    parser.add_argument(
        "format", choices=LazyChoices(importer_names), metavar="FORMAT",
        help="the published format: %(choices)s (`mteval import FORMAT --help` lists its options)",
    )
    parser.add_argument("options", nargs=argparse.REMAINDER, help="the format's options")
    parser.set_defaults(handler=_run_format)


def _run_format(args: argparse.Namespace) -> int:
    """Parse the format's own options (its parser is built now, from the registry) and run it."""
    importer = get_importer(args.format)
    parser = argparse.ArgumentParser(prog=f"mteval import {args.format}", description=importer.help)
    importer.configure(parser)
    apply_formatter(parser)
    given = argparse.Namespace(command=args.command, format=args.format, argv=getattr(args, "argv", None))
    parsed = parser.parse_args(args.options, namespace=given)
    return int(parsed.handler(parsed))


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """--answers, --judgments, --output-dir, --models, --task-args: every format's options."""
    parser.add_argument("--answers", type=Path, required=True, help="directory of <model>.jsonl answer files")
    parser.add_argument("--judgments", type=Path, default=None, help="single-answer judgment file (JSONL); models it lacks get no scores")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, help="folder that receives one run directory per model")
    parser.add_argument("--models", default=None, help="comma-separated answer-file stems (default: every file)")
    parser.add_argument("--task-args", default="", help="key=value,... task options recorded in the runs (e.g. unparsed_as=-1)")


def _configure_fastchat(fastchat: argparse.ArgumentParser) -> None:
    add_common_arguments(fastchat)
    fastchat.add_argument("--questions", default=None, help="question.jsonl (default: the task's own, e.g. the shipped MT-Bench questions)")
    fastchat.add_argument("--references", default=None, help="reference answer file (default: the task's own)")
    fastchat.add_argument("--task", default="mt_bench/mt_bench", help="the mteval task the answers belong to (default mt_bench/mt_bench)")
    fastchat.set_defaults(handler=run_fastchat)


def _command(args: argparse.Namespace) -> list[str]:
    """The canonical command line recorded in each manifest (same input, same bytes)."""
    command = ["mteval", "import", args.format, "--answers", str(args.answers)]
    for flag in ("judgments", "questions", "references", "task"):
        value = getattr(args, flag, None)
        if value is not None and not (flag == "task" and value == "mt_bench/mt_bench"):
            command += [f"--{flag}", str(value)]
    if args.models:
        command += ["--models", args.models]
    if args.task_args:
        command += ["--task-args", args.task_args]
    return command


def _models(args: argparse.Namespace) -> list[str] | None:
    return [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None


def run_import(args: argparse.Namespace, import_fn: Callable[..., ImportResult], **options: Any) -> int:
    """Call a format's import function with the common options (and `options`), print
    what was imported and the problems, and return the exit code."""
    from mteval.cli_options import parse_kv

    result = import_fn(
        args.answers,
        args.judgments,
        args.output_dir,
        questions=args.questions,
        references=args.references,
        task_options=parse_kv(args.task_args, "--task-args"),
        models=_models(args),
        command=_command(args),
        **options,
    )
    return _report(result)


def run_fastchat(args: argparse.Namespace) -> int:
    from mteval.importers.fastchat import import_fastchat

    return run_import(args, import_fastchat, task=args.task)


def _report(result: ImportResult) -> int:
    for run in result.runs:
        judged = f"{run.judged_turns} judged" if run.judged_turns else "no judgments"
        print(f"imported {run.model}: {run.conversations} conversations, {run.scored_turns} turns, {judged} -> {run.run_dir}")
    for problem in result.problems:
        print(f"problem: {problem}", file=sys.stderr)
    if result.skipped:
        print(f"not imported (input problems): {', '.join(result.skipped)}", file=sys.stderr)
    return result.exit_code


register_importer("fastchat", "FastChat llm_judge model_answer/*.jsonl and single-answer judgments (MT-Bench)", _configure_fastchat)
