"""`mteval list tasks|providers|judges`: what this installation can run, as a table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # imported when the command runs: `mteval --help` builds this parser
    from rich.console import Console


def register(sub: argparse._SubParsersAction) -> None:
    """Add `mteval list`."""
    lst = sub.add_parser("list", help="list tasks, providers or judges")
    lst.add_argument("what", choices=list(LISTINGS), help="what to list")
    lst.add_argument("--include-path", action="append", type=Path, default=[], help="extra folder of task plugins")
    lst.set_defaults(handler=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    from mteval.progress import output_console

    console = output_console()  # full names when piped (`mteval list tasks | grep rad`)
    LISTINGS[args.what](args, console)
    return 0


def list_tasks(args: argparse.Namespace, console: Console) -> None:
    from rich.table import Table

    from mteval.registry import all_tasks, load_include_path

    for path in args.include_path:
        load_include_path(path)
    table = Table("task", "version", "main", "category", "origin", "description")
    for name, spec in all_tasks().items():
        cls = spec.cls
        table.add_row(name, cls.version, "yes" if cls.main else "", cls.category or "", spec.origin, cls.description)
    console.print(table)


def list_providers(args: argparse.Namespace, console: Console) -> None:
    from rich.markup import escape
    from rich.table import Table

    from mteval.models import PROVIDERS

    table = Table("provider", "what it reaches")
    for name, (_, _, doc) in PROVIDERS.items():
        table.add_row(name, escape(doc))  # `[local]` in a description is text, not rich markup
    console.print(table)


def list_judges(args: argparse.Namespace, console: Console) -> None:
    from rich.table import Table

    from mteval.scoring.cascades import CASCADES
    from mteval.scoring.judge_spec import list_specs, load_spec

    table = Table("judge definition", "kind", "parser", "sees")
    for name in list_specs():
        judge = load_spec(name)
        table.add_row(name, judge.kind, judge.parser, judge.sees)
    for name, cascade in CASCADES.items():  # registered when list_specs imported the judge packages
        default = " (default of --against)" if cascade.default else ""
        table.add_row(name, "cascade", "-", " -> ".join(cascade.stages) + default)
    console.print(table)
    console.print("Judge models are any model id: --judge provider/model[,provider/model...] or --jury FILE.")


LISTINGS: dict[str, Callable[[argparse.Namespace, Console], None]] = {
    "tasks": list_tasks,
    "providers": list_providers,
    "judges": list_judges,
}
"""`mteval list WHAT`: one function per choice, in the order `--help` shows them."""
