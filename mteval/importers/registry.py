"""The `mteval import <format>` formats by name. The engine registers the generic
FastChat format; a family registers its benchmark's own format when it is imported
(RAD-Bench: `mteval_tasks.rad_bench`), and third parties add theirs through the
entry-point group `mteval.importers` (an entry point naming an `Importer`).

Looking a format up imports the task families first (`mteval.registry.load_builtin`),
which is why the import command reads this registry only when it runs, not while the
command line is built.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable

from mteval.plugins import Registry


@dataclass(frozen=True)
class Importer:
    """One `mteval import <name>` format: its help line and a function that adds its
    arguments and sets `handler` on the parser it is given."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]


IMPORTERS: Registry[Importer] = Registry("importers")
"""name -> Importer; third-party formats come from the entry-point group `mteval.importers`."""


def register_importer(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None]) -> Importer:
    """Make `mteval import <name>` available."""
    return IMPORTERS.register(name, Importer(help, configure))


def _load_families() -> None:
    from mteval.registry import load_builtin

    load_builtin()


def importer_names() -> list[str]:
    """Every format, the families' included."""
    _load_families()
    return IMPORTERS.names()


def get_importer(name: str) -> Importer:
    """The format `name`; an unknown one raises `UnknownName` with close matches."""
    _load_families()
    return IMPORTERS.get_entry(name)
