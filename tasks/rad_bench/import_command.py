"""Registers `mteval import rad-bench` (the family's importer, `importer.py`) when the
family is imported; the engine names no family."""

from __future__ import annotations

import argparse

from mteval.commands.importer import add_common_arguments, run_import
from mteval.importers.registry import register_importer


def _configure(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--questions", default=None, help="questions.jsonl (path, URL or 'published'); without it user turns are placeholders")
    parser.add_argument("--references", default=None, help="reference_ans_model.jsonl (path, URL or 'published')")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from mteval_tasks.rad_bench.importer import import_rad_bench

    return run_import(args, import_rad_bench)


register_importer("rad-bench", "RAD-Bench model_answer/*.jsonl and model_judgment/gpt-4o.jsonl", _configure)
