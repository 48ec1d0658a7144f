"""`mteval import rad-bench|fastchat`: published answers and judgments -> mteval runs.
Formats are registered in `IMPORTERS` (`register_importer`, or the entry-point group
`mteval.importers`).

One run directory per model (`<output-dir>/imported-<family>-<model>`), in the native
format, so `mteval show`, `mteval compare` and the leaderboard treat it like any run.
Bad input lines are printed with file and line; the other models are still imported
and the exit code is 1.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mteval.cli_options import DEFAULT_OUTPUT_DIR
from mteval.plugins import Registry


@dataclass(frozen=True)
class Importer:
    """One `mteval import <name>` format: its help line and a function that adds its
    arguments and sets `handler` on the subparser it is given."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]


IMPORTERS: Registry[Importer] = Registry("importers")
"""name -> Importer; third-party formats come from the entry-point group `mteval.importers`
(an entry point naming an `Importer` object)."""


def register_importer(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None]) -> Importer:
    return IMPORTERS.register(name, Importer(help, configure))


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("import", help="turn published answers and judgments (RAD-Bench, FastChat/MT-Bench) into mteval runs")
    names = IMPORTERS.names()
    formats = parser.add_subparsers(dest="format", required=True, metavar="{" + ",".join(names) + "}")
    for name in names:
        importer = IMPORTERS[name]
        importer.configure(formats.add_parser(name, help=importer.help))


def _configure_rad_bench(rad: argparse.ArgumentParser) -> None:
    _common(rad)
    rad.add_argument("--questions", default=None, help="questions.jsonl (path, URL or 'published'); without it user turns are placeholders")
    rad.add_argument("--references", default=None, help="reference_ans_model.jsonl (path, URL or 'published')")
    rad.set_defaults(handler=run_rad_bench)


def _configure_fastchat(fastchat: argparse.ArgumentParser) -> None:
    _common(fastchat)
    fastchat.add_argument("--questions", default=None, help="question.jsonl (default: the task's own, e.g. the shipped MT-Bench questions)")
    fastchat.add_argument("--references", default=None, help="reference answer file (default: the task's own)")
    fastchat.add_argument("--task", default="mt_bench/mt_bench", help="the mteval task the answers belong to (default mt_bench/mt_bench)")
    fastchat.set_defaults(handler=run_fastchat)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--answers", type=Path, required=True, help="directory of <model>.jsonl answer files")
    parser.add_argument("--judgments", type=Path, default=None, help="single-answer judgment file (JSONL); models it lacks get no scores")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, help="folder that receives one run directory per model")
    parser.add_argument("--models", default=None, help="comma-separated answer-file stems (default: every file)")
    parser.add_argument("--task-args", default="", help="key=value,... task options recorded in the runs (e.g. unparsed_as=-1)")


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


def run_rad_bench(args: argparse.Namespace) -> int:
    from mteval.cli_options import parse_kv
    from mteval.importers.rad_bench import import_rad_bench

    result = import_rad_bench(
        args.answers,
        args.judgments,
        args.output_dir,
        questions=args.questions,
        references=args.references,
        task_options=parse_kv(args.task_args, "--task-args"),
        models=_models(args),
        command=_command(args),
    )
    return _report(result)


def run_fastchat(args: argparse.Namespace) -> int:
    from mteval.cli_options import parse_kv
    from mteval.importers.fastchat import import_fastchat

    result = import_fastchat(
        args.answers,
        args.judgments,
        args.output_dir,
        task=args.task,
        questions=args.questions,
        references=args.references,
        task_options=parse_kv(args.task_args, "--task-args"),
        models=_models(args),
        command=_command(args),
    )
    return _report(result)


def _report(result) -> int:
    for run in result.runs:
        judged = f"{run.judged_turns} judged" if run.judged_turns else "no judgments"
        print(f"imported {run.model}: {run.conversations} conversations, {run.scored_turns} turns, {judged} -> {run.run_dir}")
    for problem in result.problems:
        print(f"problem: {problem}", file=sys.stderr)
    if result.skipped:
        print(f"not imported (input problems): {', '.join(result.skipped)}", file=sys.stderr)
    return result.exit_code


register_importer("rad-bench", "RAD-Bench model_answer/*.jsonl and model_judgment/gpt-4o.jsonl", _configure_rad_bench)
register_importer("fastchat", "FastChat llm_judge model_answer/*.jsonl and single-answer judgments (MT-Bench)", _configure_fastchat)
